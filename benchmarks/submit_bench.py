"""What a submit costs in the process that serves it: the CPU behind one payment.

    python benchmarks/submit_bench.py                       # 100,000 events, 8 and 64 threads
    python benchmarks/submit_bench.py --events 20000 --clients 8 --synchronous FULL

Builds a practice of ``--events`` events (``testing.generate.practice``) in a new SQLite
store, then, for each ``--clients`` count, opens it (``open_practice``) and runs that many
threads for ``--seconds``, each doing what the documented service does for ``POST
/payments`` without the HTTP: a JSON body decoded, read by ``parse_record`` and submitted
(``practice.submit(pl.post_payment, payment)``). Reported: submits a second, the submits each
commit grouped, and the process's CPU time per submit (``time.process_time``: every thread,
the writer's included) — a figure that the other jobs of a shared machine move much less than
a throughput. ``NORMAL`` by default, so that the disk's fsync does not hide the CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import patient_ledger as pl
from patient_ledger.persist.store import open_store
from patient_ledger.testing import generate


def run(db: Path, clients: int, seconds: float, synchronous: str, tag: str) -> dict[str, float]:
    """Submits a second, submits per commit and CPU µs per submit of ``clients`` threads
    (new payments, their ids starting with ``tag``)."""
    with pl.open_practice(db, synchronous=synchronous) as practice:
        patients = pl.patients(practice.ledger)
        stop = threading.Event()
        counts = [0] * clients

        def client(c: int) -> None:
            rng = random.Random(c)
            n = 0
            while not stop.is_set():
                body = json.dumps(
                    {
                        "id": f"{tag}-{c}-{n}",
                        "patient_id": rng.choice(patients),
                        "amount": f"{rng.randrange(5, 300)}.{rng.randrange(100):02d}",
                        "received_on": "2025-12-31",
                        "method": "credit card",
                    }
                ).encode()
                fields = json.loads(body, parse_float=Decimal)
                payment = pl.parse_record("payments", fields, practice.ledger.currency)
                practice.submit(pl.post_payment, payment)
                n += 1
            counts[c] = n

        before = practice.status()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        began, cpu = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        after = practice.status()
    submits = sum(counts)
    commits = max(after.commits - before.commits, 1)
    return {
        "submits/s": submits / elapsed,
        "submits/commit": (after.submits - before.submits) / commits,
        "cpu us/submit": cpu / submits * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", maxsplit=1)[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="NORMAL", choices=["FULL", "NORMAL", "EXTRA"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="a copy of this store instead of a new build")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "clinic.db"
        if args.db is not None:
            shutil.copyfile(args.db, db)
        else:
            store = open_store(f"sqlite:///{db}", synchronous=args.synchronous)
            ledger = generate.practice(events=args.events, seed=args.seed)
            store.save("practice", ledger, expected_version=0)
            store.close()
        for round_ in range(args.rounds):
            for clients in args.clients:
                figures = run(db, clients, args.seconds, args.synchronous, f"B{round_}-{clients}")
                print(
                    f"round {round_ + 1}, {clients} threads, {args.synchronous}: "
                    + ", ".join(f"{k} {v:,.1f}" for k, v in figures.items())
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
