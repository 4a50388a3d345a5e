"""SPEC §10, black-box: line items, allocation policies, partial reversals, cancelled visits.

Every expected figure below is worked out by hand from the SPEC text, never read off the code.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.persist import journal
from tests.helpers import entries, usd

D = datetime.date
DAY = D(2025, 1, 31)


# ----------------------------------------------------------------------------- builders


def new() -> pl.Ledger:
    return pl.Ledger.empty("USD")


def appt(
    ledger: pl.Ledger,
    aid: str,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 10),
    provider: str | None = None,
) -> pl.Ledger:
    return pl.add_appointment(ledger, pl.Appointment(aid, pid, day, provider))


def chg(
    ledger: pl.Ledger,
    cid: str,
    aid: str,
    amount: str,
    code: str | None = None,
    description: str | None = None,
) -> pl.Ledger:
    return pl.add_charge(ledger, pl.Charge(cid, aid, usd(amount), code, description))


def payment(
    pay_id: str,
    amount: str,
    aid: str | None = None,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 10),
    charge_id: str | None = None,
) -> pl.Payment:
    return pl.Payment(pay_id, pid, usd(amount), day, appointment_id=aid, charge_id=charge_id)


def pay(
    ledger: pl.Ledger,
    pay_id: str,
    amount: str,
    aid: str | None = None,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 10),
    charge_id: str | None = None,
) -> pl.Ledger:
    return pl.post_payment(ledger, payment(pay_id, amount, aid, pid, day, charge_id))


def refund_payment(
    rid: str,
    amount: str,
    aid: str | None = None,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 20),
    charge_id: str | None = None,
) -> pl.Payment:
    return pl.Payment(
        rid,
        pid,
        usd(amount),
        day,
        type=pl.PaymentType.REFUND,
        appointment_id=aid,
        charge_id=charge_id,
    )


def refund(
    ledger: pl.Ledger,
    rid: str,
    amount: str,
    aid: str | None = None,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 20),
) -> pl.Ledger:
    return pl.refund(ledger, refund_payment(rid, amount, aid, pid, day))


def adjust(
    ledger: pl.Ledger,
    adj_id: str,
    cid: str,
    amount: str,
    kind: pl.AdjustmentType = pl.AdjustmentType.INSURANCE,
) -> pl.Ledger:
    return pl.adjust_charge(ledger, pl.Adjustment(adj_id, cid, usd(amount), DAY, kind))


# ----------------------------------------------------------------------------- readers


def lines(ledger: pl.Ledger, aid: str) -> list[tuple[str, str, str, str]]:
    """Line items as (charge id, responsibility, paid, balance due)."""
    return [
        (
            li.charge_id,
            str(li.responsibility.amount),
            str(li.paid.amount),
            str(li.balance_due.amount),
        )
        for li in pl.line_items(ledger, aid)
    ]


def row(ledger: pl.Ledger, aid: str, pid: str = "P1") -> tuple[str, str, str, str]:
    """The feed row of one appointment as (responsibility, paid, due, appointment unallocated)."""
    (r,) = [r for r in pl.claims_feed(ledger, pid) if r.appointment_id == aid]
    return (
        str(r.patient_responsibility.amount),
        str(r.paid.amount),
        str(r.balance_due.amount),
        str(r.appointment_unallocated.amount),
    )


def allocs(ledger: pl.Ledger, pay_id: str) -> set[tuple[str, str | None, str | None, str]]:
    """Where a payment's money is: {(patient, appointment, charge, amount)}."""
    rows = pl.allocations(ledger, pay_id)
    result = {(a.patient_id, a.appointment_id, a.charge_id, str(a.amount.amount)) for a in rows}
    assert len(result) == len(rows), "one row per place"
    for a in rows:
        assert a.payment_id == pay_id
    return result


def bag(ledger: pl.Ledger, pid: str = "P1") -> list[tuple[str, str | None, str]]:
    """Open entries as a sorted multiset (for cases where SPEC fixes no order)."""
    return sorted(entries(ledger, pid), key=repr)


def paid(ledger: pl.Ledger, pid: str = "P1") -> str:
    return str(pl.dashboard(ledger, pid).total_paid.amount)


def general(ledger: pl.Ledger, pid: str = "P1") -> str:
    total = sum(
        (e.amount.amount for e in pl.unallocated_entries(ledger, pid) if e.appointment_id is None),
        Decimal("0.00"),
    )
    return str(total.quantize(Decimal("0.01")))


def payment_ids(ledger: pl.Ledger) -> list[str]:
    return [
        event.payment.id
        for event in ledger.events
        if isinstance(event, pl.PaymentPosted | pl.RefundPosted)
    ]


def views(ledger: pl.Ledger) -> dict[str, object]:
    result: dict[str, object] = {}
    for pid in pl.patients(ledger):
        feed = pl.claims_feed(ledger, pid)
        result[pid] = (
            pl.dashboard(ledger, pid),
            feed,
            pl.unallocated_entries(ledger, pid),
            pl.aging(ledger, pid, on=D(2025, 6, 1)),
            tuple(pl.line_items(ledger, r.appointment_id) for r in feed),
        )
    for pay_id in payment_ids(ledger):
        result["payment " + pay_id] = pl.allocations(ledger, pay_id)
    return result


def check(ledger: pl.Ledger) -> None:
    """What every scenario ends with: invariants, replay, journal round trip, sums of lines."""
    assert pl.check_invariants(ledger) == ()
    assert pl.replay(ledger.events) == ledger
    again = journal.loads(journal.dumps(ledger))
    assert views(again) == views(ledger)
    check_sums(ledger)


def check_sums(ledger: pl.Ledger) -> None:
    """FeedRow = sum of its lines; dashboard = sum of rows; allocation rows add up to total paid."""
    zero = usd("0")
    for pid in pl.patients(ledger):
        feed = pl.claims_feed(ledger, pid)
        for r in feed:
            items = pl.line_items(ledger, r.appointment_id)
            assert sum((li.responsibility for li in items), zero) == r.patient_responsibility
            assert sum((li.paid for li in items), zero) == r.paid
            assert sum((li.balance_due for li in items), zero) == r.balance_due
            for li in items:
                assert zero <= li.paid <= li.responsibility
                assert li.balance_due == li.responsibility - li.paid
        d = pl.dashboard(ledger, pid)
        assert sum((r.patient_responsibility for r in feed), zero) == d.patient_responsibility
        assert sum((r.paid for r in feed), zero) == d.allocated
    held: dict[str, Money] = defaultdict(lambda: zero)
    for pay_id in payment_ids(ledger):
        for a in pl.allocations(ledger, pay_id):
            assert a.amount != zero, "no zero rows"
            held[a.patient_id] += a.amount
    for pid in pl.patients(ledger):
        assert held[pid] == pl.dashboard(ledger, pid).total_paid, pid


def unchanged(before: pl.Ledger, after: pl.Ledger) -> None:
    assert after == before
    assert len(after.events) == len(before.events)


# ============================================================================= line items


def test_lines_in_line_order_with_their_figures() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "50.00", "99213", "Office visit")
    ledger = chg(ledger, "C0", "A1", "30.00", "81002")
    ledger = chg(ledger, "C3", "A1", "20.00")
    items = pl.line_items(ledger, "A1")
    assert [li.charge_id for li in items] == ["C1", "C0", "C3"]  # order added, not by id
    assert items[0] == pl.LineItem(
        charge_id="C1",
        appointment_id="A1",
        code="99213",
        description="Office visit",
        responsibility=usd("50.00"),
        paid=usd("0.00"),
        balance_due=usd("50.00"),
    )
    assert (items[1].code, items[1].description) == ("81002", None)

    ledger = pay(ledger, "PAY1", "60.00", "A1")
    assert lines(ledger, "A1") == [
        ("C1", "50.00", "50.00", "0.00"),
        ("C0", "30.00", "10.00", "20.00"),
        ("C3", "20.00", "0.00", "20.00"),
    ]
    # Responsibility includes adjustments.
    ledger = adjust(ledger, "ADJ1", "C3", "-5.00")
    assert lines(ledger, "A1")[2] == ("C3", "15.00", "0.00", "15.00")
    assert row(ledger, "A1") == ("95.00", "60.00", "35.00", "0.00")
    d = pl.dashboard(ledger, "P1")
    assert (d.patient_responsibility, d.allocated, d.statement_balance) == (
        usd("95.00"),
        usd("60.00"),
        usd("35.00"),
    )
    check(ledger)


def test_line_items_empty_without_charges_and_unknown_appointment() -> None:
    ledger = appt(new(), "A1")
    ledger = pay(ledger, "PAY1", "20.00", "A1")
    assert pl.line_items(ledger, "A1") == ()
    with pytest.raises(pl.UnknownIdError):
        pl.line_items(ledger, "NOPE")
    check(ledger)


# ============================================================================= placing money


def test_payment_to_an_appointment_fills_lines_in_order() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = chg(ledger, "C3", "A1", "20.00")
    ledger = pay(ledger, "PAY1", "55.00", "A1")
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "30.00", "15.00", "15.00"),
        ("C3", "20.00", "0.00", "20.00"),
    ]
    ledger = pay(ledger, "PAY2", "50.00", "A1")
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "20.00", "0.00"),
    ]
    assert row(ledger, "A1") == ("90.00", "90.00", "0.00", "15.00")
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "40.00"), ("P1", "A1", "C2", "15.00")}
    assert allocs(ledger, "PAY2") == {
        ("P1", "A1", "C2", "15.00"),
        ("P1", "A1", "C3", "20.00"),
        ("P1", "A1", None, "15.00"),
    }
    check(ledger)


def test_apply_unallocated_fills_lines_in_order() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "60.00")
    ledger = pay(ledger, "PAY1", "70.00")
    ledger = pl.apply_unallocated(ledger, "P1", "A1", on=DAY)
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "60.00", "30.00", "30.00"),
    ]
    assert entries(ledger) == []
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "40.00"), ("P1", "A1", "C2", "30.00")}
    check(ledger)


def test_new_charge_is_filled_from_the_bucket_oldest_entries_first() -> None:
    ledger = appt(new(), "A2")
    ledger = pay(ledger, "PAY2", "30.00", "A2", day=D(2025, 1, 5))
    ledger = pay(ledger, "PAY3", "20.00", "A2", day=D(2025, 1, 3))  # received earlier
    ledger = chg(ledger, "C3", "A2", "25.00")
    assert lines(ledger, "A2") == [("C3", "25.00", "25.00", "0.00")]
    assert allocs(ledger, "PAY3") == {("P1", "A2", "C3", "20.00")}
    assert allocs(ledger, "PAY2") == {("P1", "A2", "C3", "5.00"), ("P1", "A2", None, "25.00")}
    ledger = chg(ledger, "C4", "A2", "40.00")
    assert lines(ledger, "A2") == [
        ("C3", "25.00", "25.00", "0.00"),
        ("C4", "40.00", "25.00", "15.00"),
    ]
    assert allocs(ledger, "PAY2") == {("P1", "A2", "C3", "5.00"), ("P1", "A2", "C4", "25.00")}
    assert row(ledger, "A2") == ("65.00", "50.00", "15.00", "0.00")
    check(ledger)


def test_auto_allocate_fills_lines_in_order() -> None:
    ledger = appt(new(), "A1", day=D(2025, 1, 10))
    ledger = appt(ledger, "A2", day=D(2025, 1, 20))
    ledger = chg(ledger, "C1", "A1", "30.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = chg(ledger, "C3", "A2", "20.00")
    ledger = chg(ledger, "C4", "A2", "30.00")
    ledger = pay(ledger, "PAY1", "75.00")
    ledger = pl.auto_allocate(ledger, "P1", on=DAY)
    assert lines(ledger, "A1") == [
        ("C1", "30.00", "30.00", "0.00"),
        ("C2", "30.00", "30.00", "0.00"),
    ]
    assert lines(ledger, "A2") == [
        ("C3", "20.00", "15.00", "5.00"),
        ("C4", "30.00", "0.00", "30.00"),
    ]
    assert entries(ledger) == []
    check(ledger)


# ============================================================================= Payment.charge_id


def test_payment_naming_a_line_pays_it_first_then_the_others_then_the_bucket() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = chg(ledger, "C3", "A1", "20.00")
    ledger = pay(ledger, "PAY1", "50.00", "A1", charge_id="C2")
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "20.00", "20.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "0.00", "20.00"),
    ]
    ledger = pay(ledger, "PAY2", "100.00", "A1", charge_id="C3", day=D(2025, 1, 11))
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "20.00", "0.00"),
    ]
    assert allocs(ledger, "PAY2") == {
        ("P1", "A1", "C3", "20.00"),
        ("P1", "A1", "C1", "20.00"),
        ("P1", "A1", None, "60.00"),
    }
    assert entries(ledger) == [("PAY2", "A1", "60.00")]
    # A named line with nothing due: the others in line order, then the bucket.
    ledger = appt(ledger, "A9")
    ledger = chg(ledger, "C91", "A9", "10.00")
    ledger = chg(ledger, "C92", "A9", "10.00")
    ledger = pay(ledger, "PAY3", "10.00", "A9", charge_id="C92")
    ledger = pay(ledger, "PAY4", "15.00", "A9", charge_id="C92")
    assert allocs(ledger, "PAY4") == {("P1", "A9", "C91", "10.00"), ("P1", "A9", None, "5.00")}
    check(ledger)


def test_payment_naming_a_line_but_no_appointment_goes_to_its_appointment() -> None:
    ledger = appt(new(), "A1")
    ledger = appt(ledger, "A2", day=D(2025, 1, 12))
    ledger = chg(ledger, "C1", "A1", "10.00")
    ledger = chg(ledger, "C4", "A2", "10.00")
    ledger = chg(ledger, "C5", "A2", "15.00")
    submitted = payment("PAY3", "30.00", charge_id="C5")
    ledger = pl.post_payment(ledger, submitted)
    assert lines(ledger, "A1") == [("C1", "10.00", "0.00", "10.00")]
    assert lines(ledger, "A2") == [
        ("C4", "10.00", "10.00", "0.00"),
        ("C5", "15.00", "15.00", "0.00"),
    ]
    assert entries(ledger) == [("PAY3", "A2", "5.00")]
    assert allocs(ledger, "PAY3") == {
        ("P1", "A2", "C5", "15.00"),
        ("P1", "A2", "C4", "10.00"),
        ("P1", "A2", None, "5.00"),
    }
    # Stored and compared exactly as submitted.
    assert pl.payment_status(ledger, "PAY3").payment == submitted
    assert pl.payment_status(ledger, "PAY3").payment.appointment_id is None
    unchanged(ledger, pl.post_payment(ledger, payment("PAY3", "30.00", charge_id="C5")))
    with pytest.raises(pl.DuplicateIdError):
        pl.post_payment(ledger, payment("PAY3", "30.00", "A2", charge_id="C5"))
    with pytest.raises(pl.DuplicateIdError):
        pl.post_payment(ledger, payment("PAY3", "30.00", charge_id="C4"))
    with pytest.raises(pl.DuplicateIdError):
        pl.post_payment(ledger, payment("PAY3", "30.00"))
    check(ledger)


def test_payment_charge_id_is_part_of_its_value() -> None:
    assert payment("X", "1.00", "A1", charge_id="C1") == payment("X", "1.00", "A1", charge_id="C1")
    assert payment("X", "1.00", "A1", charge_id="C1") != payment("X", "1.00", "A1")
    assert payment("X", "1.00", "A1").charge_id is None


def test_payment_with_charge_id_resubmitted_after_its_line_was_paid_is_unchanged() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = pay(ledger, "PAY1", "40.00", "A1", charge_id="C1")
    ledger = pay(ledger, "PAY2", "5.00", "A1")
    unchanged(ledger, pay(ledger, "PAY1", "40.00", "A1", charge_id="C1"))
    check(ledger)


# ============================================================================= apply_unallocated


def _three_lines_and_general(general_amount: str = "100.00") -> pl.Ledger:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = chg(ledger, "C3", "A1", "20.00")
    return pay(ledger, "PAY1", general_amount)


def test_apply_unallocated_named_line_first_then_the_others() -> None:
    ledger = _three_lines_and_general()
    ledger = pl.apply_unallocated(ledger, "P1", "A1", usd("50.00"), on=DAY, charge_id="C2")
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "20.00", "20.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "0.00", "20.00"),
    ]
    assert general(ledger) == "50.00"
    # None = the appointment's balance due (40): C3 first (20), then C1 (20).
    ledger = pl.apply_unallocated(ledger, "P1", "A1", on=DAY, charge_id="C3")
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "20.00", "0.00"),
    ]
    assert entries(ledger) == [("PAY1", None, "10.00")]
    assert row(ledger, "A1") == ("90.00", "90.00", "0.00", "0.00")  # never into the bucket
    # Nothing due: None is a no-op.
    unchanged(ledger, pl.apply_unallocated(ledger, "P1", "A1", on=DAY, charge_id="C1"))
    check(ledger)


def test_apply_unallocated_limit_is_the_appointments_balance_due() -> None:
    ledger = _three_lines_and_general()
    # More than the named line's due (30) but within the appointment's due (90): spills over.
    spilled = pl.apply_unallocated(ledger, "P1", "A1", usd("45.00"), on=DAY, charge_id="C2")
    assert lines(spilled, "A1") == [
        ("C1", "40.00", "15.00", "25.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "0.00", "20.00"),
    ]
    check(spilled)
    # More than the appointment's due (90), within the bucket (100): over-application.
    with pytest.raises(pl.OverApplicationError):
        pl.apply_unallocated(ledger, "P1", "A1", usd("95.00"), on=DAY, charge_id="C3")
    # Exactly the appointment's due: all lines paid, 10 left in the general bucket.
    full = pl.apply_unallocated(ledger, "P1", "A1", usd("90.00"), on=DAY, charge_id="C3")
    assert row(full, "A1") == ("90.00", "90.00", "0.00", "0.00")
    assert general(full) == "10.00"
    # None with less money than due: all of the bucket.
    small = _three_lines_and_general("25.00")
    small = pl.apply_unallocated(small, "P1", "A1", on=DAY, charge_id="C3")
    assert lines(small, "A1") == [
        ("C1", "40.00", "5.00", "35.00"),
        ("C2", "30.00", "0.00", "30.00"),
        ("C3", "20.00", "20.00", "0.00"),
    ]
    assert entries(small) == []
    check(small)
    check(full)


# ============================================================================= unapply


def test_unapply_named_line_takes_only_its_allocations_newest_first() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1", day=D(2025, 1, 10))  # C1 30
    ledger = pay(ledger, "PAY2", "25.00", "A1", day=D(2025, 1, 11))  # C1 10, C2 15
    before = ledger
    ledger = pl.unapply(ledger, "A1", usd("15.00"), on=DAY, charge_id="C1")
    # C1's newest first: PAY2's 10, then 5 of PAY1's.
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "25.00", "15.00"),
        ("C2", "30.00", "15.00", "15.00"),
    ]
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "25.00"), ("P1", None, None, "5.00")}
    assert allocs(ledger, "PAY2") == {("P1", "A1", "C2", "15.00"), ("P1", None, None, "10.00")}
    # One entry per payment, in the general bucket.
    assert bag(ledger) == [("PAY1", None, "5.00"), ("PAY2", None, "10.00")]
    # More than the line holds, though the appointment holds more: refused.
    with pytest.raises(pl.InsufficientAllocatedError):
        pl.unapply(ledger, "A1", usd("25.01"), on=DAY, charge_id="C1")
    # None: all of that line.
    whole = pl.unapply(ledger, "A1", on=DAY, charge_id="C2")
    assert lines(whole, "A1") == [
        ("C1", "40.00", "25.00", "15.00"),
        ("C2", "30.00", "0.00", "30.00"),
    ]
    assert general(whole) == "30.00"
    # Nothing on the line: unchanged.
    unchanged(whole, pl.unapply(whole, "A1", on=DAY, charge_id="C2"))
    check(before)
    check(ledger)
    check(whole)


def test_unapply_makes_one_entry_per_payment_not_per_line_part() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "50.00", "A1")  # C1 40, C2 10
    ledger = pl.unapply(ledger, "A1", on=DAY)
    assert entries(ledger) == [("PAY1", None, "50.00")]
    check(ledger)


def test_newest_first_takes_the_last_line_filled_first() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "50.00", "A1")  # one placement: C1 40, then C2 10
    unapplied = pl.unapply(ledger, "A1", usd("15.00"), on=DAY)
    assert lines(unapplied, "A1") == [
        ("C1", "40.00", "35.00", "5.00"),
        ("C2", "30.00", "0.00", "30.00"),
    ]
    reversed_ = pl.reverse_payment(ledger, "PAY1", usd("15.00"), on=DAY)
    assert lines(reversed_, "A1") == [
        ("C1", "40.00", "35.00", "5.00"),
        ("C2", "30.00", "0.00", "30.00"),
    ]
    # With a named line, the placement order is that of the payment: C2 first, then C1.
    named = appt(new(), "A1")
    named = chg(named, "C1", "A1", "40.00")
    named = chg(named, "C2", "A1", "30.00")
    named = pay(named, "PAY1", "50.00", "A1", charge_id="C2")  # C2 30, then C1 20
    named = pl.unapply(named, "A1", usd("25.00"), on=DAY)
    assert lines(named, "A1") == [
        ("C1", "40.00", "0.00", "40.00"),
        ("C2", "30.00", "25.00", "5.00"),
    ]
    check(unapplied)
    check(reversed_)
    check(named)


# ============================================================================= adjust_charge


def test_adjustment_frees_money_to_other_lines_then_to_the_bucket() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "50.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = chg(ledger, "C3", "A1", "20.00")
    ledger = pay(ledger, "PAY1", "80.00", "A1")  # C1 50, C2 30
    ledger = adjust(ledger, "ADJ1", "C1", "-30.00")  # C1 responsibility 20: 30 freed
    assert lines(ledger, "A1") == [
        ("C1", "20.00", "20.00", "0.00"),
        ("C2", "30.00", "30.00", "0.00"),
        ("C3", "20.00", "20.00", "0.00"),
    ]
    assert row(ledger, "A1") == ("70.00", "70.00", "0.00", "10.00")
    assert allocs(ledger, "PAY1") == {
        ("P1", "A1", "C1", "20.00"),
        ("P1", "A1", "C2", "30.00"),
        ("P1", "A1", "C3", "20.00"),
        ("P1", "A1", None, "10.00"),
    }
    assert paid(ledger) == "80.00"
    check(ledger)


def _freed_newest_first() -> pl.Ledger:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "50.00")
    ledger = chg(ledger, "C2", "A1", "40.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1", day=D(2025, 1, 10))  # C1 30
    ledger = pay(ledger, "PAY2", "20.00", "A1", day=D(2025, 1, 11))  # C1 20
    ledger = pay(ledger, "PAY3", "10.00", "A1", day=D(2025, 1, 12))  # C2 10
    # C1 falls to 15: 35 freed, newest first (PAY2 20, PAY1 15): C2 takes 30, the bucket 5.
    return adjust(ledger, "ADJ1", "C1", "-35.00")


def test_adjustment_moves_newest_freed_money_first() -> None:
    ledger = _freed_newest_first()
    assert lines(ledger, "A1") == [
        ("C1", "15.00", "15.00", "0.00"),
        ("C2", "40.00", "40.00", "0.00"),
    ]
    assert row(ledger, "A1") == ("55.00", "55.00", "0.00", "5.00")
    assert allocs(ledger, "PAY1") == {
        ("P1", "A1", "C1", "15.00"),
        ("P1", "A1", "C2", "10.00"),
        ("P1", "A1", None, "5.00"),
    }
    assert allocs(ledger, "PAY2") == {("P1", "A1", "C2", "20.00")}
    assert allocs(ledger, "PAY3") == {("P1", "A1", "C2", "10.00")}
    assert entries(ledger) == [("PAY1", "A1", "5.00")]
    check(ledger)


def test_money_moved_by_an_adjustment_is_the_newest_placement() -> None:
    ledger = _freed_newest_first()
    # C2 holds PAY3 10 (oldest), then PAY2 20 and PAY1 10 moved there by ADJ1, in that order.
    taken = pl.unapply(ledger, "A1", usd("10.00"), on=DAY, charge_id="C2")
    # The bucket's 5 (PAY1) is auto-applied to the reopened balance of C2 (invariant 5).
    assert lines(taken, "A1") == [
        ("C1", "15.00", "15.00", "0.00"),
        ("C2", "40.00", "35.00", "5.00"),
    ]
    assert allocs(taken, "PAY2") == {("P1", "A1", "C2", "20.00")}
    assert allocs(taken, "PAY3") == {("P1", "A1", "C2", "10.00")}
    assert allocs(taken, "PAY1") == {
        ("P1", "A1", "C1", "15.00"),
        ("P1", "A1", "C2", "5.00"),
        ("P1", None, None, "10.00"),
    }
    check(taken)
    # A partial reversal of PAY1: its entry (5) first, then its newest allocation (C2's 10).
    rev = pl.reverse_payment(ledger, "PAY1", usd("12.00"), on=DAY)
    assert lines(rev, "A1") == [
        ("C1", "15.00", "15.00", "0.00"),
        ("C2", "40.00", "33.00", "7.00"),
    ]
    assert allocs(rev, "PAY1") == {("P1", "A1", "C1", "15.00"), ("P1", "A1", "C2", "3.00")}
    assert paid(rev) == "48.00"
    check(rev)


def test_write_off_is_limited_by_its_own_line() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "50.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "40.00", "A1")  # C1 40 (due 10); C2 due 30; A1 due 40
    wo = pl.AdjustmentType.WRITE_OFF
    with pytest.raises(pl.OverApplicationError):
        adjust(ledger, "WO1", "C1", "-20.00", wo)  # ≤ the appointment's due, > the line's
    with pytest.raises(pl.OverApplicationError):
        adjust(ledger, "WO1", "C1", "-10.01", wo)
    ledger = adjust(ledger, "WO1", "C1", "-10.00", wo)
    ledger = adjust(ledger, "WO2", "C2", "-30.00", wo)
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "0.00", "0.00", "0.00"),
    ]
    assert row(ledger, "A1") == ("40.00", "40.00", "0.00", "0.00")
    check(ledger)


def test_adjustment_below_zero_is_refused() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "50.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    with pytest.raises(pl.OverApplicationError):
        adjust(ledger, "ADJ1", "C2", "-30.01")
    ledger = adjust(ledger, "ADJ1", "C2", "-30.00")
    assert lines(ledger, "A1")[1] == ("C2", "0.00", "0.00", "0.00")
    with pytest.raises(pl.OverApplicationError):
        adjust(ledger, "ADJ2", "C2", "-0.01")
    check(ledger)


def test_raising_a_line_auto_applies_the_bucket_to_it() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "20.00")
    ledger = chg(ledger, "C2", "A1", "20.00")
    ledger = pay(ledger, "PAY1", "50.00", "A1")  # C1 20, C2 20, bucket 10
    ledger = adjust(ledger, "ADJ1", "C1", "15.00")
    assert lines(ledger, "A1") == [
        ("C1", "35.00", "30.00", "5.00"),
        ("C2", "20.00", "20.00", "0.00"),
    ]
    assert row(ledger, "A1") == ("55.00", "50.00", "5.00", "0.00")
    check(ledger)


# ============================================================================= charge_id checks


def _two_patients() -> pl.Ledger:
    ledger = appt(new(), "A1")
    ledger = appt(ledger, "A2", day=D(2025, 1, 11))
    ledger = appt(ledger, "B1", "P2", day=D(2025, 1, 12))
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A2", "40.00")
    ledger = chg(ledger, "C9", "B1", "40.00")
    ledger = pay(ledger, "PAY1", "10.00", "A1")
    ledger = pay(ledger, "PAY2", "100.00", day=D(2025, 1, 13))
    ledger = pay(ledger, "PAY9", "100.00", pid="P2", day=D(2025, 1, 13))
    ledger = appt(ledger, "A3", day=D(2025, 1, 14))
    return pl.cancel_appointment(ledger, "A3", on=DAY)


def _post(aid: str | None, cid: str | None) -> object:
    return lambda ledger: pay(ledger, "NEW", "5.00", aid, charge_id=cid)


def _apply(aid: str, cid: str | None, amount: str | None = None) -> object:
    money = None if amount is None else usd(amount)
    return lambda ledger: pl.apply_unallocated(ledger, "P1", aid, money, on=DAY, charge_id=cid)


def _unapply(aid: str, cid: str | None, amount: str | None = None) -> object:
    money = None if amount is None else usd(amount)
    return lambda ledger: pl.unapply(ledger, aid, money, on=DAY, charge_id=cid)


CHARGE_ID_CHECKS = [
    # post_payment
    ("post: unknown line", _post("A1", "NOPE"), pl.UnknownIdError),
    ("post: other patient's line", _post("A1", "C9"), pl.PatientMismatchError),
    ("post: line of another appointment", _post("A1", "C2"), pl.InvalidInputError),
    ("post, no appointment: unknown line", _post(None, "NOPE"), pl.UnknownIdError),
    ("post, no appointment: other patient's", _post(None, "C9"), pl.PatientMismatchError),
    # apply_unallocated
    ("apply: unknown line", _apply("A1", "NOPE"), pl.UnknownIdError),
    ("apply: other patient's line", _apply("A1", "C9"), pl.PatientMismatchError),
    ("apply: line of another appointment", _apply("A1", "C2"), pl.InvalidInputError),
    # unapply
    ("unapply: unknown line", _unapply("A1", "NOPE"), pl.UnknownIdError),
    ("unapply: other patient's line", _unapply("A1", "C9"), pl.PatientMismatchError),
    ("unapply: line of another appointment", _unapply("A1", "C2"), pl.InvalidInputError),
    # refund naming a line
    (
        "refund naming its own appointment's line",
        lambda ledger: pl.refund(ledger, refund_payment("R1", "-5.00", charge_id="C1")),
        pl.InvalidInputError,
    ),
    (
        "refund to an appointment naming a line",
        lambda ledger: pl.refund(ledger, refund_payment("R1", "-5.00", "A1", charge_id="C1")),
        pl.InvalidInputError,
    ),
]


@pytest.mark.parametrize(
    ("command", "error"),
    [pytest.param(c, e, id=name) for name, c, e in CHARGE_ID_CHECKS],
)
def test_every_charge_id_is_checked_alike(command: object, error: type[Exception]) -> None:
    ledger = _two_patients()
    check(ledger)
    with pytest.raises(error) as caught:
        command(ledger)
    assert type(caught.value) is error
    check(ledger)


def test_refund_naming_a_line_is_an_invalid_input_whatever_the_line() -> None:
    ledger = _two_patients()
    for cid in ("C1", "C2", "C9", "NOPE"):
        with pytest.raises(pl.InvalidInputError) as caught:
            pl.refund(ledger, refund_payment("R1", "-5.00", charge_id=cid))
        assert type(caught.value) is pl.InvalidInputError


PRECEDENCE = [
    # input shape beats idempotency
    (
        "currency before duplicate",
        lambda ledger: pl.post_payment(
            ledger, pl.Payment("PAY2", "P1", Money("5.00", "EUR"), D(2025, 1, 13))
        ),
        pl.CurrencyMismatchError,
    ),
    (
        "refund naming a line before duplicate",
        lambda ledger: pl.refund(ledger, refund_payment("PAY2", "-5.00", charge_id="C1")),
        pl.InvalidInputError,
    ),
    (
        "refund naming a line before unknown appointment",
        lambda ledger: pl.refund(ledger, refund_payment("R1", "-5.00", "NOAPPT", charge_id="C1")),
        pl.InvalidInputError,
    ),
    (
        "refund naming a line before cancelled appointment",
        lambda ledger: pl.refund(ledger, refund_payment("R1", "-5.00", "A3", charge_id="C1")),
        pl.InvalidInputError,
    ),
    (
        "reverse: amount sign before unknown id",
        lambda ledger: pl.reverse_payment(ledger, "NOPE", usd("-1.00"), on=DAY),
        pl.InvalidAmountError,
    ),
    (
        "reverse: zero amount before unknown id",
        lambda ledger: pl.reverse_payment(ledger, "NOPE", usd("0.00"), on=DAY),
        pl.InvalidAmountError,
    ),
    (
        "reverse: currency before unknown id",
        lambda ledger: pl.reverse_payment(ledger, "NOPE", Money("1.00", "EUR"), on=DAY),
        pl.CurrencyMismatchError,
    ),
    (
        "apply: currency before unknown line",
        lambda ledger: pl.apply_unallocated(
            ledger, "P1", "A1", Money("1.00", "EUR"), on=DAY, charge_id="NOPE"
        ),
        pl.CurrencyMismatchError,
    ),
    (
        "apply: negative before cancelled",
        lambda ledger: pl.apply_unallocated(ledger, "P1", "A3", usd("-1.00"), on=DAY),
        pl.InvalidAmountError,
    ),
    # idempotency beats references
    (
        "duplicate before unknown appointment",
        lambda ledger: pay(ledger, "PAY2", "5.00", "NOAPPT"),
        pl.DuplicateIdError,
    ),
    (
        "duplicate before unknown line",
        lambda ledger: pay(ledger, "PAY2", "5.00", "A1", charge_id="NOPE"),
        pl.DuplicateIdError,
    ),
    (
        "duplicate before cancelled appointment",
        lambda ledger: pay(ledger, "PAY2", "5.00", "A3"),
        pl.DuplicateIdError,
    ),
    # appointment beats line
    (
        "unknown appointment before line of another appointment",
        _post("NOAPPT", "C1"),
        pl.UnknownIdError,
    ),
    (
        "other patient's appointment before unknown line",
        _post("B1", "NOPE"),
        pl.PatientMismatchError,
    ),
    (
        "apply: other patient's appointment before unknown line",
        _apply("B1", "NOPE"),
        pl.PatientMismatchError,
    ),
    # within the line: unknown, then another patient's, then not on the named appointment
    (
        "other patient's line (also not on the appointment)",
        _apply("A1", "C9"),
        pl.PatientMismatchError,
    ),
    (
        "unapply: other patient's line (also not on the appointment)",
        _unapply("A2", "C9", "1000.00"),
        pl.PatientMismatchError,
    ),
    # line beats cancelled
    ("cancelled: unknown line first", _apply("A3", "NOPE"), pl.UnknownIdError),
    ("cancelled: other patient's line first", _apply("A3", "C9"), pl.PatientMismatchError),
    ("cancelled: line of another appointment first", _apply("A3", "C1"), pl.InvalidInputError),
    ("post to cancelled: line of another appointment", _post("A3", "C1"), pl.InvalidInputError),
    # cancelled beats amount and bucket checks
    ("apply: cancelled before bucket", _apply("A3", None, "1000.00"), pl.AppointmentCancelledError),
    (
        "refund: cancelled before bucket",
        lambda ledger: refund(ledger, "R1", "-1000.00", "A3"),
        pl.AppointmentCancelledError,
    ),
    (
        "charge on cancelled",
        lambda ledger: chg(ledger, "C7", "A3", "10.00"),
        pl.AppointmentCancelledError,
    ),
    # line beats amount and bucket checks
    (
        "apply: line before bucket",
        _apply("A1", "C2", "1000.00"),
        pl.InvalidInputError,
    ),
    (
        "unapply: line before what it holds",
        _unapply("A1", "C2", "1000.00"),
        pl.InvalidInputError,
    ),
    (
        "unapply: unknown line before what it holds",
        _unapply("A1", "NOPE", "1000.00"),
        pl.UnknownIdError,
    ),
    (
        "apply: unknown line before over-application",
        _apply("A1", "NOPE", "99.00"),
        pl.UnknownIdError,
    ),
    # an amount against what is left beats bucket checks
    (
        "reverse: more than left",
        lambda ledger: pl.reverse_payment(ledger, "PAY2", usd("100.01"), on=DAY),
        pl.InvalidAmountError,
    ),
]


@pytest.mark.parametrize(
    ("command", "error"),
    [pytest.param(c, e, id=name) for name, c, e in PRECEDENCE],
)
def test_precedence_of_refusals(command: object, error: type[Exception]) -> None:
    ledger = _two_patients()
    with pytest.raises(pl.LedgerError) as caught:
        command(ledger)
    assert type(caught.value) is error


def test_precedence_idempotent_resubmission_to_a_cancelled_appointment() -> None:
    ledger = appt(new(), "A3")
    ledger = pay(ledger, "PAY1", "30.00", "A3")
    ledger = pl.cancel_appointment(ledger, "A3", on=DAY)
    # idempotency comes before the cancelled-appointment check
    unchanged(ledger, pay(ledger, "PAY1", "30.00", "A3"))
    with pytest.raises(pl.AppointmentCancelledError):
        pay(ledger, "PAY2", "30.00", "A3")
    check(ledger)


def test_precedence_reversal_amount_for_refund_and_already_reversed() -> None:
    ledger = pay(new(), "PAY1", "50.00")
    ledger = refund(ledger, "R1", "-20.00")
    ledger = pl.reverse_payment(ledger, "R1", on=DAY)
    ledger = pl.reverse_payment(ledger, "PAY1", on=DAY)
    with pytest.raises(pl.UnknownIdError):
        pl.reverse_payment(ledger, "NOPE", usd("1.00"), on=DAY)
    # an amount for a refund: after the id is known, before "already reversed"
    with pytest.raises(pl.LedgerError) as caught:
        pl.reverse_payment(ledger, "R1", usd("1.00"), on=DAY)
    assert type(caught.value) is pl.InvalidInputError
    # already reversed before an amount against what is left
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(ledger, "PAY1", usd("1000.00"), on=DAY)
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(ledger, "R1", on=DAY)
    check(ledger)


# ============================================================================= allocations


def test_allocations_rows_for_lines_and_buckets() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "100.00", "A1")
    assert allocs(ledger, "PAY1") == {
        ("P1", "A1", "C1", "40.00"),
        ("P1", "A1", "C2", "30.00"),
        ("P1", "A1", None, "30.00"),
    }
    # 10 off C1 into the general bucket; the A1 bucket refills C1 at once (invariant 5).
    ledger = pl.unapply(ledger, "A1", usd("10.00"), on=DAY, charge_id="C1")
    assert allocs(ledger, "PAY1") == {
        ("P1", "A1", "C1", "40.00"),  # 30 + 10: summed into one row
        ("P1", "A1", "C2", "30.00"),
        ("P1", "A1", None, "20.00"),
        ("P1", None, None, "10.00"),
    }
    assert all(isinstance(a, pl.Allocation) for a in pl.allocations(ledger, "PAY1"))
    with pytest.raises(pl.UnknownIdError):
        pl.allocations(ledger, "NOPE")
    check(ledger)


def test_allocations_follow_transfers_and_show_refunds_negative() -> None:
    ledger = pay(new(), "PAY1", "50.00", pid="P1")
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", usd("20.00"), DAY))
    assert allocs(ledger, "PAY1") == {("P1", None, None, "30.00"), ("P2", None, None, "20.00")}
    assert paid(ledger, "P1") == "30.00"
    assert paid(ledger, "P2") == "20.00"
    ledger = refund(ledger, "R1", "-15.00", pid="P1", day=D(2025, 2, 1))
    assert allocs(ledger, "R1") == {("P1", None, None, "-15.00")}
    # An open refund does not reduce what is left of the payment.
    assert allocs(ledger, "PAY1") == {("P1", None, None, "30.00"), ("P2", None, None, "20.00")}
    assert paid(ledger, "P1") == "15.00"
    check(ledger)
    # cancel_offsetting does: 15 of PAY1 closed with the refund.
    ledger = pl.cancel_offsetting(ledger, "P1", on=DAY)
    assert allocs(ledger, "R1") == set()
    assert allocs(ledger, "PAY1") == {("P1", None, None, "15.00"), ("P2", None, None, "20.00")}
    check(ledger)


def test_allocations_of_a_refund_to_an_appointment_bucket() -> None:
    ledger = appt(new(), "A1")
    ledger = pay(ledger, "PAY1", "40.00", "A1")
    ledger = refund(ledger, "R1", "-15.00", "A1")
    assert allocs(ledger, "R1") == {("P1", "A1", None, "-15.00")}
    assert allocs(ledger, "PAY1") == {("P1", "A1", None, "40.00")}
    assert paid(ledger) == "25.00"
    check(ledger)


def test_allocations_of_a_reversed_payment_are_empty() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = pay(ledger, "PAY1", "60.00", "A1")
    ledger = pl.reverse_payment(ledger, "PAY1", on=DAY)
    assert pl.allocations(ledger, "PAY1") == ()
    assert lines(ledger, "A1") == [("C1", "40.00", "0.00", "40.00")]
    assert paid(ledger) == "0.00"
    check(ledger)


# ============================================================================= auto_allocate


def _five_visits(general_amount: str = "100.00") -> pl.Ledger:
    ledger = new()
    for aid, day, provider, amount in (
        ("A1", D(2025, 1, 5), "DrA", "60.00"),
        ("A2", D(2025, 1, 10), "DrB", "30.00"),
        ("A3", D(2025, 1, 12), "DrA", "50.00"),
        ("A4", D(2025, 1, 15), None, "30.00"),
        ("A5", D(2025, 2, 20), "DrA", "5.00"),
    ):
        ledger = appt(ledger, aid, day=day, provider=provider)
        ledger = chg(ledger, "C" + aid[1:], aid, amount)
    return pay(ledger, "PAY1", general_amount, day=D(2025, 1, 1))


def dues(ledger: pl.Ledger) -> dict[str, str]:
    return {r.appointment_id: str(r.balance_due.amount) for r in pl.claims_feed(ledger, "P1")}


def test_auto_allocate_smallest_first_pays_whole_balances_only() -> None:
    ledger = _five_visits()
    smallest = pl.AllocationOrder.SMALLEST_FIRST
    ledger = pl.auto_allocate(ledger, "P1", on=DAY, order=smallest)
    # 30 (A2), 30 (A4), then 50 and 60 cannot be covered by 40; A5 is after `on`.
    assert dues(ledger) == {"A1": "60.00", "A2": "0.00", "A3": "50.00", "A4": "0.00", "A5": "5.00"}
    assert general(ledger) == "40.00"
    check(ledger)
    # Nothing it can place: unchanged, no event.
    unchanged(ledger, pl.auto_allocate(ledger, "P1", on=DAY, order=smallest))
    # OLDEST_FIRST then pays A1 partially.
    oldest = pl.auto_allocate(ledger, "P1", on=DAY, order=pl.AllocationOrder.OLDEST_FIRST)
    assert dues(oldest) == {"A1": "20.00", "A2": "0.00", "A3": "50.00", "A4": "0.00", "A5": "5.00"}
    unchanged(oldest, pl.auto_allocate(oldest, "P1", on=DAY))
    check(oldest)


def test_auto_allocate_smallest_first_skips_and_continues() -> None:
    ledger = _five_visits("85.00")
    ledger = pl.auto_allocate(ledger, "P1", on=DAY, order=pl.AllocationOrder.SMALLEST_FIRST)
    # A2 30 (55 left), A4 30 (25 left), A3 50 skipped, A1 60 skipped.
    assert dues(ledger) == {"A1": "60.00", "A2": "0.00", "A3": "50.00", "A4": "0.00", "A5": "5.00"}
    # On A5's date, A5 (5) is smallest: paid first.
    later = pl.auto_allocate(
        _five_visits("40.00"), "P1", on=D(2025, 2, 20), order=pl.AllocationOrder.SMALLEST_FIRST
    )
    # A5 5 (35 left), A2 30 (5 left), A4 30 skipped ...
    assert dues(later) == {"A1": "60.00", "A2": "0.00", "A3": "50.00", "A4": "30.00", "A5": "0.00"}
    # A smaller balance that comes after a skipped larger one is still paid.
    skip = _five_visits("55.00")
    skip = pl.auto_allocate(skip, "P1", on=DAY, order=pl.AllocationOrder.SMALLEST_FIRST)
    assert dues(skip) == {"A1": "60.00", "A2": "0.00", "A3": "50.00", "A4": "30.00", "A5": "5.00"}
    assert general(skip) == "25.00"
    check(ledger)
    check(later)
    check(skip)


def test_auto_allocate_smallest_first_ties_by_date_then_id() -> None:
    ledger = new()
    for aid, day in (("A9", D(2025, 1, 3)), ("B2", D(2025, 1, 2)), ("B1", D(2025, 1, 2))):
        ledger = appt(ledger, aid, day=day)
        ledger = chg(ledger, "C" + aid, aid, "20.00")
    ledger = pay(ledger, "PAY1", "20.00")
    ledger = pl.auto_allocate(ledger, "P1", on=DAY, order=pl.AllocationOrder.SMALLEST_FIRST)
    assert dues(ledger) == {"B1": "0.00", "B2": "20.00", "A9": "20.00"}
    check(ledger)


def test_auto_allocate_smallest_first_uses_the_balance_due_not_the_charge() -> None:
    ledger = appt(new(), "A1", day=D(2025, 1, 5))
    ledger = appt(ledger, "A2", day=D(2025, 1, 6))
    ledger = chg(ledger, "C1", "A1", "100.00")
    ledger = chg(ledger, "C2", "A2", "30.00")
    ledger = pay(ledger, "PAY0", "90.00", "A1")  # A1 due 10
    ledger = pay(ledger, "PAY1", "30.00")
    ledger = pl.auto_allocate(ledger, "P1", on=DAY, order=pl.AllocationOrder.SMALLEST_FIRST)
    # A1 (10) first, then A2's 30 cannot be covered by 20.
    assert dues(ledger) == {"A1": "0.00", "A2": "30.00"}
    assert general(ledger) == "20.00"
    check(ledger)


def test_auto_allocate_oldest_first_provider_filter_and_date_limit() -> None:
    ledger = _five_visits()
    dr_a = pl.auto_allocate(ledger, "P1", on=DAY, provider="DrA")
    # Only DrA's: A1 60, then A3 gets 40; A5 is DrA's but after `on`.
    assert dues(dr_a) == {"A1": "0.00", "A2": "30.00", "A3": "10.00", "A4": "30.00", "A5": "5.00"}
    assert general(dr_a) == "0.00"
    dr_b = pl.auto_allocate(
        ledger, "P1", on=DAY, order=pl.AllocationOrder.SMALLEST_FIRST, provider="DrB"
    )
    assert dues(dr_b) == {"A1": "60.00", "A2": "0.00", "A3": "50.00", "A4": "30.00", "A5": "5.00"}
    assert general(dr_b) == "70.00"
    unchanged(ledger, pl.auto_allocate(ledger, "P1", on=DAY, provider="Nobody"))
    # Explicit OLDEST_FIRST equals the default.
    explicit = pl.auto_allocate(ledger, "P1", on=DAY, order=pl.AllocationOrder.OLDEST_FIRST)
    assert explicit == pl.auto_allocate(ledger, "P1", on=DAY)
    assert dues(explicit) == {
        "A1": "0.00",
        "A2": "0.00",
        "A3": "40.00",
        "A4": "30.00",
        "A5": "5.00",
    }
    # Not before the appointment's date: on the 14th A4 is out.
    early = pl.auto_allocate(_five_visits("200.00"), "P1", on=D(2025, 1, 14))
    assert dues(early) == {"A1": "0.00", "A2": "0.00", "A3": "0.00", "A4": "30.00", "A5": "5.00"}
    assert general(early) == "60.00"
    check(dr_a)
    check(dr_b)
    check(early)


def test_auto_allocate_never_a_cancelled_appointment_and_nothing_to_place() -> None:
    ledger = appt(new(), "A1", day=D(2025, 1, 5))
    ledger = appt(ledger, "A2", day=D(2025, 1, 6))
    ledger = pay(ledger, "PAY1", "25.00", "A2")
    ledger = pl.cancel_appointment(ledger, "A2", on=DAY)
    ledger = chg(ledger, "C1", "A1", "10.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    before = ledger
    ledger = pl.auto_allocate(ledger, "P1", on=DAY)
    assert lines(ledger, "A1") == [
        ("C1", "10.00", "10.00", "0.00"),
        ("C2", "30.00", "15.00", "15.00"),
    ]
    assert [r.appointment_id for r in pl.claims_feed(ledger, "P1")] == ["A1"]
    unchanged(ledger, pl.auto_allocate(ledger, "P1", on=DAY))
    unchanged(
        ledger, pl.auto_allocate(ledger, "P1", on=DAY, order=pl.AllocationOrder.SMALLEST_FIRST)
    )
    check(before)
    check(ledger)


# ============================================================================= partial reversal


def test_partial_reversal_entries_first_then_allocations_newest_first() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "100.00", "A1")  # C1 40, C2 30, bucket 30
    assert paid(ledger) == "100.00"
    ledger = pl.reverse_payment(ledger, "PAY1", usd("40.00"), on=DAY)
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "30.00", "20.00", "10.00"),
    ]
    assert row(ledger, "A1") == ("70.00", "60.00", "10.00", "0.00")
    assert paid(ledger) == "60.00"
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "40.00"), ("P1", "A1", "C2", "20.00")}
    check(ledger)
    ledger = pl.reverse_payment(ledger, "PAY1", usd("25.00"), on=DAY)
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "35.00", "5.00"),
        ("C2", "30.00", "0.00", "30.00"),
    ]
    assert paid(ledger) == "35.00"
    check(ledger)
    with pytest.raises(pl.InvalidAmountError):
        pl.reverse_payment(ledger, "PAY1", usd("35.01"), on=DAY)
    whole = pl.reverse_payment(ledger, "PAY1", on=DAY)  # the rest: 35
    assert paid(whole) == "0.00"
    assert pl.allocations(whole, "PAY1") == ()
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(whole, "PAY1", on=DAY)
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(whole, "PAY1", usd("1.00"), on=DAY)
    # Taking the rest by amount also ends it.
    by_amount = pl.reverse_payment(ledger, "PAY1", usd("35.00"), on=DAY)
    assert views(by_amount) == views(whole)
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(by_amount, "PAY1", usd("0.01"), on=DAY)
    check(whole)
    check(by_amount)


def test_partial_reversal_reopening_a_line_auto_applies_the_bucket() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = chg(ledger, "C2", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "50.00", "A1")  # C1 40, C2 10
    ledger = pay(ledger, "PAY2", "10.00", "A1", day=D(2025, 1, 11))  # A1 bucket 10
    # PAY1 has no entry: its newest allocation (C2 10), then 5 of C1; PAY2's 10 refills (inv. 5).
    ledger = pl.reverse_payment(ledger, "PAY1", usd("15.00"), on=DAY)
    assert lines(ledger, "A1") == [
        ("C1", "40.00", "40.00", "0.00"),
        ("C2", "10.00", "5.00", "5.00"),
    ]
    assert row(ledger, "A1") == ("50.00", "45.00", "5.00", "0.00")
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "35.00")}
    assert allocs(ledger, "PAY2") == {("P1", "A1", "C1", "5.00"), ("P1", "A1", "C2", "5.00")}
    assert paid(ledger) == "45.00"
    check(ledger)


def test_partial_reversal_of_general_entries_newest_first() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "30.00")
    ledger = pay(ledger, "PAY1", "100.00", "A1")  # C1 30, A1 bucket 70
    ledger = pl.release_credit(ledger, "A1", usd("20.00"), on=D(2025, 1, 15))  # general 20
    assert allocs(ledger, "PAY1") == {
        ("P1", "A1", "C1", "30.00"),
        ("P1", "A1", None, "50.00"),
        ("P1", None, None, "20.00"),
    }
    # Newest entry first: the general one (20), then 5 of the appointment's.
    ledger = pl.reverse_payment(ledger, "PAY1", usd("25.00"), on=DAY)
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "30.00"), ("P1", "A1", None, "45.00")}
    assert paid(ledger) == "75.00"
    check(ledger)


def test_partial_reversal_refused_rather_than_skipping_past_a_held_entry() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "40.00")
    ledger = pay(ledger, "PAY1", "100.00", "A1")  # C1 40, A1 bucket 60
    ledger = refund(ledger, "R1", "-50.00", "A1")  # A1 bucket available 10
    assert paid(ledger) == "50.00"
    ledger = pl.reverse_payment(ledger, "PAY1", usd("5.00"), on=DAY)  # entry 60 → 55
    assert row(ledger, "A1") == ("40.00", "40.00", "0.00", "5.00")
    assert paid(ledger) == "45.00"
    assert allocs(ledger, "PAY1") == {("P1", "A1", "C1", "40.00"), ("P1", "A1", None, "55.00")}
    check(ledger)
    # 10 would leave the bucket at −5: refused, not taken from C1 instead.
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.reverse_payment(ledger, "PAY1", usd("10.00"), on=DAY)
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.reverse_payment(ledger, "PAY1", usd("95.00"), on=DAY)
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.reverse_payment(ledger, "PAY1", on=DAY)
    # What is left is 95 (the open refund does not reduce it): 95.01 is too much.
    with pytest.raises(pl.InvalidAmountError):
        pl.reverse_payment(ledger, "PAY1", usd("95.01"), on=DAY)
    ledger = pl.reverse_payment(ledger, "PAY1", usd("5.00"), on=DAY)  # bucket available 0
    assert row(ledger, "A1") == ("40.00", "40.00", "0.00", "0.00")
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.reverse_payment(ledger, "PAY1", usd("0.01"), on=DAY)
    # An amount for a refund.
    with pytest.raises(pl.LedgerError) as caught:
        pl.reverse_payment(ledger, "R1", usd("10.00"), on=DAY)
    assert type(caught.value) is pl.InvalidInputError
    # Reversing the refund (whole) puts its money back; then PAY1 can go on.
    ledger = pl.reverse_payment(ledger, "R1", on=DAY)
    assert paid(ledger) == "90.00"
    assert row(ledger, "A1") == ("40.00", "40.00", "0.00", "50.00")
    ledger = pl.reverse_payment(ledger, "PAY1", usd("60.00"), on=DAY)
    assert lines(ledger, "A1") == [("C1", "40.00", "30.00", "10.00")]
    assert paid(ledger) == "30.00"
    check(ledger)


def test_reversal_after_cancel_offsetting_took_all_of_it() -> None:
    ledger = pay(new(), "PAY1", "100.00")
    ledger = refund(ledger, "R1", "-100.00")
    ledger = pl.cancel_offsetting(ledger, "P1", on=DAY)
    assert pl.allocations(ledger, "PAY1") == ()
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.reverse_payment(ledger, "PAY1", on=DAY)
    with pytest.raises(pl.LedgerError) as caught:
        pl.reverse_payment(ledger, "PAY1", usd("1.00"), on=DAY)
    assert type(caught.value) is pl.InvalidAmountError
    check(ledger)


def test_reversal_after_cancel_offsetting_took_part_of_it() -> None:
    ledger = pay(new(), "PAY1", "100.00")
    ledger = refund(ledger, "R1", "-40.00")
    ledger = pl.cancel_offsetting(ledger, "P1", on=DAY)
    assert allocs(ledger, "PAY1") == {("P1", None, None, "60.00")}
    # Without amount: part of it left through cancel_offsetting → refused.
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.reverse_payment(ledger, "PAY1", on=DAY)
    with pytest.raises(pl.InvalidAmountError):
        pl.reverse_payment(ledger, "PAY1", usd("60.01"), on=DAY)
    ledger = pl.reverse_payment(ledger, "PAY1", usd("60.00"), on=DAY)
    assert paid(ledger) == "0.00"
    assert pl.allocations(ledger, "PAY1") == ()
    # Nothing left, but reversals took only 60 of 100: not "already reversed".
    with pytest.raises(pl.LedgerError) as caught:
        pl.reverse_payment(ledger, "PAY1", on=DAY)
    assert type(caught.value) is pl.InsufficientUnallocatedError
    with pytest.raises(pl.LedgerError) as caught:
        pl.reverse_payment(ledger, "PAY1", usd("1.00"), on=DAY)
    assert type(caught.value) is pl.InvalidAmountError
    check(ledger)


def test_partial_reversal_of_transferred_money() -> None:
    ledger = pay(new(), "PAY1", "50.00")
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", usd("20.00"), DAY))
    ledger = pl.reverse_payment(ledger, "PAY1", usd("25.00"), on=D(2025, 2, 1))
    # Total Paid falls by the amount, for whichever patients hold the money.
    left = sum((a.amount for a in pl.allocations(ledger, "PAY1")), usd("0"))
    assert left == usd("25.00")
    total = pl.dashboard(ledger, "P1").total_paid + pl.dashboard(ledger, "P2").total_paid
    assert total == usd("25.00")
    ledger = pl.reverse_payment(ledger, "PAY1", usd("25.00"), on=D(2025, 2, 2))
    assert (paid(ledger, "P1"), paid(ledger, "P2")) == ("0.00", "0.00")
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(ledger, "PAY1", on=D(2025, 2, 3))
    check(ledger)


# ============================================================================= cancelled visits


def _with_deposits() -> pl.Ledger:
    ledger = appt(new(), "A1", day=D(2025, 1, 5))
    ledger = chg(ledger, "C1", "A1", "10.00")
    ledger = appt(ledger, "A3", day=D(2025, 1, 20))
    ledger = pay(ledger, "PAY0", "10.00", day=D(2025, 1, 10))
    ledger = pay(ledger, "PAY1", "30.00", "A3", day=D(2025, 1, 15))
    ledger = refund(ledger, "R1", "-5.00", "A3", day=D(2025, 1, 16))
    return pay(ledger, "PAY2", "20.00", day=D(2025, 1, 18))


def test_cancel_appointment_moves_its_entries_to_the_general_bucket() -> None:
    ledger = _with_deposits()
    open_before = pl.unallocated_entries(ledger, "P1")
    assert entries(ledger) == [
        ("PAY0", None, "10.00"),
        ("PAY1", "A3", "30.00"),
        ("R1", "A3", "-5.00"),
        ("PAY2", None, "20.00"),
    ]
    dash_before = pl.dashboard(ledger, "P1")
    ledger = pl.cancel_appointment(ledger, "A3", on=DAY, reason="patient cancelled")
    open_after = pl.unallocated_entries(ledger, "P1")
    assert [(e.id, e.payment_id, e.amount, e.received_on) for e in open_after] == [
        (e.id, e.payment_id, e.amount, e.received_on) for e in open_before
    ]
    assert all(e.appointment_id is None for e in open_after)
    assert pl.dashboard(ledger, "P1") == dash_before
    assert paid(ledger) == "55.00"
    assert [r.appointment_id for r in pl.claims_feed(ledger, "P1")] == ["A1"]
    assert pl.claims_feed(ledger, "P1")[0].patient_unallocated == usd("55.00")
    assert pl.line_items(ledger, "A3") == ()
    assert allocs(ledger, "PAY1") == {("P1", None, None, "30.00")}
    assert allocs(ledger, "R1") == {("P1", None, None, "-5.00")}
    assert pl.aging(ledger, "P1", on=DAY) == pl.aging(_with_deposits(), "P1", on=DAY)
    check(ledger)
    # The moved negative entry now offsets the oldest general positive one.
    offset = pl.cancel_offsetting(ledger, "P1", on=DAY)
    assert entries(offset) == [
        ("PAY0", None, "5.00"),
        ("PAY1", None, "30.00"),
        ("PAY2", None, "20.00"),
    ]
    # The general bucket applies oldest first, moved entries in their place.
    applied = pl.apply_unallocated(ledger, "P1", "A1", on=DAY)
    assert entries(applied) == [
        ("PAY1", None, "30.00"),
        ("R1", None, "-5.00"),
        ("PAY2", None, "20.00"),
    ]
    check(offset)
    check(applied)


def test_cancelling_moves_a_one_cent_deposit_where_the_general_bucket_draws_it() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "10.00")
    ledger = appt(ledger, "A3", day=D(2025, 1, 20))
    ledger = pay(ledger, "PAY1", "0.01", "A3", day=D(2025, 1, 15))
    ledger = pl.cancel_appointment(ledger, "A3", on=DAY)
    assert entries(ledger) == [("PAY1", None, "0.01")]
    check(ledger)
    applied = pl.apply_unallocated(ledger, "P1", "A1", on=DAY)
    assert entries(applied) == []
    assert [(x.charge_id, str(x.paid.amount)) for x in pl.line_items(applied, "A1")] == [
        ("C1", "0.01")
    ]
    check(applied)


def test_lowering_a_paid_line_by_one_cent_moves_that_cent_to_the_next_line() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "10.00")
    ledger = chg(ledger, "C2", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "15.00", "A1")  # 10.00 on C1, 5.00 on C2
    lowered = adjust(ledger, "ADJ1", "C1", "-0.01")
    for after in (lowered, pl.replay(lowered.events)):
        lines = [
            (str(x.paid.amount), str(x.balance_due.amount)) for x in pl.line_items(after, "A1")
        ]
        assert lines == [("9.99", "0.00"), ("5.01", "4.99")]
        assert entries(after) == []
        check(after)


def test_cancelled_appointment_refuses_new_money_and_charges() -> None:
    ledger = pl.cancel_appointment(_with_deposits(), "A3", on=DAY)
    ledger = pay(ledger, "PAY3", "50.00", day=D(2025, 1, 25))
    refusals = [
        lambda: chg(ledger, "C3", "A3", "10.00"),
        lambda: pay(ledger, "PAY9", "10.00", "A3"),
        lambda: refund(ledger, "R9", "-1.00", "A3"),
        lambda: pl.apply_unallocated(ledger, "P1", "A3", on=DAY),
        lambda: pl.apply_unallocated(ledger, "P1", "A3", usd("1.00"), on=DAY),
    ]
    for refuse in refusals:
        with pytest.raises(pl.AppointmentCancelledError) as caught:
            refuse()
        assert caught.value.code is pl.ErrorCode.APPOINTMENT_CANCELLED
        assert isinstance(caught.value, pl.LedgerError)
        assert "A3" in str(caught.value)
    error = pl.AppointmentCancelledError("A3 is cancelled")
    assert error.args == ("A3 is cancelled",)
    assert str(error) == "A3 is cancelled"
    assert error.code is pl.ErrorCode.APPOINTMENT_CANCELLED
    # Nothing to take from it; cancelling again changes nothing.
    unchanged(ledger, pl.unapply(ledger, "A3", on=DAY))
    unchanged(ledger, pl.release_credit(ledger, "A3", on=DAY))
    unchanged(ledger, pl.cancel_appointment(ledger, "A3", on=DAY))
    unchanged(ledger, pl.cancel_appointment(ledger, "A3", on=D(2025, 3, 1), reason="again"))
    check(ledger)


def test_cancel_appointment_with_charges_or_unknown_is_refused() -> None:
    ledger = appt(new(), "A1")
    ledger = chg(ledger, "C1", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1")
    with pytest.raises(pl.LedgerError) as caught:
        pl.cancel_appointment(ledger, "A1", on=DAY)
    assert type(caught.value) is pl.InvalidInputError
    # A line adjusted to zero is still a line.
    zero = adjust(ledger, "ADJ1", "C1", "-10.00", pl.AdjustmentType.OTHER)
    assert row(zero, "A1") == ("0.00", "0.00", "0.00", "30.00")
    with pytest.raises(pl.LedgerError) as caught:
        pl.cancel_appointment(zero, "A1", on=DAY)
    assert type(caught.value) is pl.InvalidInputError
    with pytest.raises(pl.UnknownIdError):
        pl.cancel_appointment(zero, "NOPE", on=DAY)
    check(zero)
    check(ledger)


def test_cancel_appointment_without_money() -> None:
    ledger = appt(new(), "A1")
    ledger = pay(ledger, "PAY1", "5.00")
    ledger = pl.cancel_appointment(ledger, "A1", on=DAY)
    assert pl.claims_feed(ledger, "P1") == ()
    assert entries(ledger) == [("PAY1", None, "5.00")]
    assert pl.patients(ledger) == ("P1",)
    check(ledger)


# ============================================================================= property


_APPTS = ("A1", "A2", "B1")  # B1 is P2's
_PATIENT = {"A1": "P1", "A2": "P1", "B1": "P2"}
_amounts = st.integers(min_value=1, max_value=6000).map(
    lambda cents: usd(str(Decimal(cents) / 100))
)
_maybe = st.none() | _amounts


def _base() -> pl.Ledger:
    ledger = appt(new(), "A1", day=D(2025, 1, 5), provider="DrA")
    ledger = appt(ledger, "A2", day=D(2025, 1, 9), provider="DrB")
    ledger = appt(ledger, "A3", day=D(2025, 1, 12))
    ledger = appt(ledger, "B1", "P2", day=D(2025, 1, 7))
    ledger = chg(ledger, "CA", "A1", "25.00")
    ledger = chg(ledger, "CB", "A1", "15.00")
    ledger = chg(ledger, "CC", "A2", "30.00")
    ledger = chg(ledger, "CD", "B1", "20.00")
    ledger = pay(ledger, "G1", "40.00", day=D(2025, 1, 2))
    return pay(ledger, "G2", "30.00", pid="P2", day=D(2025, 1, 3))


_ops = st.one_of(
    st.tuples(st.just("charge"), st.sampled_from(_APPTS), _amounts),
    st.tuples(
        st.just("pay"),
        st.sampled_from((*_APPTS, None, "A3")),
        _amounts,
        st.integers(0, 9),
        st.booleans(),
    ),
    st.tuples(st.just("apply"), st.sampled_from(_APPTS), _maybe, st.integers(0, 9)),
    st.tuples(st.just("unapply"), st.sampled_from(_APPTS), _maybe, st.integers(0, 9)),
    st.tuples(
        st.just("adjust"),
        st.integers(0, 9),
        st.integers(-3000, 3000),
        st.sampled_from(list(pl.AdjustmentType)),
    ),
    st.tuples(st.just("reverse"), st.integers(0, 9), _maybe),
    st.tuples(st.just("refund"), st.sampled_from((*_APPTS, None)), _amounts),
    st.tuples(
        st.just("auto"),
        st.sampled_from(("P1", "P2")),
        st.sampled_from(list(pl.AllocationOrder)),
        st.sampled_from((None, "DrA", "DrB")),
    ),
    st.tuples(st.just("release"), st.sampled_from(_APPTS), _maybe),
    st.tuples(st.just("offset"), st.sampled_from(("P1", "P2"))),
    st.tuples(st.just("cancel"), st.sampled_from(("A3", "A2"))),
    st.tuples(st.just("transfer"), _amounts),
)


def _run(ledger: pl.Ledger, op: tuple[Any, ...], n: int) -> pl.Ledger:  # noqa: PLR0911
    added = [e.charge for e in ledger.events if isinstance(e, pl.ChargeAdded)]
    charges = [c.id for c in added]
    pays = payment_ids(ledger)

    def pick(i: int, ids: list[str]) -> str:
        return ids[i % len(ids)] if ids else "NOPE"

    def line_of(aid: str, i: int) -> str:
        """Mostly a line of the appointment named; i == 9: any line (a mismatch, maybe)."""
        own = [c.id for c in added if c.appointment_id == aid]
        return pick(i, charges if i == 9 or not own else own)

    kind, *args = op
    match kind:
        case "charge":
            aid, amount = args
            return pl.add_charge(ledger, pl.Charge(f"C{n}", str(aid), amount))
        case "pay":
            aid, amount, i, named = args
            pid = _PATIENT.get(str(aid), "P1")
            cid = (line_of(aid, i) if aid else pick(i, charges)) if named else None
            return pl.post_payment(
                ledger,
                pl.Payment(
                    f"PAY{n}",
                    pid,
                    amount,
                    D(2025, 1, 1 + n % 28),
                    appointment_id=aid,
                    charge_id=cid,
                ),
            )
        case "apply":
            aid, amount, i = args
            cid = line_of(aid, i) if i % 2 else None
            return pl.apply_unallocated(
                ledger, _PATIENT[str(aid)], str(aid), amount, on=DAY, charge_id=cid
            )
        case "unapply":
            aid, amount, i = args
            cid = line_of(aid, i) if i % 2 else None
            return pl.unapply(ledger, str(aid), amount, on=DAY, charge_id=cid)
        case "adjust":
            i, cents, kind_ = args
            amount = usd(str(Decimal(cents) / 100))
            return pl.adjust_charge(
                ledger, pl.Adjustment(f"ADJ{n}", pick(i, charges), amount, DAY, kind_)
            )
        case "reverse":
            i, amount = args
            return pl.reverse_payment(ledger, pick(i, pays), amount, on=DAY)
        case "refund":
            aid, amount = args
            pid = _PATIENT.get(str(aid), "P1")
            return pl.refund(
                ledger,
                pl.Payment(
                    f"R{n}",
                    pid,
                    -amount,
                    D(2025, 2, 1),
                    type=pl.PaymentType.REFUND,
                    appointment_id=aid,
                ),
            )
        case "auto":
            pid, order, provider = args
            return pl.auto_allocate(ledger, str(pid), on=DAY, order=order, provider=provider)
        case "release":
            aid, amount = args
            return pl.release_credit(ledger, str(aid), amount, on=DAY)
        case "offset":
            return pl.cancel_offsetting(ledger, str(args[0]), on=DAY)
        case "cancel":
            return pl.cancel_appointment(ledger, str(args[0]), on=DAY)
        case _:
            return pl.transfer_credit(ledger, pl.Transfer(f"T{n}", "P1", "P2", args[0], DAY))


@settings(max_examples=100, deadline=None)
@given(st.lists(_ops, min_size=1, max_size=25))
def test_line_level_commands_keep_invariants_and_line_sums(ops: list[tuple[Any, ...]]) -> None:
    ledger = _base()
    for n, op in enumerate(ops):
        before = ledger
        try:
            ledger = _run(ledger, op, n)
        except pl.LedgerError as error:
            assert isinstance(error.code, pl.ErrorCode)
            assert ledger == before
            continue
        assert pl.check_invariants(ledger) == (), op
        check_sums(ledger)
    assert pl.replay(ledger.events) == ledger


def test_freed_parts_move_newest_first_even_when_a_payment_straddles_the_bucket() -> None:
    # C1 holds P 7, Q 5, P 3 (newest last); lowering it to zero frees 15, of which C2 and C3
    # take 4: the newest freed parts, P 3 then Q 1, in line order (P 2 to C2, P 1 and Q 1 to
    # C3); the rest — Q 4 and P 7 — goes to the appointment's bucket (found by a fuzzer: taking
    # the bucket's share from each payment's newest parts moved Q ahead of P).
    day = datetime.date(2025, 1, 1)
    ledger = pl.add_appointment(new(), pl.Appointment("A1", "P1", day))
    for cid, amount in (("C1", "15"), ("C2", "2"), ("C3", "2")):
        ledger = pl.add_charge(ledger, pl.Charge(cid, "A1", usd(amount)))
    ledger = pl.post_payment(ledger, pl.Payment("P", "P1", usd("10"), day))
    ledger = pl.apply_unallocated(ledger, "P1", "A1", usd("7"), on=day, charge_id="C1")
    ledger = pl.post_payment(
        ledger, pl.Payment("Q", "P1", usd("5"), day, appointment_id="A1", charge_id="C1")
    )
    ledger = pl.apply_unallocated(ledger, "P1", "A1", usd("3"), on=day, charge_id="C1")
    ledger = pl.adjust_charge(ledger, pl.Adjustment("J", "C1", usd("-15"), day))
    assert allocs(ledger, "P") == {
        ("P1", "A1", "C2", "2.00"),
        ("P1", "A1", "C3", "1.00"),
        ("P1", "A1", None, "7.00"),
    }
    assert allocs(ledger, "Q") == {("P1", "A1", "C3", "1.00"), ("P1", "A1", None, "4.00")}
    check(ledger)


# ----------------------------------------------------------------------------- cost per line


def _traced_lines(action: Any) -> int:
    """How many Python lines ``action()`` executes: a count, not a time, so it does not depend
    on the machine or on what else runs on it."""
    import sys

    count = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        action()
    finally:
        sys.settrace(None)
    return count


def _visit_with_lines(n: int, paid: int) -> pl.Ledger:
    """One visit with ``n`` lines of 10.00, the first ``paid`` of them paid by one payment each,
    and a last line named ``NAMED``."""
    ledger = appt(new(), "A1")
    for i in range(n - 1):
        ledger = chg(ledger, f"C{i}", "A1", "10.00")
    ledger = chg(ledger, "NAMED", "A1", "10.00")
    for i in range(paid):
        ledger = pay(ledger, f"PAY{i}", "10.00", "A1")
    return ledger


@pytest.mark.parametrize("charge_id", [None, "NAMED"])
def test_a_payment_costs_the_lines_it_pays_not_every_line_of_the_visit(
    charge_id: str | None,
) -> None:
    # A hostile export put 5,000 lines and 5,000 payments on one visit: each payment walked
    # and copied every line (15 s). A payment now visits only the lines it pays: its cost, in
    # executed Python lines, does not grow with the lines already paid before it.
    def last_payment(ledger: pl.Ledger) -> Any:
        return lambda: pl.post_payment(ledger, payment("LAST", "10.00", "A1", charge_id=charge_id))

    small = _visit_with_lines(40, 30)
    big = _visit_with_lines(800, 790)
    cost_small = _traced_lines(last_payment(small))
    cost_big = _traced_lines(last_payment(big))
    assert cost_big <= cost_small + 40, (cost_small, cost_big)
    after = pl.post_payment(big, payment("LAST", "10.00", "A1", charge_id=charge_id))
    first_unpaid = "NAMED" if charge_id else "C790"
    paid_by_line = {line.charge_id: line.paid for line in pl.line_items(after, "A1")}
    assert paid_by_line[first_unpaid] == usd("10.00")
    check(after)


def _visits_with_refunds(n: int) -> pl.Ledger:
    """A patient with ``n`` visits, each holding a deposit and an open refund of part of it."""
    ledger = new()
    for i in range(n):
        ledger = appt(ledger, f"A{i}")
        ledger = pay(ledger, f"T{i}", "25.00", f"A{i}")
        ledger = refund(ledger, f"R{i}", "-5.00", f"A{i}")
    return ledger


def test_cancelling_a_visit_costs_its_own_entries_not_the_patients_other_refunds() -> None:
    # A hostile export cancelled thousands of visits of one patient, each with a deposit and a
    # refund: every cancellation walked all the patient's open refunds (4,000 visits: 4.3 s).
    def cancel_last(ledger: pl.Ledger, n: int) -> Any:
        return lambda: pl.cancel_appointment(ledger, f"A{n - 1}", on=DAY)

    small, big = _visits_with_refunds(10), _visits_with_refunds(300)
    cost_small = _traced_lines(cancel_last(small, 10))
    cost_big = _traced_lines(cancel_last(big, 300))
    assert cost_big <= cost_small + 60, (cost_small, cost_big)
    after = pl.cancel_appointment(big, "A299", on=DAY)
    assert general(after) == "20.00"  # its deposit less its refund, moved to the general bucket
    check(after)
