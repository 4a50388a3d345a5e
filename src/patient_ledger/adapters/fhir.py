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
JSON text with the values as exact JSON numbers (never through float), every string escaped.

FHIR ids are 1 to 64 of ``A-Z a-z 0-9 - .``; our ids may hold anything else. :func:`fhir_id`
maps them, the same way in resource ids and in references (``Patient/``, ``Appointment/``,
``ChargeItem/``): letters, digits and ``-`` are kept; every other character is written as ``.``
and two lowercase hex digits per byte of its UTF-8 (``a_b`` → ``a.5fb``, ``.`` → ``.2e``); an
id that would then be longer than 64 characters becomes its prefix, ``.x`` and the first hex
digits of the SHA-256 of its UTF-8 (``.x`` never comes out of the escaping). Distinct ids stay
distinct; ids of ASCII letters, digits and ``-`` are unchanged. Names and displays keep the ids
as they are (JSON strings may hold anything).
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from moneyed import Money

from patient_ledger.events import PaymentPosted, PlanPaymentPosted, RefundPosted
from patient_ledger.report._html import code_and_description
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


#: The characters a FHIR id keeps as they are.
_ID_KEPT = frozenset(string.ascii_letters + string.digits + "-")
_ID_LENGTH = 64


def fhir_id(ours: str, prefix: str = "") -> str:
    """A valid FHIR id for one of our ids, distinct for distinct ids (see the module's doc).

    >>> fhir_id("PAY1", "payment-"), fhir_id("a_b c"), fhir_id("José")
    ('payment-PAY1', 'a.5fb.20c', 'Jos.c3.a9')
    """
    escaped = "".join(
        char if char in _ID_KEPT else "".join(f".{byte:02x}" for byte in _utf8(char))
        for char in ours
    )
    if len(prefix) + len(escaped) <= _ID_LENGTH:
        return prefix + escaped
    digest = hashlib.sha256(_utf8(ours)).hexdigest()
    return f"{prefix}.x{digest}"[:_ID_LENGTH]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _money(money: Money) -> dict[str, Any]:
    return {"value": money.amount, "currency": money.currency.code}


def _detail(
    code: str, amount: Money, appointment_id: str | None, line: LineItem | None = None
) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if line is not None:
        reference = {"reference": f"ChargeItem/{fhir_id(line.charge_id)}"}
        if display := code_and_description(line):
            reference["display"] = display
        detail["extension"] = [{"url": CHARGE_ITEM, "valueReference": reference}]
    detail["type"] = {"coding": [{"system": PAYMENT_TYPE, "code": code}]}
    if appointment_id is not None:
        detail["request"] = {"reference": f"Appointment/{fhir_id(appointment_id)}"}
    detail["amount"] = _money(amount)
    return detail


def to_fhir(ledger: Ledger, patient_id: str) -> dict[str, Any]:
    """The patient's Account and PaymentReconciliation resources, as a collection Bundle."""
    d = dashboard(ledger, patient_id)  # also refuses an unknown patient
    account = {
        "resourceType": "Account",
        "id": fhir_id(patient_id, "patient-"),
        "status": "active",
        "type": {
            "coding": [
                {"system": ACT_CODE, "code": "PBILLACCT", "display": "patient billing account"}
            ]
        },
        "name": f"Patient payments of {patient_id}",
        "subject": [{"reference": f"Patient/{fhir_id(patient_id)}"}],
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
        if not isinstance(event, PaymentPosted | PlanPaymentPosted | RefundPosted):
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
            "id": fhir_id(payment.id, "payment-"),
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


def fhir_json(bundle: dict[str, Any], *, indent: int | None = None) -> str:
    """The bundle as JSON text, every money value an exact JSON number, every string escaped
    (laid out as ``json.dumps`` lays it out, with or without ``indent``).

    Raises:
        TypeError: a value JSON cannot hold.
        ValueError: a money value that is not finite.
    """
    return "".join(_encoded(bundle, indent, 0))


def _encoded(value: object, indent: int | None, level: int) -> Iterator[str]:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
        yield format(value, "f")
    elif isinstance(value, dict | list | tuple):
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        opening, closing = "{}" if isinstance(value, dict) else "[]"
        if not items:
            yield opening + closing
            return
        inner = "" if indent is None else "\n" + " " * (indent * (level + 1))
        yield opening
        for number, (key, item) in enumerate(items):
            yield ("," if number else "") + (inner or (" " if number else ""))
            if isinstance(value, dict):
                if not isinstance(key, str):
                    raise TypeError(f"a JSON object's keys are strings, got {key!r}")
                yield json.dumps(key) + ": "
            yield from _encoded(item, indent, level + 1)
        yield ("" if indent is None else "\n" + " " * (indent * level)) + closing
    elif value is None or isinstance(value, str | int | bool):
        yield json.dumps(value)
    else:
        raise TypeError(f"not JSON serializable: {value!r}")
