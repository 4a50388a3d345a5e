"""``from_frames`` recognises the CSV importer's header names (issue 27, item 5): one table of
names, :data:`patient_ledger.imports.FIELDS`, read by both — every name the importer accepts
for a field is a column ``from_frames`` reads for it, matched the same way."""

from __future__ import annotations

import datetime

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger import frames, imports

pd = pytest.importorskip("pandas")

#: The frames in from_frames' own column names, each field given (a plan for the plan id).
CANONICAL = {
    "visits": {
        "appointment_id": ["V1", "V2"],
        "patient_id": ["P1", "P1"],
        "date": ["2025-01-10", "2025-01-12"],
        "provider": ["DR1", None],
    },
    "charges": {
        "charge_id": ["C1", "C2"],
        "appointment_id": ["V1", "V2"],
        "amount": ["100.00", "50.00"],
        "code": ["99213", None],
        "description": ["Office visit", None],
        "posted_on": ["2025-01-11", None],
    },
    "payments": {
        "payment_id": ["T1", "T2"],
        "patient_id": ["P1", "P1"],
        "amount": ["30.00", "20.00"],
        "received_on": ["2025-01-13", "2025-01-14"],
        "method": ["CHECK", "CASH"],
        "type": ["COPAY", "PAYMENT"],
        "appointment_id": ["V1", None],
        "charge_id": ["C1", None],
        "provider": ["DR1", None],
        "notes": ["at the desk", None],
        "reference": ["1001", None],
        "plan_id": [None, None],
    },
}
#: from_frames' column for the importer's ``id`` field of each table.
IDS = {"visits": "appointment_id", "charges": "charge_id", "payments": "payment_id"}


def tables(**renamed: dict[str, str]) -> dict[str, object]:
    return {
        name: pd.DataFrame(columns).rename(columns=renamed.get(name, {}))
        for name, columns in CANONICAL.items()
    }


def test_from_frames_reads_the_importers_table_of_names() -> None:
    """No second copy: the names ``from_frames`` reads are the importer's own table."""
    assert frames.FIELDS is imports.FIELDS
    assert frames.header_name is imports.header_name


CASES = [
    (table, IDS[table] if field.name == "id" else field.name, header)
    for table in CANONICAL
    for field in imports.FIELDS[table]
    for header in field.names
    if (IDS[table] if field.name == "id" else field.name) in CANONICAL[table]
]


@pytest.mark.parametrize(("table", "column", "header"), CASES)
def test_every_header_name_the_importer_accepts_is_read(
    table: str, column: str, header: str
) -> None:
    """Each field of each table under each name of the importer's list — as the importer
    writes it and as a spreadsheet heads it (``Visit ID``) — builds the same ledger."""
    expected = frames.from_frames(**tables())
    for shown in (header, header.replace("_", " ").title()):
        found = frames.from_frames(**tables(**{table: {column: shown}}))
        assert found == expected, (table, column, shown)


def test_the_export_names_from_the_issue() -> None:
    """The analyst's export: ``visit_id``, ``Payment Date``, ``post-date``, ``Payment Method``."""
    found = frames.from_frames(
        **tables(
            visits={"appointment_id": "visit_id"},
            charges={"appointment_id": "Visit ID", "posted_on": "post-date"},
            payments={"received_on": "Payment Date", "method": "Payment Method"},
        )
    )
    assert found == frames.from_frames(**tables())
    (charge,) = [e.charge for e in found.events if isinstance(e, pl.ChargeAdded)][:1]
    assert charge.posted_on == datetime.date(2025, 1, 11)


def test_a_name_column_is_not_taken_for_the_patient() -> None:
    """As in the importer: ``Patient`` may hold names, so it is not read as ``patient_id``."""
    with pytest.raises(pl.InvalidInputError, match="visits has no column 'patient_id'"):
        frames.from_frames(**tables(visits={"patient_id": "Patient"}))


def test_two_names_for_one_field_are_refused_naming_both() -> None:
    visits = pd.DataFrame(CANONICAL["visits"]).assign(visit_id=["V1", "V2"])
    with pytest.raises(pl.InvalidInputError) as caught:
        frames.from_frames(visits)
    assert "visits has both 'visit_id' and 'appointment_id'" in str(caught.value)
    charges = pd.DataFrame(CANONICAL["charges"]).rename(columns={"posted_on": "Post Date"})
    charges["entry-date"] = charges["Post Date"]
    with pytest.raises(pl.InvalidInputError, match="'Post Date' and 'entry-date'"):
        frames.from_frames(pd.DataFrame(CANONICAL["visits"]), charges)


def test_a_cell_is_named_by_its_column_as_the_frame_heads_it() -> None:
    payments = pd.DataFrame(CANONICAL["payments"]).rename(columns={"received_on": "Payment Date"})
    payments.loc[1, "Payment Date"] = "14/01/2025"
    with pytest.raises(pl.InvalidInputError, match="payments row 1, column 'Payment Date'"):
        frames.from_frames(
            pd.DataFrame(CANONICAL["visits"]), pd.DataFrame(CANONICAL["charges"]), payments
        )


def test_a_plan_payment_keeps_its_plan() -> None:
    ledger = frames.from_frames(**tables())
    ledger = pl.create_payment_plan(
        ledger,
        pl.PaymentPlan(
            "PL1", "P1", None, 2, datetime.date(2025, 2, 1), datetime.date(2025, 1, 20), ("V2",)
        ),
    )
    payments = pd.DataFrame(
        {
            "Payment ID": ["T3"],
            "MRN": ["P1"],
            "Amount": ["25.00"],
            "Payment Date": ["2025-02-01"],
            "Payment Plan ID": ["PL1"],
        }
    )
    ledger = frames.from_frames(payments=payments, ledger=ledger)
    (plan,) = pl.payment_plans(ledger, "P1", on=datetime.date(2025, 2, 2))
    assert plan.paid == Money("25.00", "USD")
