"""Statements and the day sheet (SPEC §12): a month of statements for every patient, and a
month's day sheet, against the build of the same practice.

    python benchmarks/statements_bench.py [--events 100000] [--seed 7]

The practice is :func:`patient_ledger.generate.practice` (a realistic mix of every command over
a year of days, deterministic), built by its commands; the build's time is the baseline. Then,
on the built ledger (best of ``--repeat``):

* ``statements`` for every patient for June (one pass over the journal) — target ≤ 0.3× the
  build;
* ``day_sheet`` for June — target ≤ 0.05× the build: the first call on a ledger, which builds
  the ledger's day index (the dated dashboards share it), and the calls after it, which find
  June's part of the journal by bisection;
* for scale: one patient's ``statement`` (also one pass), and replaying the journal.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import time
from collections.abc import Callable

import patient_ledger as pl
from patient_ledger.testing import generate

JUNE = (datetime.date(2025, 6, 1), datetime.date(2025, 6, 30))


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    ledger = generate.practice(events=args.events, seed=args.seed)
    t_build = time.perf_counter() - start
    n = len(ledger.events)
    print(f"practice: {n:,} events, {len(pl.patients(ledger)):,} patients; "
          f"build {t_build:.2f} s")  # fmt: skip
    first, last = JUNE

    every = pl.statements(ledger, start=first, end=last)
    lines = sum(len(s.lines) for s in every)
    t_statements = best(args.repeat, lambda: pl.statements(ledger, start=first, end=last))
    print(f"statements for June: {len(every):,} statements, {lines:,} lines; {t_statements:.3f} "
          f"s = {t_statements / t_build:.3f}x the build (target <= 0.3x)")  # fmt: skip

    fresh = pl.replay(ledger.events)  # an equal ledger with no day index yet
    gc.collect()
    start = time.perf_counter()
    sheet = pl.day_sheet(fresh, first, last)
    t_first = time.perf_counter() - start
    t_sheet = best(args.repeat, lambda: pl.day_sheet(ledger, first, last))
    print(f"day sheet for June: {len(sheet.lines):,} lines, net {sheet.net.amount}; first call "
          f"(builds the day index) {t_first:.3f} s = {t_first / t_build:.4f}x the build; "
          f"after it {t_sheet:.4f} s = {t_sheet / t_build:.4f}x (target <= 0.05x)")  # fmt: skip

    patient = every[len(every) // 2].patient_id
    t_one = best(args.repeat, lambda: pl.statement(ledger, patient, start=first, end=last))
    t_replay = best(1, lambda: pl.replay(ledger.events))
    print(f"one patient's statement: {t_one:.3f} s = {t_one / t_build:.3f}x the build; "
          f"replay {t_replay:.2f} s = {t_replay / t_build:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
