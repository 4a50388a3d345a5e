"""Payment plans as tables for analysts (SPEC §11): ``frames.records`` and
``frames.dataframes`` with ``on`` give ``payment_plans`` (one row per plan, every
``PlanStatus`` field) and ``installments`` (one row per installment of every plan)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger import frames, tables

pd = pytest.importorskip("pandas")
D = datetime.date


def usd(text: str) -> Money:
    return Money(text, "USD")


def practice() -> pl.Ledger:
    """Two patients: P1 with a plan on a visit (three installments, one paid, one skipped)
    and a cancelled plan on the balance; P2 with a completed plan; P3 with none."""
    ledger = pl.Ledger.empty()
    visits = (("A1", "P1", D(2025, 1, 5), "300.00"), ("A2", "P2", D(2025, 1, 9), "90.00"))
    for aid, pid, day, cents in (*visits, ("A3", "P3", D(2025, 1, 9), "10.00")):
        ledger = pl.add_appointment(ledger, pl.Appointment(aid, pid, day))
        ledger = pl.add_charge(ledger, pl.Charge(f"C{aid}", aid, usd(cents)))
    ledger = pl.create_payment_plan(
        ledger, pl.PaymentPlan("PL9", "P1", usd("50.00"), 2, D(2025, 1, 6), D(2025, 1, 6))
    )
    ledger = pl.cancel_payment_plan(ledger, "PL9", on=D(2025, 1, 7))
    ledger = pl.create_payment_plan(
        ledger, pl.PaymentPlan("PL1", "P1", None, 3, D(2025, 2, 1), D(2025, 1, 10), ("A1",))
    )
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY1", "P1", usd("100.00"), D(2025, 2, 1), plan_id="PL1")
    )
    ledger = pl.skip_installment(ledger, "PL1", 2, on=D(2025, 2, 20))
    ledger = pl.create_payment_plan(
        ledger, pl.PaymentPlan("PL2", "P2", usd("90.00"), 1, D(2025, 1, 31), D(2025, 1, 9))
    )
    return pl.post_payment(
        ledger, pl.Payment("PAY2", "P2", usd("90.00"), D(2025, 1, 30), plan_id="PL2")
    )


ON = D(2025, 3, 15)


def test_records_have_a_row_per_plan_and_per_installment_as_the_views_say() -> None:
    ledger = practice()
    found = frames.records(ledger, on=ON)
    plans = [s for pid in pl.patients(ledger) for s in pl.payment_plans(ledger, pid, on=ON)]
    assert [r["plan_id"] for r in found["payment_plans"]] == ["PL9", "PL1", "PL2"]
    assert found["payment_plans"] == [tables.records(tables.PLAN_STATUS, s) for s in plans]
    assert found["installments"] == [
        tables.records(tables.INSTALLMENTS, i, patient_id=s.patient_id)
        for s in plans
        for i in pl.installments(ledger, s.plan_id, on=ON)
    ]
    pl1 = found["payment_plans"][1]
    assert pl1 == {
        "plan_id": "PL1",
        "patient_id": "P1",
        "created_on": D(2025, 1, 10),
        "amount": Decimal("300.00"),
        "paid": Decimal("100.00"),
        "remaining": Decimal("200.00"),
        "installment_amount": Decimal("100.00"),
        "next_due_on": D(2025, 4, 1),
        "next_due_amount": Decimal("100.00"),
        "last_payment_on": D(2025, 2, 1),
        "overdue": Decimal("0.00"),
        "status": pl.PlanState.ACTIVE,
    }
    rows = [
        (r["number"], r["due_on"], r["amount"], r["paid"], r["status"])
        for r in found["installments"]
        if r["plan_id"] == "PL1"
    ]
    assert rows == [
        (1, D(2025, 2, 1), Decimal("100.00"), Decimal("100.00"), pl.InstallmentStatus.PAID),
        (2, D(2025, 3, 1), Decimal("100.00"), Decimal("0.00"), pl.InstallmentStatus.SKIPPED),
        (3, D(2025, 4, 1), Decimal("100.00"), Decimal("0.00"), pl.InstallmentStatus.UPCOMING),
        (4, D(2025, 5, 1), Decimal("100.00"), Decimal("0.00"), pl.InstallmentStatus.UPCOMING),
    ]
    assert {r["plan_id"]: r["status"] for r in found["payment_plans"]} == {
        "PL9": pl.PlanState.CANCELLED,
        "PL1": pl.PlanState.ACTIVE,
        "PL2": pl.PlanState.COMPLETED,
    }


def test_the_plan_tables_are_as_of_on() -> None:
    """Statuses move with ``on``: the third installment is upcoming in March, overdue in
    April's second half."""
    ledger = practice()
    late = frames.records(ledger, on=D(2025, 4, 20))
    (third,) = [r for r in late["installments"] if (r["plan_id"], r["number"]) == ("PL1", 3)]
    assert third["status"] is pl.InstallmentStatus.OVERDUE
    (pl1,) = [r for r in late["payment_plans"] if r["plan_id"] == "PL1"]
    assert pl1["overdue"] == Decimal("100.00")


def test_without_on_there_are_no_plan_tables() -> None:
    assert not {"payment_plans", "installments"} & set(frames.records(practice()))
    assert not {"payment_plans", "installments"} & set(
        frames.dataframes(practice(), amounts="decimal")
    )


@pytest.mark.parametrize("amounts", ["decimal", "float"])
def test_plan_dataframes_are_pandas_native(amounts: frames.Amounts) -> None:
    found = frames.dataframes(practice(), amounts=amounts, on=ON)
    plans, rows = found["payment_plans"], found["installments"]
    assert plans.index.name == "plan_id"
    assert list(plans.index) == ["PL9", "PL1", "PL2"]
    assert list(plans.columns) == [f for f in tables.PLAN_STATUS.fields() if f != "plan_id"]
    for column in ("created_on", "next_due_on", "last_payment_on"):
        assert str(plans[column].dtype) == "datetime64[ns]", column
    assert str(rows["due_on"].dtype) == "datetime64[ns]"
    assert len(rows) == 2 + 4 + 1
    assert list(rows.columns) == ["patient_id", *tables.INSTALLMENTS.fields()]
    if amounts == "float":
        assert plans["remaining"].dtype == "float64"
        assert plans.loc["PL1", "remaining"] == 200.0
        assert plans.loc["PL2", "next_due_amount"] != plans.loc["PL2", "next_due_amount"]  # NaN
    else:
        assert plans.loc["PL1", "remaining"] == Decimal("200.00")
        assert rows["paid"].sum() == Decimal("190.00")  # what counts: 100.00 + 90.00
        assert plans.loc["PL2", "status"] == "COMPLETED"


def test_from_frames_reads_a_plans_table_and_posts_it_in_day_order() -> None:
    """Plans survive the DataFrame importer too: a plans table (the CSV importer's header
    names, appointments as text or as a list, installments as text or int), posted on their
    ``created_on`` before the plan payments that name them."""
    visits = pd.DataFrame(
        {"visit_id": ["A1", "A2"], "patient_id": ["P1", "P1"], "date": ["2025-01-05"] * 2}
    )
    charges = pd.DataFrame(
        {"charge_id": ["C1", "C2"], "appointment_id": ["A1", "A2"], "amount": ["300.00", "60"]}
    )
    plans = pd.DataFrame(
        {
            "payment_plan_id": ["PL1", "PL2"],
            "patient_id": ["P1", "P1"],
            "amount": [None, "60.00"],
            "installments": ["3", 2],
            "first_due": ["2025-02-01", "2025-02-15"],
            "created_on": ["2025-01-10", "2025-01-11"],
            "appointment_ids": ["A1", ["A2"]],
        }
    )
    # The plan payment is listed first; it is posted after its plan (created on 1/10).
    payments = pd.DataFrame(
        {
            "payment_id": ["PAY1"],
            "patient_id": ["P1"],
            "amount": ["100.00"],
            "received_on": ["2025-02-01"],
            "plan_id": ["PL1"],
        }
    )
    ledger = frames.from_frames(visits, charges, payments, plans=plans)

    by_hand = pl.Ledger.empty()
    for aid in ("A1", "A2"):
        by_hand = pl.add_appointment(by_hand, pl.Appointment(aid, "P1", D(2025, 1, 5)))
    for aid, cid, cents in (("A1", "C1", "300.00"), ("A2", "C2", "60")):
        by_hand = pl.add_charge(by_hand, pl.Charge(cid, aid, usd(cents)))
    by_hand = pl.create_payment_plan(
        by_hand, pl.PaymentPlan("PL1", "P1", None, 3, D(2025, 2, 1), D(2025, 1, 10), ("A1",))
    )
    by_hand = pl.create_payment_plan(
        by_hand,
        pl.PaymentPlan("PL2", "P1", usd("60.00"), 2, D(2025, 2, 15), D(2025, 1, 11), ("A2",)),
    )
    by_hand = pl.post_payment(
        by_hand, pl.Payment("PAY1", "P1", usd("100.00"), D(2025, 2, 1), plan_id="PL1")
    )
    assert ledger.events == by_hand.events
    status = {p.plan_id: p for p in pl.payment_plans(ledger, "P1", on=D(2025, 2, 2))}
    assert status["PL1"].paid == usd("100.00")
    assert status["PL2"].amount == usd("60.00")


@pytest.mark.parametrize("count", ["three", 2.0, True, "-1"])
def test_from_frames_refuses_installments_that_are_not_a_whole_number(count: object) -> None:
    plans = pd.DataFrame(
        {
            "plan_id": ["PL1"],
            "patient_id": ["P1"],
            "amount": ["10.00"],
            "installments": [count],
            "first_due": ["2025-02-01"],
            "created_on": ["2025-01-10"],
        }
    )
    with pytest.raises(pl.InvalidInputError, match=r"plans row 0.*installments"):
        frames.from_frames(plans=plans)
