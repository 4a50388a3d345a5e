"""The analyst's tools: compare, credit aging, dated balance history, pandas-native frames and
the DataFrame loader (issue 18)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from moneyed import Money

import patient_ledger as pl
from patient_ledger import testing
from patient_ledger.adapters import frames
from tests.helpers import appointment, charge, pay
from tests.test_exports import sample

D = datetime.date
pd = pytest.importorskip("pandas")


def usd(text: str) -> Money:
    return Money(text, "USD")


def clinic() -> pl.Ledger:
    """Two visits owing $40 and $100, and $100 on account."""
    ledger = pl.Ledger.empty()
    for aid, day, amount in (("V1", D(2025, 1, 10), "40.00"), ("V2", D(2025, 2, 10), "100.00")):
        ledger = pl.add_appointment(ledger, pl.Appointment(aid, "P1", day))
        ledger = pl.add_charge(ledger, pl.Charge(f"C{aid}", aid, usd(amount)))
    return pl.post_payment(ledger, pl.Payment("PAY1", "P1", usd("100.00"), D(2025, 3, 1)))


def scenarios() -> tuple[pl.Ledger, pl.Ledger]:
    base = clinic()
    oldest = pl.auto_allocate(base, "P1", on=D(2025, 3, 31))
    smallest = pl.auto_allocate(
        base, "P1", on=D(2025, 3, 31), order=pl.AllocationOrder.SMALLEST_FIRST
    )
    return oldest, smallest


def test_compare_two_policies_per_appointment() -> None:
    oldest, smallest = scenarios()
    # Oldest first: V1 gets 40, V2 gets 60. Smallest first: V1 (40) whole, V2 (100) skipped.
    found = {(d.appointment_id, d.figure): d for d in pl.compare(oldest, smallest)}
    assert set(found) == {
        (None, "allocated"),
        (None, "unallocated"),
        (None, "statement_balance"),
        ("V2", "paid"),
        ("V2", "balance_due"),
    }
    assert found[None, "allocated"].a == usd("100.00")
    assert found[None, "allocated"].b == usd("40.00")
    assert found["V2", "paid"].change == usd("-60.00")
    assert found["V2", "balance_due"].change == usd("60.00")
    assert not pl.compare(oldest, oldest)


def test_a_comparison_as_rows_a_frame_and_html() -> None:
    oldest, smallest = scenarios()
    comparison = pl.compare(oldest, smallest, names=("oldest first", "smallest first"))
    table = comparison.to_pandas()
    assert table.index.names == ["patient_id", "appointment_id", "figure"]
    assert list(table.columns) == ["oldest first", "smallest first", "change"]
    assert table.loc[("P1", "V2", "paid"), "change"] == Decimal("-60.00")
    floats = comparison.to_pandas(amounts="float")
    assert floats["change"].dtype == "float64"
    html = comparison._repr_html_()
    assert html.count("<tr>") == 1 + len(comparison)  # the header, then only what differs
    assert "balance_due" in html
    assert "total_paid" not in html  # the same in both: not shown
    assert "No figure differs" in pl.compare(oldest, oldest)._repr_html_()
    assert comparison.records()[0]["oldest first"] == Decimal("100.00")


def test_compare_a_patient_or_an_appointment_on_one_side_only() -> None:
    base = clinic()
    more = pl.add_appointment(base, pl.Appointment("V3", "P2", D(2025, 3, 5)))
    more = pl.add_charge(more, pl.Charge("CV3", "V3", usd("25.00")))
    rows = [(d.patient_id, d.appointment_id, d.figure, d.a, d.b) for d in pl.compare(base, more)]
    assert ("P2", None, "patient_responsibility", None, usd("25.00")) in rows
    assert ("P2", "V3", "balance_due", None, usd("25.00")) in rows
    assert all(pid == "P2" for pid, *_ in rows)
    with pytest.raises(pl.InvalidInputError):
        pl.compare(base, pl.Ledger.empty("EUR"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(testing.one_more_command())
def test_compare_shows_what_a_command_changed(case: tuple[pl.Ledger, testing.Step]) -> None:
    """The dashboard rows of ``compare(ledger, step(ledger))`` are the step's expected change,
    and every feed row agrees with the two feeds."""
    ledger, step = case
    after = step(ledger)
    comparison = pl.compare(ledger, after)
    dashboards: dict[str, dict[str, Money]] = {}
    for d in comparison:
        if d.appointment_id is None:
            dashboards.setdefault(d.patient_id, {})[d.figure] = d.change
    expected = {
        pid: {
            name: getattr(change, name)
            for name in frames.DASHBOARD_FIELDS
            if getattr(change, name).amount
        }
        for pid, change in step.expected.items()
    }
    assert dashboards == expected
    for d in comparison:
        if d.appointment_id is not None:
            assert (d.b or usd("0")) - (d.a or usd("0")) == d.change != usd("0")


def test_credit_aging_ages_unallocated_money_by_its_received_date() -> None:
    ledger = pl.post_payment(
        pl.Ledger.empty(), pl.Payment("OLD", "P1", usd("30.00"), D(2025, 1, 1))
    )
    ledger = pl.post_payment(ledger, pl.Payment("NEW", "P1", usd("20.00"), D(2025, 3, 20)))
    ledger = pl.refund(
        ledger, pl.Payment("R1", "P1", usd("-5.00"), D(2025, 2, 15), type=pl.PaymentType.REFUND)
    )
    aged = pl.credit_aging(ledger, "P1", on=D(2025, 4, 2))  # 91, 46 and 13 days
    assert (aged.current, aged.days_31_60, aged.days_61_90, aged.over_90) == (
        usd("20.00"),
        usd("-5.00"),
        usd("0.00"),
        usd("30.00"),
    )
    total = aged.current + aged.days_31_60 + aged.days_61_90 + aged.over_90
    assert total == pl.dashboard(ledger, "P1").unallocated


@pytest.mark.parametrize(
    "view",
    [
        pl.dashboard,
        pl.claims_feed,
        pl.unallocated_entries,
        lambda ledger, pid: pl.aging(ledger, pid, on=D(2025, 1, 1)),
        lambda ledger, pid: pl.credit_aging(ledger, pid, on=D(2025, 1, 1)),
        frames.balance_history,
    ],
)
def test_every_view_refuses_an_unknown_patient_alike(view: Any) -> None:
    with pytest.raises(pl.UnknownIdError, match="'NOBODY' is not in the ledger"):
        view(clinic(), "NOBODY")


def test_balance_history_has_dates() -> None:
    history = frames.balance_history(sample(), "P1")
    assert [(row["type"], row["date"]) for row in history][:4] == [
        ("AppointmentAdded", D(2025, 1, 22)),
        ("ChargeAdded", D(2025, 1, 22)),
        ("PaymentPosted", D(2025, 1, 22)),
        ("PaymentPosted", D(2025, 1, 23)),
    ]
    table = frames.frame(history, amounts="float", index="event")
    assert str(table["date"].dtype) == "datetime64[ns]"
    assert table["total_balance"].dtype == "float64"


def test_dataframes_are_pandas_native() -> None:
    ledger = sample()
    exact = frames.dataframes(ledger, amounts="decimal", on=D(2025, 3, 31))
    assert exact["dashboards"].index.name == "patient_id"
    assert exact["dashboards"].loc["P1", "allocated"] == Decimal("120.00")
    assert exact["claims_feed"].index.name == "appointment_id"
    assert str(exact["claims_feed"]["date"].dtype) == "datetime64[ns]"
    assert str(exact["unallocated_entries"]["received_on"].dtype) == "datetime64[ns]"
    assert exact["line_items"].index.name == "charge_id"
    assert set(exact) >= {"aging", "credit_aging"}
    floats = frames.dataframes(ledger, amounts="float")
    assert floats["dashboards"]["total_balance"].dtype == "float64"
    assert floats["dashboards"].loc["P1", "total_balance"] == 15.0
    with pytest.raises(pl.InvalidInputError):
        frames.dataframes(ledger, amounts="int")  # type: ignore[arg-type]


def frames_of_a_clinic() -> tuple[Any, Any, Any]:
    visits = pd.DataFrame(
        {
            "appointment_id": ["V1", "V2"],
            "patient_id": ["P1", "P1"],
            "date": pd.to_datetime(["2025-01-10", "2025-02-10"]),
            "provider": ["DR1", float("nan")],
        }
    )
    charges = pd.DataFrame(
        {
            "charge_id": ["CV1", "CV2"],
            "appointment_id": ["V1", "V2"],
            "amount": [Decimal("40.00"), "100.00"],
            "code": ["99213", None],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["PAY1", "R1"],
            "patient_id": ["P1", "P1"],
            "amount": ["100.00", "-10.00"],
            "received_on": [pd.Timestamp("2025-03-01"), "2025-03-02"],
            "type": ["PAYMENT", "REFUND"],
            "appointment_id": [float("nan"), None],
            "notes": [float("nan"), "overpaid"],
        }
    )
    return visits, charges, payments


def test_from_frames_reads_timestamps_and_nan_as_pandas_users_write_them() -> None:
    visits, charges, payments = frames_of_a_clinic()
    ledger = frames.from_frames(visits, charges, payments)
    expected = pl.add_appointment(
        pl.Ledger.empty(), pl.Appointment("V1", "P1", D(2025, 1, 10), "DR1")
    )
    expected = pl.add_appointment(expected, pl.Appointment("V2", "P1", D(2025, 2, 10)))
    expected = pl.add_charge(expected, pl.Charge("CV1", "V1", usd("40.00"), "99213"))
    expected = pl.add_charge(expected, pl.Charge("CV2", "V2", usd("100.00")))
    expected = pl.post_payment(expected, pl.Payment("PAY1", "P1", usd("100.00"), D(2025, 3, 1)))
    expected = pl.refund(
        expected,
        pl.Payment(
            "R1", "P1", usd("-10.00"), D(2025, 3, 2), type=pl.PaymentType.REFUND, notes="overpaid"
        ),
    )
    assert ledger == expected


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("charges", "amount", 40.0, "is a float"),
        ("charges", "amount", float("nan"), "column 'amount' is empty"),
        ("visits", "date", pd.Timestamp("2025-01-10 09:30"), "time of day"),
        ("visits", "patient_id", None, "column 'patient_id' is empty"),
        ("visits", "date", "10/01/2025", "is not a date: write YYYY-MM-DD"),
    ],
)
def test_from_frames_never_guesses(table: str, column: str, value: object, message: str) -> None:
    visits, charges, payments = frames_of_a_clinic()
    tables = {"visits": visits, "charges": charges, "payments": payments}
    tables[table] = tables[table].astype(object)
    tables[table].loc[0, column] = value
    with pytest.raises(pl.InvalidInputError, match=message) as caught:
        frames.from_frames(**tables)
    assert f"{table} row 0, column {column!r}" in str(caught.value)


def test_from_frames_refuses_a_float_column_as_read_csv_makes_it() -> None:
    visits, charges, _ = frames_of_a_clinic()
    charges["amount"] = [40.0, 100.0]
    with pytest.raises(pl.InvalidInputError, match=r"dtype=\{\"amount\": str\}"):
        frames.from_frames(visits, charges)
    with pytest.raises(pl.InvalidInputError, match="has no column 'patient_id'"):
        frames.from_frames(visits.drop(columns="patient_id"))


def test_balance_history_by_day_and_by_month_end() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1", day=datetime.date(2025, 1, 10))
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1", day=datetime.date(2025, 1, 15))
    ledger = pay(ledger, "PAY2", "20.00", "A1", day=datetime.date(2025, 1, 15))
    ledger = pay(ledger, "PAY3", "10.00", "A1", day=datetime.date(2025, 3, 2))
    every = frames.balance_history(ledger, "P1")
    daily = frames.balance_history(ledger, "P1", freq="D")
    assert [row["date"] for row in daily] == [
        datetime.date(2025, 1, 10),
        datetime.date(2025, 1, 15),
        datetime.date(2025, 3, 2),
    ]
    assert daily[1] == every[3]  # the last of Jan 15: after PAY2
    assert daily[1]["total_paid"] == Decimal("50.00")
    monthly = frames.balance_history(ledger, "P1", freq="M")
    assert [(row["date"], row["statement_balance"]) for row in monthly] == [
        (datetime.date(2025, 1, 31), Decimal("50.00")),
        (datetime.date(2025, 3, 31), Decimal("40.00")),
    ]
    late = pay(ledger, "LATE", "5.00", "A1", day=datetime.date(2025, 2, 1))
    assert len(frames.balance_history(late, "P1")) == len(every) + 1
    with pytest.raises(pl.DateOrderError, match="PaymentPosted"):
        frames.balance_history(late, "P1", freq="M")
    with pytest.raises(pl.InvalidInputError):
        frames.balance_history(ledger, "P1", freq="W")  # type: ignore[arg-type]


def test_compare_side_by_side_keeps_the_figures_that_did_not_change() -> None:
    before = pay(appointment(pl.Ledger.empty(), "A1"), "PAY1", "50.00")
    after = pay(before, "PAY2", "5.00", pid="P2")
    changed = pl.compare(before, after)
    every = pl.compare(before, after, unchanged=True)
    assert {d.patient_id for d in changed} == {"P2"}
    p1 = [d for d in every if d.patient_id == "P1"]
    assert len(p1) == 6 + 4  # six dashboard figures, four of its one appointment's
    assert all(d.a == d.b and not d.change.amount for d in p1)
    assert [d for d in every if d.change.amount] == list(changed)
