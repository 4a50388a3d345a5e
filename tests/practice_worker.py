"""A separate process that submits payments through a Practice, for the crash and
several-process tests.

python tests/practice_worker.py URL NAME WHO COUNT THREADS

Each of THREADS threads submits its share of COUNT payments of 1.00 (patient ``WHO-t``), each
twice (a resubmission); after the first submit of a payment returns it prints ``ACK id`` and,
after the second, ``AGAIN id created`` — flushed, so that a parent that kills it knows what was
acknowledged.
"""

from __future__ import annotations

import datetime
import sys
import threading

from moneyed import Money

import patient_ledger as pl

ON = datetime.date(2025, 1, 1)
_PRINT = threading.Lock()


def say(text: str) -> None:
    with _PRINT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def main(url: str, name: str, who: str, count: int, threads: int) -> None:
    with pl.open_practice(url, name) as practice:
        say("ready")

        def work(t: int) -> None:
            for n in range(t, count, threads):
                payment = pl.Payment(f"{who}-{n}", f"{who}-{t}", Money("1.00", "USD"), ON)
                practice.submit(pl.post_payment, payment)
                say(f"ACK {payment.id}")
                again = practice.submit(pl.post_payment, payment)
                say(f"AGAIN {payment.id} {again.created}")

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    say("done")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
