"""SPEC §12: statements and the day sheet, worked by hand — every line kind, a payment posted
late, a reversal, a transfer between patients, a plan's ``plan_due``, first-in-first-out aging
at its boundaries, a credit — and the errors."""

from __future__ import annotations

import datetime

import pytest

import patient_ledger as pl
from tests.helpers import usd

D = datetime.date
K = pl.StatementLineKind
M = pl.PaymentMethod


def payment(
    pay_id: str,
    amount: str,
    day: datetime.date,
    *,
    pid: str = "P1",
    aid: str | None = None,
    method: pl.PaymentMethod = M.OTHER,
    reference: str | None = None,
    plan_id: str | None = None,
) -> pl.Payment:
    return pl.Payment(
        pay_id,
        pid,
        usd(amount),
        day,
        method=method,
        appointment_id=aid,
        reference=reference,
        plan_id=plan_id,
    )


def february() -> pl.Ledger:
    """P1 in February: every kind of line, a reversal, a transfer to P2, a check posted late."""
    ledger = pl.Ledger.empty()
    ledger = pl.add_appointment(ledger, pl.Appointment("A1", "P1", D(2025, 1, 10)))
    ledger = pl.add_appointment(ledger, pl.Appointment("A2", "P1", D(2025, 2, 5)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd("100.00"), "99213", "Office visit"))
    ledger = pl.post_payment(ledger, payment("PAY1", "50.00", D(2025, 1, 15), aid="A1",
                                             method=M.CHECK, reference="1001"))  # fmt: skip
    ledger = pl.add_charge(
        ledger, pl.Charge("C2", "A2", usd("200.00"), "99214", posted_on=D(2025, 2, 6))
    )
    ledger = pl.adjust_charge(
        ledger,
        pl.Adjustment("ADJ1", "C2", usd("-30.00"), D(2025, 2, 10), pl.AdjustmentType.INSURANCE),
    )
    ledger = pl.post_payment(ledger, payment("PAY2", "100.00", D(2025, 2, 12), method=M.CASH))
    ledger = pl.refund(
        ledger,
        pl.Payment("R1", "P1", usd("-20.00"), D(2025, 2, 14), M.CASH, pl.PaymentType.REFUND),
    )
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", usd("30.00"), D(2025, 2, 15)))
    ledger = pl.post_payment(ledger, payment("PAY3", "40.00", D(2025, 2, 20), method=M.CREDIT_CARD))
    ledger = pl.reverse_payment(ledger, "PAY3", on=D(2025, 2, 25), reason="chargeback")
    # A check received on Feb 3, posted last.
    return pl.post_payment(
        ledger, payment("PAY4", "25.00", D(2025, 2, 3), aid="A1", method=M.CHECK)
    )


def rows(s: pl.Statement) -> list[tuple[str, str, str, str, str]]:
    return [
        (line.day.isoformat(), line.kind.name, line.ref, str(line.amount.amount),
         str(line.balance.amount))
        for line in s.lines
    ]  # fmt: skip


def test_a_month_of_every_kind_of_line_by_day_whatever_the_order_of_posting() -> None:
    s = pl.statement(february(), "P1", start=D(2025, 2, 1), end=D(2025, 2, 28))
    assert (s.patient_id, s.start, s.end) == ("P1", D(2025, 2, 1), D(2025, 2, 28))
    assert s.opening_balance == usd("50.00")  # 100 charged, 50 paid by Jan 31
    assert rows(s) == [
        ("2025-02-03", "PAYMENT", "PAY4", "-25.00", "25.00"),  # posted late, placed by day
        ("2025-02-06", "CHARGE", "C2", "200.00", "225.00"),  # posted_on, not the visit
        ("2025-02-10", "ADJUSTMENT", "ADJ1", "-30.00", "195.00"),
        ("2025-02-12", "PAYMENT", "PAY2", "-100.00", "95.00"),
        ("2025-02-14", "REFUND", "R1", "20.00", "115.00"),
        ("2025-02-15", "TRANSFER_OUT", "T1", "30.00", "145.00"),
        ("2025-02-20", "PAYMENT", "PAY3", "-40.00", "105.00"),
        ("2025-02-25", "REVERSAL", "PAY3", "40.00", "145.00"),
    ]
    assert s.closing_balance == usd("145.00") == pl.dashboard(february(), "P1").total_balance
    assert (s.credit, s.plan_due, s.amount_due) == (usd("0.00"), usd("0.00"), usd("145.00"))
    # 125 paid by Feb 28 pays C1 (100, Jan 10) first, then 25 of C2's 170 (Feb 6: 22 days).
    assert s.aging == pl.Aging(current=usd("145.00"), days_31_60=usd("0.00"),
                               days_61_90=usd("0.00"), over_90=usd("0.00"))  # fmt: skip
    texts = {line.ref: line.description for line in s.lines}
    assert texts["C2"] == "99214, visit 2025-02-05"
    assert texts["PAY4"] == "check payment"
    assert texts["R1"] == "cash refund"
    assert texts["PAY3"] in {"credit card payment", "payment PAY3 reversed, chargeback"}
    assert texts["T1"] == "credit to P2"
    assert [line.description for line in s.lines if line.kind is K.REVERSAL] == [
        "payment PAY3 reversed, chargeback"
    ]


def test_lines_of_one_day_keep_journal_order_and_a_period_before_has_no_late_line() -> None:
    january = pl.statement(february(), "P1", start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert rows(january) == [
        ("2025-01-10", "CHARGE", "C1", "100.00", "100.00"),
        ("2025-01-15", "PAYMENT", "PAY1", "-50.00", "50.00"),
    ]
    assert january.opening_balance == usd("0.00")
    assert january.lines[0].description == "99213, Office visit, visit 2025-01-10"
    assert january.lines[1].description == "check payment, ref 1001"


def test_a_transfer_is_a_credit_to_its_receiver() -> None:
    s = pl.statement(february(), "P2", start=D(2025, 2, 1), end=D(2025, 2, 28))
    assert rows(s) == [("2025-02-15", "TRANSFER_IN", "T1", "-30.00", "-30.00")]
    assert s.lines[0].description == "credit from P1"
    assert (s.closing_balance, s.credit, s.amount_due) == (
        usd("-30.00"), usd("30.00"), usd("0.00"),
    )  # fmt: skip
    assert s.aging == pl.Aging(current=usd("0.00"), days_31_60=usd("0.00"),
                               days_61_90=usd("0.00"), over_90=usd("0.00"))  # fmt: skip


def test_statements_of_the_practice_are_each_patients_statement() -> None:
    ledger = pl.add_appointment(february(), pl.Appointment("A9", "P9", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C9", "A9", usd("10.00")))
    ledger = pl.post_payment(ledger, payment("PAY9", "10.00", D(2025, 1, 3), pid="P9"))
    ledger = pl.add_appointment(ledger, pl.Appointment("A8", "P8", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C8", "A8", usd("10.00")))
    feb = {"start": D(2025, 2, 1), "end": D(2025, 2, 28)}
    every = pl.statements(ledger, **feb)
    # P9 owes nothing and has no line in February; P8 has a balance and no line.
    assert [s.patient_id for s in every] == ["P1", "P2", "P8"]
    assert every == tuple(pl.statement(ledger, p, **feb) for p in ("P1", "P2", "P8"))
    assert pl.statements(ledger, **feb, patient_ids=["P9", "P1"]) == (
        pl.statement(ledger, "P1", **feb),
        pl.statement(ledger, "P9", **feb),
    )
    assert pl.statement(ledger, "P9", **feb).lines == ()


def test_the_day_sheet_of_february() -> None:
    sheet = pl.day_sheet(february(), D(2025, 2, 1), D(2025, 2, 28))
    assert (sheet.start, sheet.end) == (D(2025, 2, 1), D(2025, 2, 28))
    assert [
        (line.day.isoformat(), line.payment_id, line.patient_id, line.method.name,
         line.type.name, str(line.amount.amount))
        for line in sheet.lines
    ] == [
        ("2025-02-03", "PAY4", "P1", "CHECK", "PAYMENT", "25.00"),
        ("2025-02-12", "PAY2", "P1", "CASH", "PAYMENT", "100.00"),
        ("2025-02-14", "R1", "P1", "CASH", "REFUND", "-20.00"),
        ("2025-02-20", "PAY3", "P1", "CREDIT_CARD", "PAYMENT", "40.00"),
        ("2025-02-25", "PAY3", "P1", "CREDIT_CARD", "PAYMENT", "-40.00"),  # the reversal
    ]  # fmt: skip
    assert sheet.totals == (
        pl.MethodTotal(method=M.CASH, count=2, received=usd("100.00"),
                       returned=usd("-20.00"), net=usd("80.00")),
        pl.MethodTotal(method=M.CHECK, count=1, received=usd("25.00"),
                       returned=usd("0.00"), net=usd("25.00")),
        pl.MethodTotal(method=M.CREDIT_CARD, count=2, received=usd("40.00"),
                       returned=usd("-40.00"), net=usd("0.00")),
    )  # fmt: skip
    # The change in the practice's Total Paid: 50 by Jan 31, 125 (P1) + 30 (P2) by Feb 28.
    assert sheet.net == usd("105.00")
    one_day = pl.day_sheet(february(), D(2025, 1, 15))
    assert (one_day.start, one_day.end, one_day.net) == (D(2025, 1, 15), D(2025, 1, 15),
                                                         usd("50.00"))  # fmt: skip
    assert [line.reference for line in one_day.lines] == ["1001"]
    empty = pl.day_sheet(february(), D(2025, 3, 1))
    assert (empty.lines, empty.totals, empty.net) == ((), (), usd("0.00"))


def test_a_reversed_refund_puts_money_back_on_both() -> None:
    ledger = pl.post_payment(pl.Ledger.empty(), payment("PAY1", "50.00", D(2025, 3, 1)))
    ledger = pl.refund(
        ledger, pl.Payment("R1", "P1", usd("-20.00"), D(2025, 3, 2), type=pl.PaymentType.REFUND)
    )
    ledger = pl.reverse_payment(ledger, "R1", on=D(2025, 3, 3))
    s = pl.statement(ledger, "P1", start=D(2025, 3, 1), end=D(2025, 3, 31))
    assert rows(s) == [
        ("2025-03-01", "PAYMENT", "PAY1", "-50.00", "-50.00"),
        ("2025-03-02", "REFUND", "R1", "20.00", "-30.00"),
        ("2025-03-03", "REVERSAL", "R1", "-20.00", "-50.00"),
    ]
    assert s.lines[2].description == "refund R1 reversed"
    assert (s.credit, s.amount_due) == (usd("50.00"), usd("0.00"))
    sheet = pl.day_sheet(ledger, D(2025, 3, 1), D(2025, 3, 3))
    assert [str(line.amount.amount) for line in sheet.lines] == ["50.00", "-20.00", "20.00"]
    assert sheet.lines[2].type is pl.PaymentType.REFUND
    assert sheet.net == usd("50.00")


def test_a_reversal_of_transferred_money_is_a_line_of_whoever_holds_it() -> None:
    ledger = pl.post_payment(pl.Ledger.empty(), payment("PAY1", "50.00", D(2025, 3, 1)))
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", usd("30.00"), D(2025, 3, 2)))
    ledger = pl.reverse_payment(ledger, "PAY1", on=D(2025, 3, 5))
    march = {"start": D(2025, 3, 1), "end": D(2025, 3, 31)}
    p1, p2 = pl.statements(ledger, **march)
    assert rows(p1)[-1] == ("2025-03-05", "REVERSAL", "PAY1", "20.00", "0.00")
    assert rows(p2) == [
        ("2025-03-02", "TRANSFER_IN", "T1", "-30.00", "-30.00"),
        ("2025-03-05", "REVERSAL", "PAY1", "30.00", "0.00"),
    ]
    # One line on the day sheet: the payment's, all that was reversed.
    sheet = pl.day_sheet(ledger, D(2025, 3, 5))
    assert [(line.patient_id, str(line.amount.amount)) for line in sheet.lines] == [
        ("P1", "-50.00")
    ]


def plan_ledger() -> pl.Ledger:
    """P3 owes 300 (Jan 5) and pays it by a plan of 3 × 100 due on the 15th from Jan 15."""
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A3", "P3", D(2025, 1, 5)))
    ledger = pl.add_charge(ledger, pl.Charge("C3", "A3", usd("300.00")))
    plan = pl.PaymentPlan("PL1", "P3", usd("300.00"), 3, D(2025, 1, 15), D(2025, 1, 5))
    ledger = pl.create_payment_plan(ledger, plan)
    return pl.post_payment(ledger, payment("PP1", "100.00", D(2025, 1, 14), pid="P3",
                                           plan_id="PL1"))  # fmt: skip


def figures(s: pl.Statement) -> tuple[str, str, str, str]:
    return (str(s.closing_balance.amount), str(s.plan_due.amount), str(s.amount_due.amount),
            str(s.credit.amount))  # fmt: skip


def test_plan_due_is_what_is_not_covered_of_installments_due_by_the_end() -> None:
    ledger = plan_ledger()

    def on(end: datetime.date, led: pl.Ledger = ledger) -> tuple[str, str, str, str]:
        return figures(pl.statement(led, "P3", start=D(2025, 1, 1), end=end))

    # The plan covers the 200 left: nothing is due but the installments.
    assert on(D(2025, 1, 13)) == ("300.00", "0.00", "0.00", "0.00")  # installment 1 not due
    assert on(D(2025, 1, 31)) == ("200.00", "0.00", "0.00", "0.00")  # 1 paid on Jan 14
    assert on(D(2025, 2, 14)) == ("200.00", "0.00", "0.00", "0.00")
    assert on(D(2025, 2, 15)) == ("200.00", "100.00", "100.00", "0.00")  # 2 due that day
    assert on(D(2025, 3, 15)) == ("200.00", "200.00", "200.00", "0.00")
    # A plan created after the end is not a plan yet: all of the closing balance is due.
    assert on(D(2025, 1, 4)) == ("0.00", "0.00", "0.00", "0.00")
    # A payment received after the end does not count toward the plan as of the end.
    late = pl.post_payment(ledger, payment("PP2", "100.00", D(2025, 2, 20), pid="P3",
                                           plan_id="PL1"))  # fmt: skip
    assert on(D(2025, 2, 15), late) == ("200.00", "100.00", "100.00", "0.00")
    assert on(D(2025, 2, 20), late) == ("100.00", "0.00", "0.00", "0.00")
    # A reversal of a plan payment: it counts no more from the reversal's day on.
    reversed_ = pl.reverse_payment(ledger, "PP1", on=D(2025, 2, 20))
    assert on(D(2025, 2, 19), reversed_) == ("200.00", "100.00", "100.00", "0.00")
    assert on(D(2025, 2, 20), reversed_) == ("300.00", "200.00", "200.00", "0.00")
    # A plan cancelled on Mar 1: from then on the whole balance is due.
    cancelled = pl.cancel_payment_plan(ledger, "PL1", on=D(2025, 3, 1))
    assert on(D(2025, 2, 28), cancelled) == ("200.00", "100.00", "100.00", "0.00")
    assert on(D(2025, 3, 1), cancelled) == ("200.00", "0.00", "200.00", "0.00")


def test_amount_due_is_never_more_than_the_closing_balance() -> None:
    # Paid off outside the plan: installments are uncovered, nothing is owed.
    ledger = plan_ledger()
    ledger = pl.post_payment(ledger, payment("X", "200.00", D(2025, 1, 20), pid="P3", aid="A3"))
    s = pl.statement(ledger, "P3", start=D(2025, 3, 1), end=D(2025, 3, 31))
    assert figures(s) == ("0.00", "200.00", "0.00", "0.00")


def test_aging_first_in_first_out_at_30_31_60_61_90_91_days() -> None:
    end = D(2025, 6, 30)
    ledger = pl.Ledger.empty()
    ages = {30: "1.00", 31: "2.00", 60: "4.00", 61: "8.00", 90: "16.00", 91: "32.00"}
    for days, amount in ages.items():
        day = end - datetime.timedelta(days=days)
        ledger = pl.add_appointment(ledger, pl.Appointment(f"A{days}", "P1", day))
        ledger = pl.add_charge(ledger, pl.Charge(f"C{days}", f"A{days}", usd(amount)))
    ledger = pl.add_appointment(ledger, pl.Appointment("AF", "P1", end + datetime.timedelta(1)))
    ledger = pl.add_charge(ledger, pl.Charge("CF", "AF", usd("64.00")))  # after the end

    def aged(led: pl.Ledger) -> tuple[str, str, str, str]:
        a = pl.statement(led, "P1", start=D(2025, 6, 1), end=end).aging
        return (str(a.current.amount), str(a.days_31_60.amount), str(a.days_61_90.amount),
                str(a.over_90.amount))  # fmt: skip

    assert aged(ledger) == ("1.00", "6.00", "24.00", "32.00")
    # 33 paid on the end day (held, not placed): the 91-day charge first, then 1 of 16.
    paid = pl.post_payment(ledger, payment("PAY1", "33.00", end))
    assert aged(paid) == ("1.00", "6.00", "23.00", "0.00")
    # Placed on the newest visit instead: first in, first out all the same.
    placed = pl.post_payment(ledger, payment("PAY1", "33.00", end, aid="A30"))
    assert aged(placed) == aged(paid)
    # An adjustment dated after the end does not count; one dated on it does.
    down = pl.Adjustment("ADJ", "C61", usd("-8.00"), end, pl.AdjustmentType.CONTRACTUAL)
    assert aged(pl.adjust_charge(paid, down)) == ("1.00", "6.00", "15.00", "0.00")
    later = pl.Adjustment("ADJ", "C61", usd("-8.00"), end + datetime.timedelta(1))
    assert aged(pl.adjust_charge(paid, later)) == aged(paid)
    # A credit: nothing to age.
    credit = pl.post_payment(ledger, payment("PAY1", "100.00", end))
    assert aged(credit) == ("0.00", "0.00", "0.00", "0.00")


@pytest.mark.parametrize(
    ("start", "end", "match"),
    [
        (D(2025, 2, 2), D(2025, 2, 1), "start 2025-02-02 is after end 2025-02-01"),
        ("2025-02-01", D(2025, 2, 1), "start must be a datetime.date"),
        (D(2025, 2, 1), None, "end must be a datetime.date"),
        (datetime.datetime(2025, 2, 1, 9, 30), D(2025, 2, 3), "start must be a datetime.date"),
        (D(2025, 2, 1), datetime.datetime(2025, 2, 3), "end must be a datetime.date"),
    ],
)
def test_dates_that_are_not_a_period_are_refused(start: object, end: object, match: str) -> None:
    ledger = february()
    with pytest.raises(pl.InvalidInputError, match=match):
        pl.statement(ledger, "P1", start=start, end=end)  # type: ignore[arg-type]
    with pytest.raises(pl.InvalidInputError, match=match):
        pl.statements(ledger, start=start, end=end)  # type: ignore[arg-type]
    if end is not None:
        with pytest.raises(pl.InvalidInputError, match=match):
            pl.day_sheet(ledger, start, end)  # type: ignore[arg-type]


def test_an_unknown_patient_is_refused() -> None:
    feb = {"start": D(2025, 2, 1), "end": D(2025, 2, 28)}
    with pytest.raises(pl.UnknownIdError, match="'P7'"):
        pl.statement(february(), "P7", **feb)
    with pytest.raises(pl.UnknownIdError, match="'P7'"):
        pl.statements(february(), **feb, patient_ids=["P1", "P7"])
    with pytest.raises(pl.InvalidInputError):
        pl.statements(february(), **feb, patient_ids="P1")
    with pytest.raises(pl.InvalidInputError):
        pl.statement(february(), "", **feb)
    with pytest.raises(pl.InvalidInputError):
        pl.statement("not a ledger", "P1", **feb)  # type: ignore[arg-type]
    # The input's shape is checked before the patient is looked up (SPEC §7's precedence).
    backwards = {"start": D(2025, 2, 28), "end": D(2025, 2, 1)}
    with pytest.raises(pl.InvalidInputError, match="after end"):
        pl.statement(february(), "P7", **backwards)
    with pytest.raises(pl.InvalidInputError, match="after end"):
        pl.statements(february(), **backwards, patient_ids=["P7"])
    with pytest.raises(pl.InvalidInputError):
        pl.statements(february(), **feb, patient_ids=["P7", 7])  # type: ignore[list-item]


def test_the_values_are_frozen_and_compared_by_value() -> None:
    s = pl.statement(february(), "P1", start=D(2025, 2, 1), end=D(2025, 2, 28))
    with pytest.raises(AttributeError):
        s.closing_balance = usd("0.00")  # type: ignore[misc]
    assert s == pl.statement(february(), "P1", start=D(2025, 2, 1), end=D(2025, 2, 28))
    assert hash(s.lines[0]) == hash(s.lines[0])
    assert list(K) == [K.CHARGE, K.ADJUSTMENT, K.PAYMENT, K.REFUND, K.REVERSAL,
                       K.TRANSFER_IN, K.TRANSFER_OUT]  # fmt: skip


def test_result_values_build_positionally_as_spec_writes_them() -> None:
    """SPEC §10–§12 write these results as ``Name(field, …)``: an expected value built by
    position equals the one built by keyword."""
    import attrs

    import patient_ledger as pl

    for cls in (
        pl.LineItem,
        pl.Allocation,
        pl.Installment,
        pl.PlanStatus,
        pl.StatementLine,
        pl.Statement,
        pl.DaySheetLine,
        pl.MethodTotal,
        pl.DaySheet,
    ):
        names = [f.name for f in attrs.fields(cls)]
        args = [object() for _ in names]
        assert cls(*args) == cls(**dict(zip(names, args, strict=True))), cls
