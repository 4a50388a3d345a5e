"""Saving and loading a large journal: SQLite, and the journal text itself.

    python benchmarks/store_bench.py [--events 1000000] [--patients 100000]

Builds a ledger of about ``--events`` events (payments, appointments and charges over many
patients), then measures: ``journal.dumps`` (serialize and hash), saving it to a fresh SQLite
store in one transaction, and loading it back (read, check the chain, rebuild every value,
replay). Prints seconds and µs per event, and the database size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from patient_ledger import journal
from patient_ledger.store import open_store

sys.path.insert(0, str(Path(__file__).parent))
from bench import plan, run_ledger, to_commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=100_000)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    # About one planned command in seven changes nothing (a cancel with nothing to cancel, an
    # application of nothing): plan enough commands for the events asked for.
    ledger = run_ledger(to_commands(plan(args.events * 7 // 6, args.patients)))
    n = len(ledger.events)
    print(f"built {n:,} events in {time.perf_counter() - start:.1f} s")

    rows = []

    def timed(label: str, work: object) -> object:
        begin = time.perf_counter()
        result = work()  # type: ignore[operator]
        seconds = time.perf_counter() - begin
        rows.append((label, seconds, seconds / n * 1e6))
        return result

    text = timed("journal.dumps (serialize + hash)", lambda: journal.dumps(ledger))
    timed("journal.loads (check + rebuild + replay)", lambda: journal.loads(text))  # type: ignore[arg-type]
    folder = tempfile.mkdtemp()
    store = open_store(f"sqlite:///{folder}/bench.db")
    timed("SQLite save (one transaction)", lambda: store.save("bench", ledger, expected_version=0))
    loaded = timed("SQLite load + replay", lambda: store.load("bench"))
    assert loaded == ledger
    size = sum(p.stat().st_size for p in Path(folder).glob("bench.db*"))
    print(f"\n{'step':44} {'seconds':>9} {'µs/event':>9}")
    for label, seconds, per in rows:
        print(f"{label:44} {seconds:9.1f} {per:9.1f}")
    print(
        f"\njournal text: {len(text) / n:.0f} bytes/event; SQLite file: {size / n:.0f} bytes/event"
    )  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
