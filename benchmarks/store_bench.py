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
from patient_ledger.persist import journal
from patient_ledger.persist.store import open_store

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


Row = tuple[str, float, "float | None"]


def main(argv: list[str] | None = None) -> int:
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
    text = journal.dumps(ledger)
    rows: list[Row] = [
        ("build (the baseline)", build, None),
        ("journal.dumps", best(args.repeat, lambda: journal.dumps(ledger)), None),
        (
            "journal.loads: text to a verified ledger",
            best(args.repeat, lambda: journal.loads(text)),
            1.0,
        ),
    ]
    folder = Path(tempfile.mkdtemp())
    rows += backend("SQLite", lambda name: f"sqlite:///{folder}/{name}.db", ledger, args.repeat)
    size = (folder / "opened.db").stat().st_size  # closed: its write-ahead log checkpointed
    if args.postgres:
        rows += backend("PostgreSQL", lambda _: args.postgres, ledger, args.repeat)
    print(f"\n{n:,} events, best of {args.repeat}; ratio = seconds / the build's")
    print(f"{'step':48} {'seconds':>8} {'µs/event':>9} {'ratio':>6}  target")
    for label, seconds, target in rows:
        ratio = seconds / build
        verdict = "" if target is None else f"≤ {target:g}  {'pass' if ratio <= target else 'FAIL'}"
        print(f"{label:48} {seconds:8.2f} {seconds / n * 1e6:9.1f} {ratio:6.3f}  {verdict}")
    print(f"journal text: {len(text) / n:.0f} bytes/event")
    verdict = "pass" if size / n <= 300 else "FAIL"
    print(f"SQLite file (one journal, its snapshots): {size / n:.0f} bytes/event  ≤ 300  {verdict}")
    tail = commands[-2000:]
    before = run_ledger(commands[:-2000])
    store = open_store(f"sqlite:///{folder}/each.db")
    store.save("each", before, expected_version=0)
    saving = best(1, lambda: _extend(before, tail, store))
    plain = best(1, lambda: _extend(before, tail, None))
    print(f"SQLite, a save after each of 2,000 commands: {saving / plain:.2f}x the commands alone")
    return 0


def backend(label: str, url_of: Callable[[str], str], ledger: pl.Ledger, repeat: int) -> list[Row]:
    """Saving and opening one backend's stores (``url_of(name)``: the store of a journal)."""
    names = iter(range(10**6))
    kept: dict[int, tuple[Any, str]] = {}

    def save(every: int) -> None:
        name = "opened" if every else f"plain{next(names)}"
        if every:
            Path(url_of(name).removeprefix("sqlite:///")).unlink(missing_ok=True)
        store = open_store(url_of(name), snapshot_every=every)
        store.save(name, ledger, expected_version=0)
        kept[every] = (store, name)

    rows: list[Row] = [
        (f"{label}: save all, with its snapshot", best(repeat, lambda: save(50_000)), 0.5),
        (f"{label}: save all, no snapshot", best(repeat, lambda: save(0)), 0.5),
    ]
    store, name = kept[50_000]
    store.snapshot(name)  # the newest state, whatever the history's size

    def load(name: str) -> pl.Ledger:
        other = open_store(url_of(name))
        try:
            return other.load(name)
        finally:
            other.close()

    rows.append((f"{label}: open from the snapshot", best(repeat, lambda: load(name)), 0.1))
    assert load(name) == ledger
    plain = kept[0][1]
    rows.append((f"{label}: open, no snapshot", best(repeat, lambda: load(plain)), None))
    rows.append((f"{label}: verify (replay everything)", best(1, lambda: store.verify(name)), None))
    for opened, _ in kept.values():
        opened.close()
    return rows


def _extend(ledger: pl.Ledger, commands: list[Any], store: Any) -> pl.Ledger:
    """Run ``commands`` on ``ledger``, saving each new ledger to ``store`` (if one)."""
    for _, (command, args, kwargs) in commands:
        after = command(ledger, *args, **kwargs)
        if store is not None and after is not ledger:
            store.save("each", after, expected_version=len(ledger.events))
        ledger = after
    return ledger


if __name__ == "__main__":
    raise SystemExit(main())
