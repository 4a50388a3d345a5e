"""SPEC §12, dates: a dashboard as of a day is the journal up to its first event with a day
after that day; when an event past that point has a day on or before it (posted late), the view
raises DateOrderError naming it — never a silently different figure. Figures worked by hand."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from tests.helpers import appointment, charge, pay, usd

D = datetime.date


def in_order() -> pl.Ledger:
    ledger = appointment(pl.Ledger.empty(), "A1", day=D(2025, 1, 10))  # charges dated Jan 10
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1", day=D(2025, 1, 15))
    return pay(ledger, "PAY2", "50.00", day=D(2025, 2, 1))


def test_a_dashboard_as_of_a_day_is_the_journal_up_to_that_day() -> None:
    ledger = in_order()
    assert pl.dashboard(ledger, "P1", on=D(2025, 1, 9)).total_paid == usd("0")  # booked only
    assert pl.dashboard(ledger, "P1", on=D(2025, 1, 10)).total_balance == usd("100.00")
    on_15 = pl.dashboard(ledger, "P1", on=D(2025, 1, 15))
    assert (on_15.total_paid, on_15.statement_balance) == (usd("30.00"), usd("70.00"))
    later = pl.dashboard(ledger, "P1", on=D(2025, 12, 31))
    assert later == pl.dashboard(ledger, "P1")
    assert later.total_balance == usd("20.00")
    assert pl.dashboards(ledger, on=D(2025, 1, 31)) == {
        "P1": pl.dashboard(ledger, "P1", on=D(2025, 1, 15))
    }


def test_a_patient_not_yet_known_on_the_day() -> None:
    ledger = pay(in_order(), "PAY9", "5.00", pid="P2", day=D(2025, 3, 1))
    with pytest.raises(pl.UnknownIdError, match="'P2'"):
        pl.dashboard(ledger, "P2", on=D(2025, 2, 1))
    assert "P2" not in pl.dashboards(ledger, on=D(2025, 2, 1))


def test_a_payment_posted_late_makes_earlier_cuts_refuse_naming_it() -> None:
    # A check received on Jan 20 is posted after the payment of Feb 1.
    ledger = pay(in_order(), "LATE", "10.00", day=D(2025, 1, 20))
    late_index = len(ledger.events) - 1
    for day in (D(2025, 1, 20), D(2025, 1, 25), D(2025, 1, 31)):
        with pytest.raises(pl.DateOrderError) as raised:
            pl.dashboards(ledger, on=day)
        assert raised.value.code is pl.ErrorCode.DATE_ORDER
        assert raised.value.details["index"] == late_index
        assert "PaymentPosted" in str(raised.value)
        with pytest.raises(pl.DateOrderError):
            pl.dashboard(ledger, "P1", on=day)
    # Before the late check's day, and from the day of the last event posted on: exact.
    assert pl.dashboard(ledger, "P1", on=D(2025, 1, 19)).total_paid == usd("30.00")
    assert pl.dashboard(ledger, "P1", on=D(2025, 2, 1)).total_paid == usd("90.00")


def test_on_must_be_a_date() -> None:
    with pytest.raises(pl.InvalidInputError):
        pl.dashboards(in_order(), on="2025-01-01")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=12), st.integers(-1, 22))
def test_as_of_a_day_is_exact_or_refused_whatever_the_order_of_posting(
    offsets: list[int], asked: int
) -> None:
    # Payments posted in any order of days: as of a day, Total Paid is the sum of the
    # payments received on or before it — or the view refuses; never another figure.
    start = D(2025, 1, 1)
    ledger = pl.Ledger.empty()
    for n, offset in enumerate(offsets):
        ledger = pay(ledger, f"PAY{n}", "1.00", day=start + datetime.timedelta(days=offset))
    on = start + datetime.timedelta(days=asked)
    received = sum(1 for offset in offsets if offset <= asked)
    try:
        every = pl.dashboards(ledger, on=on)
    except pl.DateOrderError:
        cut = next((n for n, o in enumerate(offsets) if o > asked), len(offsets))
        assert any(o <= asked for o in offsets[cut:])  # refused only when truly late
        return
    paid = every["P1"].total_paid if "P1" in every else usd("0")
    assert paid == usd(f"{received}.00")


def test_dated_views_from_many_threads_agree() -> None:
    import concurrent.futures

    ledgers = [pay(in_order(), f"X{n}", "1.00", day=D(2025, 2, 2)) for n in range(12)]
    days = [D(2025, 1, 15), D(2025, 2, 1), D(2025, 2, 2)]

    def ask(n: int) -> object:
        ledger = ledgers[n % len(ledgers)]
        return pl.dashboard(ledger, "P1", on=days[n % len(days)]).total_paid

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(240)))
    expected = [usd("30.00"), usd("80.00"), usd("81.00")]
    assert answers == [expected[n % 3] for n in range(240)]
