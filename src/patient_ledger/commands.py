"""The pure commands: each validates, decides one event, and applies it (``apply_event``).

Every command is ``command(ledger, ...) -> Ledger``: it decides exactly one event (with all it
caused inside: auto-applied money, moved entries) and returns the ledger after it, leaving its
argument as it was; on a broken rule it raises a
:class:`~patient_ledger.errors.LedgerError` and returns nothing. Rules are checked in one fixed
precedence — input shape, idempotency, references, state — so the first broken rule in that
order names the error.

Invariants kept by every command (SPEC §6), for every patient: total paid = allocated +
unallocated; no appointment is over-applied; every bucket's available amount is ≥ 0; an
appointment whose bucket holds money has no balance due; every amount is exact.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator

import attrs
from moneyed import Money

from patient_ledger import _sorted
from patient_ledger.apply import advance
from patient_ledger.errors import (
    AlreadyReversedError,
    DuplicateIdError,
    InsufficientAllocatedError,
    InsufficientUnallocatedError,
    InvalidAmountError,
    InvalidInputError,
    NotOffsettingError,
    OverApplicationError,
    PatientMismatchError,
    UnknownIdError,
)
from patient_ledger.events import (
    AllocationUnapplied,
    Application,
    AppointmentAdded,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntriesCancelled,
    EntryPart,
    Minor,
    Move,
    PaymentPosted,
    PaymentReversed,
    RefundPosted,
    Return,
    UnallocatedApplied,
)
from patient_ledger.money import check_currency, to_minor, to_money
from patient_ledger.state import (
    ADDED,
    ALLOCATED,
    APPOINTMENT,
    AVAILABLE,
    CHARGED,
    GENERAL_AVAILABLE,
    OPEN,
    OWNER,
    REMAINING,
    AccountRow,
    AppointmentState,
    Bucket,
    Entry,
    Ledger,
    PatientState,
    State,
    ledger_of,
    state_of,
)
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    Appointment,
    Charge,
    Payment,
    PaymentType,
    Transfer,
    check_date,
    check_id,
    check_optional_str,
)

# -- shared checks ----------------------------------------------------------------------------


def _of_type(value: object, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise InvalidInputError(
            f"{what} must be a {kind.__name__}, got {type(value).__name__} {value!r}"
        )


def _item(state: State, item: object, kind: type, what: str) -> None:
    """Refuse a value object of the wrong type, or whose amount is not in the ledger's currency
    (the message is only built for a refusal: this is on every command's path)."""
    _of_type(item, kind, what)
    amount = item.amount  # type: ignore[attr-defined] # every kind checked here has one
    if amount.currency.code != state.currency:
        check_currency(amount, state.currency, f"{what} {item.id!r} amount")  # type: ignore[attr-defined]


def _fmt(state: State, minor: int) -> str:
    """An amount for a message: exact, with its currency (``'200.00 USD'``)."""
    return f"{to_money(minor, state.currency).amount} {state.currency}"


def _amount_arg(state: State, amount: object, what: str) -> int | None:
    """An optional Money argument of a command: ``None``, or exact, in currency, and > 0."""
    if amount is None:
        return None
    minor = to_minor(amount, what)
    check_currency(amount, state.currency, what)  # type: ignore[arg-type]
    if minor <= 0:
        raise InvalidAmountError(f"{what} must be > 0, got {_fmt(state, minor)}", amount=amount)
    return minor


def _is_resubmission(existing: object, new: object, kind: str, item_id: str) -> bool:
    """Idempotency, for an id already known: True for an equal resubmission; a different one is
    a DuplicateIdError."""
    if existing == new:
        return True
    raise DuplicateIdError(
        f"{kind} id {item_id!r} is already in the ledger with different content: "
        f"{existing!r} (now submitted: {new!r})",
        id=item_id,
    )


def _patient(state: State, patient_id: object) -> PatientState:
    if check_id(patient_id, "patient_id") not in state.patients:
        raise UnknownIdError(f"patient {patient_id!r} is not in the ledger", id=patient_id)
    return state.patient(patient_id)  # type: ignore[arg-type] # checked just above


def _account(state: State, appointment_id: object, patient_id: str | None = None) -> AccountRow:
    """An appointment's money; refuses an unknown appointment, or another patient's."""
    account = state.accounts.get(check_id(appointment_id, "appointment_id"))
    if account is None:
        raise UnknownIdError(
            f"appointment {appointment_id!r} is not in the ledger", id=appointment_id
        )
    owner = account[OWNER]
    if patient_id is not None and owner != patient_id:
        raise PatientMismatchError(
            f"appointment {appointment_id!r} belongs to patient {owner!r}, not {patient_id!r}",
            id=appointment_id,
            patient_id=patient_id,
        )
    return account


def _appointment(state: State, appointment_id: object) -> AppointmentState:
    _account(state, appointment_id)
    return state.appointment(appointment_id)  # type: ignore[arg-type] # checked just above


def _draw(state: State, keys: _sorted.Keys, amount: int) -> Iterator[EntryPart]:
    """Parts of a bucket's open positive entries (its ``keys``, oldest first) adding up to
    ``amount``.

    Callers never ask for more than the bucket's available amount, which is at most the sum
    of its positive entries, so the draw always completes.
    """
    entries = state.entries
    for _, _, entry_id in _sorted.iterate(keys):
        if amount <= 0:
            return
        remaining = entries[entry_id][REMAINING]
        if remaining > 0:
            take = min(remaining, amount)
            amount -= take
            yield entry_id, Minor(take)


def _applications(
    state: State, keys: _sorted.Keys, amount: int, appointment_id: str
) -> tuple[Application, ...]:
    """Apply ``amount`` of a bucket (its open ``keys``), oldest entries first, to an
    appointment."""
    return tuple((entry_id, appointment_id, take) for entry_id, take in _draw(state, keys, amount))


def _auto_applied(
    state: State, appointment_id: str, due: int | None = None
) -> tuple[Application, ...]:
    """What auto-apply takes from the appointment's own bucket for its balance due (invariant
    5): oldest entries first, until the balance due or the bucket's available amount is zero.

    ``due`` is the balance due the command leaves (the appointment's current one if None): a
    command that only changes charges or allocations, not the bucket, decides auto-apply
    without applying its event twice.
    """
    account = state.accounts[appointment_id]
    amount = min(account[AVAILABLE], account[CHARGED] - account[ALLOCATED] if due is None else due)
    if amount <= 0:
        return ()
    return _applications(state, account[OPEN], amount, appointment_id)


def _check_payment(state: State, payment: object, refund: bool) -> Payment:
    _item(state, payment, Payment, "payment")
    assert isinstance(payment, Payment)  # noqa: S101 - narrowing only; checked just above
    if refund and payment.type is not PaymentType.REFUND:
        raise InvalidInputError(
            f"refund() takes a payment of type REFUND; payment {payment.id!r} is "
            f"{payment.type.value}: use post_payment()",
            id=payment.id,
        )
    if not refund and payment.type is PaymentType.REFUND:
        raise InvalidInputError(
            f"payment {payment.id!r} is a REFUND: use refund(), not post_payment()", id=payment.id
        )
    return payment


# -- SPEC §4: the seed's workflow -------------------------------------------------------------


def add_appointment(ledger: Ledger, appointment: Appointment) -> Ledger:
    """Register an appointment, and so its patient.

    Raises:
        InvalidInputError: ``appointment`` is not an :class:`Appointment`.
        DuplicateIdError: its id is known with different content.
    """
    state = state_of(ledger)
    _of_type(appointment, Appointment, "appointment")
    known = state.appointments.get(appointment.id)
    if known is not None and _is_resubmission(known, appointment, "appointment", appointment.id):
        return ledger
    return ledger_of(advance(state, AppointmentAdded(appointment)))


def add_charge(ledger: Ledger, charge: Charge) -> Ledger:
    """Add a charge to its appointment, then auto-apply that appointment's held money.

    The appointment's open bucket entries are applied oldest first until the balance due or the
    bucket's available amount is zero; a partly used entry keeps its remainder open.

    Raises:
        InvalidInputError: not a :class:`Charge`; CurrencyMismatchError: wrong currency.
        DuplicateIdError: its id is known with different content.
        UnknownIdError: the appointment is not in the ledger.
    """
    state = state_of(ledger)
    _item(state, charge, Charge, "charge")
    known = state.charges.get(charge.id)
    if known is not None and _is_resubmission(known, charge, "charge", charge.id):
        return ledger
    account = _account(state, charge.appointment_id)
    event = ChargeAdded(charge)
    if account[AVAILABLE] > 0:
        # Decide what the held money pays on the state with the charge, then record both.
        due = account[CHARGED] + charge.minor_units - account[ALLOCATED]
        event = ChargeAdded(charge, _auto_applied(state, charge.appointment_id, due))
    return ledger_of(advance(state, event))


def post_payment(ledger: Ledger, payment: Payment) -> Ledger:
    """Post a payment (amount > 0, any type but ``REFUND``).

    With no appointment the whole amount is held in the patient's general bucket. With an
    appointment (of the same patient), ``min(amount, balance due)`` is allocated to it and any
    remainder is held in that appointment's bucket, to be applied when charges are added.

    Raises:
        InvalidInputError: not a :class:`Payment`, or a ``REFUND``; CurrencyMismatchError.
        DuplicateIdError: its id is known with different content.
        UnknownIdError / PatientMismatchError: the appointment is unknown / another patient's.
    """
    state = state_of(ledger)
    payment = _check_payment(state, payment, refund=False)
    known = state.payments.get(payment.id)
    if known is not None and _is_resubmission(known[0], payment, "payment", payment.id):
        return ledger
    allocated = 0
    if payment.appointment_id is not None:
        account = _account(state, payment.appointment_id, payment.patient_id)
        allocated = min(payment.minor_units, account[CHARGED] - account[ALLOCATED])
    entry_id = state.next_entry_id() if allocated < payment.minor_units else None
    return ledger_of(
        advance(
            state, PaymentPosted(payment=payment, allocated=Minor(allocated), entry_id=entry_id)
        )
    )


def refund(ledger: Ledger, payment: Payment) -> Ledger:
    """Give money back: a ``REFUND`` payment with a negative amount.

    It draws on the general bucket (no appointment) or the appointment's bucket, and adds an
    open negative entry there, so the bucket's available amount and Total Paid fall by it.

    Raises:
        InvalidInputError: not a :class:`Payment`, or not a ``REFUND``; CurrencyMismatchError.
        DuplicateIdError: its id is known with different content.
        UnknownIdError / PatientMismatchError: unknown patient or appointment / another's.
        InsufficientUnallocatedError: larger than the bucket's available amount.
    """
    state = state_of(ledger)
    payment = _check_payment(state, payment, refund=True)
    known = state.payments.get(payment.id)
    if known is not None and _is_resubmission(known[0], payment, "payment", payment.id):
        return ledger
    patient = _patient(state, payment.patient_id)
    if payment.appointment_id is None:
        available = patient.general.available
        where = f"patient {payment.patient_id!r}'s general bucket"
    else:
        available = _account(state, payment.appointment_id, payment.patient_id)[AVAILABLE]
        where = f"appointment {payment.appointment_id!r}'s bucket"
    if -payment.minor_units > available:
        raise InsufficientUnallocatedError(
            f"refund {payment.id!r} of {_fmt(state, payment.minor_units)} exceeds "
            f"{where}, which has {_fmt(state, available)} available",
            id=payment.id,
            amount=payment.amount,
            available=to_money(available, state.currency),
        )
    return ledger_of(advance(state, RefundPosted(payment=payment, entry_id=state.next_entry_id())))


def apply_unallocated(
    ledger: Ledger,
    patient_id: str,
    appointment_id: str,
    amount: Money | None = None,
    *,
    on: datetime.date,
) -> Ledger:
    """Apply money from the patient's general bucket to an appointment, oldest entries first.

    ``amount=None`` applies as much as both the bucket and the balance due allow (the ledger is
    returned unchanged if that is zero).

    Raises:
        InvalidInputError / InvalidAmountError: malformed ids, date, or amount (must be > 0).
        UnknownIdError / PatientMismatchError: unknown patient or appointment / another's.
        InsufficientUnallocatedError: more than the general bucket's available amount.
        OverApplicationError: more than the appointment's balance due.
    """
    state = state_of(ledger)
    check_id(patient_id, "patient_id")
    check_id(appointment_id, "appointment_id")
    minor = _amount_arg(state, amount, "amount to apply")
    check_date(on, "on")
    general = _patient(state, patient_id).general
    account = _account(state, appointment_id, patient_id)
    due = account[CHARGED] - account[ALLOCATED]
    if minor is None:
        minor = min(general.available, due)
        if minor <= 0:
            return ledger
    if minor > general.available:
        raise InsufficientUnallocatedError(
            f"cannot apply {_fmt(state, minor)} to appointment {appointment_id!r}: patient "
            f"{patient_id!r} has {_fmt(state, general.available)} in the general bucket",
            id=patient_id,
            amount=amount,
            available=to_money(general.available, state.currency),
        )
    if minor > due:
        raise OverApplicationError(
            f"cannot apply {_fmt(state, minor)} to appointment {appointment_id!r}: its balance "
            f"due is {_fmt(state, due)}",
            id=appointment_id,
            amount=amount,
            balance_due=to_money(due, state.currency),
        )
    applied = _applications(state, general.open, minor, appointment_id)
    return ledger_of(
        advance(state, UnallocatedApplied(patient_id=patient_id, applied=applied, on=on))
    )


def cancel_offsetting(
    ledger: Ledger,
    patient_id: str,
    entry_ids: Iterable[str] | None = None,
    *,
    on: datetime.date,
) -> Ledger:
    """Close open entries whose amounts sum to zero (a payment and its refund, say).

    With ``entry_ids``: those open entries, all of this patient and in one bucket, must sum to
    exactly zero; they are closed. Without: in each bucket, open negative entries are matched
    against open positive ones oldest first (splitting the last positive one if needed) and the
    matched parts are closed. Totals never change; the open table shrinks.

    Raises:
        InvalidInputError: malformed id, date or ``entry_ids`` (a str, empty, repeated ids).
        UnknownIdError: the patient or an entry is not in the ledger.
        NotOffsettingError: the entries do not sum to zero, are not open, or span patients or
            buckets.
    """
    state = state_of(ledger)
    check_id(patient_id, "patient_id")
    ids = None if entry_ids is None else _entry_ids(entry_ids)
    check_date(on, "on")
    patient = _patient(state, patient_id)
    if ids is None:
        parts = _offsetting_parts(state, patient)
        if not parts:
            return ledger
    else:
        parts = _chosen_parts(state, patient_id, ids)
    return ledger_of(
        advance(state, EntriesCancelled(patient_id=patient_id, parts=tuple(parts), on=on))
    )


def _entry_ids(entry_ids: object) -> tuple[str, ...]:
    if isinstance(entry_ids, str) or not isinstance(entry_ids, Iterable):
        raise InvalidInputError(
            f"entry_ids must be a collection of entry ids (not a single str), got {entry_ids!r}"
        )
    ids = tuple(entry_ids)
    for entry_id in ids:
        check_id(entry_id, "entry id")
    if not ids:
        raise InvalidInputError("entry_ids is empty: name the entries to cancel, or pass None")
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"entry_ids names an entry twice: {ids!r}")
    return ids


def _chosen_parts(state: State, patient_id: str, ids: tuple[str, ...]) -> list[EntryPart]:
    entries = []
    for entry_id in ids:
        if entry_id not in state.entries:
            raise UnknownIdError(f"entry {entry_id!r} is not in the ledger", id=entry_id)
        entries.append(state.entry(entry_id))
    for entry in entries:
        if entry.patient_id != patient_id:
            raise NotOffsettingError(
                f"entry {entry.id!r} belongs to patient {entry.patient_id!r}, not {patient_id!r}",
                id=entry.id,
            )
        if entry.remaining == 0:
            raise NotOffsettingError(f"entry {entry.id!r} is not open", id=entry.id)
    buckets = {entry.appointment_id for entry in entries}
    if len(buckets) > 1:
        raise NotOffsettingError(
            f"entries {ids!r} span several buckets: "
            + ", ".join(sorted("general" if b is None else f"appointment {b!r}" for b in buckets)),
            ids=ids,
        )
    total = sum(entry.remaining for entry in entries)
    if total:
        raise NotOffsettingError(
            f"entries {ids!r} sum to {_fmt(state, total)}, not zero",
            ids=ids,
            total=to_money(total, state.currency),
        )
    return [(entry.id, Minor(entry.remaining)) for entry in entries]


def _offsetting_parts(state: State, patient: PatientState) -> list[EntryPart]:
    """In each bucket, close every open negative entry and as much of the open positive ones,
    oldest first, as offsets them (a bucket's available amount is ≥ 0, so all are matched).
    Buckets go general first, then the appointments' in the order they were added."""
    negatives: dict[str | None, list[EntryPart]] = {}
    for _, _, entry_id in _sorted.iterate(patient.negatives):
        row = state.entries[entry_id]
        negatives.setdefault(row[APPOINTMENT], []).append((entry_id, Minor(row[REMAINING])))
    parts: list[EntryPart] = []
    for appointment_id in sorted(negatives, key=lambda a: _added(state, a)):
        keys = (
            patient.general.open if appointment_id is None else state.accounts[appointment_id][OPEN]
        )
        closed = negatives[appointment_id]
        parts.extend(_draw(state, keys, -sum(amount for _, amount in closed)))
        parts.extend(closed)
    return parts


def _added(state: State, appointment_id: str | None) -> int:
    """Where a bucket comes in a patient's buckets: the general one first, then appointments'
    in the order they were added."""
    return -1 if appointment_id is None else state.accounts[appointment_id][ADDED]


# -- SPEC §9: the rest of the workflow --------------------------------------------------------


def _returned(state: State, appointment: AppointmentState, amount: int) -> tuple[Return, ...]:
    """Take ``amount`` of an appointment's allocations back, newest first, as new entries."""
    returned: list[Return] = []
    for _, payment_id, part in _sorted.iterate_reversed(appointment.allocations):
        if amount <= 0:
            break
        take = min(part, amount)
        amount -= take
        returned.append((payment_id, Minor(take), state.next_entry_id(len(returned))))
    return tuple(returned)


def _moves(state: State, bucket: Bucket, amount: int) -> tuple[Move, ...]:
    """Move ``amount`` of a bucket's open entries, oldest first, into new entries."""
    return tuple(
        (entry_id, state.next_entry_id(number), take)
        for number, (entry_id, take) in enumerate(_draw(state, bucket.open, amount))
    )


def unapply(
    ledger: Ledger, appointment_id: str, amount: Money | None = None, *, on: datetime.date
) -> Ledger:
    """Take allocated money off an appointment (newest allocations first) into the patient's
    general bucket — a copay collected where insurance then assigned none, say.

    ``amount=None`` takes all of it (the ledger is returned unchanged if nothing is allocated).
    The balance due rises by the amount, unless the appointment's own bucket holds money: that
    is then applied at once (invariant 5).

    Raises:
        InvalidInputError / InvalidAmountError: malformed id, date or amount (must be > 0).
        UnknownIdError: the appointment is not in the ledger.
        InsufficientAllocatedError: more than is allocated to the appointment.
    """
    state = state_of(ledger)
    check_id(appointment_id, "appointment_id")
    minor = _amount_arg(state, amount, "amount to unapply")
    check_date(on, "on")
    appointment = _appointment(state, appointment_id)
    if minor is None:
        minor = appointment.allocated
        if not minor:
            return ledger
    if minor > appointment.allocated:
        raise InsufficientAllocatedError(
            f"cannot unapply {_fmt(state, minor)} from appointment {appointment_id!r}: only "
            f"{_fmt(state, appointment.allocated)} is allocated to it",
            id=appointment_id,
            amount=amount,
            allocated=to_money(appointment.allocated, state.currency),
        )
    event = AllocationUnapplied(
        appointment_id=appointment_id,
        returned=_returned(state, appointment, minor),
        applied=(),
        on=on,
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

    ``amount=None`` moves all that is available (unchanged ledger if that is zero).

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
    """Change a charge's patient responsibility by the adjustment's signed amount.

    When the appointment's allocations then exceed its charges, the excess (newest allocations
    first) is held in the appointment's own bucket — still the patient's money; when its balance
    due rises, the appointment's bucket is auto-applied.

    Raises:
        InvalidInputError: not an :class:`Adjustment`; CurrencyMismatchError: wrong currency.
        DuplicateIdError: its id is known with different content.
        UnknownIdError: the charge is not in the ledger.
        OverApplicationError: the charge would go below zero, or a ``WRITE_OFF`` exceeds the
            appointment's balance due.
    """
    state = state_of(ledger)
    _item(state, adjustment, Adjustment, "adjustment")
    known = state.adjustments.get(adjustment.id)
    if known is not None and _is_resubmission(known, adjustment, "adjustment", adjustment.id):
        return ledger
    charge = state.charges.get(adjustment.charge_id)
    if charge is None:
        raise UnknownIdError(
            f"charge {adjustment.charge_id!r} is not in the ledger", id=adjustment.charge_id
        )
    appointment_id = charge.appointment_id
    amount = state.charge_amount(charge.id)
    if amount + adjustment.minor_units < 0:
        raise OverApplicationError(
            f"adjustment {adjustment.id!r} of {_fmt(state, adjustment.minor_units)} would take "
            f"charge {charge.id!r} ({_fmt(state, amount)}) below zero",
            id=adjustment.id,
            amount=adjustment.amount,
        )
    appointment = state.appointment(appointment_id)
    due = appointment.due
    if adjustment.type is AdjustmentType.WRITE_OFF and -adjustment.minor_units > due:
        raise OverApplicationError(
            f"write-off {adjustment.id!r} of {_fmt(state, -adjustment.minor_units)} exceeds "
            f"appointment {appointment_id!r}'s balance due of {_fmt(state, due)}",
            id=adjustment.id,
            amount=adjustment.amount,
            balance_due=to_money(due, state.currency),
        )
    due += adjustment.minor_units
    if due < 0:  # allocations beyond the new charges: held again on the appointment
        event = ChargeAdjusted(adjustment=adjustment, returned=_returned(state, appointment, -due))
    else:  # the bucket is unchanged; a risen balance meets its held money
        event = ChargeAdjusted(
            adjustment=adjustment, applied=_auto_applied(state, appointment_id, due)
        )
    return ledger_of(advance(state, event))


def reverse_payment(
    ledger: Ledger, payment_id: str, *, on: datetime.date, reason: str | None = None
) -> Ledger:
    """Take a payment back (a bounced check, a chargeback, a posting in error).

    Its allocations are undone (balances due reopen, and an appointment's own held money is then
    applied) and its open entries close, wherever they are now — transferred money included.
    Reversing a refund puts its money back. Total Paid falls for whichever patients held it.

    Raises:
        InvalidInputError: malformed id, date or reason.
        UnknownIdError: the payment is not in the ledger.
        AlreadyReversedError: it was reversed before.
        InsufficientUnallocatedError: the money has already left — part of it was closed by
            ``cancel_offsetting``, or closing its entries would leave a bucket below zero.
    """
    state = state_of(ledger)
    check_id(payment_id, "payment_id")
    check_date(on, "on")
    check_optional_str(reason, "reason")
    payment_row = state.payments.get(payment_id)
    if payment_row is None:
        raise UnknownIdError(f"payment {payment_id!r} is not in the ledger", id=payment_id)
    known = payment_row[0]
    if payment_id in state.reversed:
        raise AlreadyReversedError(f"payment {payment_id!r} was already reversed", id=payment_id)
    holders = state.holders_of(payment_id)

    def owner(appointment_id: str | None, patient_id: str) -> tuple[int, int]:
        return (holders.index(patient_id), _added(state, appointment_id))

    # Events list the money as the holders hold it: each holder's appointments in the order
    # they were added, general bucket first.
    allocated: dict[str, int] = {}
    for appointment_id, _, part in payment_row[1]:
        allocated[appointment_id] = allocated.get(appointment_id, 0) + part
    allocation_order = sorted(allocated, key=lambda a: owner(a, state.accounts[a][OWNER]))
    allocations = [(a, Minor(allocated[a])) for a in allocation_order]
    held: dict[tuple[str, str | None], list[Entry]] = {}
    for entry_id in payment_row[2]:
        entry = state.entry(entry_id)
        held.setdefault((entry.patient_id, entry.appointment_id), []).append(entry)
    entries: list[EntryPart] = []
    touched: dict[str, list[str]] = {holder: [] for holder in holders}
    for appointment_id in allocation_order:
        touched[state.accounts[appointment_id][OWNER]].append(appointment_id)
    for holder, bucket_appointment_id in sorted(held, key=lambda b: owner(b[1], b[0])):
        bucket = sorted(held[holder, bucket_appointment_id], key=lambda e: e.key)
        total = sum(entry.remaining for entry in bucket)
        available = (
            state.patients[holder][GENERAL_AVAILABLE]
            if bucket_appointment_id is None
            else state.accounts[bucket_appointment_id][AVAILABLE]
        )
        if available - total < 0:
            where = (
                "general"
                if bucket_appointment_id is None
                else f"appointment {bucket_appointment_id!r}"
            )
            raise InsufficientUnallocatedError(
                f"cannot reverse payment {payment_id!r}: closing its {_fmt(state, total)} "
                f"would leave patient {holder!r}'s {where} bucket at "
                f"{_fmt(state, available - total)} (an open refund holds it)",
                id=payment_id,
            )
        entries.extend((entry.id, Minor(entry.remaining)) for entry in bucket)
        if bucket_appointment_id is not None:
            touched[holder].append(bucket_appointment_id)
    amount = known.minor_units
    accounted = sum(part for _, part in allocations) + sum(part for _, part in entries)
    if accounted != amount:
        raise InsufficientUnallocatedError(
            f"cannot reverse payment {payment_id!r} of {_fmt(state, amount)}: "
            f"{_fmt(state, amount - accounted)} of it has already left "
            "(closed by cancel_offsetting)",
            id=payment_id,
            amount=known.amount,
        )
    event = PaymentReversed(
        payment_id=payment_id,
        allocations=tuple(allocations),
        entries=tuple(entries),
        applied=(),
        on=on,
        reason=reason,
    )
    after = advance(state, event)
    applied = tuple(
        part
        for appointment_id in dict.fromkeys(a for ids in touched.values() for a in ids)
        for part in _auto_applied(after, appointment_id)
    )
    if applied:
        event = attrs.evolve(event, applied=applied)
    return ledger_of(advance(state, event))


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
    if known is not None and _is_resubmission(known, transfer, "transfer", transfer.id):
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


def auto_allocate(ledger: Ledger, patient_id: str, *, on: datetime.date) -> Ledger:
    """Apply the patient's general bucket to their appointments with a balance due, oldest
    appointment first (date, then id), never to one dated after ``on``. Idempotent.

    Raises:
        InvalidInputError: malformed id or date.
        UnknownIdError: the patient is not in the ledger.
    """
    state = state_of(ledger)
    check_id(patient_id, "patient_id")
    check_date(on, "on")
    patient = _patient(state, patient_id)
    left = patient.general.available
    applied: list[Application] = []
    held = (
        (entry_id, state.entries[entry_id][REMAINING])
        for _, _, entry_id in _sorted.iterate(patient.general.open)
    )
    entry_id, entry_left = "", 0
    for date, appointment_id in _sorted.iterate(patient.owing):  # by date, then id
        if date > on or left <= 0:
            break
        account = state.accounts[appointment_id]
        amount = min(left, account[CHARGED] - account[ALLOCATED])
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
