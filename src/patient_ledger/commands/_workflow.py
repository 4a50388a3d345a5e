"""The commands of SPEC §9 and §10: unapply, release, adjustments, reversals, transfers,
auto-allocation, cancelled visits, and their practice-wide forms."""

from __future__ import annotations

import datetime
from itertools import takewhile

import attrs
from moneyed import Money

from patient_ledger import _sorted
from patient_ledger.apply import advance
from patient_ledger.commands._checks import (
    _account,
    _amount_arg,
    _appointment,
    _auto_applied,
    _draw,
    _due,
    _fmt,
    _is_resubmission,
    _item,
    _line,
    _patient,
)
from patient_ledger.commands._seed import _added, cancel_offsetting
from patient_ledger.errors import (
    AlreadyReversedError,
    InsufficientAllocatedError,
    InsufficientUnallocatedError,
    InvalidAmountError,
    InvalidInputError,
    OverApplicationError,
    UnknownIdError,
)
from patient_ledger.events import (
    AllocationUnapplied,
    Application,
    AppointmentCancelled,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntryPart,
    Minor,
    Move,
    PaymentReversed,
    Return,
    UnallocatedApplied,
)
from patient_ledger.money import to_money
from patient_ledger.state import (
    ALLOCATED,
    AVAILABLE,
    CHARGED,
    GENERAL_AVAILABLE,
    LINES,
    OWNER,
    REMAINING,
    AppointmentState,
    Bucket,
    Entry,
    Ledger,
    State,
    ledger_of,
    line_of,
    lines_of,
    state_of,
)
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    AllocationOrder,
    PaymentType,
    Transfer,
    check_choice,
    check_date,
    check_id,
    check_optional_id,
    check_optional_str,
)

# -- SPEC §9: the rest of the workflow --------------------------------------------------------


def _taken(
    appointment: AppointmentState, amount: int, charge_id: str | None = None, skip: int = 0
) -> list[tuple[str, int]]:
    """``amount`` of an appointment's allocations, newest first (only the line ``charge_id``'s
    when one is named), after passing over the newest ``skip``: ``(payment_id, amount)``."""
    taken: list[tuple[str, int]] = []
    for _, payment_id, part, line in _sorted.iterate_reversed(appointment.allocations):
        if amount <= 0:
            break
        if charge_id is not None and line != charge_id:
            continue
        passed = min(part, skip)
        skip -= passed
        take = min(part - passed, amount)
        if take:
            amount -= take
            taken.append((payment_id, take))
    return taken


def _as_entries(state: State, taken: list[tuple[str, int]]) -> tuple[Return, ...]:
    """Parts of payments taken back, each held again as a new entry (ids in order)."""
    return tuple(
        (payment_id, Minor(amount), state.next_entry_id(number))
        for number, (payment_id, amount) in enumerate(taken)
    )


def _moves(state: State, bucket: Bucket, amount: int) -> tuple[Move, ...]:
    """Move ``amount`` of a bucket's open entries, oldest first, into new entries."""
    return tuple(
        (entry_id, state.next_entry_id(number), take)
        for number, (entry_id, take) in enumerate(_draw(state, bucket.open, amount))
    )


def unapply(
    ledger: Ledger,
    appointment_id: str,
    amount: Money | None = None,
    *,
    on: datetime.date,
    charge_id: str | None = None,
) -> Ledger:
    """Take allocated money off an appointment (newest allocations first) into the patient's
    general bucket — a copay collected where insurance then assigned none, say. With
    ``charge_id``, only that line's allocations are taken.

    ``amount=None`` takes all of it (the ledger is returned unchanged if nothing is allocated,
    and for a cancelled appointment, which holds nothing). The balance due rises by the amount,
    unless the appointment's own bucket holds money: that is then applied at once (invariant 5).

    Raises:
        InvalidInputError / InvalidAmountError: malformed id, date or amount (must be > 0).
        UnknownIdError: the appointment or line is not in the ledger; PatientMismatchError /
            InvalidInputError: the line is another patient's / not on the appointment.
        InsufficientAllocatedError: more than is allocated to the appointment (or the line).
    """
    state = state_of(ledger)
    check_id(appointment_id, "appointment_id")
    minor = _amount_arg(state, amount, "amount to unapply")
    check_date(on, "on")
    check_optional_id(charge_id, "charge_id")
    appointment = _appointment(state, appointment_id)
    if charge_id is not None:
        _line(state, charge_id, appointment_id, appointment.appointment.patient_id)
    if appointment_id in state.cancelled:
        return ledger
    allocated = appointment.allocated
    where = f"appointment {appointment_id!r}"
    if charge_id is not None:
        allocated = line_of(state.accounts[appointment_id], charge_id)[2]
        where = f"line {charge_id!r} of appointment {appointment_id!r}"
    if minor is None:
        minor = allocated
        if not minor:
            return ledger
    if minor > allocated:
        raise InsufficientAllocatedError(
            f"cannot unapply {_fmt(state, minor)} from {where}: only "
            f"{_fmt(state, allocated)} is allocated to it",
            id=appointment_id,
            amount=amount,
            allocated=to_money(allocated, state.currency),
        )
    # One entry per payment, not per line part (SPEC §10), in the order taken: newest first.
    taken: dict[str, int] = {}
    for payment_id, part in _taken(appointment, minor, charge_id):
        taken[payment_id] = taken.get(payment_id, 0) + part
    returned = _as_entries(state, list(taken.items()))
    event = AllocationUnapplied(
        appointment_id=appointment_id,
        returned=returned,
        applied=(),
        on=on,
        charge_id=charge_id,
    )
    if appointment.bucket.available > 0:
        # The reopened balance meets the appointment's own held money (invariant 5).
        applied = _auto_applied(state, appointment_id, appointment.due + minor)
        event = attrs.evolve(event, applied=applied)
    return ledger_of(advance(state, event))


def release_credit(
    ledger: Ledger, appointment_id: str, amount: Money | None = None, *, on: datetime.date
) -> Ledger:
    """Move money from an appointment's bucket to the patient's general bucket, oldest first.

    ``amount=None`` moves all that is available (unchanged ledger if that is zero). A cancelled
    appointment holds nothing (its entries moved when it was cancelled): the ledger is returned
    unchanged, with or without an amount.

    Raises:
        InvalidInputError / InvalidAmountError: malformed id, date or amount (must be > 0).
        UnknownIdError: the appointment is not in the ledger.
        InsufficientUnallocatedError: more than the bucket's available amount.
    """
    state = state_of(ledger)
    check_id(appointment_id, "appointment_id")
    minor = _amount_arg(state, amount, "amount to release")
    check_date(on, "on")
    appointment = _appointment(state, appointment_id)
    if appointment_id in state.cancelled:  # its entries moved to the general bucket
        return ledger
    available = appointment.bucket.available
    if minor is None:
        minor = available
        if minor <= 0:
            return ledger
    if minor > available:
        raise InsufficientUnallocatedError(
            f"cannot release {_fmt(state, minor)} from appointment {appointment_id!r}: its "
            f"bucket has {_fmt(state, available)} available",
            id=appointment_id,
            amount=amount,
            available=to_money(available, state.currency),
        )
    moves = _moves(state, appointment.bucket, minor)
    return ledger_of(
        advance(state, CreditReleased(appointment_id=appointment_id, moves=moves, on=on))
    )


def adjust_charge(ledger: Ledger, adjustment: Adjustment) -> Ledger:
    """Change a charge's (a line's) patient responsibility by the adjustment's signed amount.

    Money freed from the line, when its responsibility falls below what is allocated to it,
    goes — newest freed first — to the appointment's other lines with a balance due (line
    order), and only what is left into the appointment's own bucket, still the patient's money;
    when the balance due rises, the appointment's bucket is auto-applied.

    Raises:
        InvalidInputError: not an :class:`Adjustment`; CurrencyMismatchError: wrong currency.
        DuplicateIdError: its id is known with different content.
        UnknownIdError: the charge is not in the ledger.
        OverApplicationError: the charge would go below zero, or a ``WRITE_OFF`` exceeds the
            line's balance due.
    """
    state = state_of(ledger)
    _item(state, adjustment, Adjustment, "adjustment")
    known = state.adjustments.get(adjustment.id)
    if known is not None and _is_resubmission(state, known, adjustment, "adjustment"):
        return ledger
    charge = state.charges.get(adjustment.charge_id)
    if charge is None:
        raise UnknownIdError(
            f"charge {adjustment.charge_id!r} is not in the ledger", id=adjustment.charge_id
        )
    appointment_id = charge.appointment_id
    account = state.accounts[appointment_id]
    _, responsibility, allocated = line_of(account, charge.id)
    delta = adjustment.minor_units
    if responsibility + delta < 0:
        raise OverApplicationError(
            f"adjustment {adjustment.id!r} of {_fmt(state, delta)} would take "
            f"charge {charge.id!r} ({_fmt(state, responsibility)}) below zero",
            id=adjustment.id,
            amount=adjustment.amount,
        )
    line_due = responsibility - allocated
    if adjustment.type is AdjustmentType.WRITE_OFF and -delta > line_due:
        raise OverApplicationError(
            f"write-off {adjustment.id!r} of {_fmt(state, -delta)} exceeds line "
            f"{charge.id!r}'s balance due of {_fmt(state, line_due)}",
            id=adjustment.id,
            amount=adjustment.amount,
            balance_due=to_money(line_due, state.currency),
        )
    freed = allocated - (responsibility + delta)
    if freed > 0:  # to the other lines' balances due first (newest freed), then the bucket
        others = sum(r - a for c, r, a in lines_of(account) if c != charge.id)
        moved = min(freed, others)
        appointment = state.appointment(appointment_id)
        returned = _as_entries(state, _taken(appointment, freed - moved, charge.id, skip=moved))
        event = ChargeAdjusted(adjustment=adjustment, returned=returned)
    else:  # the bucket is unchanged; a risen balance meets its held money
        due = account[CHARGED] - account[ALLOCATED] + delta
        event = ChargeAdjusted(
            adjustment=adjustment, applied=_auto_applied(state, appointment_id, due)
        )
    return ledger_of(advance(state, event))


def reverse_payment(
    ledger: Ledger,
    payment_id: str,
    amount: Money | None = None,
    *,
    on: datetime.date,
    reason: str | None = None,
) -> Ledger:
    """Take a payment back (a bounced check, a chargeback, a posting in error), all of it or
    ``amount`` of it.

    ``amount=None``: all of the payment not yet reversed — its allocations are undone (balances
    due reopen, and an appointment's own held money is then applied) and its open entries
    close, wherever they are now, transferred money included. Reversing a refund puts its
    money back. With ``amount``, that much of what is left of the payment is taken back:
    strictly first from its open entries, newest first, then from its allocations, newest
    first. Total Paid falls by each amount reversed, for whichever patients held it.

    Raises:
        InvalidInputError / InvalidAmountError: malformed id, date, reason or amount (> 0), or
            an amount for a refund (a refund is reversed only whole).
        UnknownIdError: the payment is not in the ledger.
        AlreadyReversedError: reversals have already taken all of it back.
        InvalidAmountError: more than what is left of the payment.
        InsufficientUnallocatedError: the money has already left — part of it was closed by
            ``cancel_offsetting``, or closing its entries would leave a bucket below zero.
    """
    state = state_of(ledger)
    check_id(payment_id, "payment_id")
    minor = _amount_arg(state, amount, "amount to reverse")
    check_date(on, "on")
    check_optional_str(reason, "reason")
    payment_row = state.payments.get(payment_id)
    if payment_row is None:
        raise UnknownIdError(f"payment {payment_id!r} is not in the ledger", id=payment_id)
    known = payment_row[0]
    if minor is not None and known.type is PaymentType.REFUND:
        raise InvalidInputError(
            f"payment {payment_id!r} is a refund: it is reversed only whole (no amount)",
            id=payment_id,
        )
    _, reversed_so_far = state.reversed.get(payment_id, (on, 0))
    if reversed_so_far == known.minor_units:
        raise AlreadyReversedError(f"payment {payment_id!r} was already reversed", id=payment_id)
    if minor is None:
        parts = _whole_reversal(state, payment_id, known.minor_units - reversed_so_far)
    else:
        parts = _partial_reversal(state, payment_id, minor)
    allocations, entries = parts
    uncounted = 0
    counting = state.counted.get(payment_id)
    if counting is not None:  # SPEC §11: it counts at most what is left of it
        now = sum(part for _, part in allocations) + sum(part for _, part in entries)
        left = state.left_of(payment_id) - now
        uncounted = max(0, counting[1] - left)
    event = PaymentReversed(
        payment_id=payment_id,
        allocations=allocations,
        entries=entries,
        applied=(),
        on=on,
        reason=reason,
        uncounted=Minor(uncounted),
    )
    # Decided on the state read: the balances the allocations taken back reopen, and the
    # buckets less the entries closed.
    reopened: dict[str, int] = {}
    for appointment_id, part in allocations:
        reopened[appointment_id] = reopened.get(appointment_id, 0) + part
    taken = dict(entries)
    applied = tuple(
        part
        for appointment_id in _touched(state, event)
        for part in _auto_applied(
            state,
            appointment_id,
            _due(state, appointment_id) + reopened.get(appointment_id, 0),
            taken,
        )
    )
    if applied:
        event = attrs.evolve(event, applied=applied)
    return ledger_of(advance(state, event))


def _touched(state: State, event: PaymentReversed) -> list[str]:
    """The appointments a reversal reopens or draws on, in the order their held money is then
    applied: by holder, the appointments it took allocations from, then those whose buckets it
    drew on, each in the order they were added."""
    holders = state.holders_of(event.payment_id)
    order: dict[str, tuple[int, int, int]] = {}
    for appointment_id, _ in event.allocations:
        owner = state.accounts[appointment_id][OWNER]
        order.setdefault(appointment_id, (holders.index(owner), 0, _added(state, appointment_id)))
    for entry_id, _ in event.entries:
        patient_id, bucket = state.entries[entry_id][:2]
        if bucket is not None:
            order.setdefault(bucket, (holders.index(patient_id), 1, _added(state, bucket)))
    return sorted(order, key=order.__getitem__)


#: What a reversal takes: ``(appointment_id, amount)`` allocations and open entries' parts.
ReversalParts = tuple[tuple[tuple[str, Minor], ...], tuple[EntryPart, ...]]


def _whole_reversal(state: State, payment_id: str, expected: int) -> ReversalParts:
    """What is left of a payment, all taken back: refused when any of ``expected`` (what
    reversals have not taken yet) has left through ``cancel_offsetting`` or a bucket would fall
    below zero. Events list the money as the holders hold it: each holder's appointments in the
    order they were added, general bucket first."""
    placements, held_ids = state.placements(payment_id), state.held_by(payment_id)
    holders = state.holders_of(payment_id)

    def owner(appointment_id: str | None, patient_id: str) -> tuple[int, int]:
        return (holders.index(patient_id), _added(state, appointment_id))

    allocated: dict[str, int] = {}
    for appointment_id, _, part, *_ in placements:
        allocated[appointment_id] = allocated.get(appointment_id, 0) + part
    allocation_order = sorted(allocated, key=lambda a: owner(a, state.accounts[a][OWNER]))
    held: dict[tuple[str, str | None], list[Entry]] = {}
    for entry_id in held_ids:
        entry = state.entry(entry_id)
        held.setdefault((entry.patient_id, entry.appointment_id), []).append(entry)
    entries: list[EntryPart] = []
    for holder, bucket_appointment_id in sorted(held, key=lambda b: owner(b[1], b[0])):
        bucket = sorted(held[holder, bucket_appointment_id], key=lambda e: e.key)
        total = sum(entry.remaining for entry in bucket)
        available = _available(state, holder, bucket_appointment_id)
        if available - total < 0:
            raise _held_back(state, payment_id, total, available, holder, bucket_appointment_id)
        entries.extend((entry.id, Minor(entry.remaining)) for entry in bucket)
    accounted = sum(allocated.values()) + sum(part for _, part in entries)
    if accounted != expected:
        raise InsufficientUnallocatedError(
            f"cannot reverse payment {payment_id!r} of {_fmt(state, expected)}: "
            f"{_fmt(state, expected - accounted)} of it has already left "
            "(closed by cancel_offsetting)",
            id=payment_id,
            amount=to_money(expected, state.currency),
        )
    return tuple((a, Minor(allocated[a])) for a in allocation_order), tuple(entries)


def _partial_reversal(state: State, payment_id: str, amount: int) -> ReversalParts:
    """``amount`` of what is left of a payment: its open entries newest first, then its
    allocations newest first; refused, never skipping ahead, where an entry's bucket would fall
    below zero."""
    left = state.left_of(payment_id)
    if amount > left:
        raise InvalidAmountError(
            f"cannot reverse {_fmt(state, amount)} of payment {payment_id!r}: only "
            f"{_fmt(state, left)} of it is left",
            id=payment_id,
            amount=to_money(amount, state.currency),
            left=to_money(left, state.currency),
        )
    entries: list[EntryPart] = []
    drawn: dict[tuple[str, str | None], int] = {}
    for entry in sorted(
        map(state.entry, state.held_by(payment_id)), key=lambda e: e.key, reverse=True
    ):
        if not amount:
            break
        take = min(entry.remaining, amount)
        where = (entry.patient_id, entry.appointment_id)
        available = _available(state, *where) - drawn.get(where, 0)
        if available - take < 0:
            raise _held_back(state, payment_id, take, available, *where)
        drawn[where] = drawn.get(where, 0) + take
        entries.append((entry.id, Minor(take)))
        amount -= take
    allocations: list[tuple[str, Minor]] = []
    for appointment_id, _, part, *_ in reversed(state.placements(payment_id)):
        if not amount:
            break
        take = min(part, amount)
        allocations.append((appointment_id, Minor(take)))
        amount -= take
    return tuple(allocations), tuple(entries)


def _available(state: State, patient_id: str, appointment_id: str | None) -> int:
    """A bucket's available amount: the patient's general one, or an appointment's."""
    if appointment_id is None:
        return state.patients[patient_id][GENERAL_AVAILABLE]
    return state.accounts[appointment_id][AVAILABLE]


def _held_back(  # noqa: PLR0917 - the facts of the refusal
    state: State,
    payment_id: str,
    total: int,
    available: int,
    holder: str,
    appointment_id: str | None,
) -> InsufficientUnallocatedError:
    where = "general" if appointment_id is None else f"appointment {appointment_id!r}"
    return InsufficientUnallocatedError(
        f"cannot reverse payment {payment_id!r}: closing its {_fmt(state, total)} "
        f"would leave patient {holder!r}'s {where} bucket at "
        f"{_fmt(state, available - total)} (an open refund holds it)",
        id=payment_id,
    )


def transfer_credit(ledger: Ledger, transfer: Transfer) -> Ledger:
    """Move general-bucket money from one patient to another (a family member, a guarantor).

    The oldest entries go first; Total Paid moves with the money. The receiver may be new to
    the ledger: it becomes known, as a payment's patient does.

    Raises:
        InvalidInputError: not a :class:`Transfer`; CurrencyMismatchError: wrong currency.
        DuplicateIdError: its id is known with different content.
        UnknownIdError: the sender is not in the ledger.
        InsufficientUnallocatedError: more than the sender's general bucket has available.
    """
    state = state_of(ledger)
    _item(state, transfer, Transfer, "transfer")
    known = state.transfers.get(transfer.id)
    if known is not None and _is_resubmission(state, known, transfer, "transfer"):
        return ledger
    general = _patient(state, transfer.from_patient_id).general
    if transfer.minor_units > general.available:
        raise InsufficientUnallocatedError(
            f"transfer {transfer.id!r} of {_fmt(state, transfer.minor_units)} exceeds patient "
            f"{transfer.from_patient_id!r}'s general bucket, which has "
            f"{_fmt(state, general.available)} available",
            id=transfer.id,
            amount=transfer.amount,
            available=to_money(general.available, state.currency),
        )
    moves = _moves(state, general, transfer.minor_units)
    return ledger_of(advance(state, CreditTransferred(transfer=transfer, moves=moves)))


def auto_allocate(
    ledger: Ledger,
    patient_id: str,
    *,
    on: datetime.date,
    order: AllocationOrder = AllocationOrder.OLDEST_FIRST,
    provider: str | None = None,
) -> Ledger:
    """Apply the patient's general bucket to their appointments with a balance due.

    Never to one dated after ``on`` (nor a cancelled one), by the rule ``order`` (SPEC §10):

    * ``OLDEST_FIRST``: by date, then id; each gets what is left, up to its balance due.
    * ``SMALLEST_FIRST``: by balance due, smallest first (then date, then id); an appointment
      is paid only when what is left covers its whole balance due, else it is skipped.

    With ``provider``, only appointments of that provider are paid. Within an appointment, lines
    in line order. Nothing to place: the ledger is returned unchanged, so a second call with the
    same arguments returns an equal ledger.

    Raises:
        InvalidInputError: malformed id, date, order or provider.
        UnknownIdError: the patient is not in the ledger.
    """
    state = state_of(ledger)
    check_id(patient_id, "patient_id")
    check_date(on, "on")
    order = check_choice(AllocationOrder, order)
    check_optional_str(provider, "provider")
    patient = _patient(state, patient_id)
    left = patient.general.available
    if left <= 0:
        return ledger
    owing = (
        (date, appointment_id, state.accounts[appointment_id])
        for date, appointment_id in _sorted.iterate(patient.owing)  # by date, then id
    )
    candidates = (
        (account[CHARGED] - account[ALLOCATED], date, appointment_id)
        for date, appointment_id, account in owing
        if provider is None or state.appointments[appointment_id].provider == provider
    )
    if order is AllocationOrder.SMALLEST_FIRST:
        chosen = sorted(due_date_id for due_date_id in candidates if due_date_id[1] <= on)
    else:
        chosen = list(takewhile(lambda due_date_id: due_date_id[1] <= on, candidates))
    held = (
        (entry_id, state.entries[entry_id][REMAINING])
        for _, _, entry_id in _sorted.iterate(patient.general.open)
    )
    applied: list[Application] = []
    entry_id, entry_left = "", 0
    for due, _, appointment_id in chosen:
        if left <= 0:
            break
        if order is AllocationOrder.SMALLEST_FIRST and due > left:
            continue  # never part of a balance
        amount = min(left, due)
        left -= amount
        while amount:  # oldest open positive entries first
            while entry_left <= 0:
                entry_id, entry_left = next(held)
            take = min(entry_left, amount)
            applied.append((entry_id, appointment_id, Minor(take)))
            entry_left -= take
            amount -= take
    if not applied:
        return ledger
    event = UnallocatedApplied(patient_id=patient_id, applied=tuple(applied), on=on)
    return ledger_of(advance(state, event))


def cancel_appointment(
    ledger: Ledger, appointment_id: str, *, on: datetime.date, reason: str | None = None
) -> Ledger:
    """Cancel a visit that will not happen: every open entry of its bucket (positive and
    negative) moves to the patient's general bucket, keeping its payment, id and received date,
    and the appointment leaves the claims feed and aging. Cancelling it again returns the
    ledger unchanged.

    Raises:
        InvalidInputError: malformed id, date or reason, or the appointment has charges (its
            lines stay payable: write them off instead).
        UnknownIdError: the appointment is not in the ledger.
    """
    state = state_of(ledger)
    check_id(appointment_id, "appointment_id")
    check_date(on, "on")
    check_optional_str(reason, "reason")
    account = _account(state, appointment_id)
    if appointment_id in state.cancelled:
        return ledger
    if account[LINES]:
        raise InvalidInputError(
            f"appointment {appointment_id!r} has charges "
            f"({', '.join(line[0] for line in lines_of(account))}): it is not cancelled — its "
            "lines stay payable; write them off instead",
            id=appointment_id,
        )
    event = AppointmentCancelled(appointment_id=appointment_id, on=on, reason=reason)
    return ledger_of(advance(state, event))


# -- practice-wide: one call for every patient ------------------------------------------------


def auto_allocate_all(
    ledger: Ledger,
    *,
    on: datetime.date,
    order: AllocationOrder = AllocationOrder.OLDEST_FIRST,
    provider: str | None = None,
) -> Ledger:
    """:func:`auto_allocate` for every patient of the practice, in patient id order: the same
    ledger as the per-patient command applied patient by patient (a patient with nothing to
    place adds no event).

    Raises:
        InvalidInputError: malformed date, order or provider.
    """
    check_date(on, "on")
    for patient_id in sorted(state_of(ledger).patients.keys()):
        ledger = auto_allocate(ledger, patient_id, on=on, order=order, provider=provider)
    return ledger


def cancel_offsetting_all(ledger: Ledger, *, on: datetime.date) -> Ledger:
    """:func:`cancel_offsetting` (without ``entry_ids``) for every patient of the practice, in
    patient id order: the same ledger as the per-patient command applied patient by patient.

    Raises:
        InvalidInputError: a malformed date.
    """
    check_date(on, "on")
    for patient_id in sorted(state_of(ledger).patients.keys()):
        ledger = cancel_offsetting(ledger, patient_id, on=on)
    return ledger
