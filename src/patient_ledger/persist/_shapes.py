"""The journal's events as typed shapes: how :mod:`.journal` reads a line quickly.

A line's event is decoded by msgspec straight into a typed, frozen shape (strict types, no
unknown keys), checked to be in canonical form by writing it back (each shape lists its keys in
sorted order, so msgspec writes exactly what ``dumps`` writes), and built into its event
through the value objects' own constructors, which check every field as a caller's. A line is
taken this way only when everything about it is as ``dumps`` writes it in the ledger's
currency; anything else — every wrong line included — goes to the journal's full reader, which
says what is wrong. So the quick reader accepts a part of what the full reader accepts and
builds the same events (a property test holds the two side by side), for about 30 % less.

The same shapes write events (:class:`QuickWriter`): what ``dumps`` and the stores write, and
what the full reader checks a line's canonical form against.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any, Final

import msgspec
from msgspec import UNSET, UnsetType

from patient_ledger.errors import LedgerError
from patient_ledger.events import (
    AllocationUnapplied,
    AppointmentAdded,
    AppointmentCancelled,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntriesCancelled,
    Event,
    InstallmentSkipped,
    LedgerOpened,
    Minor,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    PaymentPosted,
    PaymentReversed,
    PlanPaymentPosted,
    RefundPosted,
    UnallocatedApplied,
)
from patient_ledger.money import (
    MAX_MAJOR_UNITS,
    FrozenMoney,
    exponent,
    frozen_money,
    minor_text,
)
from patient_ledger.values import (
    Adjustment,
    Appointment,
    Charge,
    Payment,
    PaymentPlan,
    Transfer,
    plain,
)

__all__ = ["LINE", "QuickReader", "QuickWriter", "version_of"]

_Date = datetime.date


class _Shape(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, gc=False):
    """A JSON object of a journal line, its keys in sorted order."""


class _Amount(_Shape, frozen=True, kw_only=True):
    amount: str
    currency: str


class _Appointment(_Shape, frozen=True, kw_only=True):
    date: _Date
    id: str
    patient_id: str
    provider: str | None


class _Charge(_Shape, frozen=True, kw_only=True):
    amount: _Amount
    appointment_id: str
    code: str | None
    description: str | None
    id: str
    posted_on: _Date | UnsetType = UNSET  # version 4: written only when set


class _Payment(_Shape, frozen=True, kw_only=True):
    amount: _Amount
    appointment_id: str | None
    charge_id: str | UnsetType = UNSET  # version 2: written only when set
    id: str
    method: str
    notes: str
    patient_id: str
    plan_id: str | UnsetType = UNSET  # version 3: written only when set
    provider: str | None
    received_on: _Date
    reference: str | None
    type: str


class _PaymentPlan(_Shape, frozen=True, kw_only=True):
    amount: _Amount | None
    appointment_ids: tuple[str, ...]
    created_on: _Date
    first_due: _Date
    id: str
    installments: int
    patient_id: str


class _Adjustment(_Shape, frozen=True, kw_only=True):
    amount: _Amount
    charge_id: str
    id: str
    on: _Date
    reason: str | None
    type: str


class _Transfer(_Shape, frozen=True, kw_only=True):
    amount: _Amount
    from_patient_id: str
    id: str
    on: _Date
    to_patient_id: str


_Application = tuple[str, str, _Amount]
_Return = tuple[str, _Amount, str]
_Move = tuple[str, str, _Amount]
_Part = tuple[str, _Amount]


class _AppointmentAdded(_Shape, frozen=True, kw_only=True):
    appointment: _Appointment


class _ChargeAdded(_Shape, frozen=True, kw_only=True):
    applied: tuple[_Application, ...]
    charge: _Charge


class _PaymentPosted(_Shape, frozen=True, kw_only=True):
    allocated: _Amount
    entry_id: str | None
    payment: _Payment


class _RefundPosted(_Shape, frozen=True, kw_only=True):
    entry_id: str
    payment: _Payment


class _UnallocatedApplied(_Shape, frozen=True, kw_only=True):
    applied: tuple[_Application, ...]
    charge_id: str | UnsetType = UNSET
    on: _Date
    patient_id: str


class _EntriesCancelled(_Shape, frozen=True, kw_only=True):
    on: _Date
    parts: tuple[_Part, ...]
    patient_id: str


class _AllocationUnapplied(_Shape, frozen=True, kw_only=True):
    applied: tuple[_Application, ...]
    appointment_id: str
    charge_id: str | UnsetType = UNSET
    on: _Date
    returned: tuple[_Return, ...]


class _CreditReleased(_Shape, frozen=True, kw_only=True):
    appointment_id: str
    moves: tuple[_Move, ...]
    on: _Date


class _ChargeAdjusted(_Shape, frozen=True, kw_only=True):
    adjustment: _Adjustment
    applied: tuple[_Application, ...]
    returned: tuple[_Return, ...]


class _CreditTransferred(_Shape, frozen=True, kw_only=True):
    moves: tuple[_Move, ...]
    transfer: _Transfer


class _PaymentReversed(_Shape, frozen=True, kw_only=True):
    allocations: tuple[_Part, ...]
    applied: tuple[_Application, ...]
    entries: tuple[_Part, ...]
    on: _Date
    payment_id: str
    reason: str | None
    uncounted: _Amount | UnsetType = UNSET  # version 3: written only when not zero


class _PaymentPlanCreated(_Shape, frozen=True, kw_only=True):
    amount: _Amount
    plan: _PaymentPlan


class _PlanPaymentPosted(_Shape, frozen=True, kw_only=True):
    counted: _Amount
    entry_id: str | None
    payment: _Payment
    placed: tuple[_Part, ...]


class _InstallmentSkipped(_Shape, frozen=True, kw_only=True):
    added: int
    amount: _Amount
    number: int
    on: _Date
    plan_id: str


class _PaymentPlanCancelled(_Shape, frozen=True, kw_only=True):
    on: _Date
    plan_id: str
    reason: str | None


class _LedgerOpened(_Shape, frozen=True, kw_only=True):
    currency: str


class _AppointmentCancelled(_Shape, frozen=True, kw_only=True):
    appointment_id: str
    on: _Date
    reason: str | None


class _Line(_Shape, frozen=True, kw_only=True):
    event: msgspec.Raw
    hash: str
    prev: str
    seq: int
    type: str
    v: int


#: A journal line, its event left as text (read by :meth:`QuickReader.event`).
LINE: Final = msgspec.json.Decoder(_Line)


class _NotAsWrittenError(Exception):
    """Something ``dumps`` would write otherwise: the full reader decides."""


_ENCODER: Final = msgspec.json.Encoder(enc_hook=plain)
_WHOLE_DIGITS: Final = len(str(MAX_MAJOR_UNITS))


def _optional(value: str | UnsetType) -> str | None:
    return None if value is UNSET else value


class _Parts:
    """An event's parts — applications, returns, moves, parts of entries — with their amounts
    converted by :meth:`minor`: to minor units when reading, to amounts when writing."""

    def minor(self, amount: Any) -> Any:
        raise NotImplementedError

    def applications(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple((entry, appointment, self.minor(a)) for entry, appointment, a in parts)

    def returns(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple((payment, self.minor(a), entry) for payment, a, entry in parts)

    def moves(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple((source, entry, self.minor(a)) for source, entry, a in parts)

    def parts(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple((key, self.minor(a)) for key, a in parts)


class QuickReader(_Parts):
    """Builds the events of lines written in ``currency`` exactly as ``dumps`` writes them."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        places = exponent(currency)
        # An amount as minor_text writes it: no leading zeros, every decimal place; at most
        # the maximum's digits (the exact range is checked on the int).
        fraction = rf"\.[0-9]{{{places}}}" if places else ""
        self._canonical = re.compile(rf"-?(?:0|[1-9][0-9]{{0,{_WHOLE_DIGITS}}}){fraction}")
        self._limit = MAX_MAJOR_UNITS * 10**places

    def event(self, kind: str, text: bytes, version: int) -> Event | None:
        """The event of a line's ``event`` text (of type ``kind``, line version ``version``),
        or None when the full reader must read it."""
        found = _KINDS.get(kind)
        if found is None:
            return None
        decoder, build = found
        try:
            shape = decoder.decode(text)
            if _ENCODER.encode(shape) != text:
                return None
            event = build(self, shape)
        except (msgspec.DecodeError, LedgerError, _NotAsWrittenError):
            return None
        return event if version_of(event) == version else None

    def minor(self, amount: _Amount) -> Minor:
        """An amount in the ledger's currency, written as :func:`minor_text` writes it (not
        ``-0.00``, within the maximum), as minor units."""
        text = amount.amount
        if amount.currency != self.currency or self._canonical.fullmatch(text) is None:
            raise _NotAsWrittenError
        minor = int(text.replace(".", ""))
        if abs(minor) > self._limit or (not minor and text[0] == "-"):
            raise _NotAsWrittenError
        return Minor(minor)

    def money(self, amount: _Amount) -> FrozenMoney:
        return frozen_money(self.minor(amount), self.currency)

    def payment(self, p: _Payment) -> Payment:
        return Payment(
            p.id,
            p.patient_id,
            self.money(p.amount),
            p.received_on,
            method=p.method,  # converted (and checked) by Payment
            type=p.type,
            appointment_id=p.appointment_id,
            provider=p.provider,
            notes=p.notes,
            reference=p.reference,
            charge_id=_optional(p.charge_id),
            plan_id=_optional(p.plan_id),
        )

    def plan(self, p: _PaymentPlan) -> PaymentPlan:
        return PaymentPlan(
            p.id,
            p.patient_id,
            None if p.amount is None else self.money(p.amount),
            p.installments,
            p.first_due,
            p.created_on,
            p.appointment_ids,
        )


#: The kinds of event SPEC §11 added: their lines are version 3.
_PLAN_EVENTS: Final = (
    PaymentPlanCreated,
    PlanPaymentPosted,
    InstallmentSkipped,
    PaymentPlanCancelled,
)


def version_of(event: Event) -> int:  # noqa: PLR0911 - one return per shape that has a version
    """The version of the line that holds ``event``: 2 when it has a shape SPEC §10 added — a
    new kind of event, or a new field set (a line named by a payment or an application) —, 3
    when it has one SPEC §11 added (a plan's event, a payment naming a plan, a reversal that
    uncounts part of a plan payment), 4 when it has one SPEC §12 added (a charge's
    ``posted_on``)."""
    if isinstance(event, ChargeAdded):
        return 1 if event.charge.posted_on is None else 4
    if isinstance(event, _PLAN_EVENTS):
        return 3
    if isinstance(event, PaymentReversed):
        return 3 if event.uncounted else 1
    if isinstance(event, AppointmentCancelled):
        return 2
    if isinstance(event, UnallocatedApplied | AllocationUnapplied):
        return 1 if event.charge_id is None else 2
    if isinstance(event, PaymentPosted | RefundPosted):
        p = event.payment
        return 3 if p.plan_id is not None else 1 if p.charge_id is None else 2
    return 1


def _appointment_added(_: QuickReader, s: _AppointmentAdded) -> Event:
    a = s.appointment
    return AppointmentAdded(Appointment(a.id, a.patient_id, a.date, a.provider))


def _charge_added(r: QuickReader, s: _ChargeAdded) -> Event:
    c = s.charge
    posted_on = None if c.posted_on is UNSET else c.posted_on
    charge = Charge(c.id, c.appointment_id, r.money(c.amount), c.code, c.description, posted_on)
    return ChargeAdded(charge, r.applications(s.applied))


def _payment_posted(r: QuickReader, s: _PaymentPosted) -> Event:
    return PaymentPosted(
        payment=r.payment(s.payment), allocated=r.minor(s.allocated), entry_id=s.entry_id
    )


def _refund_posted(r: QuickReader, s: _RefundPosted) -> Event:
    return RefundPosted(payment=r.payment(s.payment), entry_id=s.entry_id)


def _unallocated_applied(r: QuickReader, s: _UnallocatedApplied) -> Event:
    return UnallocatedApplied(
        patient_id=s.patient_id,
        applied=r.applications(s.applied),
        on=s.on,
        charge_id=_optional(s.charge_id),
    )


def _entries_cancelled(r: QuickReader, s: _EntriesCancelled) -> Event:
    return EntriesCancelled(patient_id=s.patient_id, parts=r.parts(s.parts), on=s.on)


def _allocation_unapplied(r: QuickReader, s: _AllocationUnapplied) -> Event:
    return AllocationUnapplied(
        appointment_id=s.appointment_id,
        returned=r.returns(s.returned),
        applied=r.applications(s.applied),
        on=s.on,
        charge_id=_optional(s.charge_id),
    )


def _credit_released(r: QuickReader, s: _CreditReleased) -> Event:
    return CreditReleased(appointment_id=s.appointment_id, moves=r.moves(s.moves), on=s.on)


def _charge_adjusted(r: QuickReader, s: _ChargeAdjusted) -> Event:
    a = s.adjustment
    adjustment = Adjustment(a.id, a.charge_id, r.money(a.amount), a.on, a.type, a.reason)
    return ChargeAdjusted(
        adjustment=adjustment, returned=r.returns(s.returned), applied=r.applications(s.applied)
    )


def _credit_transferred(r: QuickReader, s: _CreditTransferred) -> Event:
    t = s.transfer
    transfer = Transfer(t.id, t.from_patient_id, t.to_patient_id, r.money(t.amount), t.on)
    return CreditTransferred(transfer=transfer, moves=r.moves(s.moves))


def _payment_reversed(r: QuickReader, s: _PaymentReversed) -> Event:
    return PaymentReversed(
        payment_id=s.payment_id,
        allocations=r.parts(s.allocations),
        entries=r.parts(s.entries),
        applied=r.applications(s.applied),
        on=s.on,
        reason=s.reason,
        uncounted=Minor(0) if s.uncounted is UNSET else r.minor(s.uncounted),
    )


def _payment_plan_created(r: QuickReader, s: _PaymentPlanCreated) -> Event:
    return PaymentPlanCreated(plan=r.plan(s.plan), amount=r.minor(s.amount))


def _plan_payment_posted(r: QuickReader, s: _PlanPaymentPosted) -> Event:
    return PlanPaymentPosted(
        payment=r.payment(s.payment),
        placed=r.parts(s.placed),
        entry_id=s.entry_id,
        counted=r.minor(s.counted),
    )


def _installment_skipped(r: QuickReader, s: _InstallmentSkipped) -> Event:
    return InstallmentSkipped(
        plan_id=s.plan_id, number=s.number, added=s.added, amount=r.minor(s.amount), on=s.on
    )


def _payment_plan_cancelled(_: QuickReader, s: _PaymentPlanCancelled) -> Event:
    return PaymentPlanCancelled(plan_id=s.plan_id, on=s.on, reason=s.reason)


def _appointment_cancelled(_: QuickReader, s: _AppointmentCancelled) -> Event:
    return AppointmentCancelled(appointment_id=s.appointment_id, on=s.on, reason=s.reason)


def _kind(shape: type[Any], build: Callable[[QuickReader, Any], Event]) -> tuple[Any, Any]:
    return msgspec.json.Decoder(shape), build


#: Each kind of event after the first line (``LedgerOpened`` is read by the full reader).
_KINDS: Final = {
    "AppointmentAdded": _kind(_AppointmentAdded, _appointment_added),
    "ChargeAdded": _kind(_ChargeAdded, _charge_added),
    "PaymentPosted": _kind(_PaymentPosted, _payment_posted),
    "RefundPosted": _kind(_RefundPosted, _refund_posted),
    "UnallocatedApplied": _kind(_UnallocatedApplied, _unallocated_applied),
    "EntriesCancelled": _kind(_EntriesCancelled, _entries_cancelled),
    "AllocationUnapplied": _kind(_AllocationUnapplied, _allocation_unapplied),
    "CreditReleased": _kind(_CreditReleased, _credit_released),
    "ChargeAdjusted": _kind(_ChargeAdjusted, _charge_adjusted),
    "CreditTransferred": _kind(_CreditTransferred, _credit_transferred),
    "PaymentReversed": _kind(_PaymentReversed, _payment_reversed),
    "AppointmentCancelled": _kind(_AppointmentCancelled, _appointment_cancelled),
    "PaymentPlanCreated": _kind(_PaymentPlanCreated, _payment_plan_created),
    "PlanPaymentPosted": _kind(_PlanPaymentPosted, _plan_payment_posted),
    "InstallmentSkipped": _kind(_InstallmentSkipped, _installment_skipped),
    "PaymentPlanCancelled": _kind(_PaymentPlanCancelled, _payment_plan_cancelled),
}


class QuickWriter(_Parts):
    """Writes events as ``dumps`` writes them, through the same shapes: each event's text is
    its shape's canonical JSON (a property test holds it to the full reader's own writing)."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self._places = exponent(currency)

    def text(self, event: Event) -> str:
        """An event's canonical JSON (a line's ``event``)."""
        return _ENCODER.encode(_WRITERS[type(event)](self, event)).decode("utf-8")

    def minor(self, minor: int) -> _Amount:
        return _Amount(amount=minor_text(minor, self._places), currency=self.currency)

    @staticmethod
    def amount(value: Charge | Payment | Adjustment | Transfer) -> _Amount:
        """A value object's amount, in its own currency (a ledger's, once it took it)."""
        code = value.amount.currency.code
        return _Amount(amount=minor_text(value.minor_units, exponent(code)), currency=code)

    def payment(self, p: Payment) -> _Payment:
        return _Payment(
            amount=self.amount(p),
            appointment_id=p.appointment_id,
            charge_id=_unset(p.charge_id),
            id=p.id,
            method=p.method.value,
            notes=p.notes,
            patient_id=p.patient_id,
            plan_id=_unset(p.plan_id),
            provider=p.provider,
            received_on=_day(p.received_on),
            reference=p.reference,
            type=p.type.value,
        )

    def plan(self, p: PaymentPlan) -> _PaymentPlan:
        amount = None
        if p.amount is not None:
            code = p.amount.currency.code
            minor = p.minor_units or 0
            amount = _Amount(amount=minor_text(minor, exponent(code)), currency=code)
        return _PaymentPlan(
            amount=amount,
            appointment_ids=p.appointment_ids,
            created_on=_day(p.created_on),
            first_due=_day(p.first_due),
            id=p.id,
            installments=p.installments,
            patient_id=p.patient_id,
        )


def _day(day: datetime.date) -> datetime.date:
    """A date as a line holds it: its day (a ``datetime``'s or a date subclass's too)."""
    return day if type(day) is datetime.date else datetime.date(day.year, day.month, day.day)


def _unset(value: str | None) -> str | UnsetType:
    """A version-2 field: left out of the line while None."""
    return UNSET if value is None else value


_WRITERS: Final[dict[type, Callable[[QuickWriter, Any], _Shape]]] = {
    AppointmentAdded: lambda _, e: _AppointmentAdded(
        appointment=_Appointment(
            date=_day(e.appointment.date),
            id=e.appointment.id,
            patient_id=e.appointment.patient_id,
            provider=e.appointment.provider,
        )
    ),
    ChargeAdded: lambda w, e: _ChargeAdded(
        applied=w.applications(e.applied),
        charge=_Charge(
            amount=w.amount(e.charge),
            appointment_id=e.charge.appointment_id,
            code=e.charge.code,
            description=e.charge.description,
            id=e.charge.id,
            posted_on=UNSET if e.charge.posted_on is None else _day(e.charge.posted_on),
        ),
    ),
    PaymentPosted: lambda w, e: _PaymentPosted(
        allocated=w.minor(e.allocated), entry_id=e.entry_id, payment=w.payment(e.payment)
    ),
    RefundPosted: lambda w, e: _RefundPosted(entry_id=e.entry_id, payment=w.payment(e.payment)),
    UnallocatedApplied: lambda w, e: _UnallocatedApplied(
        applied=w.applications(e.applied),
        charge_id=_unset(e.charge_id),
        on=_day(e.on),
        patient_id=e.patient_id,
    ),
    EntriesCancelled: lambda w, e: _EntriesCancelled(
        on=_day(e.on), parts=w.parts(e.parts), patient_id=e.patient_id
    ),
    AllocationUnapplied: lambda w, e: _AllocationUnapplied(
        applied=w.applications(e.applied),
        appointment_id=e.appointment_id,
        charge_id=_unset(e.charge_id),
        on=_day(e.on),
        returned=w.returns(e.returned),
    ),
    CreditReleased: lambda w, e: _CreditReleased(
        appointment_id=e.appointment_id, moves=w.moves(e.moves), on=_day(e.on)
    ),
    ChargeAdjusted: lambda w, e: _ChargeAdjusted(
        adjustment=_Adjustment(
            amount=w.amount(e.adjustment),
            charge_id=e.adjustment.charge_id,
            id=e.adjustment.id,
            on=_day(e.adjustment.on),
            reason=e.adjustment.reason,
            type=e.adjustment.type.value,
        ),
        applied=w.applications(e.applied),
        returned=w.returns(e.returned),
    ),
    CreditTransferred: lambda w, e: _CreditTransferred(
        moves=w.moves(e.moves),
        transfer=_Transfer(
            amount=w.amount(e.transfer),
            from_patient_id=e.transfer.from_patient_id,
            id=e.transfer.id,
            on=_day(e.transfer.on),
            to_patient_id=e.transfer.to_patient_id,
        ),
    ),
    PaymentReversed: lambda w, e: _PaymentReversed(
        allocations=w.parts(e.allocations),
        applied=w.applications(e.applied),
        entries=w.parts(e.entries),
        on=_day(e.on),
        payment_id=e.payment_id,
        reason=e.reason,
        uncounted=w.minor(e.uncounted) if e.uncounted else UNSET,
    ),
    PaymentPlanCreated: lambda w, e: _PaymentPlanCreated(
        amount=w.minor(e.amount), plan=w.plan(e.plan)
    ),
    PlanPaymentPosted: lambda w, e: _PlanPaymentPosted(
        counted=w.minor(e.counted),
        entry_id=e.entry_id,
        payment=w.payment(e.payment),
        placed=w.parts(e.placed),
    ),
    InstallmentSkipped: lambda w, e: _InstallmentSkipped(
        added=e.added, amount=w.minor(e.amount), number=e.number, on=_day(e.on), plan_id=e.plan_id
    ),
    PaymentPlanCancelled: lambda _, e: _PaymentPlanCancelled(
        on=_day(e.on), plan_id=e.plan_id, reason=e.reason
    ),
    AppointmentCancelled: lambda _, e: _AppointmentCancelled(
        appointment_id=e.appointment_id, on=_day(e.on), reason=e.reason
    ),
    LedgerOpened: lambda _, e: _LedgerOpened(currency=e.currency),
}
