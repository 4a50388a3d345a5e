"""Statements and the day sheet (SPEC §12): what a practice mails a patient for a period, and
what the front desk reconciles against the bank deposit.

Both read the ledger's journal once, by the day of each event (:func:`patient_ledger.views.
event_day`), never by its order of posting: a check posted late counts on the day it was
received, so a statement and a day sheet are the same whatever order the same events were
posted in. Every amount is a fresh ``Money`` in the ledger's currency.
"""

from __future__ import annotations

import bisect
import datetime
import enum
import functools
from collections.abc import Iterable
from typing import Any

import attrs
from moneyed import Money

from patient_ledger._stored import value_of
from patient_ledger.errors import InvalidInputError, UnknownIdError
from patient_ledger.events import (
    ChargeAdded,
    ChargeAdjusted,
    CreditTransferred,
    Event,
    InstallmentSkipped,
    PaymentPlanCancelled,
    PaymentPosted,
    PaymentReversed,
    PlanPaymentPosted,
    RefundPosted,
)
from patient_ledger.money import to_money
from patient_ledger.state import (
    OWNER,
    PATIENT,
    PLAN_AMOUNT,
    PLAN_CANCELLED,
    PLAN_COUNTING,
    Ledger,
    PlanRow,
    State,
    plan_installments,
    state_of,
)
from patient_ledger.values import Payment, PaymentMethod, PaymentType, _Choice, check_date, check_id
from patient_ledger.views import Aging, _aged, day_index, event_day


class StatementLineKind(_Choice):
    """What a statement line is: the event that moved the patient's Total Balance."""

    CHARGE = "CHARGE"
    ADJUSTMENT = "ADJUSTMENT"
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    REVERSAL = "REVERSAL"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_OUT = "TRANSFER_OUT"


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class StatementLine:
    """One line of a statement: an event of the period that moved the patient's Total Balance.

    ``amount`` is signed as it moves the Total Balance (a charge +, a payment −, a refund +, a
    reversed payment +, credit transferred out +); ``balance`` is the running Total Balance
    after the line; ``ref`` the id of the charge, payment (or refund), adjustment or transfer.
    """

    day: datetime.date
    kind: StatementLineKind
    ref: str
    description: str
    amount: Money
    balance: Money


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class Statement:
    """What a practice mails a patient for the period ``start`` to ``end`` (SPEC §12).

    ``opening_balance`` is the Total Balance as of the day before ``start``, ``closing_balance``
    as of ``end``; ``opening_balance`` + the lines' amounts = ``closing_balance``. ``credit`` =
    max(0, −closing); ``plan_due`` what is not covered of the installments due on or before
    ``end`` of the patient's plans as of ``end``; ``amount_due`` = max(0, closing − what those
    plans still cover) + ``plan_due``, never more than max(0, closing); ``aging`` the closing
    balance aged first in, first out.
    """

    patient_id: str
    start: datetime.date
    end: datetime.date
    opening_balance: Money
    lines: tuple[StatementLine, ...]
    closing_balance: Money
    amount_due: Money
    credit: Money
    plan_due: Money
    aging: Aging


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class DaySheetLine:
    """One payment, refund or reversal of the day sheet: ``amount`` is signed as it moves the
    practice's Total Paid (a payment +, a refund −, a reversed payment −, a reversed refund +);
    a reversal's line carries its payment's method, type and reference."""

    day: datetime.date
    payment_id: str
    patient_id: str
    method: PaymentMethod
    type: PaymentType
    reference: str | None
    amount: Money


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class MethodTotal:
    """A day sheet's lines of one payment method: how many, ``received`` (the lines above
    zero), ``returned`` (the lines below zero, ≤ 0) and ``net`` (their sum)."""

    method: PaymentMethod
    count: int
    received: Money
    returned: Money
    net: Money


@attrs.frozen  # positional as SPEC writes it (keywords work too)
class DaySheet:
    """The payments, refunds and reversals with a day from ``start`` to ``end`` (SPEC §12), by
    day then journal order; ``totals`` one per method with a line, in ``PaymentMethod`` order;
    ``net`` the sum of all lines = the change in the practice's Total Paid over the range."""

    start: datetime.date
    end: datetime.date
    lines: tuple[DaySheetLine, ...]
    totals: tuple[MethodTotal, ...]
    net: Money


# -- The one pass -----------------------------------------------------------------------------


class _Patient:
    """One patient's books for a period, gathered in the pass over the journal (minor units).

    ``lines`` are the period's moves ``(day ordinal, journal place, kind, ref, amount,
    event)``; ``charges`` the charges with a day on or before ``end`` and the adjustments
    dated on or before it, ``(day ordinal, journal place, charge_id, amount)``: what
    the first-in-first-out aging reads.
    """

    __slots__ = ("charges", "lines", "opening", "paid", "period")

    def __init__(self) -> None:
        self.opening = 0  # the Total Balance as of the day before start
        self.period = 0  # what the period's lines add up to
        self.paid = 0  # Total Paid as of end
        self.lines: list[tuple[int, int, StatementLineKind, str, int, Event]] = []
        self.charges: list[tuple[int, int, str, int]] = []


class _Books:
    """What one pass over a journal gathers for statements of ``start`` to ``end``."""

    def __init__(self) -> None:
        self.patients: dict[str, _Patient] = {}
        #: Plan payments received on or before end: payment_id -> [plan_id, what counts].
        self.counted: dict[str, list[Any]] = {}
        #: Plans cancelled on or before end.
        self.cancelled: set[str] = set()
        #: Skips dated on or before end, by plan, in journal order: ``(number, amount)``.
        self.skips: dict[str, list[tuple[int, int]]] = {}

    @functools.cached_property
    def plan_paid(self) -> dict[str, int]:
        """What counts toward each plan as of end (summed once, after the pass)."""
        paid: dict[str, int] = {}
        for plan_id, counted in self.counted.values():
            paid[plan_id] = paid.get(plan_id, 0) + counted
        return paid

    def patient(self, patient_id: str) -> _Patient:
        books = self.patients.get(patient_id)
        if books is None:
            books = self.patients[patient_id] = _Patient()
        return books


def _check_range(start: object, end: object) -> tuple[datetime.date, datetime.date]:
    """``start`` and ``end`` as dates, ``start`` not after ``end``.

    A ``datetime.datetime`` is refused although it is a ``date`` subclass: a day is asked for,
    and a time of day would be silently dropped (as every dated command of the ledger does).
    """
    first, last = check_date(start, "start"), check_date(end, "end")
    if first > last:
        raise InvalidInputError(
            f"start {first.isoformat()} is after end {last.isoformat()}", start=first, end=last
        )
    return first, last


def _gather(  # noqa: PLR0915 - one match over the closed union of events
    ledger: Ledger, start: datetime.date, end: datetime.date, wanted: frozenset[str] | None
) -> _Books:
    """One pass over the journal: each patient's moves of the Total Balance by the day of the
    event (:func:`~patient_ledger.views.event_day`) — before ``start`` into the opening
    balance, from ``start`` to ``end`` into the lines, after ``end`` nowhere — with what the
    aging and the plans as of ``end`` read. ``wanted``: only these patients (None: all)."""
    state = state_of(ledger)
    first, last = start.toordinal(), end.toordinal()
    books = _Books()
    accounts, charges = state.accounts, state.charges

    def move(  # noqa: PLR0917 - one move of one patient's Total Balance
        patient_id: str,
        day: int,
        place: int,
        kind: StatementLineKind,
        ref: str,
        amount: int,
        event: Event,
        charge_id: str | None = None,
    ) -> None:
        if wanted is not None and patient_id not in wanted:
            return
        account = books.patient(patient_id)
        if day <= last:
            if charge_id is None:  # money: Total Paid moves the other way
                account.paid -= amount
            else:  # responsibility, aged first in, first out
                account.charges.append((day, place, charge_id, amount))
            if day < first:
                account.opening += amount
            else:
                account.period += amount
                account.lines.append((day, place, kind, ref, amount, event))

    for place, event in enumerate(ledger.events):
        match event:
            case ChargeAdded(charge=charge):
                if charge.minor_units:  # a charge of zero moves no balance: no line
                    patient_id = accounts[charge.appointment_id][OWNER]
                    move(patient_id, _day(ledger, event), place, _K.CHARGE, charge.id,
                         charge.minor_units, event, charge.id)  # fmt: skip
            case ChargeAdjusted(adjustment=adjustment):
                charge_id = adjustment.charge_id
                patient_id = accounts[charges[charge_id].appointment_id][OWNER]
                move(patient_id, _day(ledger, event), place, _K.ADJUSTMENT, adjustment.id,
                     adjustment.minor_units, event, charge_id)  # fmt: skip
            case PaymentPosted(payment=payment) | PlanPaymentPosted(payment=payment):
                day = _day(ledger, event)
                move(payment.patient_id, day, place, _K.PAYMENT, payment.id,
                     -payment.minor_units, event)  # fmt: skip
                if type(event) is PlanPaymentPosted and day <= last and event.counted:
                    books.counted[payment.id] = [payment.plan_id, event.counted]
            case RefundPosted(payment=payment):
                move(payment.patient_id, _day(ledger, event), place, _K.REFUND, payment.id,
                     -payment.minor_units, event)  # fmt: skip
            case PaymentReversed():
                day = _day(ledger, event)
                for holder, share in _reversal_shares(state, event).items():
                    move(holder, day, place, _K.REVERSAL, event.payment_id, share, event)
                if event.uncounted and day <= last:
                    counted = books.counted.get(event.payment_id)
                    if counted is not None:
                        counted[1] = max(0, counted[1] - event.uncounted)
            case CreditTransferred(transfer=transfer, moves=moves):
                day = _day(ledger, event)
                moved = sum(part[2] for part in moves)
                if transfer.from_patient_id != transfer.to_patient_id and moved:
                    move(transfer.from_patient_id, day, place, _K.TRANSFER_OUT, transfer.id,
                         moved, event)  # fmt: skip
                    move(transfer.to_patient_id, day, place, _K.TRANSFER_IN, transfer.id,
                         -moved, event)  # fmt: skip
            case PaymentPlanCancelled(plan_id=plan_id, on=on):
                if on <= end:
                    books.cancelled.add(plan_id)
            case InstallmentSkipped(plan_id=plan_id, number=number, amount=skipped, on=on):
                if on <= end:
                    books.skips.setdefault(plan_id, []).append((number, skipped))
            case _:
                pass  # no day, or moves no Total Balance (placing, applying, cancelling)
    return books


def _reversal_shares(state: State, event: PaymentReversed) -> dict[str, int]:
    """What a reversal takes back from each patient holding the payment's money (minor units,
    no zero shares): Total Paid falls by it for each (SPEC §9)."""
    shares: dict[str, int] = {}
    for appointment_id, amount in event.allocations:
        holder = state.accounts[appointment_id][OWNER]
        shares[holder] = shares.get(holder, 0) + amount
    for entry_id, amount in event.entries:
        holder = state.entries[entry_id][PATIENT]
        shares[holder] = shares.get(holder, 0) + amount
    return {holder: share for holder, share in shares.items() if share}


_K = StatementLineKind


def _day(ledger: Ledger, event: Event) -> int:
    """The ordinal of an event's day (:func:`~patient_ledger.views.event_day`): the one rule
    for it, read only where an event's own field does not say it at once."""
    day = event_day(ledger, event)
    if day is None:  # pragma: no cover - every event this is asked about has a day
        raise InvalidInputError(f"event {type(event).__name__} has no day")
    return day.toordinal()


# -- From the books to statements -------------------------------------------------------------


def _plans_as_of(
    state: State, books: _Books, patient_id: str, end: datetime.date
) -> tuple[int, int]:
    """What the patient's plans as of ``end`` still cover and what is due of them: plans
    created on or before ``end`` and not cancelled by then, only plan payments received on or
    before ``end`` counting (SPEC §11 for a reversal: a payment counts the smaller of what it
    counted and what is left of it), skips dated on or before ``end``. The schedule is the
    engine's (:func:`~patient_ledger.state.plan_installments`)."""
    covered = due = 0
    for created_on, plan_id in state.patient_plans.get(patient_id, ()):
        if created_on > end or plan_id in books.cancelled:
            continue
        row = state.plans[plan_id]
        amount = row[PLAN_AMOUNT]
        paid = min(amount, books.plan_paid.get(plan_id, 0))
        skips = tuple(books.skips.get(plan_id, ()))
        as_of: PlanRow = (*row[:PLAN_CANCELLED], None, paid, skips, row[PLAN_COUNTING])
        covered += amount - paid
        due += sum(
            i.amount - i.covered
            for i in plan_installments(as_of)
            if not i.skipped and i.due_on <= end
        )
    return covered, due


def _fifo_aging(account: _Patient, end: datetime.date, code: str) -> Aging:
    """The closing balance aged first in, first out: each charge at its responsibility as of
    ``end`` (its adjustments dated on or before it), the Total Paid as of ``end`` paying the
    oldest first (by day, then journal order), what is left of each aged by ``end`` − its day.
    Where the days disagree with that picture the closing balance still decides: an
    adjustment dated on or before ``end`` of a charge whose day is after it ages by its own
    day; a charge adjusted below zero as of ``end`` pays like money; a Total Paid below zero as
    of ``end`` (a refund dated before its payment) is owed now (``current``). So the four
    always add up to max(0, closing)."""
    responsibility: dict[str, list[int]] = {}  # charge_id -> [day, place, amount]
    for day, place, charge_id, amount in account.charges:
        line = responsibility.get(charge_id)
        if line is None:
            responsibility[charge_id] = [day, place, amount]
        else:
            line[2] += amount
    pool = account.paid + sum(-line[2] for line in responsibility.values() if line[2] < 0)
    last = end.toordinal()
    aged: list[tuple[int, int]] = []
    if pool < 0:
        aged.append((0, -pool))
        pool = 0
    for day, _, amount in sorted(line for line in responsibility.values() if line[2] > 0):
        taken = min(pool, amount)
        pool -= taken
        if amount > taken:
            aged.append((last - day, amount - taken))
    return _aged(aged, code)


def _statement(
    state: State,
    *,
    books: _Books,
    patient_id: str,
    start: datetime.date,
    end: datetime.date,
) -> Statement:
    code = state.currency
    account = books.patients.get(patient_id) or _Patient()
    closing = account.opening + account.period
    lines = []
    balance = account.opening
    for day, _, kind, ref, amount, event in sorted(account.lines, key=_by_day):
        balance += amount
        lines.append(
            StatementLine(
                day=datetime.date.fromordinal(day),
                kind=kind,
                ref=ref,
                description=_description(state, kind, event),
                amount=to_money(amount, code),
                balance=to_money(balance, code),
            )
        )
    covered, plan_due = _plans_as_of(state, books, patient_id, end)
    owing = max(0, closing)
    amount_due = min(owing, max(0, closing - covered) + plan_due)
    zero = _aged((), code)
    return Statement(
        patient_id=patient_id,
        start=start,
        end=end,
        opening_balance=to_money(account.opening, code),
        lines=tuple(lines),
        closing_balance=to_money(closing, code),
        amount_due=to_money(amount_due, code),
        credit=to_money(max(0, -closing), code),
        plan_due=to_money(plan_due, code),
        aging=_fifo_aging(account, end, code) if closing > 0 else zero,
    )


def _by_day(line: tuple[int, int, StatementLineKind, str, int, Event]) -> tuple[int, int]:
    """The one order of statement lines: by day, then journal order."""
    return line[0], line[1]


def _words(choice: enum.Enum) -> str:
    return str(choice.value).replace("_", " ").lower()


def _description(state: State, kind: StatementLineKind, event: Event) -> str:
    """A statement line's short text: a charge's code, description and visit date; a
    payment's method, type and reference; an adjustment's type and reason; what a reversal
    took back; whom a transfer was with."""
    parts: list[str] = []
    match event:
        case ChargeAdded(charge=charge):
            parts += [p for p in (charge.code, charge.description) if p]
            visit = state.appointments[charge.appointment_id].date
            parts.append(f"visit {visit.isoformat()}")
        case ChargeAdjusted(adjustment=a):
            parts.append(f"{_words(a.type)} adjustment of {a.charge_id}")
            if a.reason:
                parts.append(a.reason)
        case PaymentPosted(payment=p) | PlanPaymentPosted(payment=p) | RefundPosted(payment=p):
            parts.append(f"{_words(p.method)} {_words(p.type)}")
            if p.reference:
                parts.append(f"ref {p.reference}")
            if p.plan_id:
                parts.append(f"plan {p.plan_id}")
        case PaymentReversed(payment_id=payment_id, reason=reason):
            payment = value_of(state.payments[payment_id][0], state.currency)
            what = "refund" if payment.type is PaymentType.REFUND else "payment"
            parts.append(f"{what} {payment_id} reversed")
            if reason:
                parts.append(reason)
        case CreditTransferred(transfer=t):
            if kind is StatementLineKind.TRANSFER_IN:
                parts.append(f"credit from {t.from_patient_id}")
            else:
                parts.append(f"credit to {t.to_patient_id}")
        case _:  # pragma: no cover - no other event gives a line
            pass
    return ", ".join(parts)


# -- The public functions ---------------------------------------------------------------------


def statement(
    ledger: Ledger, patient_id: str, *, start: datetime.date, end: datetime.date
) -> Statement:
    """What a practice mails a patient for the period ``start`` to ``end`` (SPEC §12).

    One pass over the journal; equal to the patient's entry of :func:`statements`.

    >>> import datetime; from moneyed import Money
    >>> from patient_ledger import (Appointment, Charge, Ledger, Payment, add_appointment,
    ...                             add_charge, post_payment)
    >>> ledger = add_appointment(Ledger.empty(), Appointment("A1", "P1",
    ...                                                      datetime.date(2025, 1, 22)))
    >>> ledger = add_charge(ledger, Charge("C1", "A1", Money("100.00", "USD"), code="99213"))
    >>> ledger = post_payment(ledger, Payment("PAY1", "P1", Money("40.00", "USD"),
    ...                                       datetime.date(2025, 2, 3), reference="1001"))
    >>> s = statement(ledger, "P1", start=datetime.date(2025, 2, 1),
    ...               end=datetime.date(2025, 2, 28))
    >>> s.opening_balance, s.closing_balance, s.amount_due
    (Money('100.00', 'USD'), Money('60.00', 'USD'), Money('60.00', 'USD'))
    >>> [(line.kind.name, line.ref, line.description, str(line.amount.amount))
    ...  for line in s.lines]
    [('PAYMENT', 'PAY1', 'other payment, ref 1001', '-40.00')]
    >>> s.aging.days_31_60
    Money('60.00', 'USD')

    Raises:
        UnknownIdError: the patient is not in the ledger.
        InvalidInputError: ``start`` or ``end`` is not a ``datetime.date`` (a
            ``datetime.datetime`` is refused too), or ``start`` is after ``end``.
    """
    state = state_of(ledger)
    check_id(patient_id, "patient_id")
    start, end = _check_range(start, end)  # the input's shape before the patient is looked up
    _known(state, patient_id)
    books = _gather(ledger, start, end, frozenset((patient_id,)))
    return _statement(state, books=books, patient_id=patient_id, start=start, end=end)


def statements(
    ledger: Ledger,
    *,
    start: datetime.date,
    end: datetime.date,
    patient_ids: Iterable[str] | None = None,
) -> tuple[Statement, ...]:
    """Statements for the period ``start`` to ``end``, by patient id, from ONE pass over the
    journal (not a replay per patient): every patient with a line in the period or a balance
    at its end — or, with ``patient_ids``, exactly those patients (each as :func:`statement`
    gives it).

    Raises:
        UnknownIdError: a patient of ``patient_ids`` is not in the ledger.
        InvalidInputError: as :func:`statement`.
    """
    state = state_of(ledger)
    wanted = None
    if patient_ids is not None:
        if isinstance(patient_ids, str):
            raise InvalidInputError(
                f"patient_ids must be a collection of ids, not the str {patient_ids!r}"
            )
        wanted = frozenset(patient_ids)
        for patient_id in wanted:
            check_id(patient_id, "patient_id")
    start, end = _check_range(start, end)  # the input's shape before patients are looked up
    for patient_id in sorted(wanted or ()):
        _known(state, patient_id)
    books = _gather(ledger, start, end, wanted)
    if wanted is None:
        chosen = sorted(
            patient_id
            for patient_id, account in books.patients.items()
            if account.lines or account.opening + account.period
        )
    else:
        chosen = sorted(wanted)
    return tuple(_statement(state, books=books, patient_id=p, start=start, end=end) for p in chosen)


def _known(state: State, patient_id: object) -> None:
    if check_id(patient_id, "patient_id") not in state.patients:
        raise UnknownIdError(f"patient {patient_id!r} is not in the ledger", id=patient_id)


#: ``PaymentMethod`` order.
_METHODS = {method: n for n, method in enumerate(PaymentMethod)}


def day_sheet(ledger: Ledger, start: datetime.date, end: datetime.date | None = None) -> DaySheet:
    """The payments, refunds and reversals with a day from ``start`` to ``end`` (``None``: the
    one day ``start``), what the front desk reconciles against the bank deposit (SPEC §12).

    Only the part of the journal that can hold such days is read: the ledger's day index
    (:func:`~patient_ledger.views.day_index`, built once per journal and shared with the dated
    views) bounds it — from the first event with a day on or after ``start`` to the last
    with a day on or before ``end`` — so a journal posted in day order reads about the range's
    events (a late posting widens the part read, never the result).

    >>> import datetime; from moneyed import Money
    >>> from patient_ledger import Ledger, Payment, PaymentMethod, post_payment
    >>> day = datetime.date(2025, 2, 3)
    >>> ledger = post_payment(Ledger.empty(), Payment("PAY1", "P1", Money("40.00", "USD"), day,
    ...                                               method=PaymentMethod.CHECK))
    >>> sheet = day_sheet(ledger, day)
    >>> [(t.method.name, t.count, t.net) for t in sheet.totals], sheet.net
    ([('CHECK', 1, Money('40.00', 'USD'))], Money('40.00', 'USD'))

    Raises:
        InvalidInputError: ``start`` or ``end`` is not a ``datetime.date`` (a
            ``datetime.datetime`` is refused too), or ``start`` is after ``end``.
    """
    state = state_of(ledger)
    start, end = _check_range(start, start if end is None else end)
    first, last = start.toordinal(), end.toordinal()
    highest, lowest = day_index(ledger)
    # Events before ``low`` all have days before start; from ``high`` on, after end.
    low = bisect.bisect_left(highest, first)
    high = bisect.bisect_right(lowest, last)
    events = ledger.events
    rows: list[tuple[int, int, str, Payment, int]] = []
    for place in range(low, high):
        event = events[place]
        match event:
            case PaymentPosted(payment=p) | PlanPaymentPosted(payment=p) | RefundPosted(payment=p):
                day = _day(ledger, event)
                if first <= day <= last:
                    rows.append((day, place, p.id, p, p.minor_units))
            case PaymentReversed(payment_id=payment_id):
                day = _day(ledger, event)
                if first <= day <= last:
                    taken = sum(a for _, a in event.allocations) + sum(a for _, a in event.entries)
                    payment = value_of(state.payments[payment_id][0], state.currency)
                    rows.append((day, place, payment_id, payment, -taken))
            case _:
                pass
    rows.sort(key=lambda row: (row[0], row[1]))
    code = state.currency
    lines = tuple(
        DaySheetLine(
            day=datetime.date.fromordinal(day),
            payment_id=payment_id,
            patient_id=payment.patient_id,
            method=payment.method,
            type=payment.type,
            reference=payment.reference,
            amount=to_money(amount, code),
        )
        for day, _, payment_id, payment, amount in rows
    )
    by_method: dict[PaymentMethod, list[int]] = {}  # count, received, returned
    for _, _, _, payment, amount in rows:
        sums = by_method.setdefault(payment.method, [0, 0, 0])
        sums[0] += 1
        sums[1 if amount > 0 else 2] += amount
    totals = tuple(
        MethodTotal(
            method=method,
            count=sums[0],
            received=to_money(sums[1], code),
            returned=to_money(sums[2], code),
            net=to_money(sums[1] + sums[2], code),
        )
        for method, sums in sorted(by_method.items(), key=lambda item: _METHODS[item[0]])
    )
    net = sum(row[4] for row in rows)
    return DaySheet(start=start, end=end, lines=lines, totals=totals, net=to_money(net, code))
