"""Tools for test suites that validate balance math: invariant checks and Hypothesis strategies.

``check_invariants`` and ``assert_invariants`` need nothing beyond the library. The strategies
(``money``, ``operations``, ``ledgers`` …) need Hypothesis: install the ``testing`` extra
(``pip install "patient-ledger[testing]"``).

>>> from patient_ledger import Ledger
>>> check_invariants(Ledger.empty())
()
"""

from __future__ import annotations

import contextlib
import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from moneyed import Money

from patient_ledger.apply import replay
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    apply_unallocated,
    auto_allocate,
    cancel_offsetting,
    post_payment,
    refund,
    release_credit,
    reverse_payment,
    transfer_credit,
    unapply,
)
from patient_ledger.errors import LedgerError
from patient_ledger.events import (
    AllocationUnapplied,
    AppointmentAdded,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    Event,
    PaymentPosted,
    PaymentReversed,
    RefundPosted,
)
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import Ledger, exclusive
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    Appointment,
    Charge,
    Payment,
    PaymentMethod,
    PaymentType,
    Transfer,
)
from patient_ledger.views import claims_feed, dashboard, patients, unallocated_entries

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


@attrs.frozen
class Violation:
    """One broken invariant: its number in SPEC §6 (0: Total Paid disagrees with the journal;
    8: the engine's own records disagree), whose, and what."""

    invariant: int
    patient_id: str | None
    message: str


class InvariantError(AssertionError):
    """Raised by :func:`assert_invariants`; ``violations`` lists every broken invariant."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        lines = "\n".join(
            f"  invariant {v.invariant} ({v.patient_id or 'ledger'}): {v.message}"
            for v in violations
        )
        super().__init__(f"{len(violations)} invariant(s) broken:\n{lines}")


def _journal_paid(events: Iterable[Event]) -> tuple[dict[str, int], int]:
    """Total Paid per patient and in all, re-derived from the journal alone."""
    paid: dict[str, int] = defaultdict(int)
    owner_of_entry: dict[str, str] = {}
    owner_of_appointment: dict[str, str] = {}
    appointment_of_charge: dict[str, str] = {}
    amount_of_payment: dict[str, int] = {}
    total = 0
    for event in events:
        match event:
            case AppointmentAdded(appointment=a):
                owner_of_appointment[a.id] = a.patient_id
            case ChargeAdded(charge=c):
                appointment_of_charge[c.id] = c.appointment_id
            case (
                PaymentPosted(payment=p, entry_id=entry_id)
                | RefundPosted(payment=p, entry_id=entry_id)
            ):
                paid[p.patient_id] += p.minor_units
                total += p.minor_units
                amount_of_payment[p.id] = p.minor_units
                if entry_id is not None:
                    owner_of_entry[entry_id] = p.patient_id
            case AllocationUnapplied(appointment_id=a, returned=returned):
                for _, _, entry_id in returned:
                    owner_of_entry[entry_id] = owner_of_appointment[a]
            case ChargeAdjusted(adjustment=adjustment, returned=returned):
                owner = owner_of_appointment[appointment_of_charge[adjustment.charge_id]]
                for _, _, entry_id in returned:
                    owner_of_entry[entry_id] = owner
            case CreditReleased(appointment_id=a, moves=moves):
                for _, entry_id, _ in moves:
                    owner_of_entry[entry_id] = owner_of_appointment[a]
            case CreditTransferred(transfer=t, moves=moves):
                for _, entry_id, _ in moves:
                    owner_of_entry[entry_id] = t.to_patient_id
                paid[t.from_patient_id] -= t.minor_units
                paid[t.to_patient_id] += t.minor_units
            case PaymentReversed(payment_id=payment_id):
                for appointment_id, amount in event.allocations:
                    paid[owner_of_appointment[appointment_id]] -= amount
                for entry_id, amount in event.entries:
                    paid[owner_of_entry[entry_id]] -= amount
                total -= amount_of_payment[payment_id]
            case _:
                pass
    return paid, total


@exclusive
def check_invariants(ledger: Ledger) -> tuple[Violation, ...]:
    """Check SPEC §6 for every patient; return the violations (empty when all hold).

    Besides the seven invariants it checks that the views agree with each other (the feed with
    the dashboard, the open entries with the buckets) and that Total Paid matches what the
    journal says was received, refunded, reversed and transferred (invariant 0: no money is
    created or lost).
    """
    checker = _Checker(ledger.currency)
    journal_paid, journal_total = _journal_paid(ledger.events)
    total_paid_all = 0
    for pid in patients(ledger):
        total_paid_all += checker.patient(ledger, pid, journal_paid.get(pid, 0))
    checker.check(
        total_paid_all == journal_total,
        0,
        None,
        f"patients' total paid sums to {total_paid_all}, but the journal received "
        f"{journal_total} (payments - refunds - reversals): money created or lost",
    )
    checker.check(replay(ledger.events) == ledger, 7, None, "replay(ledger.events) != ledger")
    checker.found.extend(_check_records(ledger))
    return tuple(checker.found)


def _check_records(ledger: Ledger) -> list[Violation]:
    """Invariant 8 (beyond SPEC): the engine's own records agree with one another.

    Every payment's money is accounted for — allocated, held in open entries, or closed by
    ``cancel_offsetting`` — and is zero once reversed; each appointment's allocations add up to
    what is allocated to it; each bucket's available amount is the sum of exactly its open
    entries, oldest first; no event moves a zero amount.
    """
    found: list[Violation] = []
    state = ledger.state
    accounted: dict[str, int] = defaultdict(int)
    for appointment in map(state.appointment, state.appointments):
        pid = appointment.appointment.patient_id
        where = f"appointment {appointment.appointment.id}"
        if sum(part for _, part in appointment.allocations) != appointment.allocated:
            found.append(Violation(8, pid, f"{where}: allocations do not add up"))
        for payment_id, part in appointment.allocations:
            accounted[payment_id] += part
            if part <= 0:
                found.append(Violation(8, pid, f"{where}: a non-positive allocation {part}"))
    buckets: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    for entry in map(state.entry, state.entries):
        accounted[entry.payment_id] += entry.remaining + entry.cancelled
        if entry.remaining:
            buckets[entry.patient_id, entry.appointment_id].append(entry.key)
    for pid in state.patients:
        patient = state.patient(pid)
        pairs = [(None, patient.general)] + [
            (a, state.appointment(a).bucket) for a in patient.appointments
        ]
        for appointment_id, bucket in pairs:
            keys = sorted(buckets.get((pid, appointment_id), []))
            total = sum(state.entry(k[2]).remaining for k in keys)
            if list(bucket.open) != keys or bucket.available != total:
                name = appointment_id or "general"
                found.append(Violation(8, pid, f"bucket {name}: open entries or sum disagree"))
    for payment_id, known in state.payments.items():
        expected = 0 if payment_id in state.reversed else known.minor_units
        if accounted.get(payment_id, 0) != expected:
            found.append(
                Violation(
                    8,
                    known.patient_id,
                    f"payment {payment_id}: {accounted.get(payment_id, 0)} accounted for, "
                    f"{expected} expected (money created or lost)",
                )
            )
    for number, event in enumerate(ledger.events):
        if any(amount == 0 for amount in _amounts(event)):
            found.append(Violation(8, None, f"event {number} moves a zero amount: {event!r}"))
    return found


def _amounts(event: Event) -> list[int]:
    """The amounts an event moves between entries and allocations: in each of its tuples of
    parts, the one int is the amount (the other items are ids)."""
    return [
        next(item for item in part if isinstance(item, int))
        for name in ("applied", "returned", "moves", "parts", "allocations", "entries")
        for part in getattr(event, name, ())
    ]


class _Checker:
    def __init__(self, code: str) -> None:
        self.code = code
        self.found: list[Violation] = []

    def check(self, ok: bool, invariant: int, patient_id: str | None, message: str) -> None:
        if not ok:
            self.found.append(Violation(invariant, patient_id, message))

    def minor(self, value: object, what: str, patient_id: str) -> int:
        if not isinstance(value, Money) or value.currency.code != self.code:
            self.found.append(
                Violation(6, patient_id, f"{what} {value!r} is not Money in {self.code}")
            )
            return 0
        try:
            return to_minor(value, what)
        except LedgerError as error:
            self.found.append(Violation(6, patient_id, f"{what} is not exact: {error}"))
            return 0

    def patient(self, ledger: Ledger, pid: str, journal_paid: int) -> int:
        """Check one patient's views; return its Total Paid in minor units."""
        check, minor = self.check, self.minor
        d = dashboard(ledger, pid)
        paid = minor(d.total_paid, "total_paid", pid)
        allocated = minor(d.allocated, "allocated", pid)
        unallocated = minor(d.unallocated, "unallocated", pid)
        responsibility = minor(d.patient_responsibility, "patient_responsibility", pid)
        statement = minor(d.statement_balance, "statement_balance", pid)
        balance = minor(d.total_balance, "total_balance", pid)
        check(
            paid == allocated + unallocated,
            1,
            pid,
            f"total paid {paid} != allocated {allocated} + unallocated {unallocated}",
        )
        check(
            balance == statement - unallocated,
            2,
            pid,
            f"total balance {balance} != statement {statement} - unallocated {unallocated}",
        )
        check(statement == responsibility - allocated, 2, pid, "statement != resp. - allocated")
        check(balance == responsibility - paid, 2, pid, "total balance != resp. - total paid")
        check(
            paid == journal_paid,
            0,
            pid,
            f"total paid {paid} != {journal_paid} received for the patient by the journal",
        )
        buckets = self._entries(ledger, pid)
        check(
            sum(buckets.values()) == unallocated,
            1,
            pid,
            f"open entries sum to {sum(buckets.values())}, unallocated is {unallocated}",
        )
        check(buckets.get(None, 0) >= 0, 4, pid, "general bucket below zero")
        feed_paid, feed_responsibility = self._feed(ledger, pid, buckets, unallocated)
        check(feed_paid == allocated, 1, pid, f"feed paid {feed_paid} != allocated {allocated}")
        check(feed_responsibility == responsibility, 1, pid, "feed responsibility != dashboard's")
        return paid

    def _entries(self, ledger: Ledger, pid: str) -> dict[str | None, int]:
        buckets: dict[str | None, int] = defaultdict(int)
        dates = []
        for e in unallocated_entries(ledger, pid):
            amount = self.minor(e.amount, f"entry {e.id} amount", pid)
            self.check(amount != 0, 4, pid, f"entry {e.id} is open with a zero amount")
            buckets[e.appointment_id] += amount
            dates.append(e.received_on)
        self.check(dates == sorted(dates), 4, pid, "open entries are not oldest first")
        for bucket, total in buckets.items():
            self.check(total >= 0, 4, pid, f"bucket {bucket or 'general'} has {total} available")
        return buckets

    def _feed(
        self, ledger: Ledger, pid: str, buckets: Mapping[str | None, int], unallocated: int
    ) -> tuple[int, int]:
        check, minor = self.check, self.minor
        rows = claims_feed(ledger, pid)
        order = [(r.date, r.appointment_id) for r in rows]
        check(order == sorted(order), 5, pid, "claims feed is not by date then id")
        sum_paid = sum_resp = 0
        for r in rows:
            r_resp = minor(r.patient_responsibility, "row responsibility", pid)
            r_paid = minor(r.paid, "row paid", pid)
            r_due = minor(r.balance_due, "row balance_due", pid)
            r_held = minor(r.appointment_unallocated, "row appointment_unallocated", pid)
            r_all = minor(r.patient_unallocated, "row patient_unallocated", pid)
            sum_paid += r_paid
            sum_resp += r_resp
            where = f"appointment {r.appointment_id}"
            check(0 <= r_paid <= r_resp, 3, pid, f"{where}: paid {r_paid} of {r_resp} charged")
            check(r_due == r_resp - r_paid, 3, pid, f"{where}: due {r_due} != charged - paid")
            check(r_held >= 0, 4, pid, f"{where}: its bucket has {r_held} available")
            check(
                r_held == buckets.get(r.appointment_id, 0),
                4,
                pid,
                f"{where}: bucket {r_held} != its open entries",
            )
            check(r_held == 0 or r_due == 0, 5, pid, f"{where}: holds {r_held} but {r_due} due")
            check(r_all == unallocated, 1, pid, f"{where}: patient_unallocated != unallocated")
        return sum_paid, sum_resp


def assert_invariants(ledger: Ledger) -> None:
    """Raise :class:`InvariantError` (an ``AssertionError``) listing every broken invariant."""
    violations = check_invariants(ledger)
    if violations:
        raise InvariantError(violations)


# -- operations: commands as printable data -------------------------------------------------


@attrs.frozen
class Operation:
    """One command with its arguments, as data (its repr is the call it makes)."""

    command: Callable[..., Ledger]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    def __call__(self, ledger: Ledger) -> Ledger:
        """Run the command on ``ledger``."""
        return self.command(ledger, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.command.__name__}(ledger, {', '.join(parts)})"


def run_operations(
    operations: Iterable[Operation], ledger: Ledger | None = None
) -> tuple[Ledger, list[LedgerError]]:
    """Apply operations in turn; refused ones leave the ledger as it was and are returned."""
    ledger = Ledger.empty("USD") if ledger is None else ledger
    refused = []
    for operation in operations:
        try:
            ledger = operation(ledger)
        except LedgerError as error:
            refused.append(error)
    return ledger, refused


def _require_hypothesis() -> Any:
    try:
        from hypothesis import strategies  # noqa: PLC0415 - an optional dependency
    except ImportError as error:  # pragma: no cover - the testing extra is installed in CI
        msg = 'these strategies need Hypothesis: pip install "patient-ledger[testing]"'
        raise ImportError(msg) from error
    return strategies


START = datetime.date(2025, 1, 1)


def money(
    min_minor: int = 1, max_minor: int = 50_000, currency: str = "USD"
) -> SearchStrategy[Money]:
    """Money generated from integer minor units (it shrinks towards small amounts)."""
    st = _require_hypothesis()
    return st.integers(min_minor, max_minor).map(lambda m: to_money(m, currency))  # type: ignore[no-any-return]


def dates(days: int = 120) -> SearchStrategy[datetime.date]:
    """Dates in the first ``days`` days of 2025."""
    st = _require_hypothesis()
    return st.integers(0, days).map(lambda n: START + datetime.timedelta(days=n))  # type: ignore[no-any-return]


def appointments(
    ids: SearchStrategy[str] | None = None, patient_ids: SearchStrategy[str] | None = None
) -> SearchStrategy[Appointment]:
    """Valid appointments (ids from small pools by default, so that they meet)."""
    st = _require_hypothesis()
    return st.builds(  # type: ignore[no-any-return]
        Appointment,
        ids if ids is not None else st.sampled_from([f"A{n}" for n in range(6)]),
        patient_ids if patient_ids is not None else st.sampled_from([f"P{n}" for n in range(3)]),
        dates(),
    )


def charges(
    ids: SearchStrategy[str] | None = None, appointment_ids: SearchStrategy[str] | None = None
) -> SearchStrategy[Charge]:
    """Valid charges, $0 to $300."""
    st = _require_hypothesis()
    return st.builds(  # type: ignore[no-any-return]
        Charge,
        ids if ids is not None else st.sampled_from([f"C{n}" for n in range(8)]),
        appointment_ids
        if appointment_ids is not None
        else st.sampled_from([f"A{n}" for n in range(6)]),
        money(0, 30_000),
    )


def payments(
    ids: SearchStrategy[str] | None = None,
    patient_ids: SearchStrategy[str] | None = None,
    appointment_ids: SearchStrategy[str | None] | None = None,
) -> SearchStrategy[Payment]:
    """Valid payments (any type but REFUND, amount > 0), to an appointment or unallocated."""
    st = _require_hypothesis()
    kinds = st.sampled_from([t for t in PaymentType if t is not PaymentType.REFUND])
    return _payments(ids, "PAY", 12, patient_ids, appointment_ids, money(1, 30_000), kinds)


def refunds(
    ids: SearchStrategy[str] | None = None,
    patient_ids: SearchStrategy[str] | None = None,
    appointment_ids: SearchStrategy[str | None] | None = None,
) -> SearchStrategy[Payment]:
    """Valid refunds: type REFUND, a negative amount."""
    st = _require_hypothesis()
    refund_type = st.just(PaymentType.REFUND)
    return _payments(ids, "R", 6, patient_ids, appointment_ids, money(-10_000, -1), refund_type)


def _payments(
    ids: SearchStrategy[str] | None,
    prefix: str,
    pool: int,
    patient_ids: SearchStrategy[str] | None,
    appointment_ids: SearchStrategy[str | None] | None,
    amounts: SearchStrategy[Money],
    kinds: SearchStrategy[PaymentType],
) -> SearchStrategy[Payment]:
    st = _require_hypothesis()
    return st.builds(  # type: ignore[no-any-return]
        Payment,
        ids if ids is not None else st.sampled_from([f"{prefix}{n}" for n in range(pool)]),
        patient_ids if patient_ids is not None else st.sampled_from([f"P{n}" for n in range(3)]),
        amounts,
        dates(),
        st.sampled_from(PaymentMethod),
        kinds,
        appointment_ids
        if appointment_ids is not None
        else st.none() | st.sampled_from([f"A{n}" for n in range(6)]),
    )


def operations(
    *, patients: int = 3, appointments: int = 6, max_minor: int = 30_000
) -> SearchStrategy[Operation]:
    """Any command, with ids drawn from small pools so that they meet and collide.

    Appointment ``A{n}`` always belongs to patient ``P{n % patients}``, so most references are
    valid; some are unknown or another patient's on purpose, and some commands will be refused.
    """
    st = _require_hypothesis()
    patient = st.integers(0, patients - 1).map(lambda n: f"P{n}")
    appointment_no = st.integers(0, appointments - 1)
    appointment = appointment_no.map(lambda n: f"A{n}")
    amount = money(1, max_minor)
    maybe_amount = st.none() | amount
    day = dates()

    def appointment_op(n: int, d: datetime.date) -> Operation:
        return Operation(add_appointment, (Appointment(f"A{n}", f"P{n % patients}", d),))

    def charge_op(n: int, a: int, m: Money) -> Operation:
        return Operation(add_charge, (Charge(f"C{n}", f"A{a}", m),))

    def payment_op(n: int, a: int | None, m: Money, d: datetime.date, t: PaymentType) -> Operation:
        pid = f"P{(a if a is not None else n) % patients}"
        appt = None if a is None else f"A{a}"
        return Operation(
            post_payment, (Payment(f"PAY{n}", pid, m, d, PaymentMethod.CASH, t, appt),)
        )

    def refund_op(n: int, a: int | None, m: Money, d: datetime.date) -> Operation:
        pid = f"P{(a if a is not None else n) % patients}"
        appt = None if a is None else f"A{a}"
        negative = to_money(-to_minor(m, "refund"), m.currency.code)
        return Operation(
            refund,
            (Payment(f"R{n}", pid, negative, d, type=PaymentType.REFUND, appointment_id=appt),),
        )

    def adjust_op(
        n: int, c: int, m: Money, down: bool, t: AdjustmentType, d: datetime.date
    ) -> Operation:
        signed = (
            -to_minor(m, "adjustment")
            if down or t is AdjustmentType.WRITE_OFF
            else to_minor(m, "a")
        )
        return Operation(
            adjust_charge,
            (Adjustment(f"ADJ{n}", f"C{c}", to_money(signed, m.currency.code), d, t),),
        )

    def transfer_op(n: int, a: int, b: int, m: Money, d: datetime.date) -> Operation:
        if a == b:
            b = (b + 1) % patients
        return Operation(transfer_credit, (Transfer(f"T{n}", f"P{a}", f"P{b}", m, d),))

    small = st.integers(0, 4)
    pno = st.integers(0, patients - 1)
    charges = st.builds(charge_op, small, appointment_no, money(0, max_minor))
    payments = st.builds(
        payment_op,
        small,
        st.none() | appointment_no,
        amount,
        day,
        st.sampled_from([PaymentType.PAYMENT, PaymentType.COPAY]),
    )
    # Payments and charges are listed more than once: they are what most ledgers are made of.
    return st.one_of(  # type: ignore[no-any-return]
        payments,
        charges,
        payments,
        st.builds(appointment_op, appointment_no, day),
        charges,
        st.builds(refund_op, small, st.none() | appointment_no, money(1, max_minor // 4), day),
        st.builds(
            lambda p, a, m, d: Operation(apply_unallocated, (p, a, m), {"on": d}),
            patient,
            appointment,
            maybe_amount,
            day,
        ),
        st.builds(lambda p, d: Operation(cancel_offsetting, (p,), {"on": d}), patient, day),
        st.builds(
            lambda a, m, d: Operation(unapply, (a, m), {"on": d}), appointment, maybe_amount, day
        ),
        st.builds(
            lambda a, m, d: Operation(release_credit, (a, m), {"on": d}),
            appointment,
            maybe_amount,
            day,
        ),
        st.builds(
            adjust_op, small, small, amount, st.booleans(), st.sampled_from(AdjustmentType), day
        ),
        st.builds(
            lambda n, d: Operation(reverse_payment, (n,), {"on": d}),
            st.sampled_from([f"PAY{i}" for i in range(5)] + [f"R{i}" for i in range(5)]),
            day,
        ),
        st.builds(transfer_op, small, pno, pno, money(1, max_minor // 4), day),
        st.builds(lambda p, d: Operation(auto_allocate, (p,), {"on": d}), patient, day),
    )


def command_sequences(
    *, patients: int = 3, appointments: int = 6, max_operations: int = 40
) -> SearchStrategy[list[Operation]]:
    """Operation lists that start by booking every appointment (on drawn dates), then run
    random commands: most are accepted, and some are refused on purpose."""
    st = _require_hypothesis()
    setup = st.tuples(*(dates() for _ in range(appointments))).map(
        lambda days: [
            Operation(add_appointment, (Appointment(f"A{n}", f"P{n % patients}", d),))
            for n, d in enumerate(days)
        ]
    )
    body = st.lists(
        operations(patients=patients, appointments=appointments), max_size=max_operations
    )
    return st.builds(lambda head, tail: head + tail, setup, body)  # type: ignore[no-any-return]


def ledgers(*, max_patients: int = 3, max_steps: int = 30) -> SearchStrategy[Ledger]:
    """Valid, realistic ledgers: several patients, appointments with and without charges,
    partly paid balances, money held in both buckets, open and cancelled refunds, and the rest
    of the workflow (unapply, release, adjustments, reversals, transfers, auto-allocation).

    Each step reads the ledger it is building (through the public views) to choose arguments
    that are mostly valid — a refund no larger than the bucket, an application within the
    balance due — so few commands are refused. It shrinks to fewer, smaller steps.
    """
    st = _require_hypothesis()

    @st.composite  # type: ignore[untyped-decorator]
    def build(draw: Any) -> Ledger:
        builder = _Builder(draw, st)
        for n in range(draw(st.integers(1, max_patients))):
            builder.patients.append(f"P{n}")
        for _ in range(draw(st.integers(1, 6))):
            builder.appointment()
        for _ in range(draw(st.integers(0, max_steps))):
            action = draw(st.sampled_from(_Builder.ACTIONS))
            # An argument drawn at a limit may be refused: the ledger is unchanged, go on.
            with contextlib.suppress(LedgerError):
                getattr(builder, action)()
        return builder.ledger

    return build()  # type: ignore[no-any-return]


class _Builder:
    """Draws commands against the ledger built so far (see :func:`ledgers`)."""

    # Repeated names are drawn more often: payments and charges make most of a ledger.
    ACTIONS = (
        "charge",
        "charge",
        "pay_appointment",
        "pay_appointment",
        "pay_general",
        "pay_general",
        "appointment",
        "refund",
        "refund",
        "apply",
        "cancel",
        "unapply",
        "release",
        "adjust",
        "reverse",
        "transfer",
        "auto_allocate",
    )

    def __init__(self, draw: Any, st: Any) -> None:
        self.draw, self.st = draw, st
        self.ledger = Ledger.empty("USD")
        self.patients: list[str] = []
        self.appointments: list[tuple[str, str]] = []
        self.counter = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self, items: Sequence[Any]) -> Any:
        return self.draw(self.st.sampled_from(items))

    def cents(self, low: int = 1, high: int = 30_000) -> int:
        return int(self.draw(self.st.integers(low, max(low, high))))

    def day(self) -> datetime.date:
        return START + datetime.timedelta(days=self.cents(0, 120))

    def usd(self, minor: int) -> Money:
        return to_money(minor, "USD")

    def rows(self, patient_id: str) -> list[Any]:
        return list(claims_feed(self.ledger, patient_id))

    def appointment(self) -> None:
        aid = self.next_id("A")
        pid = self.pick(self.patients)
        self.ledger = add_appointment(self.ledger, Appointment(aid, pid, self.day()))
        self.appointments.append((aid, pid))

    def charge(self) -> None:
        aid, _ = self.pick(self.appointments)
        charge = Charge(self.next_id("C"), aid, self.usd(self.cents(0)))
        self.ledger = add_charge(self.ledger, charge)

    def pay_appointment(self) -> None:
        aid, pid = self.pick(self.appointments)
        payment = Payment(
            self.next_id("PAY"),
            pid,
            self.usd(self.cents()),
            self.day(),
            PaymentMethod.CASH,
            PaymentType.COPAY,
            aid,
        )
        self.ledger = post_payment(self.ledger, payment)

    def pay_general(self) -> None:
        payment = Payment(
            self.next_id("PAY"),
            self.pick(self.patients),
            self.usd(self.cents()),
            self.day(),
            PaymentMethod.CHECK,
        )
        self.ledger = post_payment(self.ledger, payment)

    def funded(self) -> list[tuple[str, str | None, int]]:
        """Buckets holding money: (patient, appointment or None, available)."""
        found: list[tuple[str, str | None, int]] = []
        for pid in patients(self.ledger):
            held = list(unallocated_entries(self.ledger, pid))
            general = sum(to_minor(e.amount, "e") for e in held if e.appointment_id is None)
            if general > 0:
                found.append((pid, None, general))
            found.extend(
                (pid, r.appointment_id, to_minor(r.appointment_unallocated, "r"))
                for r in self.rows(pid)
                if r.appointment_unallocated.amount > 0
            )
        return found

    def refund(self) -> None:
        funded = self.funded()
        if funded:
            pid, aid, available = self.pick(funded)
            refund_ = Payment(
                self.next_id("R"),
                pid,
                self.usd(-self.cents(1, available)),
                self.day(),
                type=PaymentType.REFUND,
                appointment_id=aid,
            )
            self.ledger = refund(self.ledger, refund_)

    def apply(self) -> None:
        funded = [(p, a) for p, a, _ in self.funded() if a is None]
        if funded:
            pid, _ = self.pick(funded)
            owing = [r.appointment_id for r in self.rows(pid) if r.balance_due.amount > 0]
            if owing:
                self.ledger = apply_unallocated(self.ledger, pid, self.pick(owing), on=self.day())

    def cancel(self) -> None:
        self.ledger = cancel_offsetting(self.ledger, self.pick(self.patients), on=self.day())

    def unapply(self) -> None:
        aid, pid = self.pick(self.appointments)
        row = next(r for r in self.rows(pid) if r.appointment_id == aid)
        allocated = to_minor(row.paid, "paid")
        if allocated:
            amount = self.draw(self.st.none() | self.st.integers(1, allocated).map(self.usd))
            self.ledger = unapply(self.ledger, aid, amount, on=self.day())

    def release(self) -> None:
        held = [(p, a, n) for p, a, n in self.funded() if a is not None]
        if held:
            _, aid, available = self.pick(held)
            amount = self.draw(self.st.none() | self.st.integers(1, available).map(self.usd))
            self.ledger = release_credit(self.ledger, aid, amount, on=self.day())

    def adjust(self) -> None:
        charges = [e.charge for e in self.ledger.events if isinstance(e, ChargeAdded)]
        if charges:
            charge = self.pick(charges)
            kind = self.pick(list(AdjustmentType))
            down = kind is AdjustmentType.WRITE_OFF or self.draw(self.st.booleans())
            size = self.cents(1, 10_000)
            adjustment = Adjustment(
                self.next_id("ADJ"), charge.id, self.usd(-size if down else size), self.day(), kind
            )
            self.ledger = adjust_charge(self.ledger, adjustment)

    def reverse(self) -> None:
        payments = [
            e.payment.id for e in self.ledger.events if isinstance(e, PaymentPosted | RefundPosted)
        ]
        if payments:
            self.ledger = reverse_payment(self.ledger, self.pick(payments), on=self.day())

    def transfer(self) -> None:
        funded = [(p, n) for p, a, n in self.funded() if a is None]
        if funded and len(self.patients) > 1:
            source, available = self.pick(funded)
            to = self.pick([p for p in self.patients if p != source])
            transfer = Transfer(
                self.next_id("T"), source, to, self.usd(self.cents(1, available)), self.day()
            )
            self.ledger = transfer_credit(self.ledger, transfer)

    def auto_allocate(self) -> None:
        known = patients(self.ledger)
        if known:
            self.ledger = auto_allocate(self.ledger, self.pick(known), on=self.day())
