"""DrChrono's API exposes no payment plans (docs/drchrono.md): the importer reads none, and a
patient payment that carries plan fields is imported naming no plan, the summary saying which
fields it did not read."""

from __future__ import annotations

from typing import Any

import patient_ledger as pl
from patient_ledger import drchrono


def payment(**fields: Any) -> dict[str, Any]:
    return {"id": 7101, "patient": 1001, "amount": "50.00", "received_date": "2025-03-01"} | fields


def test_a_payment_without_plan_fields_has_nothing_ignored() -> None:
    _, summary = drchrono.import_records([], [], [payment(), payment(id=7102, plan_id=None)])
    assert summary.ignored == ()
    assert not any(line.startswith("fields not read") for line in summary.lines())


def test_plan_fields_are_named_and_the_payment_names_no_plan() -> None:
    records = [payment(payment_plan_id="12", plan={"id": 12}), payment(id=7102)]
    ledger, summary = drchrono.import_records([], [], records)
    (note,) = summary.ignored
    assert (note.kind, note.record_id) == ("patient_payment", "7101")
    assert note.reason.startswith("'payment_plan_id', 'plan' not read")
    assert "fields not read: 1" in summary.lines()
    posted = [e.payment for e in ledger.events if isinstance(e, pl.PaymentPosted)]
    assert [(p.id, p.plan_id) for p in posted] == [("7101", None), ("7102", None)]
    assert summary.reconciled
