"""Tools for test suites that validate balance math: invariant checks and Hypothesis strategies.

``check_invariants`` and ``assert_invariants`` (from the core's :mod:`patient_ledger.invariants`,
re-exported here) need nothing beyond the library. The strategies
(``money``, ``operations``, ``ledgers`` …) need Hypothesis: install the ``testing`` extra
(``pip install "patient-ledger[testing]"``).

>>> from patient_ledger import Ledger
>>> check_invariants(Ledger.empty())
()
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from moneyed import Money

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
    Appointment,
    Charge,
    Payment,
    PaymentMethod,
    PaymentType,
    Transfer,
)
from patient_ledger.views import claims_feed, patients, unallocated_entries

__all__ = [
    "START",
    "InvariantError",
    "Operation",
    "Violation",
    "appointments",
    "assert_invariants",
    "charges",
    "check_invariants",
    "command_sequences",
    "dates",
    "ledgers",
    "money",
    "operations",
    "payments",
    "refunds",
    "run_operations",
]

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


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
