"""Independence from the surroundings: a hostile Decimal context, and several threads at once."""

from __future__ import annotations

import datetime
import decimal
from concurrent.futures import ThreadPoolExecutor

from moneyed import Money

import patient_ledger as pl
from patient_ledger.cli.demo import month_at_the_practice, play, seed_walkthrough


def scenario() -> pl.Ledger:
    ledger = None
    for _, after in play(seed_walkthrough() + month_at_the_practice()):
        ledger = after
    assert ledger is not None
    return ledger


def everything(ledger: pl.Ledger) -> list[object]:
    views: list[object] = []
    for pid in pl.patients(ledger):
        views += [
            pl.dashboard(ledger, pid),
            pl.claims_feed(ledger, pid),
            pl.unallocated_entries(ledger, pid),
        ]
    return [str(v) for v in views]


def hostile() -> decimal.Context:
    return decimal.Context(
        prec=3,
        rounding=decimal.ROUND_HALF_UP,
        traps=[decimal.Inexact, decimal.Rounded, decimal.InvalidOperation],
    )


def test_a_hostile_decimal_context_changes_nothing() -> None:
    expected = scenario()
    with decimal.localcontext(hostile()):
        # Amounts with more digits than the context's precision, and every view of the month.
        big = Money("123456789.12", "USD")
        ledger = pl.post_payment(expected, pl.Payment("BIG", "P1", big, datetime.date(2025, 5, 1)))
        again = scenario()
        seen = everything(again)
        assert pl.dashboard(ledger, "P1").unallocated == big
        # P1 owed $15 before: 15.00 - 123456789.12
        assert str(pl.dashboard(ledger, "P1").total_balance.amount) == "-123456774.12"
    assert again == expected
    assert seen == everything(expected)


def test_several_threads_at_once_get_the_same_ledgers() -> None:
    expected = everything(scenario())
    base = pl.Ledger.empty()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: everything(scenario()), range(8)))
        # Branching the same ledger from several threads at once.
        branches = list(
            pool.map(
                lambda n: pl.post_payment(
                    base, pl.Payment(f"T{n}", "P1", Money(n + 1, "USD"), datetime.date(2025, 1, 1))
                ),
                range(32),
            )
        )
    assert all(r == expected for r in results)
    assert len(base.events) == 1
    for n, ledger in enumerate(branches):
        assert pl.dashboard(ledger, "P1").total_paid == Money(n + 1, "USD")
        assert len(ledger.events) == 2
