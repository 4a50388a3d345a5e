"""The journal's events: frozen, self-contained, past-tense facts.

A command decides exactly one event — with everything it caused (auto-applied money, entries
moved) inside it — so every prefix of a journal is a whole number of commands, and
``ledger.at(n)`` always shows a ledger that keeps every invariant.
:func:`patient_ledger.apply.apply_event` applies them, and the same function replays a journal.
Amounts inside events are exact integer minor units of the ledger's currency (``LedgerOpened``
records it); value objects keep their own ``Money``.

Money placed on an appointment goes to its lines (charges) in line order, the named line first
(SPEC §10). Each event that places money on lines or takes it off records where, line by line,
in ``lines`` (:data:`LinePart`), and a cancelled visit the entries it moved (``moved``): the
placement rules run once, when the command applies its event, and ``apply_event`` then applies
what the event says without deciding again. An event without them (a journal line written
before line version 5, or an event built by hand) is completed when applied by the same rules
(:func:`patient_ledger.state.place`: the named line first, then line order; allocations taken
back newest first), so it replays with the figures it always had.

Every field is checked on construction: a value of the wrong type (a str where a date belongs,
a float where minor units do), an amount of the wrong sign, or an empty id is an
:class:`~patient_ledger.errors.InvalidInputError` naming the event and the field.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, NewType

import attrs
from moneyed import Money

from patient_ledger.errors import InvalidInputError
from patient_ledger.money import to_minor, to_money
from patient_ledger.values import (
    Adjustment,
    Appointment,
    Charge,
    Payment,
    PaymentPlan,
    Transfer,
)

#: An amount in integer minor units of the ledger's currency (cents for USD). A distinct type
#: so that serializers can write it as an exact decimal amount with its currency.
Minor = NewType("Minor", int)
#: ``(entry_id, amount)`` — a part of one open entry.
EntryPart = tuple[str, Minor]
#: ``(entry_id, appointment_id, amount)`` — held money applied to an appointment's charges.
Application = tuple[str, str, Minor]
#: ``(payment_id, amount, entry_id)`` — a payment's allocation taken back and held again as
#: the new open entry ``entry_id``.
Return = tuple[str, Minor, str]
#: ``(from_entry_id, entry_id, amount)`` — part of an open entry moved to a new open entry.
Move = tuple[str, str, Minor]


#: ``(payment_id, appointment_id, charge_id, amount)`` — money of a payment placed on one line
#: of an appointment (a positive amount) or taken off it (a negative one).
LinePart = tuple[str, str, str, Minor]

# -- checks of the fields: one cheap function per kind of field -------------------------------
#
# Each raises an InvalidInputError naming the field and what it got. Amounts are converted by
# the same functions (a ``Money``, as an event's repr shows amounts, becomes minor units), so
# checking an amount costs no call beyond converting it.

_Date = datetime.date
_DateTime = datetime.datetime


def _bad(field: str, wanted: str, value: object) -> InvalidInputError:
    return InvalidInputError(
        f"an event's {field} must be {wanted}, got {type(value).__name__} {value!r}", field=field
    )


def _minor_of(value: object, field: str) -> int:
    """Minor units: an int (not a bool) as it is, a ``Money`` converted exactly."""
    if type(value) is int:
        return value
    if isinstance(value, Money):
        return to_minor(value, f"an event's {field}")
    raise _bad(field, "an amount in minor units (an int) or a Money", value)


def _at_least(value: object, field: str, least: int) -> int:
    """Minor units of at least ``least``."""
    minor = _minor_of(value, field)
    if minor < least:
        raise _bad(field, f"at least {least} minor units", value)
    return minor


def _allocated(value: object) -> int:
    return _at_least(value, "allocated", 0)


def _counted(value: object) -> int:
    return _at_least(value, "counted", 0)


def _uncounted(value: object) -> int:
    return _at_least(value, "uncounted", 0)


def _skipped_amount(value: object) -> int:
    return _at_least(value, "amount", 0)


def _plan_amount(value: object) -> int:
    return _at_least(value, "amount", 1)


def _id(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise _bad(attribute.name, "an id (a non-empty str)", value)


def _optional_id(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise _bad(attribute.name, "an id (a non-empty str) or None", value)


def _optional_text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise _bad(attribute.name, "a str or None", value)


def _day(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, _Date) or isinstance(value, _DateTime):
        raise _bad(attribute.name, "a datetime.date", value)


def _count(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not int or value < 1:
        raise _bad(attribute.name, "an int of at least 1", value)


def _value(kind: type) -> Any:
    """A validator: the field holds a ``kind`` value object."""

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kind):
            raise _bad(attribute.name, f"a {kind.__name__}", value)

    return check


#: How each item of a part is checked: ``i`` an id, ``o`` an id or None, ``+`` an amount > 0,
#: ``-`` an amount < 0 or > 0, ``*`` any amount (converted from Money when given one).
_ID, _OPTIONAL, _POSITIVE, _NONZERO = "i", "o", "+", "-"


def _checked_parts(parts: object, field: str, layout: str) -> tuple[Any, ...]:
    """``parts`` as a tuple of tuples, each laid out as ``layout`` (see :data:`_ID`): an event
    never shares a mutable list with its caller, and holds only parts of that shape."""
    if parts == ():
        return ()
    if isinstance(parts, str | bytes) or not isinstance(parts, Iterable):
        raise _bad(field, "a tuple of parts", parts)
    spec = _LAYOUTS.get(layout)
    if spec is None:
        amount_at = [n for n, kind in enumerate(layout) if kind not in "io"]
        spec = _LAYOUTS[layout] = (len(layout), amount_at[0] if amount_at else -1)
    width, at = spec
    out = []
    for given in parts:
        if type(given) is tuple:
            part = given
        elif isinstance(given, str | bytes) or not isinstance(given, Iterable):
            raise _bad(field, f"parts of {width} items", given)
        else:
            part = tuple(given)
        if len(part) != width:
            raise _bad(field, f"parts of {width} items", given)
        if at >= 0 and type(part[at]) is not int:
            part = (*part[:at], _minor_of(part[at], field), *part[at + 1 :])
        for item, kind in zip(part, layout, strict=True):
            if kind == _ID:
                if not item or not isinstance(item, str):
                    raise _bad(field, "parts whose ids are non-empty strs", given)
            elif kind == _OPTIONAL:
                if item is not None and (not item or not isinstance(item, str)):
                    raise _bad(field, "parts whose ids are non-empty strs or None", given)
            elif (item <= 0) if kind == _POSITIVE else (not item):
                sign = "positive" if kind == _POSITIVE else "non-zero"
                raise _bad(field, f"parts whose amounts are {sign}", given)
        out.append(part)
    return tuple(out)


#: Each layout's width and the position of its amount (-1: none), as first seen.
_LAYOUTS: dict[str, tuple[int, int]] = {}


def _applied(parts: object) -> tuple[Application, ...]:
    return _checked_parts(parts, "applied", "ii+")


def _returned(parts: object) -> tuple[Return, ...]:
    return _checked_parts(parts, "returned", "i+i")


def _moves(parts: object) -> tuple[Move, ...]:
    return _checked_parts(parts, "moves", "ii+")


def _entry_parts(parts: object) -> tuple[EntryPart, ...]:
    return _checked_parts(parts, "parts", "i-")


def _reversed_allocations(parts: object) -> tuple[tuple[str, Minor], ...]:
    return _checked_parts(parts, "allocations", "i+")


def _reversed_entries(parts: object) -> tuple[EntryPart, ...]:
    return _checked_parts(parts, "entries", "i-")


def _placed(parts: object) -> tuple[tuple[str, Minor], ...]:
    return _checked_parts(parts, "placed", "i+")


def _lines(parts: object) -> tuple[LinePart, ...] | None:
    """A record of line parts; None when missing (an event written before it) or empty (as a
    journal line holds it: written only when not empty)."""
    if parts is None:
        return None
    return _checked_parts(parts, "lines", "iii-") or None


def _ids(parts: object) -> tuple[str, ...] | None:
    """Entry ids moved (a cancelled visit's): a tuple of non-empty strs; none is None."""
    if parts is None:
        return None
    if isinstance(parts, str | bytes) or not isinstance(parts, Iterable):
        raise _bad("moved", "a tuple of entry ids", parts)
    ids = tuple(parts)
    for item in ids:
        if not isinstance(item, str) or not item:
            raise _bad("moved", "a tuple of entry ids (non-empty strs)", parts)
    return ids or None


def _currency(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not str or len(value) != 3 or not value.isalpha() or not value.isupper():
        raise _bad(attribute.name, "a currency code (3 capital letters)", value)


def _repr(event: object, currency: str, amounts: dict[str, int | None]) -> str:
    """An event's repr, valid Python, with the amounts it holds in minor units shown as
    ``Money`` in ``currency`` (the currency of the value object the event carries): ``amounts``
    names each such field, with the position of the amount in each of its parts (``None``: the
    field is an amount)."""

    def shown(value: Any, position: int | None) -> str:
        if value is None:
            return "None"
        if position is None:
            return _money_repr(value, currency)
        rows = [
            ", ".join(
                _money_repr(item, currency) if n == position else repr(item)
                for n, item in enumerate(part)
            )
            for part in value
        ]
        inner = ", ".join(f"({row})" for row in rows)
        return f"({inner},)" if len(rows) == 1 else f"({inner})"

    fields = [
        f"{f.name}={shown(getattr(event, f.name), amounts[f.name])}"
        if f.name in amounts
        else f"{f.name}={getattr(event, f.name)!r}"
        for f in attrs.fields(type(event))  # type: ignore[arg-type] # every event is an attrs class
    ]
    return f"{type(event).__name__}({', '.join(fields)})"


def _money_repr(minor: int, currency: str) -> str:
    money = to_money(minor, currency)
    return f"Money({str(money.amount)!r}, {currency!r})"


@attrs.frozen
class LedgerOpened:
    """The ledger was created, in this currency. Always the journal's first event."""

    currency: str = attrs.field(validator=_currency)


@attrs.frozen
class AppointmentAdded:
    """An appointment (and so its patient) became known."""

    appointment: Appointment = attrs.field(validator=_value(Appointment))


@attrs.frozen
class ChargeAdded:
    """A charge was added to its appointment, and the appointment's held money ``applied``
    (to the ``lines`` it paid)."""

    charge: Charge = attrs.field(validator=_value(Charge))
    applied: tuple[Application, ...] = attrs.field(default=(), converter=_applied)
    #: Where ``applied`` went, line by line (None: not recorded, see the module).
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines, kw_only=True)

    def __repr__(self) -> str:
        return _repr(self, self.charge.amount.currency.code, {"applied": 2, "lines": 3})


@attrs.frozen(kw_only=True)
class PaymentPosted:
    """A payment was received: ``allocated`` went to its appointment's ``lines``, the rest is
    held as the open entry ``entry_id`` (in the appointment's bucket, or the general one)."""

    payment: Payment = attrs.field(validator=_value(Payment))
    allocated: Minor = attrs.field(converter=_allocated)
    entry_id: str | None = attrs.field(validator=_optional_id)
    #: Where ``allocated`` went, line by line (None: not recorded, see the module).
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines)

    def __repr__(self) -> str:
        return _repr(self, self.payment.amount.currency.code, {"allocated": None, "lines": 3})


@attrs.frozen(kw_only=True)
class RefundPosted:
    """Money was given back: an open negative entry ``entry_id`` in the refund's bucket."""

    payment: Payment = attrs.field(validator=_value(Payment))
    entry_id: str = attrs.field(validator=_id)


@attrs.frozen(kw_only=True)
class UnallocatedApplied:
    """Money of the patient's general bucket was applied to appointments' charges."""

    patient_id: str = attrs.field(validator=_id)
    applied: tuple[Application, ...] = attrs.field(converter=_applied)
    on: datetime.date = attrs.field(validator=_day)
    #: The line paid first (SPEC §10), when one was named; the rest went in line order.
    charge_id: str | None = attrs.field(default=None, validator=_optional_id)
    #: Where ``applied`` went, line by line (None: not recorded, see the module).
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines)


@attrs.frozen(kw_only=True)
class EntriesCancelled:
    """Offsetting parts of open entries (summing to zero per bucket) were closed."""

    patient_id: str = attrs.field(validator=_id)
    parts: tuple[EntryPart, ...] = attrs.field(converter=_entry_parts)
    on: datetime.date = attrs.field(validator=_day)


@attrs.frozen(kw_only=True)
class AllocationUnapplied:
    """Allocations left an appointment (newest first) for the patient's general bucket; the
    appointment's own held money was then ``applied`` to the reopened balance. ``lines``: the
    allocations taken off, then the held money placed, line by line."""

    appointment_id: str = attrs.field(validator=_id)
    returned: tuple[Return, ...] = attrs.field(converter=_returned)
    applied: tuple[Application, ...] = attrs.field(converter=_applied)
    on: datetime.date = attrs.field(validator=_day)
    #: The only line the allocations were taken from, when one was named (SPEC §10).
    charge_id: str | None = attrs.field(default=None, validator=_optional_id)
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines)


@attrs.frozen(kw_only=True)
class CreditReleased:
    """Money moved from an appointment's bucket to the patient's general bucket."""

    appointment_id: str = attrs.field(validator=_id)
    moves: tuple[Move, ...] = attrs.field(converter=_moves)
    on: datetime.date = attrs.field(validator=_day)


@attrs.frozen(kw_only=True)
class ChargeAdjusted:
    """A charge's patient responsibility changed by the adjustment's signed amount. Allocations
    beyond the new charges were ``returned`` to the appointment's bucket; held money was
    ``applied`` to a risen balance. ``lines``: every allocation taken off a line or placed on
    one (freed money placed anew on the other lines included), in order."""

    adjustment: Adjustment = attrs.field(validator=_value(Adjustment))
    returned: tuple[Return, ...] = attrs.field(default=(), converter=_returned)
    applied: tuple[Application, ...] = attrs.field(default=(), converter=_applied)
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines)

    def __repr__(self) -> str:
        currency = self.adjustment.amount.currency.code
        return _repr(self, currency, {"returned": 1, "applied": 2, "lines": 3})


@attrs.frozen(kw_only=True)
class CreditTransferred:
    """General-bucket money moved from one patient to another."""

    transfer: Transfer = attrs.field(validator=_value(Transfer))
    moves: tuple[Move, ...] = attrs.field(converter=_moves)

    def __repr__(self) -> str:
        return _repr(self, self.transfer.amount.currency.code, {"moves": 2})


@attrs.frozen(kw_only=True)
class PaymentReversed:
    """A payment (or refund) was taken back: ``allocations`` — ``(appointment_id, amount)`` —
    were undone, its open ``entries`` closed, and held money ``applied`` to reopened balances.
    ``lines``: the allocations taken off, then the held money placed, line by line."""

    payment_id: str = attrs.field(validator=_id)
    allocations: tuple[tuple[str, Minor], ...] = attrs.field(converter=_reversed_allocations)
    entries: tuple[EntryPart, ...] = attrs.field(converter=_reversed_entries)
    applied: tuple[Application, ...] = attrs.field(converter=_applied)
    on: datetime.date = attrs.field(validator=_day)
    reason: str | None = attrs.field(validator=_optional_text)
    #: For a payment counting toward a plan (SPEC §11): how much less it counts now — what
    #: it counted beyond what is left of it after this reversal.
    uncounted: Minor = attrs.field(default=Minor(0), converter=_uncounted)
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines)


@attrs.frozen(kw_only=True)
class AppointmentCancelled:
    """An appointment without charges was cancelled: its bucket's open entries — ``moved``, in
    the order moved — went to the patient's general bucket, keeping their ids, payments and
    places in "oldest first"."""

    appointment_id: str = attrs.field(validator=_id)
    on: datetime.date = attrs.field(validator=_day)
    reason: str | None = attrs.field(validator=_optional_text)
    #: The entries moved (None: none, or not recorded — see the module).
    moved: tuple[str, ...] | None = attrs.field(default=None, converter=_ids)


@attrs.frozen(kw_only=True)
class PaymentPlanCreated:
    """A payment plan was agreed (SPEC §11): ``amount`` is what it covers, as decided (the
    plan's own, or the sum of its appointments' balances due when it gave none)."""

    plan: PaymentPlan = attrs.field(validator=_value(PaymentPlan))
    amount: Minor = attrs.field(converter=_plan_amount)

    def __repr__(self) -> str:
        currency = "USD" if self.plan.amount is None else self.plan.amount.currency.code
        return _repr(self, currency, {"amount": None})


@attrs.frozen(kw_only=True)
class PlanPaymentPosted:
    """A payment naming a plan was received (SPEC §11): ``placed`` — ``(appointment_id,
    amount)``, oldest appointment first — went to those appointments' ``lines`` in line order,
    the rest is held as the open entry ``entry_id`` in the general bucket, and ``counted`` of it
    counts toward the plan."""

    payment: Payment = attrs.field(validator=_value(Payment))
    placed: tuple[tuple[str, Minor], ...] = attrs.field(converter=_placed)
    entry_id: str | None = attrs.field(validator=_optional_id)
    counted: Minor = attrs.field(converter=_counted)
    lines: tuple[LinePart, ...] | None = attrs.field(default=None, converter=_lines)

    def __repr__(self) -> str:
        code = self.payment.amount.currency.code
        return _repr(self, code, {"placed": 1, "counted": None, "lines": 3})


@attrs.frozen(kw_only=True)
class InstallmentSkipped:
    """Installment ``number`` of a plan was skipped: installment ``added`` of ``amount`` (the
    skipped one's) was added at the end."""

    plan_id: str = attrs.field(validator=_id)
    number: int = attrs.field(validator=_count)
    added: int = attrs.field(validator=_count)
    amount: Minor = attrs.field(converter=_skipped_amount)
    on: datetime.date = attrs.field(validator=_day)


@attrs.frozen(kw_only=True)
class PaymentPlanCancelled:
    """A payment plan was cancelled; money already placed stays where it is."""

    plan_id: str = attrs.field(validator=_id)
    on: datetime.date = attrs.field(validator=_day)
    reason: str | None = attrs.field(validator=_optional_text)


Event = (
    LedgerOpened
    | AppointmentAdded
    | ChargeAdded
    | PaymentPosted
    | RefundPosted
    | UnallocatedApplied
    | EntriesCancelled
    | AllocationUnapplied
    | CreditReleased
    | ChargeAdjusted
    | CreditTransferred
    | PaymentReversed
    | AppointmentCancelled
    | PaymentPlanCreated
    | PlanPaymentPosted
    | InstallmentSkipped
    | PaymentPlanCancelled
)

EVENT_TYPES: tuple[type[Event], ...] = (
    LedgerOpened,
    AppointmentAdded,
    ChargeAdded,
    PaymentPosted,
    RefundPosted,
    UnallocatedApplied,
    EntriesCancelled,
    AllocationUnapplied,
    CreditReleased,
    ChargeAdjusted,
    CreditTransferred,
    PaymentReversed,
    AppointmentCancelled,
    PaymentPlanCreated,
    PlanPaymentPosted,
    InstallmentSkipped,
    PaymentPlanCancelled,
)


#: The events that record where their money went on lines (``lines``), and the one that
#: records the entries it moved (``moved``): see the module.
RECORDING: tuple[type[Event], ...] = (
    ChargeAdded,
    PaymentPosted,
    UnallocatedApplied,
    AllocationUnapplied,
    ChargeAdjusted,
    PaymentReversed,
    PlanPaymentPosted,
)


def recorded(event: Event, record: tuple[Any, ...]) -> Event:
    """A copy of ``event`` (one of :data:`RECORDING`, or ``AppointmentCancelled``) holding
    ``record`` as its ``lines`` (its ``moved``): how a command's event gets what applying it
    decided. ``record`` was built by the engine (checked as it was built), so the copy is made
    without running the checks again."""
    cls = type(event)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in attrs.fields(cls))
    copy = object.__new__(cls)
    put = object.__setattr__
    for name in names:
        put(copy, name, getattr(event, name))
    put(copy, "moved" if cls is AppointmentCancelled else "lines", record or None)
    return copy


#: Each kind of event's field names, in order (filled by :func:`recorded`).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
