"""The commands of SPEC §11: payment plans agreed, skipped and cancelled."""

from __future__ import annotations

import datetime

from patient_ledger.apply import advance
from patient_ledger.commands._checks import _account, _due, _fmt, _of_type, _open, _patient
from patient_ledger.errors import (
    DuplicateIdError,
    InvalidAmountError,
    InvalidInputError,
    UnknownIdError,
)
from patient_ledger.events import (
    InstallmentSkipped,
    Minor,
    PaymentPlanCancelled,
    PaymentPlanCreated,
)
from patient_ledger.money import check_currency, to_money
from patient_ledger.state import (
    PLAN_AMOUNT,
    PLAN_APPOINTMENTS,
    PLAN_CANCELLED,
    PLAN_PAID,
    PLAN_SKIPS,
    Ledger,
    PlanRow,
    State,
    installment_of,
    ledger_of,
    plan_active,
    state_of,
)
from patient_ledger.values import (
    PaymentPlan,
    check_date,
    check_id,
    check_optional_str,
    check_schedule,
)

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
