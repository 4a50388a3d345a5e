"""The journal's events: frozen, self-contained, past-tense facts.

A command decides exactly one event — with everything it caused (auto-applied money, entries
moved) inside it — so every prefix of a journal is a whole number of commands, and
``ledger.at(n)`` always shows a ledger that keeps every invariant.
:func:`patient_ledger.apply.apply_event` applies them, and the same function replays a journal.
Amounts inside events are exact integer minor units of the ledger's currency (``LedgerOpened``
records it); value objects keep their own ``Money``.

Money placed on an appointment goes to its lines (charges) in line order, the named line first
(SPEC §10). ``apply_event`` derives the lines from the state, so an event names a line only
where its command named one (``Payment.charge_id``, ``UnallocatedApplied.charge_id``,
``AllocationUnapplied.charge_id``), and a journal written before line items replays with the
same appointment-level figures.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, NewType

import attrs
from moneyed import Money

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


def _parts(parts: Iterable[Iterable[Any]]) -> tuple[Any, ...]:
    """An event's parts as tuples of tuples, whatever sequences they were given as: an event
    never shares a mutable list with its caller."""
    return tuple(map(tuple, parts))


def _minor(value: object) -> Any:
    """An amount as minor units: an int as it is, a ``Money`` (as an event's repr shows it)
    converted exactly."""
    return to_minor(value, "an event's amount") if isinstance(value, Money) else value


def _money_parts(parts: Iterable[Iterable[Any]]) -> tuple[Any, ...]:
    """:func:`_parts`, whose amounts may be given as ``Money`` (as the event's repr shows them)."""
    return tuple(tuple(map(_minor, part)) for part in parts)


def _repr(event: object, currency: str, amounts: dict[str, int | None]) -> str:
    """An event's repr, valid Python, with the amounts it holds in minor units shown as
    ``Money`` in ``currency`` (the currency of the value object the event carries): ``amounts``
    names each such field, with the position of the amount in each of its parts (``None``: the
    field is an amount)."""

    def shown(value: Any, position: int | None) -> str:
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

    currency: str


@attrs.frozen
class AppointmentAdded:
    """An appointment (and so its patient) became known."""

    appointment: Appointment


@attrs.frozen
class ChargeAdded:
    """A charge was added to its appointment, and the appointment's held money ``applied``."""

    charge: Charge
    applied: tuple[Application, ...] = attrs.field(default=(), converter=_money_parts)

    def __repr__(self) -> str:
        return _repr(self, self.charge.amount.currency.code, {"applied": 2})


@attrs.frozen(kw_only=True)
class PaymentPosted:
    """A payment was received: ``allocated`` went to its appointment, the rest is held as
    the open entry ``entry_id`` (in the appointment's bucket, or the general one)."""

    payment: Payment
    allocated: Minor = attrs.field(converter=_minor)
    entry_id: str | None

    def __repr__(self) -> str:
        return _repr(self, self.payment.amount.currency.code, {"allocated": None})


@attrs.frozen(kw_only=True)
class RefundPosted:
    """Money was given back: an open negative entry ``entry_id`` in the refund's bucket."""

    payment: Payment
    entry_id: str


@attrs.frozen(kw_only=True)
class UnallocatedApplied:
    """Money of the patient's general bucket was applied to appointments' charges."""

    patient_id: str
    applied: tuple[Application, ...] = attrs.field(converter=_parts)
    on: datetime.date
    #: The line paid first (SPEC §10), when one was named; the rest went in line order.
    charge_id: str | None = None


@attrs.frozen(kw_only=True)
class EntriesCancelled:
    """Offsetting parts of open entries (summing to zero per bucket) were closed."""

    patient_id: str
    parts: tuple[EntryPart, ...] = attrs.field(converter=_parts)
    on: datetime.date


@attrs.frozen(kw_only=True)
class AllocationUnapplied:
    """Allocations left an appointment (newest first) for the patient's general bucket; the
    appointment's own held money was then ``applied`` to the reopened balance."""

    appointment_id: str
    returned: tuple[Return, ...] = attrs.field(converter=_parts)
    applied: tuple[Application, ...] = attrs.field(converter=_parts)
    on: datetime.date
    #: The only line the allocations were taken from, when one was named (SPEC §10).
    charge_id: str | None = None


@attrs.frozen(kw_only=True)
class CreditReleased:
    """Money moved from an appointment's bucket to the patient's general bucket."""

    appointment_id: str
    moves: tuple[Move, ...] = attrs.field(converter=_parts)
    on: datetime.date


@attrs.frozen(kw_only=True)
class ChargeAdjusted:
    """A charge's patient responsibility changed by the adjustment's signed amount. Allocations
    beyond the new charges were ``returned`` to the appointment's bucket; held money was
    ``applied`` to a risen balance."""

    adjustment: Adjustment
    returned: tuple[Return, ...] = attrs.field(default=(), converter=_money_parts)
    applied: tuple[Application, ...] = attrs.field(default=(), converter=_money_parts)

    def __repr__(self) -> str:
        currency = self.adjustment.amount.currency.code
        return _repr(self, currency, {"returned": 1, "applied": 2})


@attrs.frozen(kw_only=True)
class CreditTransferred:
    """General-bucket money moved from one patient to another."""

    transfer: Transfer
    moves: tuple[Move, ...] = attrs.field(converter=_money_parts)

    def __repr__(self) -> str:
        return _repr(self, self.transfer.amount.currency.code, {"moves": 2})


@attrs.frozen(kw_only=True)
class PaymentReversed:
    """A payment (or refund) was taken back: ``allocations`` — ``(appointment_id, amount)`` —
    were undone, its open ``entries`` closed, and held money ``applied`` to reopened balances."""

    payment_id: str
    allocations: tuple[tuple[str, Minor], ...] = attrs.field(converter=_parts)
    entries: tuple[EntryPart, ...] = attrs.field(converter=_parts)
    applied: tuple[Application, ...] = attrs.field(converter=_parts)
    on: datetime.date
    reason: str | None
    #: For a payment counting toward a plan (SPEC §11): how much less it counts now — what
    #: it counted beyond what is left of it after this reversal.
    uncounted: Minor = attrs.field(default=Minor(0), converter=_minor)


@attrs.frozen(kw_only=True)
class AppointmentCancelled:
    """An appointment without charges was cancelled: its bucket's open entries moved to the
    patient's general bucket, keeping their ids, payments and places in "oldest first"."""

    appointment_id: str
    on: datetime.date
    reason: str | None


@attrs.frozen(kw_only=True)
class PaymentPlanCreated:
    """A payment plan was agreed (SPEC §11): ``amount`` is what it covers, as decided (the
    plan's own, or the sum of its appointments' balances due when it gave none)."""

    plan: PaymentPlan
    amount: Minor = attrs.field(converter=_minor)

    def __repr__(self) -> str:
        currency = "USD" if self.plan.amount is None else self.plan.amount.currency.code
        return _repr(self, currency, {"amount": None})


@attrs.frozen(kw_only=True)
class PlanPaymentPosted:
    """A payment naming a plan was received (SPEC §11): ``placed`` — ``(appointment_id,
    amount)``, oldest appointment first — went to those appointments' lines in line order, the
    rest is held as the open entry ``entry_id`` in the general bucket, and ``counted`` of it
    counts toward the plan."""

    payment: Payment
    placed: tuple[tuple[str, Minor], ...] = attrs.field(converter=_money_parts)
    entry_id: str | None
    counted: Minor = attrs.field(converter=_minor)

    def __repr__(self) -> str:
        code = self.payment.amount.currency.code
        return _repr(self, code, {"placed": 1, "counted": None})


@attrs.frozen(kw_only=True)
class InstallmentSkipped:
    """Installment ``number`` of a plan was skipped: installment ``added`` of ``amount`` (the
    skipped one's) was added at the end."""

    plan_id: str
    number: int
    added: int
    amount: Minor = attrs.field(converter=_minor)
    on: datetime.date


@attrs.frozen(kw_only=True)
class PaymentPlanCancelled:
    """A payment plan was cancelled; money already placed stays where it is."""

    plan_id: str
    on: datetime.date
    reason: str | None


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
