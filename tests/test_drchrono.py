"""patient_ledger.drchrono: DrChrono API records in, a ledger and a reconciliation out."""

from __future__ import annotations

import copy
import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger import drchrono
from patient_ledger.cli import main
from patient_ledger.testing import assert_invariants

DATA = Path(__file__).parent / "data" / "drchrono"


def usd(text: str) -> Money:
    return Money(text, "USD")


def exported() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    return drchrono.load_directory(str(DATA))


def test_the_export_loads_with_the_expected_balances() -> None:
    appointments, items, payments = exported()
    ledger = drchrono.load(appointments, items, payments)
    assert pl.patients(ledger) == ("1001", "2002")  # the break (no patient) is skipped
    d = pl.dashboard(ledger, "1001")
    assert (d.total_paid, d.allocated, d.unallocated) == (usd("120"), usd("120"), usd("0"))
    assert (d.patient_responsibility, d.statement_balance, d.total_balance) == (
        usd("135"),
        usd("15"),
        usd("15"),
    )
    rows = {r.appointment_id: r for r in pl.claims_feed(ledger, "2002")}
    assert rows["RX-5003"].paid == usd("40.50")
    assert rows["RX-5003"].balance_due == usd("9.50")
    assert rows["5005"].appointment_unallocated == usd("25.00")  # a deposit, held
    assert pl.unallocated_entries(ledger, "1001")[0].payment_id == "7002"
    assert drchrono.reconcile(ledger, items) == ()
    assert_invariants(ledger)


def test_fields_are_mapped() -> None:
    ledger = drchrono.load(*exported())
    posted = {
        e.payment.id: e.payment
        for e in ledger.events
        if isinstance(e, pl.PaymentPosted | pl.RefundPosted)
    }
    assert posted["7001"].method is pl.PaymentMethod.CREDIT_CARD
    assert posted["7001"].type is pl.PaymentType.COPAY
    assert posted["7001"].reference == "ch_3Q1"
    assert posted["7001"].notes == "copay at check-in"
    assert posted["7001"].provider == "7"
    assert posted["7004"].type is pl.PaymentType.REFUND
    assert posted["7004"].amount == usd("-200")
    assert posted["7005"].appointment_id == "RX-5003"  # from its line item
    assert posted["7006"].method is pl.PaymentMethod.ONLINE
    assert posted["7006"].received_on == datetime.date(2025, 2, 20)
    charges = {e.charge.id: e.charge for e in ledger.events if isinstance(e, pl.ChargeAdded)}
    assert charges["9003"].code == "80053"
    assert charges["9003"].description == "Comprehensive metabolic panel"
    assert charges["9003"].amount == usd("50.00")
    booked = {
        e.appointment.id: e.appointment for e in ledger.events if isinstance(e, pl.AppointmentAdded)
    }
    assert booked["5002"] == pl.Appointment("5002", "1001", datetime.date(2025, 2, 5), "7")


def test_amounts_are_read_exactly_from_the_json_text() -> None:
    data = drchrono.read_json('{"amount": 0.1, "big": 12345678901234567.89}')
    assert data == {"amount": Decimal("0.1"), "big": Decimal("12345678901234567.89")}
    # A float that reached us anyway is read through its shortest repr, not its binary value.
    appointments, items, payments = exported()
    as_floats = copy.deepcopy(items)
    for item in as_floats:
        item["pt_paid"] = float(item["pt_paid"])
    ledger = drchrono.load(appointments, as_floats, payments)
    assert pl.dashboard(ledger, "2002").patient_responsibility == usd("50.00")


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_shuffling_the_input_lists_changes_no_balance(data: st.DataObject) -> None:
    appointments, items, payments = exported()
    expected = drchrono.load(appointments, items, payments)
    shuffled = drchrono.load(
        data.draw(st.permutations(appointments)),
        data.draw(st.permutations(items)),
        data.draw(st.permutations(payments)),
    )
    assert shuffled == expected  # the very same journal, not just the same balances


def broken(kind: str, record_id: object, **changes: object) -> list[list[dict[str, Any]]]:
    lists = [copy.deepcopy(x) for x in exported()]
    index = ["appointment", "line_item", "patient_payment"].index(kind)
    for record in lists[index]:
        if record["id"] == record_id:
            for field, value in changes.items():
                if value is ...:
                    del record[field]
                else:
                    record[field] = value
    return lists


@pytest.mark.parametrize(
    ("kind", "record_id", "changes", "error"),
    [
        ("patient_payment", 7002, {"amount": Decimal("200.005")}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"amount": 0}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"amount": "lots"}, pl.InvalidAmountError),
        ("patient_payment", 7002, {"payment_method": "BTC"}, pl.InvalidInputError),
        ("patient_payment", 7002, {"payment_transaction_type": "GIFT"}, pl.InvalidInputError),
        ("patient_payment", 7002, {"appointment": 404}, pl.UnknownIdError),
        ("patient_payment", 7005, {"line_item": 404}, pl.UnknownIdError),
        ("patient_payment", 7002, {"patient": ...}, pl.InvalidInputError),
        ("patient_payment", 7002, {"received_date": "soon"}, pl.InvalidInputError),
        ("patient_payment", 7004, {"amount": Decimal(-999)}, pl.InsufficientUnallocatedError),
        ("patient_payment", 7001, {"patient": 2002}, pl.PatientMismatchError),
        ("line_item", 9002, {"balance_pt": Decimal("0.001")}, pl.InvalidAmountError),
        ("line_item", 9002, {"appointment": 404}, pl.UnknownIdError),
        ("line_item", 9002, {"pt_paid": ...}, pl.InvalidInputError),
        ("appointment", "5001", {"scheduled_time": ...}, pl.InvalidInputError),
    ],
)
def test_a_malformed_record_is_refused_naming_its_id(
    kind: str, record_id: object, changes: dict[str, object], error: type[pl.LedgerError]
) -> None:
    with pytest.raises(error) as caught:
        drchrono.load(*broken(kind, record_id, **changes))
    assert f"{kind} record '{record_id}'" in str(caught.value)


def test_reconcile_reports_each_disagreement() -> None:
    appointments, items, payments = exported()
    ledger = drchrono.load(appointments, items, payments)
    theirs = copy.deepcopy(items)
    theirs[1]["pt_paid"] = Decimal("25.00")
    theirs[1]["balance_pt"] = Decimal("10.00")
    assert drchrono.reconcile(ledger, theirs) == (
        drchrono.Discrepancy(
            appointment_id="5002", field="paid", ours=usd("20.00"), theirs=usd("25.00")
        ),
        drchrono.Discrepancy(
            appointment_id="5002", field="balance_due", ours=usd("15.00"), theirs=usd("10.00")
        ),
    )


def test_records_accepts_lists_pages_and_lists_of_pages() -> None:
    rows = [{"id": 1}, {"id": 2}]
    assert drchrono.records(rows) == rows
    assert drchrono.records({"results": rows, "next": None}) == rows
    assert drchrono.records([{"results": rows[:1]}, {"results": rows[1:]}]) == rows
    with pytest.raises(pl.InvalidInputError):
        drchrono.records("nope")


def test_import_drchrono_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "practice.jsonl"
    assert main(["import-drchrono", str(DATA), "--journal", str(out)]) == 0
    text = capsys.readouterr().out
    assert "reconciled" in text
    assert main(["verify", str(out)]) == 0
