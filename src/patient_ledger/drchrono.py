"""Speak DrChrono: build a ledger from its REST API records, and reconcile its balances.

``load(appointments, line_items, patient_payments)`` takes the ``results`` lists of
``/api/appointments``, ``/api/line_items`` and ``/api/patient_payments`` as the API returns
them, and ``reconcile(ledger, line_items)`` compares our paid and balance-due figures per
appointment with DrChrono's own ``pt_paid`` and ``balance_pt``.

Mapping (see ``docs/drchrono.md``):

* appointment → ``Appointment(str(id), str(patient), date of scheduled_time, str(doctor))``;
  breaks (no patient) are skipped;
* line item → ``Charge(str(id), str(appointment), pt_paid + balance_pt, code, description)``;
* patient payment → ``Payment(str(id), str(patient), amount, received_date, ...)`` on its
  appointment, or its line item's appointment when only ``line_item`` is given, or unallocated
  when neither; ``REF`` rows (negative amounts) go through ``refund``.

Amounts are exact: JSON numbers are read as ``Decimal`` from their text (:func:`read_json`);
a ``float`` that reached us anyway is read through its shortest ``repr`` — the number the JSON
text held — never through its binary expansion. A sub-cent or zero amount, an unknown code, an
unknown appointment or line item, or a missing field is an error naming the record's ``id``,
and nothing is half-loaded: ``load`` returns a ledger or raises.

Commands are applied in one documented order, so balances never depend on the order of the
input lists: every appointment (by date, then id), every charge (by its appointment's date,
then id), then every payment (by received date, then id); ids sort numerically when numeric.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from moneyed import Money

from patient_ledger.commands import add_appointment, add_charge, post_payment, refund
from patient_ledger.errors import InvalidAmountError, InvalidInputError, LedgerError, UnknownIdError
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import Ledger
from patient_ledger.values import Appointment, Charge, Payment, PaymentMethod, PaymentType
from patient_ledger.views import claims_feed, patients

#: DrChrono ``payment_method`` codes and the methods they map to.
METHODS: Mapping[str, PaymentMethod] = {
    "CASH": PaymentMethod.CASH,
    "CHCK": PaymentMethod.CHECK,
    "DBIT": PaymentMethod.DEBIT_CARD,
    "CRDT": PaymentMethod.CREDIT_CARD,
    "AMEX": PaymentMethod.CREDIT_CARD,
    "VISA": PaymentMethod.CREDIT_CARD,
    "MSTR": PaymentMethod.CREDIT_CARD,
    "DISC": PaymentMethod.CREDIT_CARD,
    "SQR1": PaymentMethod.CREDIT_CARD,  # Square (legacy): card payments
    "SQRE": PaymentMethod.CREDIT_CARD,  # Square
    "DRCP": PaymentMethod.CREDIT_CARD,  # DrChrono's own card processing
    "PTPA": PaymentMethod.ONLINE,  # patient payments, online
    "ONPT": PaymentMethod.ONLINE,  # the onpatient portal
    "OTHR": PaymentMethod.OTHER,
}

#: DrChrono ``payment_transaction_type`` codes and the types they map to.
TYPES: Mapping[str, PaymentType] = {
    "": PaymentType.PAYMENT,  # "Credit": money received
    "REF": PaymentType.REFUND,
    "COR": PaymentType.CORRECTION,
    "COPAY": PaymentType.COPAY,
    "COINSR": PaymentType.COINSURANCE,
    "OTHR": PaymentType.OTHER,
}


@attrs.frozen(kw_only=True)
class Discrepancy:
    """Our figure and DrChrono's for one appointment that do not agree."""

    appointment_id: str
    field: str  # "paid" or "balance_due"
    ours: Money
    theirs: Money


def read_json(text: str) -> Any:
    """Parse DrChrono JSON with every number as an exact ``Decimal`` (never a float)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def records(data: Any) -> list[dict[str, Any]]:
    """The records of an API answer: a list, a page with ``results``, or a list of pages."""
    if isinstance(data, dict) and "results" in data:
        return list(data["results"])
    if (
        isinstance(data, list)
        and data
        and all(isinstance(page, dict) and "results" in page for page in data)
    ):
        return [record for page in data for record in page["results"]]
    if isinstance(data, list):
        return list(data)
    msg = "expected a list of records, a page with 'results', or a list of pages"
    raise InvalidInputError(msg)


# -- reading one record ----------------------------------------------------------------------


class _Record:
    """One API record, read field by field; every error names its kind and id."""

    def __init__(self, kind: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise InvalidInputError(f"a {kind} record must be a JSON object, got {raw!r}")
        self.kind, self.raw = kind, raw
        self.id = self.key("id")

    def where(self) -> str:
        raw_id = self.raw.get("id")
        if isinstance(raw_id, Decimal) and raw_id == raw_id.to_integral_value():
            raw_id = int(raw_id)
        shown = str(raw_id) if isinstance(raw_id, int | str) and raw_id != "" else raw_id
        return f"{self.kind} record {shown!r}"

    def fail(self, message: str, error: type[LedgerError] = InvalidInputError) -> LedgerError:
        return error(f"{self.where()}: {message}", record=self.raw.get("id"))

    def get(self, field: str, *, required: bool = True) -> Any:
        value = self.raw.get(field)
        if value is None and required:
            raise self.fail(f"the required field {field!r} is missing")
        return value

    def key(self, field: str, *, required: bool = True) -> str | None:
        """An id field (int or str) as our id string."""
        value = self.get(field, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            raise self.fail(f"{field} must be an id, got {value!r}")
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise self.fail(f"{field} must be an id, got {value}")
            value = int(value)
        text = str(value).strip()
        if not text:
            raise self.fail(f"{field} is empty")
        return text

    def amount(self, field: str, currency: str) -> Decimal:
        value = self.get(field)
        if isinstance(value, bool):
            raise self.fail(f"{field} must be a number, got {value!r}")
        if isinstance(value, float):
            value = repr(value)  # the shortest text that reads back as this float: the JSON's
        try:
            exact = Decimal(value) if isinstance(value, int | str | Decimal) else None
        except InvalidOperation:
            exact = None
        if exact is None or not exact.is_finite():
            raise self.fail(f"{field} must be a number, got {value!r}", InvalidAmountError)
        try:
            to_minor(Money(exact, currency), f"{field}")
        except LedgerError as error:
            raise self.fail(str(error), InvalidAmountError) from None
        return exact

    def day(self, field: str) -> datetime.date:
        value = self.get(field)
        if not isinstance(value, str):
            raise self.fail(f"{field} must be a date string, got {value!r}")
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            raise self.fail(f"{field} {value!r} is not a date") from None

    def code(self, field: str, table: Mapping[str, Any], default: str) -> Any:
        value = self.raw.get(field)
        value = default if value is None else value
        if value not in table:
            codes = ", ".join(repr(c) for c in table)
            raise self.fail(f"unknown {field} {value!r} (known: {codes})")
        return table[value]

    def text(self, field: str) -> str | None:
        value = self.raw.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{field} must be a string, got {value!r}")
        return value


def _id_order(text: str) -> tuple[int, int, str]:
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


# -- loading ---------------------------------------------------------------------------------


def load(
    appointments: Iterable[Mapping[str, Any]],
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]],
    *,
    currency: str = "USD",
) -> Ledger:
    """Build a ledger from DrChrono API records (the ``results`` lists).

    Raises:
        LedgerError: a malformed or inconsistent record, naming its kind and ``id``. Nothing is
            returned half-loaded.
    """
    ledger = Ledger.empty(currency)
    code = ledger.currency
    booked: dict[str, Appointment] = {}
    for raw in appointments:
        record = _Record("appointment", raw)
        if record.raw.get("patient") is None:
            continue  # a break in the schedule, not a visit
        with _about(record):
            appointment = Appointment(
                str(record.id),
                str(record.key("patient")),
                record.day("scheduled_time"),
                record.key("doctor", required=False),
            )
        booked[appointment.id] = appointment
    charges: dict[str, Charge] = {}
    for raw in line_items:
        record = _Record("line_item", raw)
        appointment_id = str(record.key("appointment"))
        if appointment_id not in booked:
            msg = f"its appointment {appointment_id!r} is not among the appointments"
            raise record.fail(msg, UnknownIdError)
        with _about(record):
            amount = record.amount("pt_paid", code) + record.amount("balance_pt", code)
            charges[str(record.id)] = Charge(
                str(record.id),
                appointment_id,
                Money(amount, code),
                record.text("code"),
                record.text("description"),
            )
    payments: list[Payment] = []
    for raw in patient_payments:
        record = _Record("patient_payment", raw)
        target = record.key("appointment", required=False)
        line_item = record.key("line_item", required=False)
        if target is None and line_item is not None:
            if line_item not in charges:
                msg = f"its line item {line_item!r} is not among the line items"
                raise record.fail(msg, UnknownIdError)
            target = charges[line_item].appointment_id
        if target is not None and target not in booked:
            msg = f"its appointment {target!r} is not among the appointments"
            raise record.fail(msg, UnknownIdError)
        with _about(record):
            payments.append(
                Payment(
                    str(record.id),
                    str(record.key("patient")),
                    Money(record.amount("amount", code), code),
                    record.day("received_date"),
                    record.code("payment_method", METHODS, "OTHR"),
                    record.code("payment_transaction_type", TYPES, ""),
                    target,
                    record.key("doctor", required=False),
                    record.text("notes") or "",
                    record.text("trace_number") or None,
                )
            )

    ordered = sorted(booked.values(), key=lambda a: (a.date, _id_order(a.id)))
    for appointment in ordered:
        ledger = _apply(ledger, add_appointment, appointment, "appointment")
    for charge in sorted(
        charges.values(), key=lambda c: (booked[c.appointment_id].date, _id_order(c.id))
    ):
        ledger = _apply(ledger, add_charge, charge, "line_item")
    for payment in sorted(payments, key=lambda p: (p.received_on, _id_order(p.id))):
        command = refund if payment.type is PaymentType.REFUND else post_payment
        ledger = _apply(ledger, command, payment, "patient_payment")
    return ledger


@contextlib.contextmanager
def _about(record: _Record) -> Iterator[None]:
    """Name the record in any error its values raise."""
    try:
        yield
    except LedgerError as error:
        if str(error).startswith(record.where()):
            raise
        raise record.fail(str(error), type(error)) from None


def _apply(
    ledger: Ledger, command: Callable[[Ledger, Any], Ledger], value: Any, kind: str
) -> Ledger:
    try:
        return command(ledger, value)
    except LedgerError as error:
        raise type(error)(f"{kind} record {value.id!r}: {error}", record=value.id) from None


# -- reconciling -----------------------------------------------------------------------------


def reconcile(ledger: Ledger, line_items: Iterable[Mapping[str, Any]]) -> tuple[Discrepancy, ...]:
    """Per appointment, our ``paid`` and ``balance_due`` against the sums of DrChrono's
    ``pt_paid`` and ``balance_pt`` over its line items. Empty when they agree."""
    code = ledger.currency
    theirs: dict[str, list[int]] = {}
    for raw in line_items:
        record = _Record("line_item", raw)
        sums = theirs.setdefault(str(record.key("appointment")), [0, 0])
        sums[0] += to_minor(Money(record.amount("pt_paid", code), code), "pt_paid")
        sums[1] += to_minor(Money(record.amount("balance_pt", code), code), "balance_pt")
    ours: dict[str, tuple[int, int]] = {}
    for pid in patients(ledger):
        for row in claims_feed(ledger, pid):
            ours[row.appointment_id] = (
                to_minor(row.paid, "paid"),
                to_minor(row.balance_due, "balance_due"),
            )
    found = []
    for appointment_id in sorted(set(ours) | set(theirs), key=_id_order):
        mine = ours.get(appointment_id, (0, 0))
        other = theirs.get(appointment_id, [0, 0])
        for field, a, b in (("paid", mine[0], other[0]), ("balance_due", mine[1], other[1])):
            if a != b:
                found.append(
                    Discrepancy(
                        appointment_id=appointment_id,
                        field=field,
                        ours=to_money(a, code),
                        theirs=to_money(b, code),
                    )
                )
    return tuple(found)


def load_directory(
    folder: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Read ``appointments.json``, ``line_items.json`` and ``patient_payments.json``."""
    from pathlib import Path  # noqa: PLC0415 - only the command line reads files

    out = []
    for name in ("appointments", "line_items", "patient_payments"):
        path = Path(folder, f"{name}.json")
        try:
            data = read_json(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise InvalidInputError(f"{path}: not JSON: {error}") from None
        out.append(records(data))
    return out[0], out[1], out[2]


__all__ = [
    "METHODS",
    "TYPES",
    "Discrepancy",
    "load",
    "load_directory",
    "read_json",
    "reconcile",
    "records",
]
