"""The commands of SPEC §4, the seed's workflow: appointments, charges, payments, refunds,
applying and cancelling unallocated entries."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from moneyed import Money

from patient_ledger import _sorted
from patient_ledger.apply import advance
from patient_ledger.commands._checks import (
    _account,
    _amount_arg,
    _applications,
    _auto_applied,
    _check_payment,
    _draw,
    _fmt,
    _is_resubmission,
    _item,
    _line,
    _of_type,
    _open,
    _patient,
)
from patient_ledger.commands._plans import _plan_is_active, _plan_row
from patient_ledger.errors import (
    InsufficientUnallocatedError,
    InvalidInputError,
    NotOffsettingError,
    OverApplicationError,
    PatientMismatchError,
    UnknownIdError,
)
from patient_ledger.events import (
    AppointmentAdded,
    ChargeAdded,
    EntriesCancelled,
    EntryPart,
    Minor,
    PaymentPosted,
    PlanPaymentPosted,
    RefundPosted,
    UnallocatedApplied,
)
from patient_ledger.money import to_money
from patient_ledger.state import (
    ADDED,
    ALLOCATED,
    APPOINTMENT,
    AVAILABLE,
    CHARGED,
    OPEN,
    PLAN_AMOUNT,
    PLAN_APPOINTMENTS,
    PLAN_PAID,
    REMAINING,
    Ledger,
    PatientState,
    State,
    ledger_of,
    state_of,
)
from patient_ledger.values import (
    Appointment,
    Charge,
    Payment,
    check_date,
    check_id,
    check_optional_id,
)

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
    if known is not None and _is_resubmission(state, known, appointment, "appointment"):
        return ledger
    return ledger_of(advance(state, AppointmentAdded(appointment)))


def add_charge(ledger: Ledger, charge: Charge) -> Ledger:
    """Add a charge — a new line, last in line order — to its appointment, then auto-apply
    that appointment's held money to it.

    The appointment's open bucket entries are applied oldest first until the balance due or the
    bucket's available amount is zero; a partly used entry keeps its remainder open.

    Raises:
        InvalidInputError: not a :class:`Charge`; CurrencyMismatchError: wrong currency.
        DuplicateIdError: its id is known with different content.
        UnknownIdError: the appointment is not in the ledger.
        AppointmentCancelledError: the appointment was cancelled.
    """
    state = state_of(ledger)
    _item(state, charge, Charge, "charge")
    known = state.charges.get(charge.id)
    if known is not None and _is_resubmission(state, known, charge, "charge"):
        return ledger
    account = _account(state, charge.appointment_id)
    _open(state, charge.appointment_id)
    event = ChargeAdded(charge)
    if account[AVAILABLE] > 0:
        # Decide what the held money pays on the state with the charge, then record both.
        due = account[CHARGED] + charge.minor_units - account[ALLOCATED]
        event = ChargeAdded(charge, _auto_applied(state, charge.appointment_id, due))
    return ledger_of(advance(state, event))


def post_payment(ledger: Ledger, payment: Payment) -> Ledger:
    """Post a payment (amount > 0, any type but ``REFUND``).

    With no appointment and no line the whole amount is held in the patient's general bucket.
    With an appointment (of the same patient), ``min(amount, balance due)`` is allocated to its
    lines — the payment's ``charge_id`` line first, up to its balance due, then the others in
    line order — and any remainder is held in that appointment's bucket, to be applied when
    charges are added. A payment naming a line but no appointment goes to the line's
    appointment.

    Raises:
        InvalidInputError: not a :class:`Payment`, or a ``REFUND``; CurrencyMismatchError.
        DuplicateIdError: its id is known with different content.
        UnknownIdError / PatientMismatchError: the appointment or line is unknown / another
            patient's; InvalidInputError: the line is not on the named appointment.
        AppointmentCancelledError: the appointment was cancelled.
    """
    state = state_of(ledger)
    payment = _check_payment(state, payment, refund=False)
    known = state.payments.get(payment.id)
    if known is not None and _is_resubmission(state, known[0], payment, "payment"):
        return ledger
    if payment.plan_id is not None:
        return ledger_of(advance(state, _plan_payment(state, payment)))
    appointment_id = payment.appointment_id
    if appointment_id is not None:
        _account(state, appointment_id, payment.patient_id)
    if payment.charge_id is not None:
        appointment_id = _line(state, payment.charge_id, appointment_id, payment.patient_id)
    allocated = 0
    if appointment_id is not None:
        _open(state, appointment_id)
        account = state.accounts[appointment_id]
        allocated = min(payment.minor_units, account[CHARGED] - account[ALLOCATED])
    entry_id = state.next_entry_id() if allocated < payment.minor_units else None
    return ledger_of(
        advance(
            state, PaymentPosted(payment=payment, allocated=Minor(allocated), entry_id=entry_id)
        )
    )


def _plan_payment(state: State, payment: Payment) -> PlanPaymentPosted:
    """Decide a payment naming a plan (SPEC §11): its money placed oldest first on the plan's
    appointments (or, for a plan on the balance, the patient's appointments dated on or before
    its received date), the rest held in the general bucket; it counts up to the plan's
    remaining amount.

    Raises:
        UnknownIdError / PatientMismatchError: the plan is unknown / another patient's.
        InvalidInputError: the plan is not active.
    """
    plan_id = payment.plan_id
    assert plan_id is not None  # noqa: S101 - narrowing only; the caller checked
    row = _plan_row(state, plan_id)
    if row[0] != payment.patient_id:
        raise PatientMismatchError(
            f"payment plan {plan_id!r} belongs to patient {row[0]!r}, not {payment.patient_id!r}",
            id=plan_id,
            patient_id=payment.patient_id,
        )
    _plan_is_active(state, plan_id, row)
    accounts = state.accounts
    received_on = payment.received_on
    if row[PLAN_APPOINTMENTS]:
        owing: Iterable[tuple[datetime.date, str]] = sorted(
            (accounts[a][1], a) for a in row[PLAN_APPOINTMENTS]
        )
        received_on = datetime.date.max  # any of the plan's appointments, whatever its date
    else:  # the patient's appointments with a balance due, by date, then id
        owing = _sorted.iterate(state.patients[payment.patient_id][8])
    left = payment.minor_units
    placed: list[tuple[str, Minor]] = []
    for date, appointment_id in owing:
        if not left or date > received_on:
            break
        account = accounts[appointment_id]
        take = min(left, account[CHARGED] - account[ALLOCATED])
        if take > 0:  # (a cancelled appointment has no charges, so nothing due)
            placed.append((appointment_id, Minor(take)))
            left -= take
    counted = min(payment.minor_units, row[PLAN_AMOUNT] - row[PLAN_PAID])
    return PlanPaymentPosted(
        payment=payment,
        placed=tuple(placed),
        entry_id=state.next_entry_id() if left else None,
        counted=Minor(counted),
    )


def refund(ledger: Ledger, payment: Payment) -> Ledger:
    """Give money back: a ``REFUND`` payment with a negative amount.

    It draws on the general bucket (no appointment) or the appointment's bucket, and adds an
    open negative entry there, so the bucket's available amount and Total Paid fall by it.

    Raises:
        InvalidInputError: not a :class:`Payment`, or not a ``REFUND``; CurrencyMismatchError.
        DuplicateIdError: its id is known with different content.
        InvalidInputError: it names a line (``charge_id``): a refund draws on a bucket.
        UnknownIdError / PatientMismatchError: unknown patient or appointment / another's.
        AppointmentCancelledError: the appointment was cancelled.
        InsufficientUnallocatedError: larger than the bucket's available amount.
    """
    state = state_of(ledger)
    payment = _check_payment(state, payment, refund=True)
    known = state.payments.get(payment.id)
    if known is not None and _is_resubmission(state, known[0], payment, "payment"):
        return ledger
    patient = _patient(state, payment.patient_id)
    if payment.appointment_id is None:
        available = patient.general.available
        where = f"patient {payment.patient_id!r}'s general bucket"
    else:
        available = _account(state, payment.appointment_id, payment.patient_id)[AVAILABLE]
        _open(state, payment.appointment_id)
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
    charge_id: str | None = None,
) -> Ledger:
    """Apply money from the patient's general bucket to an appointment, oldest entries first:
    to the line ``charge_id`` first when one is named, then to the others in line order.

    ``amount=None`` applies as much as both the bucket and the balance due allow (the ledger is
    returned unchanged if that is zero). Nothing goes to the appointment's own bucket.

    Raises:
        InvalidInputError / InvalidAmountError: malformed ids, date, or amount (must be > 0).
        UnknownIdError / PatientMismatchError: unknown patient, appointment or line / another's.
        InvalidInputError: the line is not on the appointment.
        AppointmentCancelledError: the appointment was cancelled.
        InsufficientUnallocatedError: more than the general bucket's available amount.
        OverApplicationError: more than the appointment's balance due.
    """
    state = state_of(ledger)
    check_id(patient_id, "patient_id")
    check_id(appointment_id, "appointment_id")
    minor = _amount_arg(state, amount, "amount to apply")
    check_date(on, "on")
    check_optional_id(charge_id, "charge_id")
    general = _patient(state, patient_id).general
    account = _account(state, appointment_id, patient_id)
    if charge_id is not None:
        _line(state, charge_id, appointment_id, patient_id)
    _open(state, appointment_id)
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
    event = UnallocatedApplied(patient_id=patient_id, applied=applied, on=on, charge_id=charge_id)
    return ledger_of(advance(state, event))


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
