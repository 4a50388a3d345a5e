"""Opening a practice: journal text, stores and snapshots, as ratios to building it, in one run.

    python benchmarks/store_bench.py [--events 100000] [--patients 10000] [--repeat 3]
        [--postgres URL]

Builds a ledger of about ``--events`` events with the mixed workload of ``workload.py`` (every
command of SPEC §4 and §9) — the *build*, the baseline every other figure is divided by — then
measures, each the best of ``--repeat`` runs:

* ``journal.dumps`` and ``journal.loads`` (a journal's text to a verified ledger: chain, form,
  replay, invariants);
* saving the whole history to a fresh SQLite store in one transaction, with the automatic
  snapshot and without (``snapshot_every=0``), and saving command by command (the last 2,000
  commands, one ``save`` each);
* opening the stored practice (``load`` in a new store object): from its snapshot, and from
  its first line (no snapshot), and ``verify``;
* bytes per event of the SQLite file.

The targets of issue 16 (pass/fail): opening ≤ 0.1× the build, text to ledger ≤ 1×, saving
≤ 0.5×, ≤ 300 bytes per event stored. With ``--postgres URL`` the saves and opens are measured
on PostgreSQL too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import patient_ledger as pl
from patient_ledger import journal
from patient_ledger.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from workload import plan, run_ledger, to_commands


def best(repeat: int, work: Callable[[], Any], before: Callable[[], object] | None = None) -> float:
    """The fastest of ``repeat`` runs of ``work`` (``before`` runs untimed ahead of each)."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one table, step by step
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="also measure a PostgreSQL store")
    args = parser.parse_args(argv)
    # About one planned command in seven changes nothing: plan enough for the events asked for.
    commands = to_commands(plan(args.events * 7 // 6, args.patients))
    build = best(args.repeat, lambda: run_ledger(commands))
    ledger = run_ledger(commands)
    n = len(ledger.events)
    rows: list[tuple[str, float, float | None]] = [("build (the baseline)", build, None)]

    def row(label: str, seconds: float, target: float | None = None) -> None:
        rows.append((label, seconds, target))

    text = journal.dumps(ledger)
    row("journal.dumps", best(args.repeat, lambda: journal.dumps(ledger)))
    row(
        "journal.loads: text to a verified ledger",
        best(args.repeat, lambda: journal.loads(text)),
        1.0,
    )
    folder = Path(tempfile.mkdtemp())
    urls = {"SQLite": lambda tag: f"sqlite:///{folder}/{tag}.db"}
    if args.postgres:
        urls["PostgreSQL"] = lambda tag: args.postgres
    for backend, url_of in urls.items():
        tag = iter(range(10**6))

        def fresh(every: int, url_of: Callable[[str], str] = url_of) -> tuple[Any, str]:
            name = f"practice{next(tag)}"
            return open_store(url_of(name), snapshot_every=every), name

        saved: dict[str, Any] = {}

        def save(every: int) -> None:
            store, name = fresh(every)
            store.save(name, ledger, expected_version=0)
            saved[str(every)] = (store, name)

        row(f"{backend}: save all, with its snapshot", best(args.repeat, lambda: save(50_000)), 0.5)
        row(f"{backend}: save all, no snapshot", best(args.repeat, lambda: save(0)), 0.5)
        store, name = saved["50000"]
        store.snapshot(name)  # the newest state, whatever the size
        url = url_of(name)
        opened = {}

        def load(name: str = name, url: str = url) -> None:
            other = open_store(url)
            opened["ledger"] = other.load(name)
            other.close()

        row(f"{backend}: open from the snapshot", best(args.repeat, load), 0.1)
        assert opened["ledger"] == ledger
        plain_store, plain = saved["0"]
        row(
            f"{backend}: open, no snapshot",
            best(args.repeat, lambda: load(plain, url_of(plain))),
        )
        row(f"{backend}: verify (replay everything)", best(1, lambda: store.verify(name)))
        if backend == "SQLite":
            size = sum(p.stat().st_size for p in folder.glob(f"{name}.db*"))
            print(f"SQLite file with one journal and its snapshots: {size / n:.0f} bytes/event")
        # Command by command: the last 2,000 commands, one save each, against their build.
        tail = commands[-2000:]
        start_ledger = run_ledger(commands[:-2000])
        inc_store, inc = fresh(50_000)
        inc_store.save(inc, start_ledger, expected_version=0)

        def each() -> None:
            current = start_ledger
            for _, (command, cargs, kwargs) in tail:
                after = command(current, *cargs, **kwargs)
                if after is not current:
                    inc_store.save(inc, after, expected_version=len(current.events))
                current = after

        per_command = best(1, each)
        bare = best(1, lambda: _extend(start_ledger, tail))
        print(
            f"{backend}: commands with a save after each: {per_command / bare:.2f}x "
            "the same commands without saving"
        )
    print(f"\n{n:,} events, best of {args.repeat}; ratio = seconds / the build's")
    print(f"{'step':48} {'seconds':>8} {'µs/event':>9} {'ratio':>6}  target")
    for label, seconds, target in rows:
        ratio = seconds / build
        verdict = "" if target is None else f"≤ {target:g}  {'pass' if ratio <= target else 'FAIL'}"
        print(f"{label:48} {seconds:8.2f} {seconds / n * 1e6:9.1f} {ratio:6.3f}  {verdict}")
    print(f"journal text: {len(text) / n:.0f} bytes/event")
    return 0


def _extend(ledger: pl.Ledger, commands: list[Any]) -> pl.Ledger:
    for _, (command, args, kwargs) in commands:
        ledger = command(ledger, *args, **kwargs)
    return ledger


if __name__ == "__main__":
    raise SystemExit(main())
