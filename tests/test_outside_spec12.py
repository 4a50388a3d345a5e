"""SPEC §12 (statements, the day sheet, dated dashboards), tested from the SPEC's words alone.

Written as an outside tester would: only the public names that SPEC.md gives, no knowledge of
the implementation. Every expected figure below is worked out by hand from the SPEC's sentences.
"""

from __future__ import annotations

import datetime
from datetime import date

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger import (
    Adjustment,
    AdjustmentType,
    Appointment,
    Charge,
    Ledger,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentType,
    StatementLineKind,
    Transfer,
)

D = date


def usd(amount: str | int) -> Money:
    return Money(str(amount), "USD")


ZERO = usd(0)


def appt(ledger: Ledger, aid: str, pid: str, day: date) -> Ledger:
    return pl.add_appointment(ledger, Appointment(aid, pid, day))


def charge(
    ledger: Ledger,
    cid: str,
    aid: str,
    amount: str | int,
    posted_on: date | None = None,
    code: str | None = None,
    description: str | None = None,
) -> Ledger:
    return pl.add_charge(
        ledger,
        Charge(cid, aid, usd(amount), code=code, description=description, posted_on=posted_on),
    )


def pay(
    ledger: Ledger,
    pid_: str,
    patient: str,
    amount: str | int,
    day: date,
    *,
    appointment_id: str | None = None,
    method: PaymentMethod = PaymentMethod.OTHER,
    type: PaymentType = PaymentType.PAYMENT,
    reference: str | None = None,
    plan_id: str | None = None,
) -> Ledger:
    return pl.post_payment(
        ledger,
        Payment(
            pid_,
            patient,
            usd(amount),
            day,
            method=method,
            type=type,
            appointment_id=appointment_id,
            reference=reference,
            plan_id=plan_id,
        ),
    )


def refund(
    ledger: Ledger,
    rid: str,
    patient: str,
    amount: str | int,
    day: date,
    *,
    appointment_id: str | None = None,
    method: PaymentMethod = PaymentMethod.OTHER,
    reference: str | None = None,
) -> Ledger:
    return pl.refund(
        ledger,
        Payment(
            rid,
            patient,
            -usd(amount),
            day,
            method=method,
            type=PaymentType.REFUND,
            appointment_id=appointment_id,
            reference=reference,
        ),
    )


def summary(st: pl.Statement) -> list[tuple[date, StatementLineKind, str, Money, Money]]:
    return [(ln.day, ln.kind, ln.ref, ln.amount, ln.balance) for ln in st.lines]


# --------------------------------------------------------------------------- statement lines


def basic() -> Ledger:
    """P1: A1 on Jan 10 with C1 $100; a $40 check copay to A1 on Jan 15."""
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 10))
    led = charge(led, "C1", "A1", 100, code="99213", description="Office visit")
    return pay(
        led,
        "PAY1",
        "P1",
        40,
        D(2025, 1, 15),
        appointment_id="A1",
        method=PaymentMethod.CHECK,
        type=PaymentType.COPAY,
        reference="chk-4711",
    )


def test_charge_and_payment_lines_signs_and_running_balance() -> None:
    st = pl.statement(basic(), "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.patient_id == "P1"
    assert st.start == D(2025, 1, 1)
    assert st.end == D(2025, 1, 31)
    assert st.opening_balance == ZERO
    assert summary(st) == [
        (D(2025, 1, 10), StatementLineKind.CHARGE, "C1", usd(100), usd(100)),
        (D(2025, 1, 15), StatementLineKind.PAYMENT, "PAY1", usd(-40), usd(60)),
    ]
    assert st.closing_balance == usd(60)
    assert st.amount_due == usd(60)
    assert st.credit == ZERO
    assert st.plan_due == ZERO


def test_line_descriptions_name_code_description_visit_date_and_payment_method_type_reference() -> (
    None
):
    st = pl.statement(basic(), "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    charge_line, payment_line = st.lines
    assert "99213" in charge_line.description
    assert "Office visit" in charge_line.description
    assert "2025-01-10" in charge_line.description or "01/10/2025" in charge_line.description
    text = payment_line.description.lower()
    assert "check" in text
    assert "copay" in text
    assert "chk-4711" in payment_line.description


def test_charge_posted_on_is_its_day() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 10))
    led = charge(led, "C1", "A1", 100, posted_on=D(2025, 2, 5))
    jan = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert jan.lines == ()
    assert jan.closing_balance == ZERO
    feb = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 2, 28))
    assert feb.opening_balance == ZERO
    assert summary(feb) == [(D(2025, 2, 5), StatementLineKind.CHARGE, "C1", usd(100), usd(100))]


def test_adjustment_line_signed_as_it_moves_the_balance() -> None:
    led = basic()
    led = pl.adjust_charge(
        led, Adjustment("ADJ1", "C1", usd(-30), D(2025, 1, 20), type=AdjustmentType.INSURANCE)
    )
    led = pl.adjust_charge(led, Adjustment("ADJ2", "C1", usd(5), D(2025, 1, 21)))
    st = pl.statement(led, "P1", start=D(2025, 1, 16), end=D(2025, 1, 31))
    assert st.opening_balance == usd(60)
    assert summary(st) == [
        (D(2025, 1, 20), StatementLineKind.ADJUSTMENT, "ADJ1", usd(-30), usd(30)),
        (D(2025, 1, 21), StatementLineKind.ADJUSTMENT, "ADJ2", usd(5), usd(35)),
    ]
    assert st.closing_balance == usd(35)


def test_refund_line_is_plus() -> None:
    led = Ledger.empty()
    led = pay(led, "PAY1", "P1", 50, D(2025, 1, 5))
    led = refund(led, "R1", "P1", 20, D(2025, 1, 25))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert summary(st) == [
        (D(2025, 1, 5), StatementLineKind.PAYMENT, "PAY1", usd(-50), usd(-50)),
        (D(2025, 1, 25), StatementLineKind.REFUND, "R1", usd(20), usd(-30)),
    ]
    assert st.closing_balance == usd(-30)
    assert st.credit == usd(30)
    assert st.amount_due == ZERO


def test_reversal_full_and_partial_lines_are_plus_and_ref_the_payment() -> None:
    led = basic()
    led = pay(led, "PAY2", "P1", 30, D(2025, 1, 16), appointment_id="A1")
    led = pl.reverse_payment(led, "PAY2", usd(10), on=D(2025, 1, 20))
    led = pl.reverse_payment(led, "PAY1", on=D(2025, 1, 22))
    st = pl.statement(led, "P1", start=D(2025, 1, 16), end=D(2025, 1, 31))
    assert st.opening_balance == usd(60)
    assert summary(st) == [
        (D(2025, 1, 16), StatementLineKind.PAYMENT, "PAY2", usd(-30), usd(30)),
        (D(2025, 1, 20), StatementLineKind.REVERSAL, "PAY2", usd(10), usd(40)),
        (D(2025, 1, 22), StatementLineKind.REVERSAL, "PAY1", usd(40), usd(80)),
    ]
    assert st.closing_balance == usd(80)


def test_reversed_refund_line_lowers_the_balance() -> None:
    led = Ledger.empty()
    led = pay(led, "PAY1", "P1", 50, D(2025, 1, 5))
    led = refund(led, "R1", "P1", 20, D(2025, 1, 10))
    led = pl.reverse_payment(led, "R1", on=D(2025, 1, 12))
    st = pl.statement(led, "P1", start=D(2025, 1, 11), end=D(2025, 1, 31))
    assert st.opening_balance == usd(-30)
    assert summary(st) == [(D(2025, 1, 12), StatementLineKind.REVERSAL, "R1", usd(-20), usd(-50))]
    assert pl.dashboard(led, "P1").total_balance == usd(-50)


def test_transfer_in_and_out_lines() -> None:
    led = Ledger.empty()
    led = pay(led, "PAY1", "P1", 100, D(2025, 1, 5))
    led = pl.transfer_credit(led, Transfer("T1", "P1", "P2", usd(25), D(2025, 1, 7)))
    out = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert summary(out) == [
        (D(2025, 1, 5), StatementLineKind.PAYMENT, "PAY1", usd(-100), usd(-100)),
        (D(2025, 1, 7), StatementLineKind.TRANSFER_OUT, "T1", usd(25), usd(-75)),
    ]
    into = pl.statement(led, "P2", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert summary(into) == [
        (D(2025, 1, 7), StatementLineKind.TRANSFER_IN, "T1", usd(-25), usd(-25))
    ]
    assert into.credit == usd(25)


def test_opening_is_day_before_start_and_events_on_start_and_end_are_lines() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 9))
    led = charge(led, "C0", "A1", 7)  # Jan 9: before start
    led = appt(led, "A2", "P1", D(2025, 1, 10))
    led = charge(led, "C1", "A2", 100)  # Jan 10: on start
    led = pay(led, "PAY1", "P1", 10, D(2025, 1, 20))  # on end
    led = pay(led, "PAY2", "P1", 1, D(2025, 1, 21))  # after end
    st = pl.statement(led, "P1", start=D(2025, 1, 10), end=D(2025, 1, 20))
    assert st.opening_balance == usd(7)
    assert [ln.ref for ln in st.lines] == ["C1", "PAY1"]
    assert st.closing_balance == usd(97)
    assert st.opening_balance + sum((ln.amount for ln in st.lines), ZERO) == st.closing_balance


def test_one_day_statement() -> None:
    st = pl.statement(basic(), "P1", start=D(2025, 1, 15), end=D(2025, 1, 15))
    assert st.opening_balance == usd(100)
    assert summary(st) == [(D(2025, 1, 15), StatementLineKind.PAYMENT, "PAY1", usd(-40), usd(60))]


def test_late_posted_payment_sits_at_its_day() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 20))
    led = charge(led, "C1", "A1", 100)
    led = pay(led, "PAY1", "P1", 30, D(2025, 1, 10))  # received earlier, posted later
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert summary(st) == [
        (D(2025, 1, 10), StatementLineKind.PAYMENT, "PAY1", usd(-30), usd(-30)),
        (D(2025, 1, 20), StatementLineKind.CHARGE, "C1", usd(100), usd(70)),
    ]
    later = pl.statement(led, "P1", start=D(2025, 1, 15), end=D(2025, 1, 31))
    assert later.opening_balance == usd(-30)
    assert [ln.ref for ln in later.lines] == ["C1"]
    before = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 12))
    assert before.closing_balance == usd(-30)
    assert before.credit == usd(30)


def test_same_day_lines_in_journal_order() -> None:
    led = Ledger.empty()
    led = pay(led, "Z", "P1", 5, D(2025, 1, 10))
    led = pay(led, "A", "P1", 6, D(2025, 1, 10))
    led = appt(led, "A1", "P1", D(2025, 1, 10))
    led = charge(led, "C9", "A1", 20)
    led = pay(led, "M", "P1", 7, D(2025, 1, 10))
    st = pl.statement(led, "P1", start=D(2025, 1, 10), end=D(2025, 1, 10))
    assert [ln.ref for ln in st.lines] == ["Z", "A", "C9", "M"]
    assert [ln.balance for ln in st.lines] == [usd(-5), usd(-11), usd(9), usd(2)]


def test_placing_applying_cancelling_give_no_line() -> None:
    led = Ledger.empty()
    led = pay(led, "PAY1", "P1", 100, D(2025, 1, 2))
    led = refund(led, "R1", "P1", 10, D(2025, 1, 3))
    led = pl.cancel_offsetting(led, "P1", on=D(2025, 1, 4))
    led = appt(led, "A1", "P1", D(2025, 1, 5))
    led = charge(led, "C1", "A1", 50)
    led = pl.apply_unallocated(led, "P1", "A1", usd(20), on=D(2025, 1, 6))
    led = pl.auto_allocate(led, "P1", on=D(2025, 1, 7))
    led = pl.unapply(led, "A1", usd(5), on=D(2025, 1, 8))
    led = appt(led, "A2", "P1", D(2025, 1, 9))
    led = pay(led, "PAY2", "P1", 15, D(2025, 1, 9), appointment_id="A2")
    led = pl.release_credit(led, "A2", on=D(2025, 1, 10))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert [(ln.kind, ln.ref) for ln in st.lines] == [
        (StatementLineKind.PAYMENT, "PAY1"),
        (StatementLineKind.REFUND, "R1"),
        (StatementLineKind.CHARGE, "C1"),
        (StatementLineKind.PAYMENT, "PAY2"),
    ]
    assert st.closing_balance == usd(-55)
    assert st.closing_balance == pl.dashboard(led, "P1").total_balance


def test_statement_of_a_patient_with_nothing_in_the_period() -> None:
    st = pl.statement(basic(), "P1", start=D(2025, 3, 1), end=D(2025, 3, 31))
    assert st.lines == ()
    assert st.opening_balance == st.closing_balance == usd(60)


# --------------------------------------------------------------------------- amount due, plans


def with_plan_base() -> Ledger:
    """P1 owes $300 (A1, Jan 5)."""
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 5))
    return charge(led, "C1", "A1", 300)


def balance_plan(created: date = D(2025, 1, 10), pid: str = "PL1") -> PaymentPlan:
    return PaymentPlan(pid, "P1", usd(300), 3, D(2025, 2, 1), created)


def test_amount_due_without_plan_is_closing() -> None:
    st = pl.statement(with_plan_base(), "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.closing_balance == usd(300)
    assert st.amount_due == usd(300)
    assert st.plan_due == ZERO


def test_plan_covers_the_balance_until_installments_fall_due() -> None:
    led = pl.create_payment_plan(with_plan_base(), balance_plan())
    jan = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert jan.plan_due == ZERO
    assert jan.amount_due == ZERO
    feb = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 2, 15))
    assert feb.plan_due == usd(100)
    assert feb.amount_due == usd(100)
    # an installment due exactly on end counts
    on_end = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 3, 1))
    assert on_end.plan_due == usd(200)
    assert on_end.amount_due == usd(200)


def test_plan_created_after_end_does_not_count() -> None:
    led = pl.create_payment_plan(with_plan_base(), balance_plan(created=D(2025, 2, 1)))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.plan_due == ZERO
    assert st.amount_due == usd(300)


def test_plan_created_on_end_counts() -> None:
    led = pl.create_payment_plan(with_plan_base(), balance_plan(created=D(2025, 1, 31)))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.amount_due == ZERO


def test_plan_cancelled_before_end_does_not_count_cancelled_after_does() -> None:
    led = pl.create_payment_plan(with_plan_base(), balance_plan())
    led = pl.cancel_payment_plan(led, "PL1", on=D(2025, 1, 20))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.amount_due == usd(300)
    assert st.plan_due == ZERO
    led2 = pl.create_payment_plan(with_plan_base(), balance_plan())
    led2 = pl.cancel_payment_plan(led2, "PL1", on=D(2025, 2, 20))
    st2 = pl.statement(led2, "P1", start=D(2025, 1, 1), end=D(2025, 2, 15))
    assert st2.plan_due == usd(100)
    assert st2.amount_due == usd(100)


def test_plan_payments_after_end_do_not_count() -> None:
    led = pl.create_payment_plan(with_plan_base(), balance_plan())
    led = pay(led, "PP1", "P1", 100, D(2025, 2, 20), plan_id="PL1")
    st = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 2, 15))
    assert st.closing_balance == usd(300)
    assert st.plan_due == usd(100)
    assert st.amount_due == usd(100)
    after = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 2, 20))
    assert after.closing_balance == usd(200)
    assert after.plan_due == ZERO
    assert after.amount_due == ZERO


def test_plan_due_counts_overdue_installments_partly_covered() -> None:
    led = pl.create_payment_plan(with_plan_base(), balance_plan())
    led = pay(led, "PP1", "P1", 150, D(2025, 1, 12), plan_id="PL1")
    st = pl.statement(led, "P1", start=D(2025, 3, 1), end=D(2025, 3, 15))
    # installments 1 (Feb 1) and 2 (Mar 1) due: 200, covered 150
    assert st.closing_balance == usd(150)
    assert st.plan_due == usd(50)
    assert st.amount_due == usd(50)


def test_balance_beyond_plan_is_due_plus_plan_due() -> None:
    led = with_plan_base()
    led = pl.create_payment_plan(
        led, PaymentPlan("PL1", "P1", usd(200), 2, D(2025, 2, 1), D(2025, 1, 10))
    )
    st = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 2, 15))
    # closing 300, the plan still covers 200: 100 not in the plan + 100 installment due
    assert st.plan_due == usd(100)
    assert st.amount_due == usd(200)


def test_amount_due_capped_at_closing() -> None:
    led = with_plan_base()
    led = pl.create_payment_plan(
        led, PaymentPlan("PL1", "P1", None, 3, D(2025, 1, 10), D(2025, 1, 6), ("A1",))
    )
    led = pay(led, "PAY1", "P1", 250, D(2025, 1, 7))  # general-bucket money, not a plan payment
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 3, 31))
    assert st.closing_balance == usd(50)
    assert st.plan_due == usd(300)
    assert st.amount_due == usd(50)


def test_amount_due_zero_with_a_credit() -> None:
    led = with_plan_base()
    led = pl.create_payment_plan(
        led, PaymentPlan("PL1", "P1", None, 3, D(2025, 1, 10), D(2025, 1, 6), ("A1",))
    )
    led = pay(led, "PAY1", "P1", 400, D(2025, 1, 7))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 3, 31))
    assert st.closing_balance == usd(-100)
    assert st.credit == usd(100)
    assert st.amount_due == ZERO


# --------------------------------------------------------------------------- FIFO aging

END = D(2025, 6, 30)


def aged_ledger(order: str = "charges-first") -> Ledger:
    """Six charges of P1 at 30, 31, 60, 61, 90, 91 days before END."""
    ages = {
        "C30": (30, 1),
        "C31": (31, 2),
        "C60": (60, 4),
        "C61": (61, 8),
        "C90": (90, 16),
        "C91": (91, 32),
    }
    led = Ledger.empty()
    for cid, (days, _amount) in ages.items():
        led = appt(led, "A" + cid, "P1", END - datetime.timedelta(days=days))
    if order == "payment-first":
        led = pay(led, "PAY1", "P1", 40, D(2025, 6, 29))
    for cid, (_days, amount) in ages.items():
        led = charge(led, cid, "A" + cid, amount)
    if order == "charges-first":
        led = pay(led, "PAY1", "P1", 40, D(2025, 6, 29))
    return led


def test_fifo_aging_boundaries_without_payments() -> None:
    led = Ledger.empty()
    for cid, days, amount in [
        ("C30", 30, 1),
        ("C31", 31, 2),
        ("C60", 60, 4),
        ("C61", 61, 8),
        ("C90", 90, 16),
        ("C91", 91, 32),
    ]:
        led = appt(led, "A" + cid, "P1", END - datetime.timedelta(days=days))
        led = charge(led, cid, "A" + cid, amount)
    ag = pl.statement(led, "P1", start=D(2025, 1, 1), end=END).aging
    assert ag.current == usd(1)
    assert ag.days_31_60 == usd(6)
    assert ag.days_61_90 == usd(24)
    assert ag.over_90 == usd(32)


def test_fifo_aging_payment_pays_oldest_first() -> None:
    st = pl.statement(aged_ledger(), "P1", start=D(2025, 6, 1), end=END)
    # 40 pays C91 (32) then 8 of C90 (16)
    assert st.closing_balance == usd(23)
    ag = st.aging
    assert (ag.current, ag.days_31_60, ag.days_61_90, ag.over_90) == (usd(1), usd(6), usd(16), ZERO)


def test_fifo_aging_does_not_depend_on_posting_order() -> None:
    a = pl.statement(aged_ledger("charges-first"), "P1", start=D(2025, 6, 1), end=END).aging
    b = pl.statement(aged_ledger("payment-first"), "P1", start=D(2025, 6, 1), end=END).aging
    assert a == b


def test_fifo_aging_uses_posted_on_day_and_future_days_are_current() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 1))
    led = charge(led, "C1", "A1", 10, posted_on=D(2025, 6, 20))  # 10 days old at END
    ag = pl.statement(led, "P1", start=D(2025, 1, 1), end=END).aging
    assert ag.current == usd(10)
    assert ag.over_90 == ZERO


def test_fifo_aging_counts_adjustments_dated_by_end_only() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 5, 20))  # 41 days before END
    led = charge(led, "C1", "A1", 100)
    led = pl.adjust_charge(led, Adjustment("ADJ1", "C1", usd(-30), D(2025, 6, 10)))
    led = pl.adjust_charge(led, Adjustment("ADJ2", "C1", usd(-20), D(2025, 7, 5)))
    st = pl.statement(led, "P1", start=D(2025, 6, 1), end=END)
    assert st.closing_balance == usd(70)
    assert st.aging.days_31_60 == usd(70)
    assert st.aging.current == ZERO


def test_fifo_aging_all_zero_when_closing_not_above_zero() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 1))
    led = charge(led, "C1", "A1", 100)
    led = pay(led, "PAY1", "P1", 100, D(2025, 6, 1))
    zero = pl.statement(led, "P1", start=D(2025, 6, 1), end=END)
    assert zero.closing_balance == ZERO
    assert zero.aging == pl.Aging(current=ZERO, days_31_60=ZERO, days_61_90=ZERO, over_90=ZERO)
    led = pay(led, "PAY2", "P1", 50, D(2025, 6, 2))
    credit = pl.statement(led, "P1", start=D(2025, 6, 1), end=END)
    assert credit.closing_balance == usd(-50)
    assert credit.aging == pl.Aging(current=ZERO, days_31_60=ZERO, days_61_90=ZERO, over_90=ZERO)


def test_fifo_aging_ignores_events_after_end() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 1))
    led = charge(led, "C1", "A1", 100)
    led = pay(led, "PAY1", "P1", 100, D(2025, 7, 15))
    st = pl.statement(led, "P1", start=D(2025, 6, 1), end=END)
    assert st.closing_balance == usd(100)
    assert st.aging.over_90 == usd(100)


# --------------------------------------------------------------------------- statement errors


def test_statement_errors() -> None:
    led = basic()
    with pytest.raises(pl.UnknownIdError):
        pl.statement(led, "NOPE", start=D(2025, 1, 1), end=D(2025, 1, 31))
    with pytest.raises(pl.InvalidInputError):
        pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 1, 31))
    with pytest.raises(pl.InvalidInputError):
        pl.statement(led, "P1", start="2025-01-01", end=D(2025, 1, 31))  # type: ignore[arg-type]
    with pytest.raises(pl.InvalidInputError):
        pl.statement(led, "P1", start=D(2025, 1, 1), end=None)  # type: ignore[arg-type]
    # input shape before references (§7)
    with pytest.raises(pl.InvalidInputError):
        pl.statement(led, "NOPE", start=D(2025, 2, 1), end=D(2025, 1, 31))


def test_errors_are_ledger_errors() -> None:
    assert issubclass(pl.DateOrderError, pl.LedgerError)
    assert issubclass(pl.UnknownIdError, pl.LedgerError)


# --------------------------------------------------------------------------- day sheet


def sheet_ledger() -> Ledger:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 3, 1))
    led = charge(led, "C1", "A1", 500)
    led = pay(led, "CASH1", "P1", 20, D(2025, 3, 3), method=PaymentMethod.CASH, reference="r-cash")
    led = pay(
        led,
        "CHK1",
        "P2",
        100,
        D(2025, 3, 3),
        method=PaymentMethod.CHECK,
        type=PaymentType.COPAY,
        reference="chk-1",
    )
    led = pay(
        led, "CC1", "P1", 70, D(2025, 3, 3), method=PaymentMethod.CREDIT_CARD, appointment_id="A1"
    )
    led = refund(led, "RF1", "P2", 30, D(2025, 3, 3), method=PaymentMethod.CHECK, reference="rf")
    led = pay(led, "CASH2", "P1", 5, D(2025, 3, 4), method=PaymentMethod.CASH)
    led = pl.reverse_payment(led, "CHK1", usd(40), on=D(2025, 3, 4))
    led = pl.transfer_credit(led, Transfer("T1", "P2", "P1", usd(10), D(2025, 3, 4)))
    return pl.reverse_payment(led, "RF1", on=D(2025, 3, 5))


def sheet_rows(
    ds: pl.DaySheet,
) -> list[tuple[date, str, str, PaymentMethod, PaymentType, str | None, Money]]:
    return [
        (ln.day, ln.payment_id, ln.patient_id, ln.method, ln.type, ln.reference, ln.amount)
        for ln in ds.lines
    ]


def test_day_sheet_one_day() -> None:
    ds = pl.day_sheet(sheet_ledger(), D(2025, 3, 3))
    assert ds.start == ds.end == D(2025, 3, 3)
    assert sheet_rows(ds) == [
        (D(2025, 3, 3), "CASH1", "P1", PaymentMethod.CASH, PaymentType.PAYMENT, "r-cash", usd(20)),
        (D(2025, 3, 3), "CHK1", "P2", PaymentMethod.CHECK, PaymentType.COPAY, "chk-1", usd(100)),
        (D(2025, 3, 3), "CC1", "P1", PaymentMethod.CREDIT_CARD, PaymentType.PAYMENT, None, usd(70)),
        (D(2025, 3, 3), "RF1", "P2", PaymentMethod.CHECK, PaymentType.REFUND, "rf", usd(-30)),
    ]
    assert [(t.method, t.count, t.received, t.returned, t.net) for t in ds.totals] == [
        (PaymentMethod.CASH, 1, usd(20), ZERO, usd(20)),
        (PaymentMethod.CHECK, 2, usd(100), usd(-30), usd(70)),
        (PaymentMethod.CREDIT_CARD, 1, usd(70), ZERO, usd(70)),
    ]
    assert ds.net == usd(160)


def test_day_sheet_range_reversal_lines_carry_the_payment() -> None:
    led = sheet_ledger()
    ds = pl.day_sheet(led, D(2025, 3, 4), D(2025, 3, 5))
    assert sheet_rows(ds) == [
        (D(2025, 3, 4), "CASH2", "P1", PaymentMethod.CASH, PaymentType.PAYMENT, None, usd(5)),
        (D(2025, 3, 4), "CHK1", "P2", PaymentMethod.CHECK, PaymentType.COPAY, "chk-1", usd(-40)),
        (D(2025, 3, 5), "RF1", "P2", PaymentMethod.CHECK, PaymentType.REFUND, "rf", usd(30)),
    ]
    assert [(t.method, t.count, t.received, t.returned, t.net) for t in ds.totals] == [
        (PaymentMethod.CASH, 1, usd(5), ZERO, usd(5)),
        (PaymentMethod.CHECK, 2, usd(30), usd(-40), usd(-10)),
    ]
    assert ds.net == usd(-5)


def practice_total_paid(led: Ledger, on: date) -> Money:
    return sum((d.total_paid for d in pl.dashboards(led, on=on).values()), ZERO)


def test_day_sheet_net_is_change_in_practice_total_paid() -> None:
    led = sheet_ledger()
    for start, end in [
        (D(2025, 3, 3), D(2025, 3, 3)),
        (D(2025, 3, 4), D(2025, 3, 5)),
        (D(2025, 3, 1), D(2025, 3, 31)),
    ]:
        ds = pl.day_sheet(led, start, end)
        before = practice_total_paid(led, start - datetime.timedelta(days=1))
        assert ds.net == practice_total_paid(led, end) - before
        assert ds.net == sum((ln.amount for ln in ds.lines), ZERO)
        assert ds.net == sum((t.net for t in ds.totals), ZERO)


def test_day_sheet_totals_in_payment_method_order() -> None:
    led = Ledger.empty()
    for i, method in enumerate(reversed(list(PaymentMethod))):
        led = pay(led, f"P{i}", "P1", 1 + i, D(2025, 3, 3), method=method)
    ds = pl.day_sheet(led, D(2025, 3, 3))
    assert [t.method for t in ds.totals] == list(PaymentMethod)


def test_day_sheet_empty_day() -> None:
    ds = pl.day_sheet(sheet_ledger(), D(2025, 4, 1))
    assert ds.lines == ()
    assert ds.totals == ()
    assert ds.net == ZERO


def test_day_sheet_late_posted_payment_by_its_day() -> None:
    led = Ledger.empty()
    led = pay(led, "LATE", "P1", 5, D(2025, 3, 10))
    led = pay(led, "EARLY", "P1", 7, D(2025, 3, 2))
    ds = pl.day_sheet(led, D(2025, 3, 1), D(2025, 3, 31))
    assert [ln.payment_id for ln in ds.lines] == ["EARLY", "LATE"]


def test_day_sheet_errors() -> None:
    led = sheet_ledger()
    with pytest.raises(pl.InvalidInputError):
        pl.day_sheet(led, D(2025, 3, 5), D(2025, 3, 4))
    with pytest.raises(pl.InvalidInputError):
        pl.day_sheet(led, "2025-03-03")  # type: ignore[arg-type]
    with pytest.raises(pl.InvalidInputError):
        pl.day_sheet(led, D(2025, 3, 3), "2025-03-04")  # type: ignore[arg-type]
    with pytest.raises(pl.InvalidInputError):
        pl.day_sheet(led, None)  # type: ignore[arg-type]


def test_day_sheet_datetime_is_a_date_or_refused() -> None:
    """A datetime.datetime is a datetime.date subclass; the SPEC does not say which: note it."""
    led = sheet_ledger()
    try:
        ds = pl.day_sheet(led, datetime.datetime(2025, 3, 3, 12, 0))
    except pl.InvalidInputError:
        return
    assert [ln.payment_id for ln in ds.lines] == ["CASH1", "CHK1", "CC1", "RF1"]


# --------------------------------------------------------------------------- dated dashboards


def dated() -> Ledger:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 10))
    led = charge(led, "C1", "A1", 100)
    led = pay(led, "PAY1", "P1", 30, D(2025, 1, 15), appointment_id="A1")
    return pay(led, "PAY2", "P2", 50, D(2025, 1, 20))


def test_dashboard_on_a_day() -> None:
    led = dated()
    d = pl.dashboard(led, "P1", on=D(2025, 1, 12))
    assert d.total_paid == ZERO
    assert d.patient_responsibility == usd(100)
    assert d.total_balance == usd(100)
    d = pl.dashboard(led, "P1", on=D(2025, 1, 15))
    assert d.total_paid == usd(30)
    assert d.allocated == usd(30)
    assert d.total_balance == usd(70)
    assert pl.dashboard(led, "P1", on=None) == pl.dashboard(led, "P1")
    assert pl.dashboard(led, "P1", on=D(2030, 1, 1)) == pl.dashboard(led, "P1")


def test_dashboard_unknown_at_cut_and_dashboards_leave_them_out() -> None:
    led = dated()
    with pytest.raises(pl.UnknownIdError):
        pl.dashboard(led, "P2", on=D(2025, 1, 19))
    assert set(pl.dashboards(led, on=D(2025, 1, 19))) == {"P1"}
    assert set(pl.dashboards(led, on=D(2025, 1, 20))) == {"P1", "P2"}
    assert pl.dashboards(led, on=D(2025, 1, 20))["P2"].total_paid == usd(50)
    assert pl.dashboards(led) == pl.dashboards(led, on=None)
    assert pl.dashboards(led)["P1"] == pl.dashboard(led, "P1")


def late_ledger() -> Ledger:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 20))
    led = charge(led, "C1", "A1", 100)
    return pay(led, "LATEPAY", "P1", 30, D(2025, 1, 10))


def test_date_order_error_names_the_late_event() -> None:
    led = late_ledger()
    with pytest.raises(pl.DateOrderError) as info:
        pl.dashboard(led, "P1", on=D(2025, 1, 15))
    assert isinstance(info.value, pl.LedgerError)
    assert info.value.code == pl.ErrorCode.DATE_ORDER
    with pytest.raises(pl.DateOrderError) as info2:
        pl.dashboards(led, on=D(2025, 1, 15))
    assert info2.value.code == pl.ErrorCode.DATE_ORDER


def test_date_order_error_message_names_the_late_payment_id() -> None:
    led = late_ledger()
    with pytest.raises(pl.DateOrderError) as info:
        pl.dashboard(led, "P1", on=D(2025, 1, 15))
    assert "LATEPAY" in str(info.value)


def test_no_date_order_error_when_the_cut_is_exact() -> None:
    led = late_ledger()
    assert pl.dashboard(led, "P1", on=D(2025, 1, 25)).total_balance == usd(70)
    assert pl.dashboard(led, "P1", on=D(2025, 1, 5)).total_balance == ZERO


def test_statement_is_exact_where_the_dated_dashboard_refuses() -> None:
    led = late_ledger()
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 15))
    assert st.closing_balance == usd(-30)


# --------------------------------------------------------------------------- more edges


def test_reversal_of_a_transferred_payment_splits_by_who_holds_the_money() -> None:
    led = Ledger.empty()
    led = pay(led, "PAY1", "P1", 100, D(2025, 1, 5), method=PaymentMethod.CASH)
    led = pl.transfer_credit(led, Transfer("T1", "P1", "P2", usd(60), D(2025, 1, 6)))
    led = pl.reverse_payment(led, "PAY1", on=D(2025, 1, 7))
    p1 = pl.statement(led, "P1", start=D(2025, 1, 7), end=D(2025, 1, 7))
    p2 = pl.statement(led, "P2", start=D(2025, 1, 7), end=D(2025, 1, 7))
    assert summary(p1) == [(D(2025, 1, 7), StatementLineKind.REVERSAL, "PAY1", usd(40), ZERO)]
    assert summary(p2) == [(D(2025, 1, 7), StatementLineKind.REVERSAL, "PAY1", usd(60), ZERO)]
    ds = pl.day_sheet(led, D(2025, 1, 1), D(2025, 1, 31))
    assert ds.net == ZERO
    assert [ln.amount for ln in ds.lines] == [usd(100), usd(-100)]


def test_fifo_aging_adjustment_rides_with_its_charge_day() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", END - datetime.timedelta(days=100))
    led = charge(led, "C1", "A1", 100)
    led = pl.adjust_charge(led, Adjustment("ADJ1", "C1", usd(50), END - datetime.timedelta(days=5)))
    ag = pl.statement(led, "P1", start=D(2025, 6, 1), end=END).aging
    assert ag.over_90 == usd(150)
    assert ag.current == ZERO


def test_fifo_aging_total_paid_includes_refunds_and_transfers() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P2", END - datetime.timedelta(days=100))
    led = charge(led, "C1", "A1", 100)
    led = appt(led, "A2", "P2", END - datetime.timedelta(days=10))
    led = charge(led, "C2", "A2", 100)
    led = pay(led, "PAY1", "P1", 80, D(2025, 6, 1))
    led = pl.transfer_credit(led, Transfer("T1", "P1", "P2", usd(80), D(2025, 6, 2)))
    led = pay(led, "PAY2", "P2", 50, D(2025, 6, 3))
    led = refund(led, "R2", "P2", 20, D(2025, 6, 4))
    st = pl.statement(led, "P2", start=D(2025, 6, 1), end=END)
    # Total Paid as of END: 80 + 50 - 20 = 110 pays C1 (100) then 10 of C2
    assert st.closing_balance == usd(90)
    assert (st.aging.current, st.aging.over_90) == (usd(90), ZERO)


def test_charge_posted_after_end_is_not_aged() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 1))
    led = charge(led, "C1", "A1", 100, posted_on=D(2025, 7, 2))
    led = appt(led, "A2", "P1", D(2025, 6, 25))
    led = charge(led, "C2", "A2", 10)
    st = pl.statement(led, "P1", start=D(2025, 6, 1), end=END)
    assert st.closing_balance == usd(10)
    assert st.aging.current == usd(10)
    assert st.aging.over_90 == ZERO


def test_statement_of_a_patient_known_only_later() -> None:
    led = basic()
    led = pay(led, "PAYX", "P3", 10, D(2025, 3, 1))
    st = pl.statement(led, "P3", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.lines == ()
    assert st.opening_balance == st.closing_balance == st.amount_due == ZERO


def test_dated_dashboard_receiver_of_a_transfer_unknown_before_it() -> None:
    led = Ledger.empty()
    led = pay(led, "PAY1", "P1", 100, D(2025, 1, 5))
    led = pl.transfer_credit(led, Transfer("T1", "P1", "P2", usd(60), D(2025, 1, 6)))
    with pytest.raises(pl.UnknownIdError):
        pl.dashboard(led, "P2", on=D(2025, 1, 5))
    assert set(pl.dashboards(led, on=D(2025, 1, 5))) == {"P1"}
    assert pl.dashboard(led, "P2", on=D(2025, 1, 6)).total_paid == usd(60)
    assert pl.dashboard(led, "P1", on=D(2025, 1, 6)).total_paid == usd(40)


def test_dated_dashboard_cut_before_a_late_event_that_is_after_on() -> None:
    led = Ledger.empty()
    led = pay(led, "D10", "P1", 1, D(2025, 1, 10))
    led = pay(led, "D20", "P1", 2, D(2025, 1, 20))
    led = pay(led, "D15", "P1", 4, D(2025, 1, 15))
    assert pl.dashboard(led, "P1", on=D(2025, 1, 14)).total_paid == usd(1)
    assert pl.dashboard(led, "P1", on=D(2025, 1, 20)).total_paid == usd(7)
    for on in (D(2025, 1, 15), D(2025, 1, 19)):
        with pytest.raises(pl.DateOrderError):
            pl.dashboard(led, "P1", on=on)


def test_date_order_error_for_any_patient_of_the_cut() -> None:
    led = late_ledger()
    led = pay(led, "X", "P2", 5, D(2025, 1, 1))
    with pytest.raises(pl.DateOrderError):
        pl.dashboard(led, "P2", on=D(2025, 1, 15))


def test_dashboards_patient_known_by_appointment_only() -> None:
    led = appt(Ledger.empty(), "A1", "P1", D(2025, 5, 1))
    dash = pl.dashboards(led, on=D(2025, 1, 1))
    assert set(dash) == {"P1"}
    assert dash["P1"].total_balance == ZERO


def test_zero_charge_changes_no_total_balance() -> None:
    """'one line for every event ... that changes the patient's Total Balance'."""
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 10))
    led = charge(led, "C0", "A1", 0)
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert st.lines == ()


def test_write_off_line() -> None:
    led = basic()
    led = pl.adjust_charge(
        led, Adjustment("WO", "C1", usd(-60), D(2025, 1, 30), type=AdjustmentType.WRITE_OFF)
    )
    st = pl.statement(led, "P1", start=D(2025, 1, 30), end=D(2025, 1, 30))
    assert summary(st) == [(D(2025, 1, 30), StatementLineKind.ADJUSTMENT, "WO", usd(-60), ZERO)]
    assert st.amount_due == ZERO


def owing_then_paid_on_20th() -> Ledger:
    led = appt(Ledger.empty(), "A1", "P1", D(2025, 1, 5))
    led = charge(led, "C1", "A1", 300)
    led = pay(led, "P20", "P1", 5, D(2025, 1, 20))
    return pl.create_payment_plan(
        led, PaymentPlan("PL1", "P1", usd(100), 2, D(2025, 2, 1), D(2025, 1, 12))
    )


def test_plan_creation_has_no_day_for_the_cut() -> None:
    led = owing_then_paid_on_20th()
    assert pl.dashboard(led, "P1", on=D(2025, 1, 15)).total_balance == usd(300)


@pytest.mark.parametrize("plan_event", ["cancel", "skip"])
def test_plan_cancel_and_skip_have_no_day_for_the_cut(plan_event: str) -> None:
    led = owing_then_paid_on_20th()
    if plan_event == "cancel":
        led = pl.cancel_payment_plan(led, "PL1", on=D(2025, 1, 13))
    else:
        led = pl.skip_installment(led, "PL1", 1, on=D(2025, 1, 13))
    assert pl.dashboard(led, "P1", on=D(2025, 1, 15)).total_balance == usd(300)
    assert set(pl.dashboards(led, on=D(2025, 1, 15))) == {"P1"}


def test_date_order_error_names_the_late_event_not_a_dayless_one() -> None:
    led = pay(Ledger.empty(), "D20", "P1", 5, D(2025, 1, 20))
    led = appt(led, "A9", "P1", D(2025, 3, 1))
    led = pay(led, "D10", "P1", 7, D(2025, 1, 10))
    with pytest.raises(pl.DateOrderError) as info:
        pl.dashboard(led, "P1", on=D(2025, 1, 15))
    message = str(info.value)
    assert "AppointmentAdded" not in message
    assert "2025-01-10" in message


# --------------------------------------------------------------------------- random practices


def random_practice(seed: int, in_day_order: bool) -> Ledger:
    """A seeded random practice: charges, payments, refunds, adjustments, transfers, reversals."""
    import random

    rnd = random.Random(seed)  # noqa: S311 (a test's seeded data, not secrets)
    led = Ledger.empty()
    patients_ = ["P1", "P2", "P3"]
    steps: list[tuple[date, int]] = sorted(
        ((D(2025, 1, 1) + datetime.timedelta(days=rnd.randrange(120)), n) for n in range(60)),
        key=lambda s: s[0] if in_day_order else s[1],
    )
    charges: list[str] = []
    payments: list[str] = []
    for day, n in steps:
        who = rnd.choice(patients_)
        kind = rnd.randrange(6)
        try:
            if kind == 0:
                led = appt(led, f"A{n}", who, day)
                led = charge(led, f"C{n}", f"A{n}", rnd.randrange(1, 20000) / 100)
                charges.append(f"C{n}")
            elif kind in (1, 2):
                method = rnd.choice(list(PaymentMethod))
                led = pay(led, f"PAY{n}", who, rnd.randrange(1, 15000) / 100, day, method=method)
                payments.append(f"PAY{n}")
            elif kind == 3:
                led = refund(led, f"R{n}", who, rnd.randrange(1, 5000) / 100, day)
            elif kind == 4 and charges:
                led = pl.adjust_charge(
                    led,
                    Adjustment(
                        f"ADJ{n}", rnd.choice(charges), usd(-rnd.randrange(1, 3000) / 100), day
                    ),
                )
            elif kind == 5 and payments:
                if rnd.randrange(2):
                    led = pl.reverse_payment(
                        led, rnd.choice(payments), usd(rnd.randrange(1, 3000) / 100), on=day
                    )
                else:
                    other = rnd.choice(patients_)
                    led = pl.transfer_credit(
                        led, Transfer(f"T{n}", who, other, usd(rnd.randrange(1, 3000) / 100), day)
                    )
        except pl.LedgerError:
            pass
    return led


@pytest.mark.parametrize("seed", range(12))
def test_random_statements_add_up(seed: int) -> None:
    led = random_practice(seed, in_day_order=seed % 2 == 0)
    for who in pl.patients(led):
        full = pl.statement(led, who, start=D(2024, 12, 1), end=D(2025, 6, 1))
        assert full.opening_balance == ZERO
        assert full.closing_balance == pl.dashboard(led, who).total_balance
        for start, end in [(D(2025, 1, 15), D(2025, 2, 14)), (D(2025, 2, 15), D(2025, 3, 31))]:
            st = pl.statement(led, who, start=start, end=end)
            before = pl.statement(
                led, who, start=D(2024, 12, 1), end=start - datetime.timedelta(days=1)
            )
            assert st.opening_balance == before.closing_balance
            running = st.opening_balance
            for ln in st.lines:
                assert start <= ln.day <= end
                running += ln.amount
                assert ln.balance == running
            assert running == st.closing_balance
            assert [ln.day for ln in st.lines] == sorted(ln.day for ln in st.lines)
            assert st.credit == max(ZERO, -st.closing_balance)
            assert st.amount_due == max(ZERO, st.closing_balance)
            ag = st.aging
            total = ag.current + ag.days_31_60 + ag.days_61_90 + ag.over_90
            assert total == max(ZERO, st.closing_balance)


@pytest.mark.parametrize("seed", range(6))
def test_random_day_sheet_net_is_change_in_total_paid(seed: int) -> None:
    led = random_practice(seed, in_day_order=True)
    for start, end in [
        (D(2025, 1, 1), D(2025, 1, 31)),
        (D(2025, 2, 10), D(2025, 2, 10)),
        (D(2025, 1, 1), D(2025, 6, 1)),
    ]:
        ds = pl.day_sheet(led, start, end)
        assert ds.net == practice_total_paid(led, end) - practice_total_paid(
            led, start - datetime.timedelta(days=1)
        )
        assert ds.net == sum((ln.amount for ln in ds.lines), ZERO)
        assert [t.method for t in ds.totals] == [
            m for m in PaymentMethod if any(ln.method == m for ln in ds.lines)
        ]
        for t in ds.totals:
            mine = [ln.amount for ln in ds.lines if ln.method == t.method]
            assert t.count == len(mine)
            assert t.received == sum((a for a in mine if a > ZERO), ZERO)
            assert t.returned == sum((a for a in mine if a < ZERO), ZERO)
            assert t.net == t.received + t.returned


@pytest.mark.parametrize("seed", range(6))
def test_random_statements_do_not_depend_on_posting_order(seed: int) -> None:
    import random

    rnd = random.Random(seed)  # noqa: S311 (a test's seeded data, not secrets)
    ops: list[tuple[str, str, date, int]] = []
    for _ in range(25):
        day = D(2025, 1, 1) + datetime.timedelta(days=rnd.randrange(150))
        ops.append(
            (rnd.choice(["charge", "pay"]), rnd.choice(["P1", "P2"]), day, rnd.randrange(1, 9000))
        )

    def build(order: list[int]) -> Ledger:
        led = Ledger.empty()
        for i in order:
            kind, who, day, cents = ops[i]
            if kind == "charge":
                led = appt(led, f"A{i}", who, day)
                led = charge(led, f"C{i}", f"A{i}", cents / 100)
            else:
                led = pay(led, f"PAY{i}", who, cents / 100, day)
        return led

    order = list(range(len(ops)))
    a = build(order)
    rnd.shuffle(order)
    b = build(order)
    for who in ("P1", "P2"):
        if who not in pl.patients(a):
            continue
        for end in (D(2025, 2, 1), D(2025, 4, 1), D(2025, 6, 30)):
            sa = pl.statement(a, who, start=D(2025, 1, 15), end=end)
            sb = pl.statement(b, who, start=D(2025, 1, 15), end=end)
            assert (sa.opening_balance, sa.closing_balance, sa.aging, sa.amount_due) == (
                sb.opening_balance,
                sb.closing_balance,
                sb.aging,
                sb.amount_due,
            )
            assert sorted((ln.day, ln.ref) for ln in sa.lines) == sorted(
                (ln.day, ln.ref) for ln in sb.lines
            )


@pytest.mark.parametrize("seed", range(8))
def test_random_dated_dashboard_agrees_with_statement_or_refuses(seed: int) -> None:
    """Whenever a dated dashboard answers, it is exact: it agrees with the statement's sums."""
    led = random_practice(seed, in_day_order=seed % 2 == 0)
    answered = 0
    for offset in range(0, 130, 7):
        on = D(2025, 1, 1) + datetime.timedelta(days=offset)
        try:
            dash = pl.dashboards(led, on=on)
        except pl.DateOrderError:
            assert seed % 2 == 1  # a journal in day order always has an exact cut
            continue
        answered += 1
        for who in pl.patients(led):
            st = pl.statement(led, who, start=D(2024, 12, 1), end=on)
            if who in dash:
                assert dash[who].total_balance == st.closing_balance
            else:
                assert st.closing_balance == ZERO
                with pytest.raises(pl.UnknownIdError):
                    pl.dashboard(led, who, on=on)
    assert answered > 0


def test_plan_payment_is_a_payment_line_and_a_day_sheet_line() -> None:
    led = with_plan_base()
    led = pl.create_payment_plan(led, balance_plan())
    led = pay(led, "PP1", "P1", 100, D(2025, 2, 1), plan_id="PL1", method=PaymentMethod.ONLINE)
    st = pl.statement(led, "P1", start=D(2025, 2, 1), end=D(2025, 2, 1))
    assert summary(st) == [(D(2025, 2, 1), StatementLineKind.PAYMENT, "PP1", usd(-100), usd(200))]
    ds = pl.day_sheet(led, D(2025, 2, 1))
    assert sheet_rows(ds) == [
        (D(2025, 2, 1), "PP1", "P1", PaymentMethod.ONLINE, PaymentType.PAYMENT, None, usd(100))
    ]


def test_cancelled_visit_gives_no_line() -> None:
    led = Ledger.empty()
    led = appt(led, "A1", "P1", D(2025, 1, 10))
    led = pay(led, "DEP", "P1", 50, D(2025, 1, 5), appointment_id="A1")
    led = pl.cancel_appointment(led, "A1", on=D(2025, 1, 8))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert [ln.ref for ln in st.lines] == ["DEP"]
    assert st.credit == usd(50)
    assert pl.day_sheet(led, D(2025, 1, 8)).lines == ()


def test_statement_id_shape_refused() -> None:
    with pytest.raises(pl.InvalidInputError):
        pl.statement(basic(), 5, start=D(2025, 1, 1), end=D(2025, 1, 31))  # type: ignore[arg-type]
    with pytest.raises(pl.InvalidInputError):
        pl.statement(basic(), "", start=D(2025, 1, 1), end=D(2025, 1, 31))


def test_views_of_branched_ledgers_are_their_own() -> None:
    """A ledger value is immutable: views of an earlier value and of its branches never mix."""
    led = pay(Ledger.empty(), "A", "P1", 5, D(2025, 1, 10))
    assert pl.day_sheet(led, D(2025, 1, 1), D(2025, 1, 31)).net == usd(5)
    assert pl.dashboard(led, "P1", on=D(2025, 1, 20)).total_paid == usd(5)
    led2 = pay(led, "B", "P1", 7, D(2025, 1, 12))
    led3 = pay(led, "C", "P1", 9, D(2025, 1, 11))
    assert pl.day_sheet(led2, D(2025, 1, 1), D(2025, 1, 31)).net == usd(12)
    assert pl.dashboard(led2, "P1", on=D(2025, 1, 20)).total_paid == usd(12)
    assert pl.day_sheet(led3, D(2025, 1, 1), D(2025, 1, 31)).net == usd(14)
    assert pl.dashboard(led3, "P1", on=D(2025, 1, 20)).total_paid == usd(14)
    led4 = pay(led2, "D", "P1", 1, D(2025, 1, 5))
    with pytest.raises(pl.DateOrderError):
        pl.dashboard(led4, "P1", on=D(2025, 1, 10))
    assert pl.dashboard(led2, "P1", on=D(2025, 1, 10)).total_paid == usd(5)
    assert pl.statement(led4, "P1", start=D(2025, 1, 1), end=D(2025, 1, 10)).closing_balance == usd(
        -6
    )


@pytest.mark.parametrize("seed", range(15))
def test_random_statement_plans_agree_with_payment_plans(seed: int) -> None:
    """With every event dated on or before end, a statement's plans as of end are today's."""
    import random

    rnd = random.Random(seed)  # noqa: S311 (a test's seeded data, not secrets)
    led = Ledger.empty()
    for n in range(4):
        led = appt(led, f"A{n}", "P1", D(2025, 1, 1 + n))
        led = charge(led, f"C{n}", f"A{n}", rnd.randrange(100, 900))
    plans = []
    for n in range(rnd.randrange(1, 4)):
        try:
            if rnd.randrange(2):
                plan = PaymentPlan(
                    f"PL{n}",
                    "P1",
                    None,
                    rnd.randrange(1, 6),
                    D(2025, 1, 15),
                    D(2025, 1, 10),
                    (f"A{n}",),
                )
            else:
                plan = PaymentPlan(
                    f"PL{n}",
                    "P1",
                    usd(rnd.randrange(50, 600)),
                    rnd.randrange(1, 6),
                    D(2025, 1, 31),
                    D(2025, 1, 10),
                )
            led = pl.create_payment_plan(led, plan)
            plans.append(plan.id)
        except pl.LedgerError:
            pass
    day = D(2025, 1, 11)
    for n in range(rnd.randrange(0, 10)):
        day += datetime.timedelta(days=rnd.randrange(0, 12))
        try:
            choice = rnd.randrange(5)
            if choice <= 1 and plans:
                led = pay(
                    led, f"PP{n}", "P1", rnd.randrange(1, 400), day, plan_id=rnd.choice(plans)
                )
            elif choice == 2:
                led = pay(led, f"X{n}", "P1", rnd.randrange(1, 200), day)
            elif choice == 3 and plans:
                led = pl.skip_installment(led, rnd.choice(plans), rnd.randrange(1, 5), on=day)
            elif choice == 4:
                paid = [
                    e.payment.id for e in led.events if hasattr(e, "payment") and e.payment.plan_id
                ]
                if paid:
                    led = pl.reverse_payment(
                        led, rnd.choice(paid), usd(rnd.randrange(1, 150)), on=day
                    )
        except pl.LedgerError:
            pass
    end = day + datetime.timedelta(days=rnd.randrange(0, 150))
    st = pl.statement(led, "P1", start=D(2025, 1, 1), end=end)
    after = end + datetime.timedelta(days=1)
    statuses = [
        p for p in pl.payment_plans(led, "P1", on=after) if p.status != pl.PlanState.CANCELLED
    ]
    assert st.plan_due == sum((p.overdue for p in statuses), ZERO)
    covered = sum((p.remaining for p in statuses), ZERO)
    closing = st.closing_balance
    assert closing == pl.dashboard(led, "P1").total_balance
    assert st.amount_due == min(max(ZERO, closing), max(ZERO, closing - covered) + st.plan_due)
