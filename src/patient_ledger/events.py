"""The journal's events: frozen, self-contained, past-tense facts.

A command decides these; :func:`patient_ledger.apply.apply_event` applies them, and the same
function replays a journal.  Amounts inside events are exact integer minor units of the ledger's
currency (``LedgerOpened`` records it); value objects keep their own ``Money``.
"""

from __future__ import annotations

import datetime

import attrs

from patient_ledger.values import Adjustment, Appointment, Charge, Payment, Transfer

#: ``(entry_id, amount)`` — a part of one open entry, in minor units.
EntryPart = tuple[str, int]


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
    """A charge was added to its appointment (auto-apply follows as ``UnallocatedApplied``)."""

    charge: Charge


@attrs.frozen(kw_only=True)
class PaymentPosted:
    """A payment was received: ``allocated`` went to its appointment, the rest is held as
    the open entry ``entry_id`` (in the appointment's bucket, or the general one)."""

    payment: Payment
    allocated: int
    entry_id: str | None


@attrs.frozen(kw_only=True)
class RefundPosted:
    """Money was given back: an open negative entry ``entry_id`` in the refund's bucket."""

    payment: Payment
    entry_id: str


@attrs.frozen(kw_only=True)
class UnallocatedApplied:
    """``amount`` of an open entry was applied to an appointment's charges.

    ``on`` is ``None`` when a new charge triggered it (a charge carries no date)."""

    entry_id: str
    appointment_id: str
    amount: int
    on: datetime.date | None


@attrs.frozen(kw_only=True)
class EntriesCancelled:
    """Offsetting parts of open entries (summing to zero per bucket) were closed."""

    patient_id: str
    parts: tuple[EntryPart, ...]
    on: datetime.date


@attrs.frozen(kw_only=True)
class AllocationReturned:
    """``amount`` of ``payment_id``'s allocation left an appointment and is held again as
    the new open entry ``entry_id`` — in the patient's general bucket (``to_general``) or in
    the appointment's own bucket (a charge lowered below what was paid)."""

    appointment_id: str
    payment_id: str
    amount: int
    entry_id: str
    to_general: bool
    on: datetime.date


@attrs.frozen(kw_only=True)
class CreditMoved:
    """``amount`` of the open entry ``from_entry_id`` moved to a new open entry ``entry_id``
    in ``to_patient_id``'s general bucket (a release or a transfer)."""

    from_entry_id: str
    entry_id: str
    to_patient_id: str
    amount: int
    on: datetime.date


@attrs.frozen
class ChargeAdjusted:
    """A charge's patient responsibility changed by the adjustment's signed amount."""

    adjustment: Adjustment


@attrs.frozen
class CreditTransferred:
    """A transfer was accepted (its money moves as ``CreditMoved`` events)."""

    transfer: Transfer


@attrs.frozen(kw_only=True)
class PaymentReversed:
    """A payment (or refund) was taken back: ``allocations`` — ``(appointment_id, amount)``
    — were undone and the open ``entries`` closed."""

    payment_id: str
    allocations: tuple[tuple[str, int], ...]
    entries: tuple[EntryPart, ...]
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
    | AllocationReturned
    | CreditMoved
    | ChargeAdjusted
    | CreditTransferred
    | PaymentReversed
)

EVENT_TYPES: tuple[type[Event], ...] = (
    LedgerOpened,
    AppointmentAdded,
    ChargeAdded,
    PaymentPosted,
    RefundPosted,
    UnallocatedApplied,
    EntriesCancelled,
    AllocationReturned,
    CreditMoved,
    ChargeAdjusted,
    CreditTransferred,
    PaymentReversed,
)
