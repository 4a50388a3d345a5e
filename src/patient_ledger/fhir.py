"""FHIR R4 export: a patient's Account and a PaymentReconciliation per payment (a shell).

``to_fhir(ledger, patient_id)`` returns a FHIR ``Bundle`` (type ``collection``) as plain dicts:

* one ``Account`` (status ``active``, type ``PBILLACCT``, subject ``Patient/<id>``) whose
  extensions carry the dashboard's figures as ``valueMoney``;
* one ``PaymentReconciliation`` per payment and refund of the patient: ``paymentAmount`` is the
  payment (negative for a refund), ``status`` is ``cancelled`` once reversed, and each
  ``detail`` says where the money is now — ``payment`` (allocated to the appointment named in
  ``request``), ``advance`` (held unallocated) or ``adjustment`` (a refund) — with the codes of
  ``http://terminology.hl7.org/CodeSystem/payment-type``.

Money is ``{"value": Decimal, "currency": "USD"}``: exact. ``fhir_json`` writes the bundle as
JSON text with the values as exact JSON numbers (never through float).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from moneyed import Money

from patient_ledger.events import PaymentPosted, RefundPosted
from patient_ledger.state import Ledger
from patient_ledger.views import DASHBOARD_FIELDS, claims_feed, dashboard, payment_status

PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
EXTENSION = "https://patient-ledger.readthedocs.io/fhir/StructureDefinition/"


def _money(money: Money) -> dict[str, Any]:
    return {"value": money.amount, "currency": money.currency.code}


def _detail(code: str, amount: Money, appointment_id: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "type": {"coding": [{"system": PAYMENT_TYPE, "code": code}]},
        "amount": _money(amount),
    }
    if appointment_id is not None:
        detail["request"] = {"reference": f"Appointment/{appointment_id}"}
    return detail


def to_fhir(ledger: Ledger, patient_id: str) -> dict[str, Any]:
    """The patient's Account and PaymentReconciliation resources, as a collection Bundle."""
    d = dashboard(ledger, patient_id)  # also refuses an unknown patient
    account = {
        "resourceType": "Account",
        "id": f"patient-{patient_id}",
        "status": "active",
        "type": {
            "coding": [
                {"system": ACT_CODE, "code": "PBILLACCT", "display": "patient billing account"}
            ]
        },
        "name": f"Patient payments of {patient_id}",
        "subject": [{"reference": f"Patient/{patient_id}"}],
        "extension": [
            {"url": EXTENSION + name.replace("_", "-"), "valueMoney": _money(getattr(d, name))}
            for name in DASHBOARD_FIELDS
        ],
    }
    resources: list[dict[str, Any]] = [account]
    appointments = {row.appointment_id for row in claims_feed(ledger, patient_id)}
    for event in ledger.events:
        if not isinstance(event, PaymentPosted | RefundPosted):
            continue
        payment = event.payment
        if payment.patient_id != patient_id:
            continue
        status = payment_status(ledger, payment.id)
        details = [
            _detail("payment", amount, appointment_id)
            for appointment_id, amount in status.allocated
            if appointment_id in appointments
        ]
        kind = "adjustment" if isinstance(event, RefundPosted) else "advance"
        details += [
            _detail(kind, amount, appointment_id)
            for holder, appointment_id, amount in status.held
            if holder == patient_id
        ]
        reversed_ = status.reversed_on is not None
        resource: dict[str, Any] = {
            "resourceType": "PaymentReconciliation",
            "id": f"payment-{payment.id}",
            "status": "cancelled" if reversed_ else "active",
            "created": payment.received_on.isoformat(),
            "paymentDate": payment.received_on.isoformat(),
            "paymentAmount": _money(payment.amount),
            "outcome": "complete",
            "disposition": f"{payment.type.value} by {payment.method.value}"
            + (" (reversed)" if reversed_ else ""),
            "detail": details,
        }
        if payment.reference:
            resource["paymentIdentifier"] = {"value": payment.reference}
        resources.append(resource)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }


_MARK = "__exact_decimal__"
_NUMBER = re.compile(f'"{_MARK}(-?[0-9]+(?:\\.[0-9]+)?)"')


def fhir_json(bundle: dict[str, Any], *, indent: int | None = None) -> str:
    """The bundle as JSON text, every money value an exact JSON number."""

    def exact(value: object) -> str:
        if isinstance(value, Decimal):
            return _MARK + format(value, "f")
        msg = f"not JSON serializable: {value!r}"
        raise TypeError(msg)

    return _NUMBER.sub(r"\1", json.dumps(bundle, default=exact, indent=indent))
