"""Exports: records and DataFrames, and FHIR R4 resources checked against the R4 structure."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any

import pytest

import patient_ledger as pl
from patient_ledger.adapters import fhir, frames
from patient_ledger.cli.demo import month_at_the_practice, play, seed_walkthrough
from tests.test_views import two_line_visit


def sample() -> pl.Ledger:
    ledger = pl.Ledger.empty()
    for _, ledger in play(seed_walkthrough() + month_at_the_practice()):  # noqa: B007
        pass
    return ledger


def test_records_and_dataframes() -> None:
    ledger = sample()
    tables = frames.records(ledger, on=datetime.date(2025, 3, 31))
    dashboards = {row["patient_id"]: row for row in tables["dashboards"]}
    assert dashboards["P1"]["total_balance"] == Decimal("15.00")
    assert {r["patient_id"] for r in tables["claims_feed"]} <= set(pl.patients(ledger))
    assert any(r["appointment_unallocated"] == Decimal("20.00") for r in tables["claims_feed"])
    assert tables["aging"]
    pd = pytest.importorskip("pandas")
    data = frames.to_pandas(ledger)
    assert isinstance(data["claims_feed"], pd.DataFrame)
    assert list(data["dashboards"]["patient_id"]) == list(pl.patients(ledger))
    assert data["dashboards"].set_index("patient_id").loc["P1", "allocated"] == Decimal("120.00")


def test_balance_history_follows_the_journal() -> None:
    history = frames.balance_history(sample(), "P1")
    assert [row["type"] for row in history][:3] == [
        "AppointmentAdded",
        "ChargeAdded",
        "PaymentPosted",
    ]
    assert [str(row["unallocated"]) for row in history] == [
        "0.00",
        "0.00",
        "0.00",
        "200.00",
        "220.00",
        "200.00",
        "0.00",
    ]
    assert history[-1]["total_balance"] == Decimal("15.00")


# -- FHIR R4 ---------------------------------------------------------------------------------

CODE = re.compile(r"^[^\s]+(\s[^\s]+)*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
ACCOUNT_STATUS = {"active", "inactive", "entered-in-error", "on-hold", "unknown"}
RECONCILIATION_STATUS = {"active", "cancelled", "draft", "entered-in-error"}
OUTCOME = {"queued", "complete", "error", "partial"}
PAYMENT_TYPES = {"payment", "adjustment", "advance"}


def check_money(money: Any) -> None:
    assert set(money) == {"value", "currency"}, money
    assert isinstance(money["value"], Decimal)
    assert re.fullmatch(r"[A-Z]{3}", money["currency"])


def check_codeable(concept: Any, system: str, codes: set[str]) -> None:
    [coding] = concept["coding"]
    assert coding["system"] == system
    assert coding["code"] in codes
    assert CODE.match(coding["code"])


def check_account(resource: dict[str, Any]) -> None:
    assert resource["status"] in ACCOUNT_STATUS  # 1..1
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"])
    check_codeable(resource["type"], fhir.ACT_CODE, {"PBILLACCT"})
    for subject in resource["subject"]:
        assert REFERENCE.match(subject["reference"])
    for extension in resource["extension"]:
        assert extension["url"].startswith("https://")
        check_money(extension["valueMoney"])


def check_reconciliation(resource: dict[str, Any]) -> None:
    assert resource["status"] in RECONCILIATION_STATUS  # 1..1
    assert DATE.match(resource["created"])  # 1..1 (dateTime: a date is a valid partial)
    assert DATE.match(resource["paymentDate"])  # 1..1
    check_money(resource["paymentAmount"])  # 1..1
    assert resource["outcome"] in OUTCOME
    for detail in resource["detail"]:
        check_codeable(detail["type"], fhir.PAYMENT_TYPE, PAYMENT_TYPES)  # type 1..1
        check_money(detail["amount"])
        if "request" in detail:
            assert REFERENCE.match(detail["request"]["reference"])
        for extension in detail.get("extension", []):  # a BackboneElement's extensions
            assert extension["url"] == fhir.CHARGE_ITEM
            assert detail["type"]["coding"][0]["code"] == "payment"
            assert detail["request"]["reference"].startswith("Appointment/")
            reference = extension["valueReference"]
            assert set(reference) <= {"reference", "display"}
            assert reference["reference"].startswith("ChargeItem/")
            assert REFERENCE.match(reference["reference"])
            assert reference.get("display", "x").strip()


def test_fhir_bundle_follows_the_r4_structure() -> None:
    ledger = sample()
    for patient in pl.patients(ledger):
        bundle = fhir.to_fhir(ledger, patient)
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "collection"
        resources = [entry["resource"] for entry in bundle["entry"]]
        assert resources[0]["resourceType"] == "Account"
        check_account(resources[0])
        for resource in resources[1:]:
            assert resource["resourceType"] == "PaymentReconciliation"
            check_reconciliation(resource)
        text = fhir.fhir_json(bundle)
        assert json.loads(text, parse_float=Decimal) == bundle


def test_fhir_payments_say_where_the_money_is() -> None:
    ledger = sample()
    resources = {r["resource"]["id"]: r["resource"] for r in fhir.to_fhir(ledger, "P1")["entry"]}
    pay1 = resources["payment-PAY1"]
    assert pay1["paymentAmount"] == {"value": Decimal("100.00"), "currency": "USD"}
    assert [
        (d["type"]["coding"][0]["code"], d["request"]["reference"]) for d in pay1["detail"]
    ] == [("payment", "Appointment/A1")]
    assert resources["payment-R1"]["paymentAmount"]["value"] == Decimal("-200.00")
    assert resources["payment-R1"]["detail"] == []  # cancelled against PAY2
    tom = {r["resource"]["id"]: r["resource"] for r in fhir.to_fhir(ledger, "TOM")["entry"]}
    assert tom["payment-PAY20"]["status"] == "cancelled"
    assert tom["payment-PAY20"]["paymentIdentifier"] == {"value": "check 1042"}
    account = fhir.to_fhir(ledger, "ANA")["entry"][0]["resource"]
    unallocated = next(e for e in account["extension"] if e["url"].endswith("/unallocated"))
    assert unallocated["valueMoney"]["value"] == Decimal("20.00")
    with pytest.raises(pl.UnknownIdError):
        fhir.to_fhir(ledger, "NOBODY")


# -- Line items and allocations (issue 13) ---------------------------------------------------


def test_records_have_line_items_and_allocations() -> None:
    tables = frames.records(two_line_visit())
    assert tables["line_items"] == [
        {
            "patient_id": "P1",
            "appointment_id": "V1",
            "charge_id": "C1",
            "code": "99213",
            "description": "Office visit",
            "responsibility": Decimal("100.00"),
            "paid": Decimal("10.00"),
            "balance_due": Decimal("90.00"),
        },
        {
            "patient_id": "P1",
            "appointment_id": "V1",
            "charge_id": "C2",
            "code": "80053",
            "description": "Lab panel",
            "responsibility": Decimal("40.00"),
            "paid": Decimal("40.00"),
            "balance_due": Decimal("0.00"),
        },
    ]
    assert [
        (r["payment_id"], r["patient_id"], r["appointment_id"], r["charge_id"], r["amount"])
        for r in tables["allocations"]
    ] == [
        ("PAY1", "P1", "V1", "C2", Decimal("40.00")),  # the named line first
        ("PAY1", "P1", "V1", "C1", Decimal("10.00")),
        ("PAY2", "P1", None, None, Decimal("30.00")),
    ]
    pd = pytest.importorskip("pandas")
    data = frames.to_pandas(two_line_visit())
    lines = data["line_items"].set_index("charge_id")
    assert lines.loc["C2", "paid"] == Decimal("40.00")
    assert isinstance(lines.loc["C1", "balance_due"], Decimal)  # exact, not float
    assert isinstance(data["allocations"], pd.DataFrame)
    assert data["allocations"].groupby("charge_id")["amount"].sum().to_dict() == {
        "C1": Decimal("10.00"),
        "C2": Decimal("40.00"),
    }


def test_lines_and_allocations_add_up_to_the_feed_and_the_dashboard() -> None:
    for ledger in (sample(), two_line_visit()):
        tables = frames.records(ledger)
        feed = {r["appointment_id"]: r for r in tables["claims_feed"]}
        for field in ("paid", "balance_due"):
            sums = dict.fromkeys(feed, Decimal(0))  # an appointment without lines: zero
            for line in tables["line_items"]:
                sums[line["appointment_id"]] += line[field]
            assert sums == {a: r[field] for a, r in feed.items()}
        for dash in tables["dashboards"]:
            held = [
                a["amount"] for a in tables["allocations"] if a["patient_id"] == dash["patient_id"]
            ]
            assert sum(held, Decimal(0)) == dash["total_paid"], dash["patient_id"]


def test_fhir_names_the_line_each_payment_detail_pays() -> None:
    bundle = fhir.to_fhir(two_line_visit(), "P1")
    resources = {r["resource"]["id"]: r["resource"] for r in bundle["entry"]}
    for resource in resources.values():
        if resource["resourceType"] == "PaymentReconciliation":
            check_reconciliation(resource)
    pay1 = resources["payment-PAY1"]["detail"]
    assert [
        (
            d["type"]["coding"][0]["code"],
            d["request"]["reference"],
            [e["valueReference"] for e in d["extension"] if e["url"] == fhir.CHARGE_ITEM],
            d["amount"]["value"],
        )
        for d in pay1
    ] == [
        (
            "payment",
            "Appointment/V1",
            [{"reference": "ChargeItem/C2", "display": "80053 Lab panel"}],
            Decimal("40.00"),
        ),
        (
            "payment",
            "Appointment/V1",
            [{"reference": "ChargeItem/C1", "display": "99213 Office visit"}],
            Decimal("10.00"),
        ),
    ]
    [held] = resources["payment-PAY2"]["detail"]
    assert held["type"]["coding"][0]["code"] == "advance"
    assert "request" not in held
    assert "extension" not in held
    assert json.loads(fhir.fhir_json(bundle), parse_float=Decimal) == bundle
