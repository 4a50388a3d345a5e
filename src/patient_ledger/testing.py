"""Tools for test suites that validate balance math: invariant checks, Hypothesis strategies,
commands valid on a ledger with the change each should make, and ledgers printed as code.

``check_invariants``, ``assert_invariants`` (from the core's :mod:`patient_ledger.invariants`,
re-exported here), ``as_code``, ``operations_of``, ``changes`` and ``run_operations`` need
nothing beyond the library. The strategies (``money``, ``operations``, ``ledgers``,
``valid_operations`` …) and ``register_profiles`` need Hypothesis: install the ``testing``
extra (``pip install "patient-ledger[testing]"``). docs/testing.md describes every name.

>>> from patient_ledger import Ledger
>>> check_invariants(Ledger.empty())
()
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from moneyed import Money

from patient_ledger._code import Operation, operations_of, script
from patient_ledger._code import as_code as _ledger_as_code
from patient_ledger._steps import (
    DAYS,
    KINDS,
    LAST_DAY,
    PROVIDERS,
    START,
    Change,
    Step,
    changes,
    planned_step,
    valid_operations,
)
from patient_ledger.apply import apply_event
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    apply_unallocated,
    auto_allocate,
    cancel_appointment,
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
    AppointmentAdded,
    ChargeAdded,
    PaymentPosted,
    RefundPosted,
)
from patient_ledger.invariants import InvariantError, Violation, assert_invariants, check_invariants
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import Ledger
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    AllocationOrder,
    Appointment,
    Charge,
    Payment,
    PaymentMethod,
    PaymentType,
    Transfer,
)
from patient_ledger.views import (
    allocations,
    claims_feed,
    line_items,
    patients,
    unallocated_entries,
)

__all__ = [
    "KINDS",
    "START",
    "Change",
    "InvariantError",
    "Operation",
    "Step",
    "Violation",
    "appointments",
    "as_code",
    "assert_invariants",
    "changes",
    "charges",
    "check_invariants",
    "command_sequences",
    "dates",
    "ledgers",
    "money",
    "one_more_command",
    "operations",
    "operations_of",
    "payments",
    "refunds",
    "register_profiles",
    "run_operations",
    "valid_operations",
]

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


def as_code(ledger_or_operations: Ledger | Iterable[Operation], currency: str = "USD") -> str:
    """Python code, to paste and run, that builds a ledger: for a :class:`Ledger`, the commands
    that build an equal one (see :func:`operations_of`); for operations (a drawn
    :func:`command_sequences`), those operations run in turn on ``Ledger.empty(currency)``, a
    refused one under ``suppress(LedgerError)`` as :func:`run_operations` runs it.
    """
    if isinstance(ledger_or_operations, Ledger):
        return _ledger_as_code(ledger_or_operations)
    return script(ledger_or_operations, currency)


def run_operations(
    operations: Iterable[Operation], ledger: Ledger | None = None
) -> tuple[Ledger, list[LedgerError]]:
    """Apply operations in turn (to an empty USD ledger by default); refused ones leave the
    ledger as it was and are returned, in order."""
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


def money(
    min_minor: int = 1, max_minor: int = 50_000, currency: str = "USD"
) -> SearchStrategy[Money]:
    """Money generated from integer minor units (it shrinks towards small amounts)."""
    st = _require_hypothesis()
    return st.integers(min_minor, max_minor).map(lambda m: to_money(m, currency))  # type: ignore[no-any-return]


def dates(days: int = DAYS) -> SearchStrategy[datetime.date]:
    """Dates in the first ``days`` days of 2025."""
    st = _require_hypothesis()
    return st.integers(0, days).map(lambda n: START + datetime.timedelta(days=n))  # type: ignore[no-any-return]


def appointments(
    ids: SearchStrategy[str] | None = None,
    patient_ids: SearchStrategy[str] | None = None,
    providers: SearchStrategy[str | None] | None = None,
) -> SearchStrategy[Appointment]:
    """Valid appointments (ids from small pools by default, so that they meet), with a provider
    or none."""
    st = _require_hypothesis()
    return st.builds(  # type: ignore[no-any-return]
        Appointment,
        ids if ids is not None else st.sampled_from([f"A{n}" for n in range(6)]),
        patient_ids if patient_ids is not None else st.sampled_from([f"P{n}" for n in range(3)]),
        dates(),
        providers if providers is not None else _providers(st),
    )


def _providers(st: Any) -> SearchStrategy[str | None]:
    return st.none() | st.sampled_from(PROVIDERS)  # type: ignore[no-any-return]


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
    charge_ids: SearchStrategy[str | None] | None = None,
) -> SearchStrategy[Payment]:
    """Valid payments (any type but REFUND, amount > 0), to an appointment or unallocated,
    naming the line paid first (``charge_id``) or none."""
    st = _require_hypothesis()
    kinds = st.sampled_from([t for t in PaymentType if t is not PaymentType.REFUND])
    lines = (
        charge_ids
        if charge_ids is not None
        else st.none() | st.sampled_from([f"C{n}" for n in range(8)])
    )
    return _payments(ids, "PAY", 12, patient_ids, appointment_ids, money(1, 30_000), kinds, lines)


def refunds(
    ids: SearchStrategy[str] | None = None,
    patient_ids: SearchStrategy[str] | None = None,
    appointment_ids: SearchStrategy[str | None] | None = None,
) -> SearchStrategy[Payment]:
    """Valid refunds: type REFUND, a negative amount."""
    st = _require_hypothesis()
    refund_type = st.just(PaymentType.REFUND)
    return _payments(
        ids, "R", 6, patient_ids, appointment_ids, money(-10_000, -1), refund_type, st.none()
    )


def _payments(
    ids: SearchStrategy[str] | None,
    prefix: str,
    pool: int,
    patient_ids: SearchStrategy[str] | None,
    appointment_ids: SearchStrategy[str | None] | None,
    amounts: SearchStrategy[Money],
    kinds: SearchStrategy[PaymentType],
    charge_ids: SearchStrategy[str | None],
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
        charge_id=charge_ids,
    )


def operations(
    *, patients: int = 3, appointments: int = 6, max_minor: int = 30_000, currency: str = "USD"
) -> SearchStrategy[Operation]:
    """Any command, with ids drawn from small pools so that they meet and collide.

    Appointment ``A{n}`` always belongs to patient ``P{n % patients}``, so most references are
    valid; some are unknown or another patient's on purpose, and some commands will be refused.
    Appointments may have a provider (``DR1``, ``DR2``). Besides charges ``C0``–``C4`` on any
    appointment, line charges ``A{n}L0`` and ``A{n}L1`` belong to ``A{n}``; payments,
    ``apply_unallocated`` and ``unapply`` name one of its lines (sometimes a stray ``C{n}``,
    sometimes none).
    ``auto_allocate`` draws either order and maybe a provider, ``reverse_payment`` sometimes an
    amount, and ``cancel_appointment`` any appointment (refused while it has charges).
    """
    st = _require_hypothesis()
    patient = st.integers(0, patients - 1).map(lambda n: f"P{n}")
    appointment_no = st.integers(0, appointments - 1)
    appointment = appointment_no.map(lambda n: f"A{n}")
    amount = money(1, max_minor, currency)
    maybe_amount = st.none() | amount
    day = dates()
    provider = _providers(st)
    # A line of the operation's appointment (an int k: "A{n}L{k}"), a stray charge, or none.
    line = st.none() | st.integers(0, 1) | st.integers(0, 4).map(lambda c: f"C{c}")

    def line_id(a: int, choice: int | str | None) -> str | None:
        if choice is None or isinstance(choice, str):
            return choice
        return f"A{a}L{choice}"

    def on_line(d: datetime.date, a: int, choice: int | str | None) -> dict[str, Any]:
        charge_id = line_id(a, choice)
        return {"on": d} if charge_id is None else {"on": d, "charge_id": charge_id}

    def appointment_op(n: int, d: datetime.date, p: str | None = None) -> Operation:
        return Operation(add_appointment, (Appointment(f"A{n}", f"P{n % patients}", d, p),))

    def charge_op(n: int, a: int, m: Money) -> Operation:
        return Operation(add_charge, (Charge(f"C{n}", f"A{a}", m),))

    def line_charge_op(a: int, k: int, m: Money) -> Operation:
        return Operation(add_charge, (Charge(f"A{a}L{k}", f"A{a}", m, f"9921{k}"),))

    def payment_op(
        n: int,
        a: int | None,
        m: Money,
        d: datetime.date,
        t: PaymentType,
        choice: int | str | None = None,
        b: int = 0,
    ) -> Operation:
        # A payment naming a line but no appointment goes to the line's appointment (A{b}).
        owner = a if a is not None else (b if isinstance(choice, int) else n)
        appt = None if a is None else f"A{a}"
        payment = Payment(
            f"PAY{n}",
            f"P{owner % patients}",
            m,
            d,
            PaymentMethod.CASH,
            t,
            appt,
            charge_id=line_id(owner, choice),
        )
        return Operation(post_payment, (payment,))

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

    def auto_allocate_op(
        p: str, d: datetime.date, order: AllocationOrder, by: str | None
    ) -> Operation:
        kwargs: dict[str, Any] = {"on": d, "order": order}
        if by is not None:
            kwargs["provider"] = by
        return Operation(auto_allocate, (p,), kwargs)

    def reverse_op(n: str, m: Money | None, d: datetime.date) -> Operation:
        return Operation(reverse_payment, (n,) if m is None else (n, m), {"on": d})

    small = st.integers(0, 4)
    pno = st.integers(0, patients - 1)
    charges = st.builds(charge_op, small, appointment_no, money(0, max_minor, currency))
    line_charges = st.builds(line_charge_op, appointment_no, st.integers(0, 1), amount)
    payments = st.builds(
        payment_op,
        small,
        st.none() | appointment_no,
        amount,
        day,
        st.sampled_from([PaymentType.PAYMENT, PaymentType.COPAY]),
        line,
        appointment_no,
    )
    # Payments and charges are listed more than once: they are what most ledgers are made of.
    return st.one_of(  # type: ignore[no-any-return]
        payments,
        charges,
        payments,
        line_charges,
        st.builds(appointment_op, appointment_no, day, provider),
        charges,
        line_charges,
        st.builds(
            refund_op, small, st.none() | appointment_no, money(1, max_minor // 4, currency), day
        ),
        st.builds(
            lambda p, a, m, d, c: Operation(apply_unallocated, (p, f"A{a}", m), on_line(d, a, c)),
            patient,
            appointment_no,
            maybe_amount,
            day,
            line,
        ),
        st.builds(lambda p, d: Operation(cancel_offsetting, (p,), {"on": d}), patient, day),
        st.builds(
            lambda a, m, d, c: Operation(unapply, (f"A{a}", m), on_line(d, a, c)),
            appointment_no,
            maybe_amount,
            day,
            line,
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
            reverse_op,
            st.sampled_from([f"PAY{i}" for i in range(5)] + [f"R{i}" for i in range(5)]),
            st.none() | money(1, max_minor // 4, currency),
            day,
        ),
        st.builds(transfer_op, small, pno, pno, money(1, max_minor // 4, currency), day),
        st.builds(auto_allocate_op, patient, day, st.sampled_from(AllocationOrder), provider),
        st.builds(lambda a, d: Operation(cancel_appointment, (a,), {"on": d}), appointment, day),
    )


def command_sequences(
    *,
    patients: int = 3,
    appointments: int = 6,
    max_operations: int = 40,
    currency: str = "USD",
) -> SearchStrategy[list[Operation]]:
    """Operation lists that build a ledger from ``Ledger.empty(currency)`` one command at a
    time: nine in ten are drawn by :func:`valid_operations` on the ledger built so far (every
    kind of command, accepted), one in ten by :func:`operations` (ids from small pools, often
    refused: a refusal must leave the ledger as it was). ``patients`` and ``appointments`` size
    those pools. docs/testing.md gives the measured mix. On a failure the list is also printed
    as a runnable script (:func:`as_code`).
    """
    st = _require_hypothesis()
    stray = operations(patients=patients, appointments=appointments, currency=currency)
    # A plan of steps, each independent of the others (so that the shrinker can drop any of
    # them): the kind of command, the numbers its choices are made by, and a stray operation
    # used when the first number is one of the top two of twenty — one step in ten.
    choices = st.lists(st.integers(0, 2**16), min_size=12, max_size=12)
    step = st.tuples(st.integers(0, 19), choices, stray)
    # Four lists end to end: Hypothesis draws a list of about five elements on average, and a
    # plan should average about twenty steps; each list still shrinks to nothing.
    part = max_operations // 4
    plan = st.tuples(
        *(st.lists(step, max_size=part + (n < max_operations % 4)) for n in range(4))
    ).map(lambda parts: [s for p in parts for s in p])

    def build(steps: list[tuple[int, list[int], Operation]]) -> list[Operation]:
        ledger = Ledger.empty(currency)
        drawn: list[Operation] = []
        for chance, numbers, odd in steps:
            operation = odd if chance >= 18 else planned_step(ledger, numbers[0], numbers[1:])
            operation = operation if isinstance(operation, Operation) else operation.operation
            with contextlib.suppress(LedgerError):
                ledger = operation(ledger)
            drawn.append(operation)
        _note_code("operations drawn by command_sequences()", drawn, currency)
        return drawn

    return plan.map(build)  # type: ignore[no-any-return]


class _Code:
    """A note printed only for the failing example (Hypothesis formats it then, not before)."""

    def __init__(self, title: str, subject: Ledger | list[Operation], currency: str) -> None:
        self.title, self.subject, self.currency = title, subject, currency

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        text = f"# {self.title}, as code:\n{as_code(self.subject, self.currency)}"
        for n, line in enumerate(text.rstrip("\n").split("\n")):
            if n:
                printer.break_()
            printer.text(line)


def _note_code(title: str, subject: Ledger | list[Operation], currency: str) -> None:
    from hypothesis import currently_in_test_context, note  # noqa: PLC0415 - optional

    if currently_in_test_context():
        note(_Code(title, subject, currency))


def one_more_command(
    *, max_patients: int = 3, max_steps: int = 30, currency: str = "USD"
) -> SearchStrategy[tuple[Ledger, Step]]:
    """A ledger from :func:`ledgers` and a command valid on it (:func:`valid_operations`):
    a "post one more command" property in one line.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, database=None)
    ... @given(one_more_command())
    ... def test_the_dashboard_moves_as_the_command_says(case):
    ...     ledger, step = case
    ...     assert changes(ledger, step(ledger)) == step.expected
    >>> test_the_dashboard_moves_as_the_command_says()
    """
    built = ledgers(max_patients=max_patients, max_steps=max_steps, currency=currency)
    return built.flatmap(lambda ledger: valid_operations(ledger).map(lambda s: (ledger, s)))


def register_profiles(*, load: bool = True) -> str:
    """Register the kit's Hypothesis profiles, and load one unless ``load`` is false.

    ``ci`` (derandomized, 100 examples, no deadline), ``dev`` (100 random examples, no
    deadline), ``deep`` (20,000 randomized examples of up to 100 stateful steps, to look for new
    bugs) and ``mutation`` (30 derandomized examples, no shrinking: for mutation testing).
    The profile loaded is ``HYPOTHESIS_PROFILE``'s, else ``ci`` when ``CI`` is set, else
    ``dev``; its name is returned. Call it from your ``conftest.py``.
    """
    from hypothesis import HealthCheck, Phase, settings  # noqa: PLC0415 - optional

    slow = [HealthCheck.too_slow]
    settings.register_profile(
        "ci",
        derandomize=True,
        max_examples=100,
        deadline=None,
        print_blob=True,
        suppress_health_check=slow,
    )
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.register_profile(
        "deep",
        max_examples=20_000,
        stateful_step_count=100,
        deadline=None,
        suppress_health_check=slow,
    )
    settings.register_profile(
        "mutation",
        derandomize=True,
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # a failure is enough: no time spent shrinking
        suppress_health_check=slow,
    )
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
    if load:
        settings.load_profile(name)
    return name


def ledgers(
    *, max_patients: int = 3, max_steps: int = 30, currency: str = "USD"
) -> SearchStrategy[Ledger]:
    """Valid, realistic ledgers: several patients, appointments (with a provider or none) with
    and without charges, partly paid balances, money held in both buckets, open and cancelled
    refunds, and the rest of the workflow (unapply, release, adjustments, reversals, transfers,
    auto-allocation) — at the level of lines too (SPEC §10): payments naming a line of their
    appointment, ``apply_unallocated`` and ``unapply`` naming a line, ``auto_allocate`` in
    either order and for one provider, partial reversals, and cancelled appointments (without
    charges, sometimes holding a deposit).

    Each step reads the ledger it is building (through the public views) to choose arguments
    that are mostly valid — a refund no larger than the bucket, an application within the
    balance due, a reversal within what is left of the payment — so few commands are refused.
    It shrinks to fewer, smaller steps: no appointment is booked before a step needs one, no
    charge is zero, and amounts shrink to one minor unit of ``currency``. On a failure, the
    ledger is also printed as the code that builds it (:func:`as_code`).
    """
    st = _require_hypothesis()

    @st.composite  # type: ignore[untyped-decorator]
    def build(draw: Any) -> Ledger:
        builder = _Builder(draw, st, currency)
        for n in range(draw(st.integers(1, max_patients))):
            builder.patients.append(f"P{n}")
        for _ in range(draw(st.integers(0, 6))):
            builder.appointment()
        for aid, _ in list(builder.appointments):  # billed as 0, 1 or 2 lines
            for _ in range(draw(st.integers(0, 2))):
                builder.charge(aid)
        for _ in range(draw(st.integers(0, max_steps))):
            action = draw(st.sampled_from(_Builder.ACTIONS))
            # An argument drawn at a limit may be refused: the ledger is unchanged, go on.
            with contextlib.suppress(LedgerError):
                getattr(builder, action)()
        ledger = _without_unused_bookings(builder.ledger)
        _note_code("the ledger drawn by ledgers()", ledger, currency)
        return ledger

    return build()  # type: ignore[no-any-return]


def _without_unused_bookings(ledger: Ledger) -> Ledger:
    """The ledger built again without the appointments no later event names (nothing else
    depends on them: they have no charges, payments or entries), so a shrunk example shows only
    what it needs."""
    events = list(ledger.events)
    named = [repr(event) for event in events if not isinstance(event, AppointmentAdded)]
    unused = {
        event.appointment.id
        for event in events
        if isinstance(event, AppointmentAdded)
        and not any(repr(event.appointment.id) in text for text in named)
    }
    if not unused:
        return ledger
    kept = [
        step
        for step in operations_of(ledger)
        if not (
            isinstance(step, Operation)
            and step.command is add_appointment
            and step.args[0].id in unused
        )
    ]
    rebuilt = Ledger.empty(ledger.currency)
    for step in kept:
        rebuilt = step(rebuilt) if isinstance(step, Operation) else apply_event(rebuilt, step)
    return rebuilt


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
        "pay_line",
        "pay_line",
        "appointment",
        "deposit",
        "deposit",
        "refund",
        "refund",
        "refund",
        "apply",
        "apply",
        "cancel",
        "cancel",
        "unapply",
        "unapply",
        "release",
        "adjust",
        "reverse",
        "reverse",
        "transfer",
        "auto_allocate",
        "auto_allocate",
        "allocate_smallest_first",
        "allocate_smallest_first",
        "cancel_visit",
        "cancel_visit",
    )

    def __init__(self, draw: Any, st: Any, currency: str = "USD") -> None:
        self.draw, self.st, self.currency = draw, st, currency
        self.ledger = Ledger.empty(currency)
        self.patients: list[str] = []
        self.appointments: list[tuple[str, str]] = []
        self.cancelled: set[str] = set()
        self.booked: dict[str, Appointment] = {}
        self.counter = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self, items: Sequence[Any]) -> Any:
        return self.draw(self.st.sampled_from(items))

    def maybe(self) -> bool:
        return bool(self.draw(self.st.booleans()))

    def cents(self, low: int = 1, high: int = 30_000) -> int:
        return int(self.draw(self.st.integers(low, max(low, high))))

    def day(self) -> datetime.date:
        return START + datetime.timedelta(days=self.cents(0, DAYS))

    def usd(self, minor: int) -> Money:
        """``minor`` units of the ledger's currency (the name is older than the choice)."""
        return to_money(minor, self.currency)

    def rows(self, patient_id: str) -> list[Any]:
        return list(claims_feed(self.ledger, patient_id))

    def live(self) -> list[tuple[str, str]]:
        """The appointments not cancelled: (appointment, patient)."""
        return [(a, p) for a, p in self.appointments if a not in self.cancelled]

    def appointment(self, day: datetime.date | None = None) -> tuple[str, str]:
        aid = self.next_id("A")
        pid = self.pick(self.patients)
        provider = self.draw(_providers(self.st))
        on = self.day() if day is None else day
        appointment = Appointment(aid, pid, on, provider)
        self.ledger = add_appointment(self.ledger, appointment)
        self.appointments.append((aid, pid))
        self.booked[aid] = appointment
        return aid, pid

    def deposit(self) -> None:
        """A visit booked ahead, and a deposit for it (held in its bucket until it is billed)."""
        received = self.day()
        aid, pid = self.appointment(received + datetime.timedelta(days=self.cents(1, 60)))
        payment = Payment(
            self.next_id("PAY"),
            pid,
            self.usd(self.cents()),
            received,
            PaymentMethod.CREDIT_CARD,
            appointment_id=aid,
            notes="deposit",
        )
        self.ledger = post_payment(self.ledger, payment)

    def charge(self, appointment_id: str | None = None) -> None:
        live = [a for a, _ in self.live()] if appointment_id is None else [appointment_id]
        if live:
            aid = self.pick(live)
            charge = Charge(self.next_id("C"), aid, self.usd(self.cents()))
            self.ledger = add_charge(self.ledger, charge)

    def pay_appointment(self) -> None:
        live = self.live()
        if live:
            aid, pid = self.pick(live)
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

    def pay_line(self) -> None:
        """A payment naming a line of its appointment (or only the line)."""
        billed = [(a, p, items) for a, p in self.live() if (items := line_items(self.ledger, a))]
        if billed:
            aid, pid, items = self.pick(billed)
            line = self.pick(items)
            due = to_minor(line.balance_due, "due")
            payment = Payment(
                self.next_id("PAY"),
                pid,
                self.usd(self.cents(1, due) if due and self.maybe() else self.cents()),
                self.day(),
                PaymentMethod.CREDIT_CARD,
                appointment_id=aid if self.maybe() else None,
                charge_id=line.charge_id,
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
        """General money applied to a balance due — one line of it named, mostly."""
        funded = [p for p, a, _ in self.funded() if a is None]
        owing = [
            (p, r.appointment_id) for p in funded for r in self.rows(p) if r.balance_due.amount
        ]
        if owing:
            pid, aid = self.pick(owing)
            due = [i.charge_id for i in line_items(self.ledger, aid) if i.balance_due.amount]
            charge_id = self.pick(due) if due and self.cents(0, 3) else None
            self.ledger = apply_unallocated(
                self.ledger, pid, aid, on=self.day(), charge_id=charge_id
            )

    def cancel(self) -> None:
        """Offsetting entries closed — of a patient with an open refund, when there is one."""
        refunded = [
            p
            for p in patients(self.ledger)
            if any(e.amount.amount < 0 for e in unallocated_entries(self.ledger, p))
        ]
        patient = self.pick(refunded or self.patients)
        self.ledger = cancel_offsetting(self.ledger, patient, on=self.day())

    def unapply(self) -> None:
        """Some of an appointment's allocations, or of one line's."""
        paid_rows = [r for p in patients(self.ledger) for r in self.rows(p) if r.paid.amount]
        if paid_rows:
            row = self.pick(paid_rows)
            aid, allocated = row.appointment_id, to_minor(row.paid, "paid")
            paid = [i for i in line_items(self.ledger, aid) if i.paid.amount]
            line = self.pick(paid) if paid and self.cents(0, 2) else None
            if line is not None:
                allocated = to_minor(line.paid, "paid")
            amount = self.draw(self.st.none() | self.st.integers(1, allocated).map(self.usd))
            self.ledger = unapply(
                self.ledger,
                aid,
                amount,
                on=self.day(),
                charge_id=None if line is None else line.charge_id,
            )

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
        """All of a payment or refund, or part of what is left of a payment."""
        posted = [
            e.payment for e in self.ledger.events if isinstance(e, PaymentPosted | RefundPosted)
        ]
        if posted:
            payment = self.pick(posted)
            amount = None
            if payment.type is not PaymentType.REFUND and self.maybe():
                rows = allocations(self.ledger, payment.id)
                left = sum(to_minor(a.amount, "left") for a in rows)
                if left > 1:
                    amount = self.usd(self.cents(1, left - 1))
            self.ledger = reverse_payment(self.ledger, payment.id, amount, on=self.day())

    def transfer(self) -> None:
        funded = [(p, n) for p, a, n in self.funded() if a is None]
        if funded and len(self.patients) > 1:
            source, available = self.pick(funded)
            to = self.pick([p for p in self.patients if p != source])
            transfer = Transfer(
                self.next_id("T"), source, to, self.usd(self.cents(1, available)), self.day()
            )
            self.ledger = transfer_credit(self.ledger, transfer)

    def auto_allocate(self, order: AllocationOrder = AllocationOrder.OLDEST_FIRST) -> None:
        """A patient's general money placed by a policy, maybe for one provider of theirs.

        Mostly for a patient with balances due; one without general money sometimes first pays
        something between their smallest balance due and all of them (money on account)."""
        known = patients(self.ledger)
        if not known:
            return
        owing = {p: dues for p in known if (dues := self.dues(p))}
        pid = self.pick(sorted(owing) or known)
        general = [p for p, a, _ in self.funded() if a is None]
        if pid in owing and pid not in general and self.maybe():
            dues = owing[pid]
            payment = Payment(
                self.next_id("PAY"),
                pid,
                self.usd(self.cents(min(dues), sum(dues))),
                self.day(),
                PaymentMethod.ONLINE,
            )
            self.ledger = post_payment(self.ledger, payment)
        providers = {a.provider for a in self.booked.values() if a.patient_id == pid and a.provider}
        provider = self.pick(sorted(providers)) if providers and self.cents(0, 2) else None
        on = LAST_DAY if self.cents(0, 2) else self.day()
        self.ledger = auto_allocate(self.ledger, pid, on=on, order=order, provider=provider)

    def dues(self, patient_id: str) -> list[int]:
        return [
            to_minor(r.balance_due, "due") for r in self.rows(patient_id) if r.balance_due.amount
        ]

    def allocate_smallest_first(self) -> None:
        self.auto_allocate(AllocationOrder.SMALLEST_FIRST)

    def cancel_visit(self) -> None:
        """Cancel an appointment without charges — one holding a deposit when there is one
        (others are cancelled as well)."""
        bare = [a for a, _ in self.live() if not line_items(self.ledger, a)]
        held = {a for _, a, _ in self.funded() if a is not None}
        holding = [a for a in bare if a in held]
        if bare:
            aid = self.pick(holding or bare)
            self.ledger = cancel_appointment(self.ledger, aid, on=self.day())
            self.cancelled.add(aid)
