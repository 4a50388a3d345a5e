"""Cost per command at practice scale, against a bare loop and against beancount.

    python benchmarks/bench.py [--n 100000] [--patients 10000] [--repeat 3] [--beancount]
                               [--no-double] [--gen0 N]

Builds ledgers of N and 2N mixed commands (``workload.plan``: every command of SPEC §4 and §9)
and prints, next to a *baseline* measured in the same run — the same balance arithmetic over
integer cents in plain dicts (``workload.Bare``, the floor for pure Python):

* µs per command for the whole build, and its ratio to the bare loop;
* µs per command by type (each call timed on its own, the bare loop's steps likewise, with the
  collector paused: its pauses would land on whichever call happens to trigger them — its
  share is in the whole-run figure);
* ``replay`` µs per event, and its ratio to the bare loop;
* 2N/N build-time ratios (ledger, bare loop, replay);
* memory the ledger holds per event (``tracemalloc``, peak while building N);
* with ``--beancount`` (the ``bench`` extra): beancount 3 building one transaction per command
  with the same money movements and realizing every balance, cross-checked with our dashboards.

Machines here are shared and noisy: compare ratios from one run, not absolute times. Each
whole-run figure is the best of ``--repeat`` runs, with CPython's default collector settings
unless ``--gen0`` is given.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import patient_ledger as pl

sys.path.insert(0, str(Path(__file__).parent))
from workload import KINDS, Bare, bare_loop, plan, run_ledger, to_commands

__all__ = ["plan", "run_ledger", "to_commands"]  # also used by store_bench and batch_bench


def best(repeat: int, work: Callable[[], object]) -> tuple[float, Any]:
    """The shortest of ``repeat`` timed runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def by_type(steps: list[Any], commands: list[Any]) -> dict[str, tuple[int, float, float]]:
    """Per kind: count, and the mean µs of the bare step and of the command, each call timed
    (the collector paused)."""
    clock = time.perf_counter
    bare = Bare()
    bare_time: Counter[str] = Counter()
    ledger_time: Counter[str] = Counter()
    count: Counter[str] = Counter()
    gc.collect()
    for kind, a in steps:  # (the bare loop allocates nothing the collector tracks)
        handler = getattr(bare, kind)
        start = clock()
        handler(a)
        bare_time[kind] += clock() - start
    ledger = pl.Ledger.empty("USD")
    gc.collect()
    gc.disable()
    try:
        for kind, (command, args, kwargs) in commands:
            start = clock()
            ledger = command(ledger, *args, **kwargs)
            ledger_time[kind] += clock() - start
            count[kind] += 1
    finally:
        gc.enable()
    return {
        kind: (
            count[kind],
            bare_time[kind] / count[kind] * 1e6,
            ledger_time[kind] / count[kind] * 1e6,
        )
        for kind in KINDS
        if count[kind]
    }


def memory_per_event(commands: list[Any]) -> tuple[float, float, int]:
    """Bytes per event the built ledger holds (peak while building, and at the end)."""
    gc.collect()
    tracemalloc.start()
    ledger = run_ledger(commands)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    events = len(ledger.events)
    return peak / events, current / events, events


def beancount_row(ledger: pl.Ledger, n: int, t_ledger: float, t_replay: float, repeat: int) -> str:
    """beancount building and realizing the same postings; its balances checked against ours."""
    import beancount_baseline as bb  # noqa: PLC0415 - only with --beancount (the bench extra)

    t_build, entries = best(repeat, lambda: bb.entries_from(ledger))
    t_realize, balances = best(repeat, lambda: bb.realize(entries))
    held = bb.held_by_patient(balances)
    for pid in pl.patients(ledger):
        d = pl.dashboard(ledger, pid)
        owed = balances.get(f"Assets:Receivable:{pid}", 0)
        assert (held[pid], owed) == (d.unallocated.amount, d.statement_balance.amount), pid
    return (
        f"{n:>10,}  {t_build / n * 1e6:9.2f}  {t_realize / n * 1e6:11.2f}  "
        f"{t_ledger / n * 1e6:8.2f}  {t_replay / n * 1e6:9.2f}  "
        f"{(t_build + t_realize) / t_ledger:12.2f}x  {t_realize / t_replay:16.2f}x"
    )


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--beancount", action="store_true", help="also time beancount 3")
    parser.add_argument("--no-double", action="store_true", help="skip the 2N run (and 2N/N)")
    parser.add_argument(
        "--gen0", type=int, default=0, help="run with gc.set_threshold(GEN0, 20, 100)"
    )
    args = parser.parse_args(argv)
    if args.gen0:
        gc.set_threshold(args.gen0, 20, 100)
    sizes = [args.n] if args.no_double else [args.n, 2 * args.n]
    whole, beancount_rows, results = [], [], {}
    types: dict[str, tuple[int, float, float]] = {}
    memory = (0.0, 0.0, 0)
    for n in sizes:
        progress(f"planning {n:,} commands")
        steps = plan(n, args.patients)
        commands = to_commands(steps)
        progress("timing the bare loop, the ledger and replay")
        t_loop, _ = best(args.repeat, lambda steps=steps: bare_loop(steps))
        t_ledger, ledger = best(args.repeat, lambda commands=commands: run_ledger(commands))
        events = ledger.events
        t_replay, again = best(args.repeat, lambda events=events: pl.replay(events))
        assert again == ledger
        results[n] = (t_ledger, t_loop, t_replay)
        whole.append(
            f"{n:>10,}  {len(events):>9,}  {t_loop / n * 1e6:8.2f}  {t_ledger / n * 1e6:8.2f}  "
            f"{t_ledger / t_loop:6.1f}x  {t_replay / len(events) * 1e6:9.2f}  "
            f"{t_replay / t_loop:6.1f}x"
        )
        if n == args.n:
            progress("timing each command on its own; memory")
            types = by_type(steps, commands)
            memory = memory_per_event(commands)
        if args.beancount:
            progress("beancount")
            beancount_rows.append(beancount_row(ledger, n, t_ledger, t_replay, args.repeat))
        del ledger, again, events, commands, steps
    print(
        f"patients: {args.patients:,}; best of {args.repeat}; µs = microseconds; "
        f"gc thresholds {gc.get_threshold()}\n"
    )
    print("  commands     events   loop µs    cmd µs  vs loop  replay µs/ev  vs loop")
    print("\n".join(whole))
    print(f"\nby type, N = {args.n:,} (each call timed on its own):")
    print("  type          count   loop µs    cmd µs  vs loop")
    for kind, (count, bare_us, ledger_us) in types.items():
        ratio = ledger_us / bare_us
        print(f"  {kind:<11} {count:>7,}  {bare_us:8.2f}  {ledger_us:8.2f}  {ratio:6.1f}x")
    peak, held, events = memory
    print(
        f"\nmemory, N = {args.n:,}: {peak:.0f} bytes per event at peak while building, "
        f"{held:.0f} held at the end ({events:,} events)"
    )
    if len(sizes) == 2:
        (t1, l1, r1), (t2, l2, r2) = results[sizes[0]], results[sizes[1]]
        print(
            f"\n2N/N build time: ledger {t2 / t1:.2f}  (bare loop {l2 / l1:.2f}; "
            f"replay {r2 / r1:.2f})"
        )
    if beancount_rows:
        print("\nbeancount 3 on the same money movements (µs per command):")
        print(
            "  commands  bc build  bc realize   our cmd  our replay  "
            "bc build+realize / our cmd  bc realize / our replay"
        )
        print("\n".join(beancount_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
