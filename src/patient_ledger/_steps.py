"""One more command, valid on a given ledger, with the change it should make (the testing kit).

:func:`valid_operations` draws a command of SPEC §4, §9 or §10 that the ledger accepts, with its
arguments chosen from what the ledger shows (its patients, balances due, held money, lines,
payments), and predicts — from the command's rules, not by running it — how it changes every
patient's dashboard. Needs Hypothesis.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from moneyed import Money

from patient_ledger._code import Operation
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
    ChargeAdjusted,
    CreditTransferred,
    PaymentPosted,
    RefundPosted,
)
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
    DASHBOARD_FIELDS,
    FeedRow,
    allocations,
    claims_feed,
    dashboard,
    line_items,
    patients,
    unallocated_entries,
)

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

#: The first day commands are dated, how many days after it they may be, the last day.
START = datetime.date(2025, 1, 1)
DAYS = 120
LAST_DAY = START + datetime.timedelta(days=DAYS)
#: The providers generated appointments may have (and ``auto_allocate`` may filter by).
PROVIDERS = ("DR1", "DR2")

#: Every kind of command :func:`valid_operations` draws, by the name of its command (a
#: payment also as ``post_payment:appointment`` and ``post_payment:line``).
KINDS = (
    "add_appointment",
    "add_charge",
    "post_payment",
    "post_payment:appointment",
    "post_payment:line",
    "refund",
    "apply_unallocated",
    "cancel_offsetting",
    "unapply",
    "release_credit",
    "adjust_charge",
    "reverse_payment",
    "reverse_payment:partial",
    "transfer_credit",
    "auto_allocate",
    "cancel_appointment",
)


@attrs.frozen(kw_only=True)
class Change:
    """How one patient's dashboard figures change: each field a signed ``Money``."""

    total_paid: Money
    allocated: Money
    unallocated: Money
    patient_responsibility: Money
    statement_balance: Money
    total_balance: Money

    @classmethod
    def of(cls, paid: int, allocated: int, responsibility: int, *, currency: str) -> Change:
        """The change from the three independent figures (minor units); the other three follow
        from the dashboard's formulas."""

        def m(minor: int) -> Money:
            return to_money(minor, currency)

        return cls(
            total_paid=m(paid),
            allocated=m(allocated),
            unallocated=m(paid - allocated),
            patient_responsibility=m(responsibility),
            statement_balance=m(responsibility - allocated),
            total_balance=m(responsibility - paid),
        )

    def __bool__(self) -> bool:
        """A change is false when no figure moves."""
        return any(getattr(self, name).amount for name in DASHBOARD_FIELDS)


def changes(before: Ledger, after: Ledger) -> dict[str, Change]:
    """How each patient's dashboard changed from ``before`` to ``after``: only patients whose
    figures moved (a patient new in ``after`` counts from zero)."""
    known = set(patients(before))
    out: dict[str, Change] = {}
    for pid in patients(after):
        now = dashboard(after, pid)
        then = dashboard(before, pid) if pid in known else None
        moved = {
            name: getattr(now, name) - getattr(then, name) if then else getattr(now, name)
            for name in DASHBOARD_FIELDS
        }
        change = Change(**moved)
        if change:
            out[pid] = change
    return out


@attrs.frozen
class Step:
    """A command valid on the ledger it was drawn for, and what it should do there.

    ``expected`` maps each patient whose dashboard should change to its :class:`Change`;
    every other patient's dashboard stays as it was. Call it on the ledger to run it.
    """

    operation: Operation
    kind: str
    expected: Mapping[str, Change] = attrs.field(factory=dict)

    def __call__(self, ledger: Ledger) -> Ledger:
        """Run the command on ``ledger`` (the one it was drawn for)."""
        return self.operation(ledger)

    def __repr__(self) -> str:
        return repr(self.operation)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        printer.text(repr(self))


class _Effect:
    """Changes of (paid, allocated, responsibility) per patient, in minor units."""

    def __init__(self) -> None:
        self.by: dict[str, list[int]] = {}

    def add(self, pid: str, paid: int = 0, allocated: int = 0, responsibility: int = 0) -> None:
        row = self.by.setdefault(pid, [0, 0, 0])
        row[0] += paid
        row[1] += allocated
        row[2] += responsibility

    def changes(self, currency: str) -> dict[str, Change]:
        out = {pid: Change.of(*row, currency=currency) for pid, row in self.by.items()}
        return {pid: change for pid, change in out.items() if change}


class _View:
    """What the ledger shows, read once through the public views (minor units)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.currency = ledger.currency
        self.patients = list(patients(ledger))
        self.rows: dict[str, FeedRow] = {}
        self.owner: dict[str, str] = {}
        self.general: dict[str, int] = {}
        self.ids: set[str] = set()
        self.booked: dict[str, Appointment] = {}
        self.posted: list[Payment] = []
        for event in ledger.events:
            match event:
                case AppointmentAdded(appointment=a):
                    self.ids.add(a.id)
                    self.owner[a.id] = a.patient_id
                    self.booked[a.id] = a
                case ChargeAdded(charge=c):
                    self.ids.add(c.id)
                case PaymentPosted(payment=p) | RefundPosted(payment=p):
                    self.ids.add(p.id)
                    self.posted.append(p)
                case ChargeAdjusted(adjustment=adj):
                    self.ids.add(adj.id)
                case CreditTransferred(transfer=t):
                    self.ids.add(t.id)
                case _:
                    pass
        for pid in self.patients:
            for row in claims_feed(ledger, pid):
                self.rows[row.appointment_id] = row
            self.general[pid] = sum(
                self.minor(e.amount)
                for e in unallocated_entries(ledger, pid)
                if e.appointment_id is None
            )

    def minor(self, money: Money) -> int:
        return to_minor(money, "amount")

    def money(self, minor: int) -> Money:
        return to_money(minor, self.currency)

    def new_id(self, prefix: str) -> str:
        n = 0
        while f"{prefix}{n}" in self.ids:
            n += 1
        return f"{prefix}{n}"

    def new_patient(self) -> str:
        n = 0
        while f"P{n}" in self.patients:
            n += 1
        return f"P{n}"

    def due(self, aid: str) -> int:
        return self.minor(self.rows[aid].balance_due)

    def held(self, aid: str) -> int:
        row = self.rows.get(aid)
        return 0 if row is None else self.minor(row.appointment_unallocated)

    def lines(self, aid: str) -> list[Any]:
        return list(line_items(self.ledger, aid))


def valid_operations(ledger: Ledger) -> SearchStrategy[Step]:
    """A command that ``ledger`` accepts — any command of SPEC §4, §9 and §10 that has something
    to work on — as a :class:`Step` with the dashboard changes it should make.

    New ids are the smallest free ones of ``A``, ``P``, ``C``, ``PAY``, ``R``, ``ADJ``, ``T``;
    amounts stay within what the ledger holds (a refund within its bucket, an application
    within the balance due and the bucket, a reversal within what is left of the payment).
    """
    return _step_strategy()(ledger)  # type: ignore[no-any-return]


@functools.cache
def _step_strategy() -> Any:
    """The composite strategy behind :func:`valid_operations`, made once (Hypothesis reads a
    composite's source when it is made)."""
    from hypothesis import strategies as st  # noqa: PLC0415 - an optional dependency

    @st.composite
    def step(draw: Any, ledger: Ledger) -> Step:
        view = _View(ledger)
        drawers = _drawers(view)
        kinds = [
            kind
            for kind, (ready, _) in drawers.items()
            if ready()
            for _ in range(_WEIGHTS.get(kind, 1))
        ]
        # Not ``sampled_from``: it draws its first choice far more often than the others.
        kind = kinds[_spread(draw(st.integers(0, 255)), len(kinds))]
        return drawers[kind][1](_Draw(view, draw=draw))

    return step


#: Kinds drawn more often than the others: charges and payments to visits make the balances
#: due that the rest works on, and applications need money and a balance due to meet, which
#: few ledgers have, so each gets more of the chances it has.
_WEIGHTS = {
    # Ready only on a ledger with a visit not billed yet (a deposit ahead of it, say): rare.
    "cancel_appointment": 4,
    "add_charge": 3,
    "post_payment:appointment": 2,
    "post_payment:line": 2,
    "apply_unallocated": 3,
    "auto_allocate": 3,
    "unapply": 2,
    "release_credit": 2,
    "reverse_payment": 4,
    "transfer_credit": 2,
    "refund": 2,
    "adjust_charge": 2,
}


class _Draw:
    """The choices a step needs, each an integer in a range (shrinking towards its low end).

    With ``draw`` they come from Hypothesis; with ``numbers`` (a drawn plan, see
    :func:`planned_step`) each is the next number folded into its range.
    """

    def __init__(self, view: _View, draw: Any = None, numbers: Iterable[int] = ()) -> None:
        self.view, self.draw, self.numbers = view, draw, iter(numbers)

    def integer(self, low: int, high: int) -> int:
        high = max(low, high)
        if self.draw is not None:
            from hypothesis import strategies as st  # noqa: PLC0415 - an optional dependency

            return int(self.draw(st.integers(low, high)))
        return low + next(self.numbers, 0) % (high - low + 1)

    def pick(self, items: list[Any]) -> Any:
        return items[self.integer(0, len(items) - 1)]

    def flag(self) -> bool:
        return bool(self.integer(0, 1))

    def minor(self, low: int, high: int) -> int:
        return self.integer(low, high)

    def money(self, low: int, high: int) -> Money:
        return self.view.money(self.minor(low, high))

    def maybe_money(self, high: int) -> Money | None:
        """None (all of it) or an amount from 1 to ``high``."""
        return None if self.flag() else self.money(1, high)

    def day(self) -> datetime.date:
        return START + datetime.timedelta(days=self.minor(0, DAYS))

    def provider(self) -> str | None:
        chosen: str | None = self.pick([None, *PROVIDERS])
        return chosen


def _spread(number: int, choices: int) -> int:
    """A drawn number as one of ``choices``: Hypothesis draws small numbers far more often
    than others, so they are spread over the choices (0, what examples shrink to, stays 0)."""
    return number * 7919 % choices  # a prime: every choice is reached


def planned_step(ledger: Ledger, kind: int, numbers: Iterable[int]) -> Step:
    """The step a drawn plan names: kind number ``kind`` of :data:`KINDS` (or, when the ledger
    has nothing for it, one of those it has something for), its choices made by
    ``numbers``. A plan's steps keep their kinds when steps before them are shrunk away."""
    view = _View(ledger)
    drawers = _drawers(view)
    table = [name for name in drawers for _ in range(_WEIGHTS.get(name, 1))]
    name = table[_spread(kind, len(table))]
    if not drawers[name][0]():
        ready = [name for name, (ready, _) in drawers.items() if ready()]
        name = ready[_spread(kind, len(ready))]
    return drawers[name][1](_Draw(view, numbers=numbers))


def _drawers(  # noqa: PLR0915 - one drawer per kind of command
    v: _View,
) -> dict[str, tuple[Callable[[], bool], Callable[[_Draw], Step]]]:
    """Each kind of command: whether the ledger has something for it, and how to draw it."""
    cur = v.currency
    live = [aid for aid in v.rows]  # noqa: C416 - the feed's appointments: none cancelled

    def done(operation: Operation, kind: str, effect: _Effect) -> Step:
        return Step(operation, kind, effect.changes(cur))

    def appointment(d: _Draw) -> Step:
        pid = d.pick([*v.patients, v.new_patient()])
        booked = Appointment(v.new_id("A"), pid, d.day(), d.provider())
        return done(Operation(add_appointment, (booked,)), "add_appointment", _Effect())

    def charge(d: _Draw) -> Step:
        aid = d.pick(live)
        minor = d.minor(1, 30_000)
        operation = Operation(add_charge, (Charge(v.new_id("C"), aid, v.money(minor)),))
        effect = _Effect()
        applied = min(v.held(aid), v.due(aid) + minor)
        effect.add(v.owner[aid], allocated=applied, responsibility=minor)
        return done(operation, "add_charge", effect)

    def payment(d: _Draw, where: str) -> Step:
        minor = d.minor(1, 30_000)
        kind = d.pick([t for t in PaymentType if t is not PaymentType.REFUND])
        method = d.pick(list(PaymentMethod))
        aid = charge_id = None
        if where == "general":
            pid = d.pick([*v.patients, v.new_patient()])
        elif where == "appointment":
            aid = d.pick(live)
            pid = v.owner[aid]
        else:
            aid, line = d.pick([(a, i) for a in live for i in v.lines(a)])
            pid, charge_id = v.owner[aid], line.charge_id
            if d.flag():  # the line alone names its appointment
                aid = None
        paid = Payment(
            v.new_id("PAY"), pid, v.money(minor), d.day(), method, kind, aid, charge_id=charge_id
        )
        effect = _Effect()
        target = aid if charge_id is None else line.appointment_id
        allocated = 0 if target is None else min(minor, v.due(target))
        effect.add(pid, paid=minor, allocated=allocated)
        name = "post_payment" if where == "general" else f"post_payment:{where}"
        return done(Operation(post_payment, (paid,)), name, effect)

    def funded() -> list[tuple[str, str | None, int]]:
        found = [(p, None, n) for p, n in v.general.items() if n > 0]
        return found + [(v.owner[a], a, v.held(a)) for a in live if v.held(a) > 0]

    def refund_(d: _Draw) -> Step:
        pid, aid, available = d.pick(funded())
        minor = d.minor(1, available)
        given = Payment(
            v.new_id("R"),
            pid,
            v.money(-minor),
            d.day(),
            type=PaymentType.REFUND,
            appointment_id=aid,
        )
        effect = _Effect()
        effect.add(pid, paid=-minor)
        return done(Operation(refund, (given,)), "refund", effect)

    def owing_with_credit() -> list[str]:
        return [a for a in live if v.due(a) > 0 and v.general[v.owner[a]] > 0]

    def apply(d: _Draw) -> Step:
        aid = d.pick(owing_with_credit())
        pid = v.owner[aid]
        most = min(v.general[pid], v.due(aid))
        amount = d.maybe_money(most)
        due_lines = [i.charge_id for i in v.lines(aid) if i.balance_due.amount]
        kwargs: dict[str, Any] = {"on": d.day()}
        if not d.flag():  # naming a line is what the rarer ledgers ready for this test most
            kwargs["charge_id"] = d.pick(due_lines)
        effect = _Effect()
        effect.add(pid, allocated=most if amount is None else v.minor(amount))
        return done(
            Operation(apply_unallocated, (pid, aid, amount), kwargs), "apply_unallocated", effect
        )

    def offsetting(d: _Draw) -> Step:
        pid = d.pick(v.patients)
        operation = Operation(cancel_offsetting, (pid,), {"on": d.day()})
        return done(operation, "cancel_offsetting", _Effect())

    def unapply_(d: _Draw) -> Step:
        aid = d.pick([a for a in live if v.rows[a].paid.amount])
        paid_lines = [i for i in v.lines(aid) if i.paid.amount]
        kwargs: dict[str, Any] = {"on": d.day()}
        most = v.minor(v.rows[aid].paid)
        if d.flag():
            line = d.pick(paid_lines)
            kwargs["charge_id"] = line.charge_id
            most = v.minor(line.paid)
        amount = d.maybe_money(most)
        taken = most if amount is None else v.minor(amount)
        effect = _Effect()
        effect.add(v.owner[aid], allocated=-taken + min(v.held(aid), v.due(aid) + taken))
        return done(Operation(unapply, (aid, amount), kwargs), "unapply", effect)

    def release(d: _Draw) -> Step:
        aid = d.pick([a for a in live if v.held(a) > 0])
        operation = Operation(release_credit, (aid, d.maybe_money(v.held(aid))), {"on": d.day()})
        return done(operation, "release_credit", _Effect())

    def adjust(d: _Draw) -> Step:
        aid, line = d.pick([(a, i) for a in live for i in v.lines(a)])
        responsibility, paid = v.minor(line.responsibility), v.minor(line.paid)
        kind = d.pick(list(AdjustmentType))
        due = responsibility - paid
        if kind is AdjustmentType.WRITE_OFF and due == 0:
            kind = AdjustmentType.CONTRACTUAL
        if kind is AdjustmentType.WRITE_OFF:
            signed = -d.minor(1, due)
        elif responsibility and d.flag():
            signed = -d.minor(1, responsibility)
        else:
            signed = d.minor(1, 10_000)
        adjustment = Adjustment(v.new_id("ADJ"), line.charge_id, v.money(signed), d.day(), kind)
        effect = _Effect()
        if signed > 0:
            allocated = min(v.held(aid), v.due(aid) + signed)
        else:
            freed = max(0, paid - (responsibility + signed))
            others_due = v.due(aid) - due
            allocated = -(freed - min(freed, others_due))
        effect.add(v.owner[aid], allocated=allocated, responsibility=signed)
        return done(Operation(adjust_charge, (adjustment,)), "adjust_charge", effect)

    def reversible() -> list[Payment]:
        day = LAST_DAY
        found = []
        for p in v.posted:
            try:
                reverse_payment(v.ledger, p.id, on=day)
            except LedgerError:
                continue
            found.append(p)
        return found

    def reverse(d: _Draw) -> Step:
        payment_ = d.pick(reversible())
        rows = allocations(v.ledger, payment_.id)
        on = d.day()
        entries = sum(v.minor(r.amount) for r in rows if r.charge_id is None)
        left = sum(v.minor(r.amount) for r in rows)
        holders = {r.patient_id for r in rows}
        placed_on = {r.appointment_id for r in rows if r.charge_id and r.appointment_id}
        effect = _Effect()
        if (
            payment_.type is not PaymentType.REFUND
            and len(holders) == 1
            and left > 1
            and (entries or len(placed_on) == 1)
            and d.minor(0, 3)  # three in four eligible reversals are partial
        ):
            # Beyond its open entries only when its allocations are on one appointment: the
            # change then does not hang on which allocation is the newest.
            most = left - 1 if len(placed_on) == 1 else entries
            minor = d.minor(1, most)
            operation = Operation(reverse_payment, (payment_.id, v.money(minor)), {"on": on})
            try:
                operation(v.ledger)
            except LedgerError:  # an open refund holds a bucket it would take from
                pass
            else:
                (pid,) = holders
                effect.add(pid, paid=-minor)
                if minor > entries:
                    (aid,) = placed_on
                    from_allocations = minor - entries
                    own = sum(v.minor(r.amount) for r in rows if _held_in(r, aid))
                    applied = min(max(v.held(aid) - own, 0), v.due(aid) + from_allocations)
                    effect.add(pid, allocated=-from_allocations + applied)
                return done(operation, "reverse_payment:partial", effect)
        reopened: dict[str, int] = {}
        for r in rows:
            effect.add(r.patient_id, paid=-v.minor(r.amount))
            if r.charge_id is not None:
                effect.add(r.patient_id, allocated=-v.minor(r.amount))
            if r.appointment_id is not None and r.appointment_id in v.rows:
                reopened.setdefault(r.appointment_id, 0)
                if r.charge_id is not None:
                    reopened[r.appointment_id] += v.minor(r.amount)
        for aid, back in reopened.items():
            own = sum(v.minor(r.amount) for r in rows if _held_in(r, aid))
            applied = min(max(v.held(aid) - own, 0), v.due(aid) + back)
            effect.add(v.owner[aid], allocated=applied)
        operation = Operation(reverse_payment, (payment_.id,), {"on": on})
        return done(operation, "reverse_payment", effect)

    def transfer(d: _Draw) -> Step:
        source = d.pick([p for p, n in v.general.items() if n > 0])
        to = d.pick([*(p for p in v.patients if p != source), v.new_patient()])
        minor = d.minor(1, v.general[source])
        moved = Transfer(v.new_id("T"), source, to, v.money(minor), d.day())
        effect = _Effect()
        effect.add(source, paid=-minor)
        effect.add(to, paid=minor)
        return done(Operation(transfer_credit, (moved,)), "transfer_credit", effect)

    def allocate(d: _Draw) -> Step:
        pid = d.pick(sorted({v.owner[a] for a in owing_with_credit()}))
        order = d.pick(list(AllocationOrder))
        on = LAST_DAY if d.flag() else d.day()
        providers = sorted({v.booked[a].provider or "" for a in live if v.owner[a] == pid} - {""})
        provider = d.pick(providers) if providers and d.flag() else None  # half the time
        kwargs: dict[str, Any] = {"on": on, "order": order}
        if provider is not None:
            kwargs["provider"] = provider
        chosen = [
            (v.due(a), v.booked[a].date, a)
            for a in sorted(live, key=lambda a: (v.booked[a].date, a))
            if v.owner[a] == pid
            and v.due(a) > 0
            and v.booked[a].date <= on
            and (provider is None or v.booked[a].provider == provider)
        ]
        left = v.general[pid]
        if order is AllocationOrder.SMALLEST_FIRST:
            chosen.sort()
        placed = 0
        for due, _, _ in chosen:
            if order is AllocationOrder.SMALLEST_FIRST and due > left:
                continue
            take = min(due, left)
            placed += take
            left -= take
        effect = _Effect()
        effect.add(pid, allocated=placed)
        return done(Operation(auto_allocate, (pid,), kwargs), "auto_allocate", effect)

    def cancel_visit(d: _Draw) -> Step:
        aid = d.pick([a for a in live if not v.lines(a)])
        operation = Operation(cancel_appointment, (aid,), {"on": d.day()})
        return done(operation, "cancel_appointment", _Effect())

    billed = [a for a in live if v.lines(a)]
    # The first kind is drawn most often (Hypothesis leans to 0) and is what a step shrinks to.
    return {
        "post_payment": (lambda: True, lambda d: payment(d, "general")),
        "add_charge": (lambda: bool(live), charge),
        "post_payment:appointment": (lambda: bool(live), lambda d: payment(d, "appointment")),
        "post_payment:line": (lambda: bool(billed), lambda d: payment(d, "line")),
        "refund": (lambda: bool(funded()), refund_),
        "apply_unallocated": (lambda: bool(owing_with_credit()), apply),
        "cancel_offsetting": (lambda: bool(v.patients), offsetting),
        "unapply": (lambda: any(v.rows[a].paid.amount for a in live), unapply_),
        "release_credit": (lambda: any(v.held(a) > 0 for a in live), release),
        "adjust_charge": (lambda: bool(billed), adjust),
        "reverse_payment": (lambda: bool(reversible()), reverse),
        "transfer_credit": (lambda: any(n > 0 for n in v.general.values()), transfer),
        "auto_allocate": (lambda: bool(owing_with_credit()), allocate),
        "cancel_appointment": (lambda: any(not v.lines(a) for a in live), cancel_visit),
        "add_appointment": (lambda: True, appointment),
    }


def _held_in(row: Any, aid: str) -> bool:
    """Whether an allocation row is an entry held in the bucket of ``aid``."""
    return bool(row.charge_id is None and row.appointment_id == aid)
