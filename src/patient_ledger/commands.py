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
from collections.abc import Iterable, Iterator, Mapping
from itertools import takewhile
from types import MappingProxyType

import attrs
from moneyed import Money

from patient_ledger import _sorted
from patient_ledger._stored import value_of
from patient_ledger.apply import advance
from patient_ledger.errors import (
    AlreadyReversedError,
    AppointmentCancelledError,
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
    AppointmentCancelled,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntriesCancelled,
    EntryPart,
    InstallmentSkipped,
    Minor,
    Move,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    PaymentPosted,
    PaymentReversed,
    PlanPaymentPosted,
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
    LINES,
    OPEN,
    OWNER,
    PLAN_AMOUNT,
    PLAN_APPOINTMENTS,
    PLAN_CANCELLED,
    PLAN_PAID,
    PLAN_SKIPS,
    REMAINING,
    AccountRow,
    AppointmentState,
    Bucket,
    Entry,
    Ledger,
    PatientState,
    PlanRow,
    State,
    installment_of,
    ledger_of,
    line_of,
    lines_of,
    plan_active,
    state_of,
)
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    AllocationOrder,
    Appointment,
    Charge,
    Payment,
    PaymentPlan,
    PaymentType,
    Transfer,
    check_choice,
    check_date,
    check_id,
    check_optional_id,
    check_optional_str,
    check_schedule,
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


def _is_resubmission(
    state: State,
    known: object,
    new: Appointment | Charge | Payment | Adjustment | Transfer,
    kind: str,
) -> bool:
    """Idempotency, for an id already known (``known``: what the state holds of it): True for an
    equal resubmission; a different one is a DuplicateIdError."""
    existing = value_of(known, state.currency)
    if existing == new:
        return True
    raise DuplicateIdError(
        f"{kind} id {new.id!r} is already in the ledger with different content: "
        f"{existing!r} (now submitted: {new!r})",
        id=new.id,
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


#: No entry taken from yet.
_NOTHING_TAKEN: Mapping[str, int] = MappingProxyType({})


def _due(state: State, appointment_id: str) -> int:
    """The appointment's balance due."""
    account = state.accounts[appointment_id]
    return account[CHARGED] - account[ALLOCATED]


def _draw(
    state: State, keys: _sorted.Keys, amount: int, taken: Mapping[str, int] = _NOTHING_TAKEN
) -> Iterator[EntryPart]:
    """Parts of a bucket's open positive entries (its ``keys``, oldest first) adding up to
    ``amount`` — with ``taken`` (entry id → amount) already taken from them by the same event.

    Callers never ask for more than the bucket's available amount, which is at most the sum
    of its positive entries, so the draw always completes.
    """
    entries = state.entries
    for _, _, entry_id in _sorted.iterate(keys):
        if amount <= 0:
            return
        remaining = entries[entry_id][REMAINING] - taken.get(entry_id, 0)
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
    state: State,
    appointment_id: str,
    due: int | None = None,
    taken: Mapping[str, int] = _NOTHING_TAKEN,
) -> tuple[Application, ...]:
    """What auto-apply takes from the appointment's own bucket for its balance due (invariant
    5): oldest entries first, until the balance due or the bucket's available amount is zero.

    ``due`` is the balance due the command leaves (the appointment's current one if None), and
    ``taken`` what it takes from the bucket's entries (entry id → amount): a command decides
    auto-apply on the state it reads, never by applying its event to see.
    """
    account = state.accounts[appointment_id]
    available = account[AVAILABLE]
    for entry_id, amount in taken.items():
        if state.entries[entry_id][APPOINTMENT] == appointment_id:
            available -= amount
    amount = min(available, account[CHARGED] - account[ALLOCATED] if due is None else due)
    if amount <= 0:
        return ()
    return tuple(
        (entry_id, appointment_id, take)
        for entry_id, take in _draw(state, account[OPEN], amount, taken)
    )


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
    if refund and payment.charge_id is not None:
        raise InvalidInputError(
            f"refund {payment.id!r} names line {payment.charge_id!r}: a refund draws on a "
            "bucket, never on a line",
            id=payment.id,
        )
    if payment.plan_id is not None:
        if refund:
            raise InvalidInputError(
                f"refund {payment.id!r} names payment plan {payment.plan_id!r}: a refund does "
                "not touch plans",
                id=payment.id,
            )
        named = payment.appointment_id or payment.charge_id
        if named is not None:
            raise InvalidInputError(
                f"payment {payment.id!r} names payment plan {payment.plan_id!r} and "
                f"{named!r}: a plan payment names no appointment or line (the plan places it)",
                id=payment.id,
            )
    return payment


def _line(
    state: State, charge_id: object, appointment_id: str | None, patient_id: str | None
) -> str:
    """A named line (charge), checked alike for every command (SPEC §10); return its
    appointment.

    Raises:
        UnknownIdError: the charge is not in the ledger.
        PatientMismatchError: it is a line of another patient's appointment.
        InvalidInputError: it is a line of another appointment than ``appointment_id``.
    """
    charge = state.charges.get(check_id(charge_id, "charge_id"))
    if charge is None:
        raise UnknownIdError(f"charge {charge_id!r} is not in the ledger", id=charge_id)
    owner = state.accounts[charge.appointment_id][OWNER]
    if patient_id is not None and owner != patient_id:
        raise PatientMismatchError(
            f"charge {charge_id!r} is a line of appointment {charge.appointment_id!r} of "
            f"patient {owner!r}, not of patient {patient_id!r}",
            id=charge_id,
            patient_id=patient_id,
        )
    if appointment_id is not None and charge.appointment_id != appointment_id:
        raise InvalidInputError(
            f"charge {charge_id!r} is a line of appointment {charge.appointment_id!r}, "
            f"not of appointment {appointment_id!r}",
            id=charge_id,
            appointment_id=appointment_id,
        )
    return charge.appointment_id


def _open(state: State, appointment_id: str) -> None:
    """Refuse an appointment that was cancelled (SPEC §10)."""
    cancelled_on = state.cancelled.get(appointment_id)
    if cancelled_on is not None:
        raise AppointmentCancelledError(
            f"appointment {appointment_id!r} was cancelled on {cancelled_on.isoformat()}",
            id=appointment_id,
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


# -- SPEC §11: payment plans ------------------------------------------------------------------


def _plan_row(state: State, plan_id: object) -> PlanRow:
    """A plan's row; refuses an unknown plan."""
    row = state.plans.get(check_id(plan_id, "plan_id"))
    if row is None:
        raise UnknownIdError(f"payment plan {plan_id!r} is not in the ledger", id=plan_id)
    return row


def _plan_is_active(state: State, plan_id: str, row: PlanRow) -> None:
    """Refuse a plan that is cancelled or completed."""
    if not plan_active(row):
        cancelled_on = row[PLAN_CANCELLED]
        why = (
            f"was cancelled on {cancelled_on.isoformat()}"
            if cancelled_on is not None
            else f"is completed ({_fmt(state, row[PLAN_AMOUNT])} paid)"
        )
        raise InvalidInputError(f"payment plan {plan_id!r} {why}: it is not active", id=plan_id)


def _plan_value(state: State, plan_id: str, row: PlanRow) -> PaymentPlan:
    """The plan as it was submitted."""
    given = row[1]
    return PaymentPlan(
        plan_id,
        row[0],
        None if given is None else to_money(given, state.currency),
        row[3],
        row[4],
        row[5],
        row[PLAN_APPOINTMENTS],
    )


def _covered_by_other_plans(state: State, patient_id: str, plan_id: str) -> int:
    """What the patient's other active plans still cover (their ``remaining``)."""
    mine = state.patient_plans.get(patient_id, ())
    total = 0
    for _, other in mine:
        row = state.plans[other]
        if other != plan_id and plan_active(row):
            total += row[PLAN_AMOUNT] - row[PLAN_PAID]
    return total


def create_payment_plan(ledger: Ledger, plan: PaymentPlan) -> Ledger:
    """Agree a payment plan (SPEC §11): monthly installments of ``plan.amount``.

    A plan changes no balance. On the balance (no ``appointment_ids``): ``amount`` is required,
    0 < amount ≤ the patient's Total Balance less what their other active plans still cover.
    On appointments: each is known, the patient's, not cancelled, has a balance due and is in
    no other active plan; ``amount=None`` is the sum of their balances due, a given amount is
    at most that sum. The same plan again returns the ledger unchanged.

    Raises:
        InvalidInputError: not a :class:`PaymentPlan` (its own fields are checked on
            construction); CurrencyMismatchError: its amount in another currency.
        DuplicateIdError: its id is known with different content.
        UnknownIdError: an appointment (or, on the balance, the patient) is unknown.
        PatientMismatchError: an appointment is another patient's.
        AppointmentCancelledError: an appointment was cancelled.
        InvalidInputError: an appointment has no balance due, or is in another active plan.
        InvalidAmountError: no amount on the balance, or more than it may cover.
    """
    state = state_of(ledger)
    _of_type(plan, PaymentPlan, "payment plan")
    what = f"payment plan {plan.id!r}"
    if plan.amount is not None:
        check_currency(plan.amount, state.currency, f"{what} amount")
    elif not plan.appointment_ids:  # a fact of the plan alone: its shape
        raise InvalidAmountError(
            f"{what} is on patient {plan.patient_id!r}'s balance: it needs an amount",
            id=plan.id,
        )
    known = state.plans.get(plan.id)
    if known is not None:
        existing = _plan_value(state, plan.id, known)
        if existing == plan:
            return ledger
        raise DuplicateIdError(
            f"payment plan id {plan.id!r} is already in the ledger with different content: "
            f"{existing!r} (now submitted: {plan!r})",
            id=plan.id,
        )
    if plan.appointment_ids:
        limit = _plan_appointments(state, plan)
        amount = limit if plan.minor_units is None else plan.minor_units
        if amount > limit:
            raise InvalidAmountError(
                f"{what} of {_fmt(state, amount)} is more than its appointments' balances due "
                f"({_fmt(state, limit)})",
                id=plan.id,
                amount=plan.amount,
            )
    else:
        patient = _patient(state, plan.patient_id)
        amount = plan.minor_units or 0  # (given: checked above)
        covered = _covered_by_other_plans(state, plan.patient_id, plan.id)
        limit = patient.charged - patient.paid - covered
        if amount > limit:
            raise InvalidAmountError(
                f"{what} of {_fmt(state, amount)} is more than patient {plan.patient_id!r}'s "
                f"Total Balance ({_fmt(state, patient.charged - patient.paid)}) less what "
                f"other active plans still cover ({_fmt(state, covered)})",
                id=plan.id,
                amount=plan.amount,
            )
    return ledger_of(advance(state, PaymentPlanCreated(plan=plan, amount=Minor(amount))))


def _plan_appointments(state: State, plan: PaymentPlan) -> int:
    """Check a plan's appointments in SPEC §10's precedence (unknown, another patient's,
    cancelled, then their balances and other plans); return the sum of their balances due."""
    for appointment_id in plan.appointment_ids:
        _account(state, appointment_id)
    for appointment_id in plan.appointment_ids:
        _account(state, appointment_id, plan.patient_id)
    for appointment_id in plan.appointment_ids:
        _open(state, appointment_id)
    total = 0
    for appointment_id in plan.appointment_ids:
        due = _due(state, appointment_id)
        if due <= 0:
            raise InvalidInputError(
                f"appointment {appointment_id!r} has no balance due: payment plan "
                f"{plan.id!r} cannot cover it",
                id=appointment_id,
            )
        for other in state.planned.get(appointment_id, ()):
            if plan_active(state.plans[other]):
                raise InvalidInputError(
                    f"appointment {appointment_id!r} is in active payment plan {other!r}: "
                    f"payment plan {plan.id!r} cannot cover it too",
                    id=appointment_id,
                    plan_id=other,
                )
        total += due
    return total


def skip_installment(ledger: Ledger, plan_id: str, number: int, *, on: datetime.date) -> Ledger:
    """Skip installment ``number`` of a plan: it becomes ``SKIPPED`` and a new installment of
    the same amount is added at the end (numbered next, due by the schedule rule). Skipping it
    again returns the ledger unchanged.

    Raises:
        InvalidInputError: malformed arguments; the installment does not exist, is partly or
            wholly covered, or the plan is not active.
        UnknownIdError: the plan is not in the ledger.
    """
    state = state_of(ledger)
    check_id(plan_id, "plan_id")
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidInputError(
            f"installment number must be an int, got {type(number).__name__} {number!r}"
        )
    check_date(on, "on")
    row = _plan_row(state, plan_id)
    count = row[3] + len(row[PLAN_SKIPS])
    found = installment_of(row, number)
    if found is None:
        raise InvalidInputError(
            f"payment plan {plan_id!r} has no installment {number} (it has {count})",
            id=plan_id,
            number=number,
        )
    amount, skipped, covered = found
    if skipped:
        return ledger
    _plan_is_active(state, plan_id, row)
    if covered:
        raise InvalidInputError(
            f"installment {number} of payment plan {plan_id!r} has "
            f"{_fmt(state, covered)} of {_fmt(state, amount)} covered: "
            "only an installment with nothing covered is skipped",
            id=plan_id,
            number=number,
        )
    check_schedule(row[4], count + 1, f"payment plan {plan_id!r}")  # its first_due
    event = InstallmentSkipped(
        plan_id=plan_id,
        number=number,
        added=count + 1,
        amount=Minor(amount),
        on=on,
    )
    return ledger_of(advance(state, event))


def cancel_payment_plan(
    ledger: Ledger, plan_id: str, *, on: datetime.date, reason: str | None = None
) -> Ledger:
    """Cancel a payment plan: it is ``CANCELLED``, money already placed stays where it is, and
    a payment naming it is refused from then on. Again: the ledger unchanged.

    Raises:
        InvalidInputError: malformed arguments.
        UnknownIdError: the plan is not in the ledger.
    """
    state = state_of(ledger)
    check_id(plan_id, "plan_id")
    check_date(on, "on")
    check_optional_str(reason, "reason")
    row = _plan_row(state, plan_id)
    if row[PLAN_CANCELLED] is not None:
        return ledger
    return ledger_of(advance(state, PaymentPlanCancelled(plan_id=plan_id, on=on, reason=reason)))
