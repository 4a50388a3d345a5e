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
from patient_ledger.invariants import InvariantError, Violation, assert_invariants, check_invariants
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import Ledger
from patient_ledger.testing._code import Operation, expression, operations_of, script
from patient_ledger.testing._code import as_code as _ledger_as_code
from patient_ledger.testing._steps import (
    DAYS,
    KINDS,
    PROVIDERS,
    START,
    Change,
    Step,
    changes,
    fold,
    planned_step,
    plans,
    valid_operations,
)
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


def _plan(max_steps: int, step: SearchStrategy[Any] | None = None) -> SearchStrategy[list[Any]]:
    """A plan: up to ``max_steps`` steps (each a :data:`~patient_ledger.testing._steps.Plan` by
    default), drawn independently of each other so that the shrinker can delete any of them.

    Four lists end to end: Hypothesis draws a list of about five elements on average, and a
    plan should average about twenty steps; each list still shrinks to nothing."""
    st = _require_hypothesis()
    step = plans() if step is None else step
    part = max_steps // 4
    lists = (st.lists(step, max_size=part + (n < max_steps % 4)) for n in range(4))
    return st.tuples(*lists).map(lambda parts: [s for p in parts for s in p])  # type: ignore[no-any-return]


def command_sequences(
    *,
    patients: int = 3,
    appointments: int = 6,
    max_operations: int = 40,
    currency: str = "USD",
) -> SearchStrategy[list[Operation]]:
    """Operation lists that build a ledger from ``Ledger.empty(currency)`` one command at a
    time: nine in ten are planned on the ledger built so far, as :func:`valid_operations` and
    :func:`ledgers` plan them (every kind of command, accepted), one in ten drawn by
    :func:`operations` (ids from small pools, often refused: a refusal must leave the ledger as
    it was). ``patients`` and ``appointments`` size those pools. docs/testing.md gives the
    measured mix. Hypothesis prints a failing list as the code that makes it, and adds it as a
    runnable script (:func:`as_code`).
    """
    st = _require_hypothesis()
    stray = operations(patients=patients, appointments=appointments, currency=currency)

    @st.composite  # type: ignore[untyped-decorator]
    def step(draw: Any) -> Any:
        # A stray operation when the chance is the top two of twenty — one step in ten — drawn
        # only then: a planned step stays a few numbers, which the shrinker deletes whole.
        return draw(stray) if draw(st.integers(0, 19)) >= 18 else draw(plans())

    plan = _plan(max_operations, step())

    @st.composite  # type: ignore[untyped-decorator]
    def build(draw: Any) -> list[Operation]:
        ledger = Ledger.empty(currency)
        drawn = _Operations()
        for item in draw(plan):
            operation = (
                item
                if isinstance(item, Operation)
                else planned_step(ledger, item, patients).operation
            )
            with contextlib.suppress(LedgerError):
                ledger = operation(ledger)
            drawn.append(operation)
        _note_code("operations drawn by command_sequences()", script(drawn, currency))
        return drawn

    return build()  # type: ignore[no-any-return]


def _lines(printer: Any, lines: Sequence[str]) -> None:
    """Print ``lines``, one a line, at the printer's indentation."""
    for n, line in enumerate(lines):
        if n:
            printer.break_()
        printer.text(line)


class _Operations(list[Operation]):
    """The operations :func:`command_sequences` draws: a list, printed by Hypothesis as the
    code that makes it."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        _lines(printer, ["[", *(f"    {op.code()}," for op in self), "]"])


class _Case(tuple[Ledger, Step]):  # noqa: SLOT001 - it carries its operations, to print
    """A ``(ledger, step)`` pair of :func:`one_more_command`, printed by Hypothesis as the code
    that makes it."""

    operations: list[Operation]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        ledger, step = self
        built = expression(self.operations, ledger.currency)
        built[-1] += ","
        _lines(printer, ["(", *(f"    {line}" for line in built), f"    {step.code()},", ")"])


def _print_as(value: object, lines: Sequence[str]) -> None:
    """Have Hypothesis print ``value`` (a drawn ledger, whose own ``repr`` is not code) as
    ``lines``. Through Hypothesis's record of how drawn objects were made; where a version of
    Hypothesis has none, the ledger prints as it is, and the note still gives its code."""
    try:
        from hypothesis.control import current_build_context  # noqa: PLC0415 - optional
        from hypothesis.vendor.pretty import IDKey  # noqa: PLC0415 - optional

        printers = current_build_context().known_object_printers
        printers[IDKey(value)].append(lambda _obj, printer, _cycle: _lines(printer, lines))
    except Exception:  # noqa: BLE001 - only the printing is lost  # pragma: no cover
        return


class _Code:
    """A note printed only for the failing example (Hypothesis formats it then, not before)."""

    def __init__(self, title: str, text: str) -> None:
        self.title, self.text = title, text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        _lines(printer, f"# {self.title}, as code:\n{self.text}".rstrip("\n").split("\n"))


def _note_code(title: str, text: str) -> None:
    from hypothesis import currently_in_test_context, note  # noqa: PLC0415 - optional

    if currently_in_test_context():
        note(_Code(title, text))


def one_more_command(
    *, max_patients: int = 3, max_steps: int = 30, currency: str = "USD"
) -> SearchStrategy[tuple[Ledger, Step]]:
    """A ledger from :func:`ledgers` and a command valid on it (:func:`valid_operations`):
    a "post one more command" property in one line. Hypothesis prints a failing pair as the
    code that makes it.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20, database=None)
    ... @given(one_more_command())
    ... def test_the_dashboard_moves_as_the_command_says(case):
    ...     ledger, step = case
    ...     assert changes(ledger, step(ledger)) == step.expected
    >>> test_the_dashboard_moves_as_the_command_says()
    """
    st = _require_hypothesis()

    @st.composite  # type: ignore[untyped-decorator]
    def build(draw: Any) -> tuple[Ledger, Step]:
        ledger, done = _drawn_ledger(draw, max_patients, max_steps, currency)
        step = planned_step(ledger, draw(plans()))
        _note_code("the ledger drawn by one_more_command()", script(done, currency))
        case = _Case((ledger, step))
        case.operations = done
        return case

    return build()  # type: ignore[no-any-return]


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

    A fold of up to ``max_steps`` steps, each planned on the ledger built so far as
    :func:`valid_operations` plans one more command (a refund no larger than its bucket, an
    application within the balance due, a reversal within what is left of the payment), so
    every command is accepted. Patients are ``P0`` … ``P{max_patients - 1}``; a new id is its
    step's drawn number, so that deleting a step renames nothing. It shrinks to the steps a
    failure needs (a booking no later command uses is one it does not), amounts of one minor
    unit of ``currency``. Hypothesis prints a failing ledger as the code that builds it, and adds it
    as a script (:func:`as_code`).
    """
    st = _require_hypothesis()

    @st.composite  # type: ignore[untyped-decorator]
    def build(draw: Any) -> Ledger:
        ledger, done = _drawn_ledger(draw, max_patients, max_steps, currency)
        _note_code("the ledger drawn by ledgers()", script(done, currency))
        _print_as(ledger, expression(done, currency))
        return ledger

    return build()  # type: ignore[no-any-return]


def _drawn_ledger(
    draw: Any, max_patients: int, max_steps: int, currency: str
) -> tuple[Ledger, list[Operation]]:
    """A ledger of :func:`ledgers`, and the operations that build it."""
    return fold(draw(_plan(max_steps)), Ledger.empty(currency), max_patients)
