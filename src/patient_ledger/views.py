"""What the ledger shows: the dashboard, the claims feed, the open entries, aging, patients.

Every amount is a fresh ``Money`` in the ledger's currency, zero included (never ``None``).
A patient the ledger has never seen is an :class:`~patient_ledger.errors.UnknownIdError`.
"""

from __future__ import annotations

import array
import bisect
import datetime
import heapq
from collections.abc import Iterable

import attrs
from moneyed import Money

from patient_ledger import _dated, _sorted
from patient_ledger._stored import value_of
from patient_ledger.errors import DateOrderError, UnknownIdError
from patient_ledger.events import (
    AppointmentAdded,
    ChargeAdded,
    ChargeAdjusted,
    CreditTransferred,
    Event,
    InstallmentSkipped,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    PaymentPosted,
    PlanPaymentPosted,
    RefundPosted,
)
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import (
    OPEN,
    OWNER,
    PLAN_AMOUNT,
    PLAN_CANCELLED,
    PLAN_COUNTING,
    PLAN_PAID,
    AppointmentState,
    Ledger,
    PatientState,
    PlanRow,
    State,
    lines_of,
    plan_figures,
    plan_installments,
    state_of,
)
from patient_ledger.state import Installment as PlannedInstallment
from patient_ledger.values import (
    InstallmentStatus,
    Payment,
    PlanState,
    check_date,
    check_id,
)


def _html_table(view: str, rows: Iterable[object], *, caption: str | None = None) -> str:
    """A view's rows as an HTML table, for a notebook's display hook (``_repr_html_``).

    The one place the views reach the report layer, and only when a notebook shows a value:
    ``import patient_ledger`` loads no rendering code (the import contract lists this import).
    """
    from patient_ledger.report import tables  # noqa: PLC0415 - on first display only

    return tables.html_table(getattr(tables, view), rows, caption=caption)


@attrs.frozen(kw_only=True)
class Dashboard:
    """The patient payment dashboard.

    ``total_paid`` = payments − refunds (± reversals and transfers); ``allocated`` is paid to
    appointments; ``unallocated`` is held in both buckets; ``patient_responsibility`` is all
    charges (with adjustments); ``statement_balance`` = responsibility − allocated;
    ``total_balance`` = responsibility − total paid (negative: a credit).
    """

    total_paid: Money
    allocated: Money
    unallocated: Money
    patient_responsibility: Money
    statement_balance: Money
    total_balance: Money

    def as_dict(self) -> dict[str, str]:
        """The six figures by field name, each an exact decimal string (JSON-ready).

        >>> from moneyed import Money
        >>> zero = Money("0.00", "USD")
        >>> Dashboard(total_paid=Money("200.00", "USD"), allocated=zero,
        ...           unallocated=Money("200.00", "USD"), patient_responsibility=zero,
        ...           statement_balance=zero, total_balance=Money("-200.00", "USD")).as_dict()
        ... # doctest: +NORMALIZE_WHITESPACE
        {'total_paid': '200.00', 'allocated': '0.00', 'unallocated': '200.00',
         'patient_responsibility': '0.00', 'statement_balance': '0.00', 'total_balance': '-200.00'}
        """
        return {name: str(getattr(self, name).amount) for name in DASHBOARD_FIELDS}

    def _repr_html_(self) -> str:
        return _html_table("DASHBOARD", [self])


#: The dashboard's fields, in the order the billing page shows them.
DASHBOARD_FIELDS = tuple(field.name for field in attrs.fields(Dashboard))


@attrs.frozen(kw_only=True)
class FeedRow:
    """One appointment in the claims feed.

    ``appointment_unallocated`` is its own bucket (the seed's yellow box);
    ``patient_unallocated`` is the patient's whole unallocated amount (the green box).
    """

    appointment_id: str
    date: datetime.date
    patient_responsibility: Money
    paid: Money
    balance_due: Money
    appointment_unallocated: Money
    patient_unallocated: Money

    def _repr_html_(self) -> str:
        return ClaimsFeed((self,))._repr_html_()


class ClaimsFeed(tuple[FeedRow, ...]):
    """The claims feed: a tuple of rows that shows itself as a table in a notebook."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return _html_table("CLAIMS_FEED", self)


@attrs.frozen(kw_only=True)
class UnallocatedEntry:
    """An open row of the unallocated payments table (``appointment_id`` None: general)."""

    id: str
    payment_id: str
    appointment_id: str | None
    amount: Money
    received_on: datetime.date

    def _repr_html_(self) -> str:
        return UnallocatedEntries((self,))._repr_html_()


class UnallocatedEntries(tuple[UnallocatedEntry, ...]):
    """The open unallocated entries: a tuple that shows itself as a table in a notebook."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        return _html_table("UNALLOCATED_ENTRIES", self)


@attrs.frozen(kw_only=True)
class Aging:
    """A patient's balance due by the appointment's age in days: ≤ 30 (future included),
    31–60, 61–90, over 90. Credits are not netted against it."""

    current: Money
    days_31_60: Money
    days_61_90: Money
    over_90: Money

    def _repr_html_(self) -> str:
        return _html_table("AGING", [self])


def _lookup(ledger: object, patient_id: object) -> tuple[State, PatientState]:
    state = state_of(ledger)
    if check_id(patient_id, "patient_id") not in state.patients:
        raise UnknownIdError(f"patient {patient_id!r} is not in the ledger", id=patient_id)
    return state, state.patient(patient_id)  # type: ignore[arg-type] # checked just above


def dashboard(ledger: Ledger, patient_id: str, *, on: datetime.date | None = None) -> Dashboard:
    """The patient's dashboard: Total Paid, Allocated, Unallocated, Statement/Total Balance —
    as of the end of the day ``on`` when given (see :func:`as_of`).

    >>> from patient_ledger import Ledger, Payment, post_payment
    >>> import datetime; from moneyed import Money
    >>> ledger = post_payment(Ledger.empty(), Payment("PAY1", "P1", Money("200.00", "USD"),
    ...                                                datetime.date(2025, 1, 2)))
    >>> dashboard(ledger, "P1").total_balance
    Money('-200.00', 'USD')

    Raises:
        UnknownIdError: the patient is not in the ledger (as of ``on``).
        DateOrderError: see :func:`as_of`.
    """
    if on is not None:
        ledger = as_of(ledger, on)
    state, patient = _lookup(ledger, patient_id)
    responsibility, allocated = patient.charged, patient.allocated
    code = state.currency
    return Dashboard(
        total_paid=to_money(patient.paid, code),
        allocated=to_money(allocated, code),
        unallocated=to_money(patient.general.available + patient.held, code),
        patient_responsibility=to_money(responsibility, code),
        statement_balance=to_money(responsibility - allocated, code),
        total_balance=to_money(responsibility - patient.paid, code),
    )


def claims_feed(ledger: Ledger, patient_id: str) -> ClaimsFeed:
    """One row per appointment of the patient that is not cancelled, by date then id (a tuple
    of ``FeedRow``; a cancelled visit has no claim: SPEC §10).

    Raises:
        UnknownIdError: the patient is not in the ledger.
    """
    state, patient = _lookup(ledger, patient_id)
    patient_unallocated = to_money(patient.general.available + patient.held, state.currency)
    return ClaimsFeed(
        _feed_row(state, a, patient_unallocated)
        for a in map(state.appointment, state.appointment_ids(patient_id))
        if a.appointment.id not in state.cancelled
    )


def feed_row(ledger: Ledger, appointment_id: str) -> FeedRow:
    """One appointment's row of :func:`claims_feed`, without building its patient's whole
    feed (what an importer reads once per record).

    Raises:
        UnknownIdError: the appointment is not in the ledger, or is cancelled (it has no row).
    """
    state = state_of(ledger)
    if check_id(appointment_id, "appointment_id") not in state.accounts:
        raise UnknownIdError(
            f"appointment {appointment_id!r} is not in the ledger", id=appointment_id
        )
    if appointment_id in state.cancelled:
        msg = f"appointment {appointment_id!r} is cancelled: it has no claims-feed row"
        raise UnknownIdError(msg, id=appointment_id)
    a = state.appointment(appointment_id)
    patient = state.patient(a.appointment.patient_id)
    held = to_money(patient.general.available + patient.held, state.currency)
    return _feed_row(state, a, held)


def _feed_row(state: State, a: AppointmentState, patient_unallocated: Money) -> FeedRow:
    code = state.currency
    return FeedRow(
        appointment_id=a.appointment.id,
        date=a.appointment.date,
        patient_responsibility=to_money(a.charged, code),
        paid=to_money(a.allocated, code),
        balance_due=to_money(a.due, code),
        appointment_unallocated=to_money(a.bucket.available, code),
        patient_unallocated=patient_unallocated,
    )


def unallocated_entries(ledger: Ledger, patient_id: str) -> UnallocatedEntries:
    """The patient's open entries in both buckets, oldest first (received date, posting)."""
    state, patient = _lookup(ledger, patient_id)
    code = state.currency
    rows = []
    # Oldest first across the patient's buckets: its general bucket's and appointments' open
    # positive entries, and its open negative ones (O(its appointments) to find the buckets).
    buckets = [patient.general.open, patient.negatives]
    buckets += [state.accounts[a][OPEN] for a in state.appointment_ids(patient_id)]
    for _, _, entry_id in heapq.merge(*map(_sorted.iterate, buckets)):
        entry = state.entry(entry_id)
        rows.append(
            UnallocatedEntry(
                id=entry.id,
                payment_id=entry.payment_id,
                appointment_id=entry.appointment_id,
                amount=to_money(entry.remaining, code),
                received_on=entry.received_on,
            )
        )
    return UnallocatedEntries(rows)


def patients(ledger: Ledger) -> tuple[str, ...]:
    """The ids of every patient the ledger knows, sorted."""
    return tuple(sorted(state_of(ledger).patients.keys()))


def dashboards(ledger: Ledger, on: datetime.date | None = None) -> dict[str, Dashboard]:
    """Every patient's dashboard, by patient id (sorted): one call for the whole practice.

    ``on`` gives the balances as the books stood at the end of that day (:func:`as_of`); a
    patient not yet known then is left out. ``None``: the whole journal.

    >>> from patient_ledger import Ledger, Payment, post_payment
    >>> import datetime; from moneyed import Money
    >>> ledger = post_payment(Ledger.empty(), Payment("PAY1", "P1", Money("200.00", "USD"),
    ...                                                datetime.date(2025, 1, 2)))
    >>> dashboards(ledger)["P1"].unallocated
    Money('200.00', 'USD')
    >>> dashboards(ledger, on=datetime.date(2025, 1, 1))
    {}

    Raises:
        DateOrderError: see :func:`as_of`.
    """
    if on is not None:
        ledger = as_of(ledger, on)
    return {pid: dashboard(ledger, pid) for pid in patients(ledger)}


def as_of(ledger: Ledger, on: datetime.date) -> Ledger:
    """The ledger as the books stood at the end of the day ``on`` (SPEC §12): its journal up
    to, not including, its first event with a day after ``on`` (:func:`event_day`).

    The cut is found by bisection over the journal's days (indexed once per journal, then
    O(log n) for every date asked), and the ledger there is made from the nearest checkpoint
    at or before it — the state after every few thousand events, replayed once and kept for
    the journals asked most recently — and a replay of the few events after it
    (:mod:`patient_ledger._dated`): twelve month-ends of a year cost about one replay of the
    journal, not twelve. The ledger returned is equal to ``ledger.at(cut)``.

    Raises:
        InvalidInputError: ``on`` is not a date.
        DateOrderError: an event past the cut has a day on or before ``on`` (posted late): the
            journal up to the cut is not how the books stood that day — never a silently
            different figure.
    """
    check_date(on, "on")
    dated = _dated.index(ledger, lambda event: _ordinal(ledger, event))
    highest, lowest = dated.highest, dated.lowest
    day = on.toordinal()
    cut = bisect.bisect_right(highest, day)
    if cut < len(lowest) and lowest[cut] <= day:
        # The first event past the cut with a day on or before ``on`` (one without a day,
        # an appointment's, is never late).
        events = ledger.events
        late = next(
            n for n in range(cut, len(events)) if _NO_DAY < _ordinal(ledger, events[n]) <= day
        )
        event = events[late]
        posted = event_day(ledger, event)
        ref = event_ref(event)
        raise DateOrderError(
            f"the books as of {on.isoformat()} cannot be cut from this journal: event {late} "
            f"({type(event).__name__} {ref!r}, day {posted}) was posted after event {cut}, the "
            f"first with a day after {on.isoformat()}",
            on=on,
            index=late,
            day=posted,
            id=ref,
        )
    return ledger if cut == len(highest) else _dated.state_at(ledger, dated, cut)


_NO_DAY = _dated.NO_DAY_LOW


def _ordinal(ledger: Ledger, event: Event) -> int:
    day = event_day(ledger, event)
    return _NO_DAY if day is None else day.toordinal()


def day_index(ledger: Ledger) -> tuple[array.array[int], array.array[int]]:
    """For each place in the journal, the highest day of the events up to it (included) and
    the lowest day of the events from it on: the cut for a date is where the highest passes
    it, and it is true when no later event has a lower day. Events without a day count as
    neither. Built once per journal and kept, with the checkpoints of its dated views, for
    the last few asked (:mod:`patient_ledger._dated`)."""
    dated = _dated.index(ledger, lambda event: _ordinal(ledger, event))
    return dated.highest, dated.lowest


def event_day(ledger: Ledger, event: Event) -> datetime.date | None:
    """The day an event of the ledger's journal happened on, for cutting it at a date: a
    payment's or refund's received date, an adjustment's, transfer's or other bookkeeping
    ``on``, a charge's ``posted_on`` (else its visit date: SPEC §12); ``None`` for events that
    move no money by themselves (the ledger's opening, an appointment becoming known — a visit
    may be booked long before its date)."""
    match event:
        case PaymentPosted(payment=p) | RefundPosted(payment=p) | PlanPaymentPosted(payment=p):
            return p.received_on
        case ChargeAdjusted(adjustment=value) | CreditTransferred(transfer=value):
            return value.on
        case ChargeAdded(charge=charge):
            if charge.posted_on is not None:
                return charge.posted_on
            return state_of(ledger).appointments[charge.appointment_id].date
        case InstallmentSkipped() | PaymentPlanCancelled():
            return None  # SPEC §12: the plan events of §11 have no day
        case _:
            return getattr(event, "on", None)


def event_ref(event: Event) -> str | None:
    """The id an event is about, for a message: its payment's, refund's, charge's,
    adjustment's, transfer's, appointment's or plan's (``None`` for the ledger's opening and
    for money moved between a patient's buckets, which is the patient's)."""
    match event:
        case PaymentPosted(payment=p) | RefundPosted(payment=p) | PlanPaymentPosted(payment=p):
            return p.id
        case ChargeAdded(charge=value) | ChargeAdjusted(adjustment=value):
            return value.id
        case CreditTransferred(transfer=value) | AppointmentAdded(appointment=value):
            return value.id
        case PaymentPlanCreated(plan=value):
            return value.id
    for name in ("payment_id", "appointment_id", "plan_id", "patient_id"):
        if isinstance(ref := getattr(event, name, None), str):
            return ref
    return None


def aging(ledger: Ledger, patient_id: str, *, on: datetime.date) -> Aging:
    """The patient's balance due split by each appointment's age in days on ``on``."""
    state, patient = _lookup(ledger, patient_id)
    check_date(on, "on")
    due = (  # the appointments with a balance due
        ((on - date).days, state.appointment(appointment_id).due)
        for date, appointment_id in _sorted.iterate(patient.owing)
    )
    return _aged(due, state.currency)


def _aged(amounts: Iterable[tuple[int, int]], code: str) -> Aging:
    """Minor units of ``code``, each with its age in days, added up by aging column: ≤ 30
    (future included), 31–60, 61–90, over 90."""
    buckets = [0, 0, 0, 0]
    for days, minor in amounts:
        buckets[0 if days <= 30 else 1 if days <= 60 else 2 if days <= 90 else 3] += minor
    current, days_31_60, days_61_90, over_90 = (to_money(b, code) for b in buckets)
    return Aging(current=current, days_31_60=days_31_60, days_61_90=days_61_90, over_90=over_90)


def credit_aging(ledger: Ledger, patient_id: str, *, on: datetime.date) -> Aging:
    """The patient's unallocated money (open entries of both buckets, refunds not yet cancelled
    netted) split by each entry's age in days on ``on`` (``(on − received_on).days``: ≤ 30,
    future dates included; 31–60; 61–90; over 90). The four add up to the dashboard's
    ``unallocated``. O(the patient's open entries).

    Raises:
        UnknownIdError: the patient is not in the ledger.
    """
    state, _ = _lookup(ledger, patient_id)
    check_date(on, "on")
    credit = (
        ((on - entry.received_on).days, to_minor(entry.amount, "entry"))
        for entry in unallocated_entries(ledger, patient_id)
    )
    return _aged(credit, state.currency)


@attrs.frozen(kw_only=True)
class PaymentStatus:
    """A payment (or refund) as submitted, what is left of it (its allocations and open
    entries: :func:`allocations` says where), and what reversals took back of it, when last."""

    payment: Payment
    left: Money
    reversed: Money
    reversed_on: datetime.date | None


def payment_status(ledger: Ledger, payment_id: str) -> PaymentStatus:
    """A payment's status: as submitted, what is left of it, what reversals took (O(its parts)).

    Raises:
        UnknownIdError: the payment is not in the ledger.
    """
    state, payment = _payment(ledger, payment_id)
    left = state.left_of(payment_id)
    reversed_on, reversed_ = state.reversed.get(payment_id, (None, 0))
    return PaymentStatus(
        payment=payment,
        left=to_money(left, state.currency),
        reversed=to_money(reversed_, state.currency),
        reversed_on=reversed_on,
    )


def _payment(ledger: object, payment_id: object) -> tuple[State, Payment]:
    state = state_of(ledger)
    row = state.payments.get(check_id(payment_id, "payment_id"))
    if row is None:
        raise UnknownIdError(f"payment {payment_id!r} is not in the ledger", id=payment_id)
    return state, value_of(row[0], state.currency)


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class LineItem:
    """One line of an appointment: a charge with its responsibility (the charge plus its
    adjustments), what is allocated to it, and its balance due."""

    charge_id: str
    appointment_id: str
    code: str | None
    description: str | None
    responsibility: Money
    paid: Money
    balance_due: Money


class LineItems(tuple[LineItem, ...]):
    """An appointment's lines (what ``line_items`` returns): a tuple that shows itself as a
    table in a notebook."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        appointments = {item.appointment_id for item in self}
        caption = (
            f"Lines of appointment {next(iter(appointments))}" if len(appointments) == 1 else None
        )
        return _html_table("LINE_ITEMS", self, caption=caption)


def line_items(ledger: Ledger, appointment_id: str) -> LineItems:
    """The appointment's lines, in line order (the order their charges were added); empty for
    an appointment without charges (a cancelled one included). A tuple of :class:`LineItem`
    that shows itself as a table in a notebook.

    Raises:
        UnknownIdError: the appointment is not in the ledger.
    """
    state = state_of(ledger)
    account = state.accounts.get(check_id(appointment_id, "appointment_id"))
    if account is None:
        raise UnknownIdError(
            f"appointment {appointment_id!r} is not in the ledger", id=appointment_id
        )
    code = state.currency
    items = []
    for charge_id, responsibility, allocated in lines_of(account):
        charge = state.charges[charge_id]
        items.append(
            LineItem(
                charge_id=charge_id,
                appointment_id=appointment_id,
                code=charge.code,
                description=charge.description,
                responsibility=to_money(responsibility, code),
                paid=to_money(allocated, code),
                balance_due=to_money(responsibility - allocated, code),
            )
        )
    return LineItems(items)


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class Allocation:
    """Where some of a payment's money is now: allocated to a line (``charge_id`` set), held in
    an appointment's bucket (only ``appointment_id`` set) or in ``patient_id``'s general bucket
    (both None). ``patient_id`` is whoever holds the money now."""

    payment_id: str
    patient_id: str
    appointment_id: str | None
    charge_id: str | None
    amount: Money


def allocations(ledger: Ledger, payment_id: str) -> tuple[Allocation, ...]:
    """Where a payment's money is now, one row per place, amounts summed, no zero rows.

    For a payment (amounts > 0): its allocations, by line in the order first placed, then its
    open entries by bucket, oldest first — what is left of it (an open refund does not reduce
    it; only ``cancel_offsetting`` and reversals do). For a refund: its open entries (< 0).
    The rows of all the payments and refunds a patient holds add up to the patient's
    ``total_paid``.

    Raises:
        UnknownIdError: the payment is not in the ledger.
    """
    state, _ = _payment(ledger, payment_id)
    places: dict[tuple[str, str | None, str | None], int] = {}  # (patient, appointment, line)
    for appointment_id, _, amount, charge_id, _ in state.placements(payment_id):
        line = (state.accounts[appointment_id][OWNER], appointment_id, charge_id)
        places[line] = places.get(line, 0) + amount
    for entry in sorted(map(state.entry, state.held_by(payment_id)), key=lambda e: e.key):
        bucket = (entry.patient_id, entry.appointment_id, None)
        places[bucket] = places.get(bucket, 0) + entry.remaining
    code = state.currency
    return tuple(
        Allocation(
            payment_id=payment_id,
            patient_id=patient_id,
            appointment_id=appointment_id,
            charge_id=charge_id,
            amount=to_money(amount, code),
        )
        for (patient_id, appointment_id, charge_id), amount in places.items()
        if amount
    )


# -- SPEC §11: payment plans ------------------------------------------------------------------


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class Installment:
    """One installment of a payment plan: ``paid`` is the part covered (SPEC §11)."""

    plan_id: str
    number: int
    due_on: datetime.date
    amount: Money
    paid: Money
    status: InstallmentStatus


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class PlanStatus:
    """A payment plan's figures on a day (SPEC §11): ``paid`` counts toward it, ``remaining``
    = amount − paid; ``next_due_*`` the first installment neither paid nor skipped (what is
    still to cover of it); ``overdue`` what is not covered of installments due before the day.
    """

    plan_id: str
    patient_id: str
    created_on: datetime.date
    amount: Money
    paid: Money
    remaining: Money
    installment_amount: Money
    next_due_on: datetime.date | None
    next_due_amount: Money | None
    last_payment_on: datetime.date | None
    overdue: Money
    status: PlanState


def _plan_row(state: State, plan_id: object) -> PlanRow:
    row = state.plans.get(check_id(plan_id, "plan_id"))
    if row is None:
        raise UnknownIdError(f"payment plan {plan_id!r} is not in the ledger", id=plan_id)
    return row


def installments(ledger: Ledger, plan_id: str, *, on: datetime.date) -> tuple[Installment, ...]:
    """A plan's installments by number, each with what is covered of it and its status on
    ``on``: ``PAID``, ``SKIPPED``, else ``OVERDUE`` (due before ``on``), ``DUE`` (that day) or
    ``UPCOMING``.

    Raises:
        UnknownIdError: the plan is not in the ledger.
    """
    state = state_of(ledger)
    row = _plan_row(state, plan_id)
    check_date(on, "on")
    code = state.currency
    return tuple(
        Installment(
            plan_id=plan_id,
            number=i.number,
            due_on=i.due_on,
            amount=to_money(i.amount, code),
            paid=to_money(i.covered, code),
            status=_installment_status(i, on),
        )
        for i in plan_installments(row)
    )


def _installment_status(i: PlannedInstallment, on: datetime.date) -> InstallmentStatus:
    if i.skipped:
        return InstallmentStatus.SKIPPED
    if i.covered == i.amount:
        return InstallmentStatus.PAID
    if i.due_on < on:
        return InstallmentStatus.OVERDUE
    return InstallmentStatus.DUE if i.due_on == on else InstallmentStatus.UPCOMING


def _plan_status(state: State, plan_id: str, row: PlanRow, on: datetime.date) -> PlanStatus:
    """A plan's figures on ``on``: O(its installments), in int arithmetic."""
    code = state.currency
    amount, paid = row[PLAN_AMOUNT], row[PLAN_PAID]
    first, next_due_on, next_left, overdue = plan_figures(row, on)
    counting = row[PLAN_COUNTING]
    last = next(_sorted.iterate_reversed(counting), None) if counting else None
    if row[PLAN_CANCELLED] is not None:
        status = PlanState.CANCELLED
    else:
        status = PlanState.ACTIVE if paid < amount else PlanState.COMPLETED
    return PlanStatus(
        plan_id=plan_id,
        patient_id=row[0],
        created_on=row[5],
        amount=to_money(amount, code),
        paid=to_money(paid, code),
        remaining=to_money(amount - paid, code),
        installment_amount=to_money(first, code),
        next_due_on=next_due_on,
        next_due_amount=None if next_due_on is None else to_money(next_left, code),
        last_payment_on=None if last is None else last[0],
        overdue=to_money(overdue, code),
        status=status,
    )


def payment_plans(ledger: Ledger, patient_id: str, *, on: datetime.date) -> tuple[PlanStatus, ...]:
    """The patient's payment plans by ``created_on``, then id, with their figures on ``on``.

    Raises:
        UnknownIdError: the patient is not in the ledger.
    """
    state, _ = _lookup(ledger, patient_id)
    check_date(on, "on")
    mine = state.patient_plans.get(patient_id, ())
    return tuple(_plan_status(state, plan_id, state.plans[plan_id], on) for _, plan_id in mine)


def plan_report(ledger: Ledger, *, on: datetime.date) -> tuple[PlanStatus, ...]:
    """Every ``ACTIVE`` plan of the practice with its figures on ``on``, by ``next_due_on``,
    then plan id (DrChrono's payment plan report). O(the active plans' installments): the
    ledger keeps the set of active plans, so no journal is read."""
    state = state_of(ledger)
    check_date(on, "on")
    plans = state.plans
    rows = [_plan_status(state, plan_id, plans[plan_id], on) for plan_id in state.active]
    # An active plan always has an installment to cover (remaining > 0).
    rows.sort(key=lambda s: (s.next_due_on or datetime.date.max, s.plan_id))
    return tuple(rows)
