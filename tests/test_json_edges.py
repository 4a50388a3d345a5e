"""JSON at a service's edges (issue 26, item 2): errors as plain data, request bodies by the
CSV importer's one parser, the claims feed with its line items."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.adapters import imports
from patient_ledger.errors import JournalError, StoreError
from tests.test_imports import AMOUNTS, PAYMENTS_HEAD, run, write

ON = datetime.date(2025, 3, 3)


def test_as_dict_is_plain_json() -> None:
    error = pl.InsufficientUnallocatedError(
        "not enough",
        id="PAY1",
        requested=Money("12.5", "USD"),
        available=Money("10.00", "USD"),
        on=ON,
        method=pl.PaymentMethod.CASH,
        ids=("A", "B"),
        payment=pl.Payment("PAY1", "P1", Money("1.00", "USD"), ON),
    )
    data = error.as_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON, nothing lost
    assert data["code"] == "insufficient_unallocated"
    assert data["message"] == "not enough"
    details = data["details"]
    assert details["requested"] == "12.5"
    assert details["available"] == "10.00"
    assert details["on"] == "2025-03-03"
    assert details["method"] == "CASH"
    assert details["ids"] == ["A", "B"]
    assert details["payment"]["amount"] == "1.00"
    assert details["payment"]["received_on"] == "2025-03-03"
    assert pl.InvalidAmountError("x", amount=Money("1E+2", "USD")).as_dict()["details"] == {
        "amount": "100"
    }  # never an exponent


def test_every_error_of_a_command_serializes() -> None:
    ledger = pl.post_payment(pl.Ledger.empty(), pl.Payment("PAY1", "P1", Money("5.00", "USD"), ON))
    attempts = [
        lambda: pl.post_payment(ledger, pl.Payment("PAY1", "P1", Money("6.00", "USD"), ON)),
        lambda: pl.refund(ledger, pl.Payment("R1", "P1", Money("-9.00", "USD"), ON, type="REFUND")),
        lambda: pl.post_payment(ledger, pl.Payment("PAY2", "P1", Money("1", "EUR"), ON)),
    ]
    for attempt in attempts:
        with pytest.raises(pl.LedgerError) as info:
            attempt()
        data = info.value.as_dict()
        assert json.loads(json.dumps(data)) == data
        assert data["code"] == info.value.code.value
        assert data["message"] == str(info.value)
    journal_error = JournalError("bad", line=3).as_dict()
    assert journal_error == {
        "code": "corrupt_journal",
        "message": "line 3: bad",
        "details": {"line": 3},
    }
    assert StoreError("closed", path=Path("/x")).as_dict()["details"] == {"path": "/x"}


def test_a_body_is_read_by_the_importers_rules() -> None:
    body = {
        "id": "PAY1",
        "patient_id": "P1",
        "amount": "-20.00",
        "received_on": "2025-03-01",
        "method": "credit card",
        "appointment_id": "  ",
    }
    value = pl.parse_record("payments", body, "USD")
    assert value.type is pl.PaymentType.REFUND  # a negative amount with no type is a refund
    assert value.method is pl.PaymentMethod.CREDIT_CARD
    assert value.appointment_id is None  # blank is missing
    assert pl.parse_record("payments", body | {"amount": 20}, "USD").amount == Money("20", "USD")
    visit = pl.parse_record("visits", {"id": "V1", "patient_id": "P1", "date": "2025-03-03"}, "USD")
    assert visit == pl.Appointment("V1", "P1", ON)
    charge = pl.parse_record(
        "charges", {"id": "C1", "appointment_id": "V1", "amount": "9.50"}, "USD"
    )
    assert charge.amount == Money("9.50", "USD")
    adjustment = pl.parse_record(
        "adjustments", {"id": "J1", "charge_id": "C1", "amount": "-1.00", "on": "2025-03-03"}, "USD"
    )
    assert adjustment.amount == Money("-1.00", "USD")


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"amount": 10.5}, pl.InvalidAmountError, "not the number 10.5"),
        ({"amount": True}, pl.InvalidInputError, "amount must be a string, got bool"),
        ({"amount": ["1"]}, pl.InvalidInputError, "got list"),
        ({"extra": "1"}, pl.InvalidInputError, "unknown field of a payment: 'extra'"),
        ({"id": None}, pl.InvalidInputError, "id is empty"),
        ({"received_on": "20250301"}, pl.InvalidInputError, "write YYYY-MM-DD"),
        ({"method": "bitcoin"}, pl.InvalidInputError, "BITCOIN"),
    ],
)
def test_a_bad_body_is_refused(change: dict[str, object], error: type, message: str) -> None:
    body = {"id": "PAY1", "patient_id": "P1", "amount": "1.00", "received_on": "2025-03-01"}
    with pytest.raises(error, match=message):
        pl.parse_record("payments", body | change, "USD")


def test_bad_kinds_and_bodies() -> None:
    with pytest.raises(pl.InvalidInputError, match="unknown kind of record 'refunds'"):
        pl.parse_record("refunds", {}, "USD")
    with pytest.raises(pl.InvalidInputError, match="is a JSON object, got list"):
        pl.parse_record("payments", [], "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("method", ["credit card", "CASH", "bitcoin", ""])
def test_a_body_and_a_csv_row_get_one_verdict(tmp_path: Path, amount: str, method: str) -> None:
    """The same payment as a CSV row and as a body: accepted alike, or refused alike with the
    same message (the CSV's naming its file and line first, and after it, where a declaration
    would read the cell, that declaration: a body takes none)."""
    source = write(tmp_path, "p.csv", PAYMENTS_HEAD + f"T1,P1,{amount},2025-03-03,{method},,\n")
    code, err = run("import-payments", str(source), "--journal", str(tmp_path / "j.jsonl"))
    body = {"id": "T1", "patient_id": "P1", "amount": amount, "received_on": "2025-03-03"}
    try:
        value = pl.parse_record("payments", body | {"method": method}, "USD")
        submit = pl.refund if value.type is pl.PaymentType.REFUND else pl.post_payment
        submit(pl.Ledger.empty(), value)
    except pl.LedgerError as error:
        assert code == 1
        assert f"{source} line 2: {error}" in err
    else:
        assert code == 0, err


def test_parse_record_is_the_importers_parser() -> None:
    assert imports.parse_record is pl.parse_record
    assert imports._BUILD["payments"] is imports._payment  # one parser for rows and bodies


def test_the_claims_feed_with_its_lines_as_json() -> None:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", ON))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", Money("100.00", "USD"), "99213", "Visit"))
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY1", "P1", Money("30.00", "USD"), ON, appointment_id="A1")
    )
    data = pl.claims_feed_with_lines(ledger, "P1").as_dicts()
    assert json.loads(json.dumps(data)) == data
    assert data == [
        {
            "appointment_id": "A1",
            "date": "2025-03-03",
            "patient_responsibility": "100.00",
            "paid": "30.00",
            "balance_due": "70.00",
            "appointment_unallocated": "0.00",
            "patient_unallocated": "0.00",
            "line_items": [
                {
                    "charge_id": "C1",
                    "appointment_id": "A1",
                    "code": "99213",
                    "description": "Visit",
                    "responsibility": "100.00",
                    "paid": "30.00",
                    "balance_due": "70.00",
                }
            ],
        }
    ]
