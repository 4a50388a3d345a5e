"""A separate process that writes to a store, for the concurrency and crash tests.

python tests/store_worker.py URL NAME append WHO COUNT   # COUNT payments, retrying
python tests/store_worker.py URL NAME bulk SIZE          # big saves until killed
"""

from __future__ import annotations

import datetime
import sys

from moneyed import Money

import patient_ledger as pl
from patient_ledger.errors import ConcurrencyError
from patient_ledger.persist.store import open_store

ON = datetime.date(2025, 1, 1)


def append(url: str, name: str, who: str, count: int) -> None:
    store = open_store(url)
    ledger = store.load(name)
    conflicts = 0
    for n in range(count):
        payment = pl.Payment(f"{who}-{n}", who, Money("1.00", "USD"), ON)
        while True:
            new = pl.post_payment(ledger, payment)
            try:
                store.save(name, new, expected_version=len(ledger.events))
            except ConcurrencyError:
                conflicts += 1
                ledger = store.load(name, base=ledger)  # catch up, then retry this payment
                continue
            ledger = new
            break
    print(f"{who}: {count} saved, {conflicts} conflicts retried")


def bulk(url: str, name: str, size: int) -> None:
    """Save commands of ``size`` payments each, forever: the test kills this process."""
    store = open_store(url)
    ledger = store.load(name)
    round_ = 0
    print("ready", flush=True)
    while True:
        new = ledger
        for n in range(size):
            payment = pl.Payment(f"B{round_}-{n}", f"P{n % 7}", Money("2.00", "USD"), ON)
            new = pl.post_payment(new, payment)
        store.save(name, new, expected_version=len(ledger.events))
        ledger = new
        round_ += 1


if __name__ == "__main__":
    url, name, mode, *rest = sys.argv[1:]
    if mode == "append":
        append(url, name, rest[0], int(rest[1]))
    else:
        bulk(url, name, int(rest[0]))
