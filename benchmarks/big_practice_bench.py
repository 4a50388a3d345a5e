"""Big practices from the command line and in notebooks (issue 27), as ratios to the build.

    python benchmarks/big_practice_bench.py [--events 100000] [--seed 2027] [--dir DIR]
        [--repeat 1]

Builds a held-out practice (``generate``'s mix of every command, seed 2027 — not the seed the
other benchmarks tune on —, one patient per 25 events, every charge posted on the day it is
entered so that the journal is in day order) by running its commands on an empty ledger: the
*build*, timed in this run, the baseline every figure is divided by. Then writes it as a
journal file and a SQLite store in ``--dir`` (kept there and reused by the next run when they
hold the same journal: a million events take minutes to write) and measures, best of
``--repeat``, what issue 27 asks of them:

* the commands ``balances``, ``report --patient``, ``balances --on DATE`` and ``verify``, run
  in this process (``patient_ledger.cli.main``, output thrown away: the work of the command,
  not Python's start-up), on the journal file — from its snapshot cache, written beforehand
  by a first open — and on the store;
* a notebook cell asking ``dashboards(ledger, on=d)`` for the twelve month-ends of the year,
  on a ledger just opened from the store and on the built ledger itself (no checkpoints yet:
  the cell makes them).

Targets (issue 27): ``balances`` ≤ 0.05×, ``report --patient`` ≤ 0.02×, ``balances --on`` ≤
0.1×, the twelve month-ends ≤ 0.2×, ``verify`` of a journal ≤ 0.5×.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import patient_ledger as pl
from patient_ledger.cli import main as cli
from patient_ledger.persist import _cache, journal
from patient_ledger.persist.store import open_store
from patient_ledger.testing.generate import plan, run_ledger, to_commands

MONTH_ENDS = [
    datetime.date(2025 + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)
    for month in range(1, 13)
]


def best(repeat: int, work: Callable[[], Any]) -> float:
    """The fastest of ``repeat`` runs of ``work`` (a full collection before each)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def command(*argv: str) -> Callable[[], None]:
    """A command line run in this process, its output thrown away (it must succeed)."""

    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(list(argv))
        if code:
            raise SystemExit(f"patient-ledger {' '.join(argv)} exited {code}")

    return run


def prepared(folder: Path, ledger: pl.Ledger) -> tuple[Path, Path]:
    """The journal file and SQLite store of ``ledger`` in ``folder``, reused when they hold
    its journal, else (re)written; the journal's snapshot cache written by a first open."""
    n = len(ledger.events)
    path, db = folder / f"practice-{n}.jsonl", folder / f"practice-{n}.db"
    text = journal.dumps(ledger)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
        _cache.cache_path(path).unlink(missing_ok=True)
        db.unlink(missing_ok=True)
    del text
    if not db.is_file():
        store = open_store(f"sqlite:///{db}")
        store.save("practice", ledger, expected_version=0)
        store.snapshot("practice")
        store.close()
    _cache.load(path)  # writes the cache when it is missing or behind
    return path, db


def opened(db: Path) -> pl.Ledger:
    store = open_store(f"sqlite:///{db}")
    try:
        return store.load("practice")
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2027)
    default = Path(tempfile.gettempdir()) / "big_practice_bench"
    parser.add_argument("--dir", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--no-store-verify", action="store_true", help="skip verify of the store (slow)"
    )
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    steps = plan(args.events * 7 // 6, max(2, args.events // 25), args.seed)
    commands = to_commands(steps, in_day_order=True)
    del steps
    built: list[pl.Ledger] = []

    def build() -> None:
        built[:] = [run_ledger(commands)]

    baseline = best(args.repeat, build)
    ledger = built[0]
    commands.clear()
    n = len(ledger.events)
    print(f"{n:,} events, {len(pl.patients(ledger)):,} patients, seed {args.seed}")
    print(f"{'step':44} {'seconds':>8} {'ratio':>7}  target", flush=True)

    def measured(label: str, seconds: float, target: float | None) -> None:
        ratio = seconds / baseline
        verdict = "" if target is None else f"≤ {target:g}  {'pass' if ratio <= target else 'FAIL'}"
        print(f"{label:44} {seconds:8.2f} {ratio:7.3f}  {verdict}", flush=True)

    measured("build (the baseline)", baseline, None)
    patient = max(pl.patients(ledger), key=lambda pid: pl.dashboard(ledger, pid).total_paid)
    path, db = prepared(args.dir, ledger)
    on = "2025-06-30"
    for label, source in (("journal (cached)", str(path)), ("store", str(db))):
        measured(f"balances, {label}", best(args.repeat, command("balances", source)), 0.05)
        report = command("report", source, "--patient", patient, "--on", on)
        measured(f"report --patient, {label}", best(args.repeat, report), 0.02)
        dated = command("balances", source, "--on", on)
        measured(f"balances --on {on}, {label}", best(args.repeat, dated), 0.1)
    measured("verify, journal", best(1, command("verify", str(path))), 0.5)
    if not args.no_store_verify:
        measured("verify, store", best(1, command("verify", str(db))), None)

    def cell(ledger: pl.Ledger) -> None:
        for day in MONTH_ENDS:
            pl.dashboards(ledger, on=day)

    fresh = [opened(db)]
    measured("open the store (before the cell)", best(1, lambda: opened(db)), None)
    measured("12 month-ends, store-opened ledger", best(1, lambda: cell(fresh.pop())), 0.2)
    measured("12 month-ends, the built ledger", best(1, lambda: cell(ledger)), 0.2)
    measured("12 month-ends, again (checkpoints kept)", best(1, lambda: cell(ledger)), None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
