"""FHIR R4 export: a patient's Account and a PaymentReconciliation per payment (a shell).

``to_fhir(ledger, patient_id)`` returns a FHIR ``Bundle`` (type ``collection``) as plain dicts:

* one ``Account`` (status ``active``, type ``PBILLACCT``, subject ``Patient/<id>``) whose
  extensions carry the dashboard's figures as ``valueMoney``;
* one ``PaymentReconciliation`` per payment and refund of the patient: ``paymentAmount`` is the
  payment (negative for a refund), ``status`` is ``cancelled`` once reversed, and each
  ``detail`` says where the money is now (``allocations``: one detail per place the patient
  holds) — ``payment`` (allocated to a line of the appointment named in ``request``),
  ``advance`` (held unallocated: in the appointment's bucket when ``request`` names one, else
  in the general bucket) or ``adjustment`` (a refund's open entry) — with the codes of
  ``http://terminology.hl7.org/CodeSystem/payment-type``.

  A ``payment`` detail names its line with an extension (``detail`` is a BackboneElement, so
  R4 allows ``extension`` on it; ``request`` keeps naming the ``Appointment``, as before)::

      {"url": "https://patient-ledger.readthedocs.io/fhir/StructureDefinition/charge-item",
       "valueReference": {"reference": "ChargeItem/<charge id>",
                          "display": "<code> <description>"}}

  ``display`` is left out when the charge has neither. A payment split over two lines has
  two ``payment`` details, one per line, in the order the money was first placed.

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
from patient_ledger.views import (
    DASHBOARD_FIELDS,
    LineItem,
    allocations,
    dashboard,
    line_items,
    payment_status,
)

PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
EXTENSION = "https://patient-ledger.readthedocs.io/fhir/StructureDefinition/"
#: The extension on a ``PaymentReconciliation.detail`` that names the line paid.
CHARGE_ITEM = EXTENSION + "charge-item"


def _money(money: Money) -> dict[str, Any]:
    return {"value": money.amount, "currency": money.currency.code}


def _detail(
    code: str, amount: Money, appointment_id: str | None, line: LineItem | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if line is not None:
        reference = {"reference": f"ChargeItem/{line.charge_id}"}
        if display := " ".join(part for part in (line.code, line.description) if part):
            reference["display"] = display
        detail["extension"] = [{"url": CHARGE_ITEM, "valueReference": reference}]
    detail["type"] = {"coding": [{"system": PAYMENT_TYPE, "code": code}]}
    if appointment_id is not None:
        detail["request"] = {"reference": f"Appointment/{appointment_id}"}
    detail["amount"] = _money(amount)
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
    lines: dict[str, LineItem] = {}  # the lines of the appointments paid, by charge id

    def line(appointment_id: str, charge_id: str) -> LineItem:
        if charge_id not in lines:
            lines.update((item.charge_id, item) for item in line_items(ledger, appointment_id))
        return lines[charge_id]

    for event in ledger.events:
        if not isinstance(event, PaymentPosted | RefundPosted):
            continue
        payment = event.payment
        if payment.patient_id != patient_id:
            continue
        held = "adjustment" if isinstance(event, RefundPosted) else "advance"
        details = [
            _detail(held, place.amount, place.appointment_id)
            if place.charge_id is None or place.appointment_id is None
            else _detail(
                "payment",
                place.amount,
                place.appointment_id,
                line(place.appointment_id, place.charge_id),
            )
            for place in allocations(ledger, payment.id)
            if place.patient_id == patient_id  # money transferred away is the other's now
        ]
        status = payment_status(ledger, payment.id)
        reversed_ = status.reversed == payment.amount  # all of it taken back
        partly = bool(status.reversed) and not reversed_
        resource: dict[str, Any] = {
            "resourceType": "PaymentReconciliation",
            "id": f"payment-{payment.id}",
            "status": "cancelled" if reversed_ else "active",
            "created": payment.received_on.isoformat(),
            "paymentDate": payment.received_on.isoformat(),
            "paymentAmount": _money(payment.amount),
            "outcome": "complete",
            "disposition": f"{payment.type.value} by {payment.method.value}"
            + (" (reversed)" if reversed_ else " (partly reversed)" if partly else ""),
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
