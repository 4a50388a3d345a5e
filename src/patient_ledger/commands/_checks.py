"""Checks and small decisions every command shares: the shape of an argument, a payment's
checks, where money is drawn from, what held money an appointment applies at once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from patient_ledger import _sorted
from patient_ledger._stored import value_of
from patient_ledger.errors import (
    AppointmentCancelledError,
    DuplicateIdError,
    InvalidAmountError,
    InvalidInputError,
    PatientMismatchError,
    UnknownIdError,
)
from patient_ledger.events import (
    Application,
    EntryPart,
    Minor,
)
from patient_ledger.money import check_currency, to_minor, to_money
from patient_ledger.state import (
    ALLOCATED,
    APPOINTMENT,
    AVAILABLE,
    CHARGED,
    OPEN,
    OWNER,
    REMAINING,
    AccountRow,
    AppointmentState,
    PatientState,
    State,
)
from patient_ledger.values import (
    Adjustment,
    Appointment,
    Charge,
    Payment,
    PaymentType,
    Transfer,
    check_id,
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
