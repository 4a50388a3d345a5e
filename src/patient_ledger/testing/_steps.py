"""The testing kit's planner: one more command, valid on a given ledger, with the change it
should make.

:func:`planned_step` is the one place that knows which commands of SPEC §4, §9 and §10 a ledger
is ready for and which arguments it accepts: from a step's drawn numbers (a :data:`Plan`) it
makes a command the ledger accepts, its arguments chosen from what the ledger shows (its
patients, balances due, held money, lines, payments), and predicts — from the command's rules,
not by running it — how it changes every patient's dashboard. :func:`valid_operations` draws
one step; :func:`fold` runs a plan of them, which is how ``ledgers()``, ``one_more_command()``
and ``command_sequences()`` build theirs. The strategies need Hypothesis.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
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
from patient_ledger.testing._code import Operation, code
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

    def code(self) -> str:
        """The code that makes this change: ``Change.of(...)`` when it is one."""
        paid, allocated, responsibility = (
            to_minor(m, "change")
            for m in (self.total_paid, self.allocated, self.patient_responsibility)
        )
        currency = self.total_paid.currency.code
        if Change.of(paid, allocated, responsibility, currency=currency) == self:
            return f"Change.of({paid}, {allocated}, {responsibility}, currency={currency!r})"
        return code(self)

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

    def code(self) -> str:
        """The code that makes this step: ``Step(Operation(...), kind, {patient: change})``."""
        expected = ", ".join(f"{pid!r}: {change.code()}" for pid, change in self.expected.items())
        return f"Step({self.operation.code()}, {self.kind!r}, {{{expected}}})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        """Hypothesis and IPython print a step as the code that makes it: a failing example's
        line can be pasted and run."""
        printer.text(self.code())


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
        self._lines: dict[str, list[Any]] = {}
        self._entries: dict[str, list[Any]] = {}
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
                self.minor(e.amount) for e in self.entries(pid) if e.appointment_id is None
            )

    def minor(self, money: Money) -> int:
        return to_minor(money, "amount")

    def money(self, minor: int) -> Money:
        return to_money(minor, self.currency)

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
        if aid not in self._lines:
            self._lines[aid] = list(line_items(self.ledger, aid))
        return self._lines[aid]

    def entries(self, pid: str) -> list[Any]:
        if pid not in self._entries:
            self._entries[pid] = list(unallocated_entries(self.ledger, pid))
        return self._entries[pid]


def valid_operations(ledger: Ledger) -> SearchStrategy[Step]:
    """A command that ``ledger`` accepts — any command of SPEC §4, §9 and §10 that has something
    to work on — as a :class:`Step` with the dashboard changes it should make.

    New ids are ``A``, ``P``, ``C``, ``PAY``, ``R``, ``ADJ``, ``T`` and a drawn number (the next
    free one from it); amounts stay within what the ledger holds (a refund within its bucket,
    an application within the balance due and the bucket, a reversal within what is left of
    the payment).
    """
    return plans().map(functools.partial(planned_step, ledger))


#: How many labels a plan draws from (ids ``A0``–``A15`` …, and the ids a step picks).
LABELS = 16
#: The numbers of one step of a plan: the kind of command (an index into :data:`_TABLE`), the
#: label of the new id, two labels of what the step picks, an amount in minor units, a day
#: after :data:`START`, and four options. A step reads only its own numbers, never their
#: positions in the plan, so that deleting a step or shrinking a number leaves every other
#: step its meaning.
Plan = tuple[int, int, int, int, int, int, int, int, int, int]
#: The most minor units a drawn amount has.
_MOST = 30_000


def _unpacked(drawn: tuple[int, int, int]) -> Plan:
    """A plan from the three numbers drawn for it: its kind; its amount and day (the amount's
    index the more significant, so that both shrink); its labels and options, as the
    hexadecimal digits of a number scrambled by an odd multiplier (a bijection keeping 0 at 0:
    Hypothesis draws small numbers far more often than large ones, which would leave the
    upper digits nearly always 0)."""
    kind, amount_day, choices = drawn
    amount, day = divmod(amount_day, DAYS + 1)
    mixed = choices * 0x9E3779B1 % 2**28
    label, first, second, *options = ((mixed >> (4 * n)) & 0xF for n in range(7))
    return (kind, label, first, second, amount + 1, day, *options)  # type: ignore[return-value]


@functools.cache
def plans() -> SearchStrategy[Plan]:
    """The strategy of one step's :data:`Plan` (made once).

    Three numbers a step, not ten: the shrinker deletes a few numbers in a row at a time, and
    a step of ten numbers stayed in shrunk examples that did not need it."""
    from hypothesis import strategies as st  # noqa: PLC0415 - an optional dependency

    # The kind's number runs over the table exactly: Hypothesis draws the ends of a range
    # often, and the last kind, a cancelled visit, is one ledgers are seldom ready for.
    kind = st.integers(0, len(_TABLE) - 1)
    amount_day = st.integers(0, _MOST * (DAYS + 1) - 1)
    return st.tuples(kind, amount_day, st.integers(0, 2**28 - 1)).map(_unpacked)


#: Kinds drawn more often than the others: charges and payments to visits make the balances
#: due that the rest works on, and applications need money and a balance due to meet, which
#: few ledgers have, so each gets more of the chances it has.
_WEIGHTS = {
    # Ready only on a ledger with a visit not billed yet (a deposit ahead of it, say): rare.
    "cancel_appointment": 5,
    "add_charge": 3,
    "post_payment:appointment": 2,
    "post_payment:line": 3,
    "apply_unallocated": 5,
    "auto_allocate": 6,
    "unapply": 3,
    "release_credit": 4,
    "reverse_payment": 3,
    "transfer_credit": 3,
    "refund": 8,
    "adjust_charge": 2,
    "cancel_offsetting": 5,
}

#: What a step does instead when the ledger has nothing for its kind: the kind that makes
#: what it needs (a visit to bill, money to give back, a refund to cancel). Every chain ends
#: at a kind always ready (a general payment, a booking).
_INSTEAD = {
    "add_charge": "add_appointment",
    "post_payment:appointment": "add_appointment",
    "post_payment:line": "add_charge",
    "adjust_charge": "add_charge",
    "cancel_appointment": "add_appointment",
    "refund": "post_payment",
    "apply_unallocated": "post_payment:owing",
    "auto_allocate": "post_payment:owing",
    "post_payment:owing": "add_charge",
    "cancel_offsetting": "refund",
    "unapply": "post_payment:appointment",
    "release_credit": "post_payment:appointment",
    "reverse_payment": "post_payment",
    "reverse_payment:partial": "post_payment",
    "transfer_credit": "post_payment",
}


def _table() -> tuple[str, ...]:
    """Every kind, as often as its weight, in :data:`KINDS`'s order but ``post_payment``
    first (what a step's kind shrinks to)."""
    order = ["post_payment", *(kind for kind in KINDS if kind != "post_payment")]
    return tuple(kind for kind in order for _ in range(_WEIGHTS.get(kind, 1)))


_TABLE = _table()


def planned_step(ledger: Ledger, plan: Plan, patients: int | None = None) -> Step:
    """The command a step of a plan makes on ``ledger``: the one place that knows which
    commands a ledger is ready for and which arguments it accepts.

    The kind is ``plan[0]`` wrapped around :data:`_TABLE` — the same kind whatever the ledger,
    and one a smaller number shrinks towards (a number spread by a multiplication left the
    shrinker stuck with steps it could have deleted) —
    or, when the ledger has nothing for it, the kind :data:`_INSTEAD` names. Things are picked
    by label: the one whose id's number is the drawn label or the next above it (else the
    lowest), so a step picks the same appointment, payment or line when other steps are
    deleted. ``patients``: new commands name ``P0`` … ``P{patients - 1}``; by default, a
    patient of the ledger or one new one.
    """
    view = _View(ledger)
    drawers = _drawers(view)
    kind: str | None = _TABLE[plan[0] % len(_TABLE)]
    while kind is not None:
        step = drawers[kind](_Draw(view, plan, patients))
        if step is not None:
            return step
        kind = _INSTEAD.get(kind)
    raise RuntimeError("every kind falls back to one always ready")  # pragma: no cover


class _Draw:
    """A step's choices, each made from its own number of the :data:`Plan`."""

    def __init__(self, view: _View, plan: Plan, patients: int | None) -> None:
        self.view, self.plan, self.patients = view, plan, patients
        self.labels = iter(plan[2:4])
        self.options = iter(plan[6:])

    def label(self) -> int:
        return next(self.labels, 0)

    def option(self, choices: int) -> int:
        return next(self.options, 0) % choices

    def flag(self) -> bool:
        return bool(self.option(2))

    def pick(self, items: list[Any], key: Callable[[Any], str] = str) -> Any:
        """The item whose id (``key``) has the drawn label as its number, or the next above
        it, else the one numbered lowest (an id without a number counts as its position)."""
        wanted = self.label()
        numbered = [(_number(key(item), n), n) for n, item in enumerate(items)]
        above = [pair for pair in numbered if pair[0] >= wanted]
        return items[min(above or numbered)[1]]

    def patient(self) -> str:
        """A patient to name: one of ``P0`` … when the plan's patients are set, else one of the
        ledger's or a new one."""
        if self.patients is not None:
            return f"P{self.label() % self.patients}"
        known = [*self.view.patients, self.view.new_patient()]
        return known[self.label() % len(known)]

    def other_patient(self, than: str) -> str:
        """A patient other than ``than`` (as :meth:`patient` chooses)."""
        if self.patients is not None:
            known = [f"P{n}" for n in range(self.patients)]
        else:
            known = [*self.view.patients, self.view.new_patient()]
        others = [p for p in known if p != than]
        return others[self.label() % len(others)]

    def new_id(self, prefix: str) -> str:
        """``prefix`` and the drawn label, or the next number free above it."""
        n = self.plan[1]
        while f"{prefix}{n}" in self.view.ids:
            n += 1
        return f"{prefix}{n}"

    def minor(self, low: int, high: int) -> int:
        """The drawn amount where it is within ``low`` … ``high``, else folded into it."""
        high = max(low, high)
        drawn = self.plan[4]
        return drawn if low <= drawn <= high else low + (drawn - low) % (high - low + 1)

    def money(self, low: int, high: int) -> Money:
        return self.view.money(self.minor(low, high))

    def maybe_money(self, high: int) -> Money | None:
        """None (all of it) or an amount from 1 to ``high``."""
        return None if self.flag() else self.money(1, high)

    def day(self) -> datetime.date:
        return START + datetime.timedelta(days=self.plan[5])

    def provider(self) -> str | None:
        chosen: str | None = [None, *PROVIDERS][self.option(len(PROVIDERS) + 1)]
        return chosen


def _number(text: str, position: int) -> int:
    """The number an id ends with (``PAY12``: 12), else ``position``."""
    digits = len(text) - len(text.rstrip("0123456789"))
    return int(text[-digits:]) if digits else position


def fold(
    plan: Iterable[Plan], ledger: Ledger, patients: int | None = None
) -> tuple[Ledger, list[Operation]]:
    """``ledger`` after each step of ``plan`` in turn (:func:`planned_step`), and the
    operations it ran."""
    done = []
    for numbers in plan:
        operation = planned_step(ledger, numbers, patients).operation
        ledger = operation(ledger)
        done.append(operation)
    return ledger, done


def _drawers(  # noqa: PLR0915 - one drawer per kind of command
    v: _View,
) -> dict[str, Callable[[_Draw], Step | None]]:
    """Each kind of command: how to draw it, or None when the ledger has nothing for it."""
    cur = v.currency
    live = [aid for aid in v.rows]  # noqa: C416 - the feed's appointments: none cancelled

    def done(operation: Operation, kind: str, effect: _Effect) -> Step:
        return Step(operation, kind, effect.changes(cur))

    def appointment(d: _Draw) -> Step:
        booked = Appointment(d.new_id("A"), d.patient(), d.day(), d.provider())
        return done(Operation(add_appointment, (booked,)), "add_appointment", _Effect())

    def charge(d: _Draw) -> Step | None:
        if not live:
            return None
        aid = d.pick(live)
        minor = d.minor(1, 30_000)
        operation = Operation(add_charge, (Charge(d.new_id("C"), aid, v.money(minor)),))
        effect = _Effect()
        applied = min(v.held(aid), v.due(aid) + minor)
        effect.add(v.owner[aid], allocated=applied, responsibility=minor)
        return done(operation, "add_charge", effect)

    def payment(d: _Draw, where: str) -> Step | None:
        aid = charge_id = line = None
        if where == "general":
            pid = d.patient()
        elif where == "owing":  # money on account for a patient with a balance due
            owing = sorted({v.owner[a] for a in live if v.due(a) > 0})
            if not owing:
                return None
            pid = d.pick(owing)
        elif where == "appointment":
            if not live:
                return None
            aid = d.pick(live)
            pid = v.owner[aid]
        else:
            billed = [(a, i) for a in live for i in v.lines(a)]
            if not billed:
                return None
            aid, line = d.pick(billed, key=lambda pair: pair[1].charge_id)
            pid, charge_id = v.owner[aid], line.charge_id
            if d.flag():  # the line alone names its appointment
                aid = None
        minor = d.minor(1, 30_000)
        kind = [t for t in PaymentType if t is not PaymentType.REFUND]
        method = list(PaymentMethod)
        paid = Payment(
            d.new_id("PAY"),
            pid,
            v.money(minor),
            d.day(),
            method[d.option(len(method))],
            kind[d.option(len(kind))],
            aid,
            charge_id=charge_id,
        )
        effect = _Effect()
        target = aid if line is None else line.appointment_id
        allocated = 0 if target is None else min(minor, v.due(target))
        effect.add(pid, paid=minor, allocated=allocated)
        name = "post_payment" if where in {"general", "owing"} else f"post_payment:{where}"
        return done(Operation(post_payment, (paid,)), name, effect)

    def funded() -> list[tuple[str, str | None, int]]:
        found = [(p, None, n) for p, n in v.general.items() if n > 0]
        return found + [(v.owner[a], a, v.held(a)) for a in live if v.held(a) > 0]

    def bucket(entry: tuple[str, str | None, int]) -> str:
        return entry[1] or entry[0]

    def refund_(d: _Draw) -> Step | None:
        buckets = funded()
        if not buckets:
            return None
        pid, aid, available = d.pick(buckets, key=bucket)
        minor = d.minor(1, available)
        given = Payment(
            d.new_id("R"),
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

    def apply(d: _Draw) -> Step | None:
        owing = owing_with_credit()
        if not owing:
            return None
        aid = d.pick(owing)
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

    def offsetting(d: _Draw) -> Step | None:
        """Offsetting entries closed, for a patient with an open refund."""
        refunded = [p for p in v.patients if any(e.amount.amount < 0 for e in v.entries(p))]
        if not refunded:
            return None
        operation = Operation(cancel_offsetting, (d.pick(refunded),), {"on": d.day()})
        return done(operation, "cancel_offsetting", _Effect())

    def unapply_(d: _Draw) -> Step | None:
        paid = [a for a in live if v.rows[a].paid.amount]
        if not paid:
            return None
        aid = d.pick(paid)
        paid_lines = [i for i in v.lines(aid) if i.paid.amount]
        kwargs: dict[str, Any] = {"on": d.day()}
        most = v.minor(v.rows[aid].paid)
        if d.flag():
            line = d.pick(paid_lines, key=lambda item: item.charge_id)
            kwargs["charge_id"] = line.charge_id
            most = v.minor(line.paid)
        amount = d.maybe_money(most)
        taken = most if amount is None else v.minor(amount)
        effect = _Effect()
        effect.add(v.owner[aid], allocated=-taken + min(v.held(aid), v.due(aid) + taken))
        return done(Operation(unapply, (aid, amount), kwargs), "unapply", effect)

    def release(d: _Draw) -> Step | None:
        holding = [a for a in live if v.held(a) > 0]
        if not holding:
            return None
        aid = d.pick(holding)
        operation = Operation(release_credit, (aid, d.maybe_money(v.held(aid))), {"on": d.day()})
        return done(operation, "release_credit", _Effect())

    def adjust(d: _Draw) -> Step | None:
        billed = [(a, i) for a in live for i in v.lines(a)]
        if not billed:
            return None
        aid, line = d.pick(billed, key=lambda pair: pair[1].charge_id)
        responsibility, paid = v.minor(line.responsibility), v.minor(line.paid)
        kinds = list(AdjustmentType)
        kind = kinds[d.option(len(kinds))]
        due = responsibility - paid
        if kind is AdjustmentType.WRITE_OFF and due == 0:
            kind = AdjustmentType.CONTRACTUAL
        if kind is AdjustmentType.WRITE_OFF:
            signed = -d.minor(1, due)
        elif responsibility and d.flag():
            signed = -d.minor(1, responsibility)
        else:
            signed = d.minor(1, 10_000)
        adjustment = Adjustment(d.new_id("ADJ"), line.charge_id, v.money(signed), d.day(), kind)
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
        found = []
        for p in v.posted:
            try:
                reverse_payment(v.ledger, p.id, on=LAST_DAY)
            except LedgerError:
                continue
            found.append(p)
        return found

    def reverse(d: _Draw) -> Step | None:
        candidates = reversible()
        if not candidates:
            return None
        payment_ = d.pick(candidates, key=lambda p: p.id)
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
            and d.option(4)  # three in four eligible reversals are partial
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

    def transfer(d: _Draw) -> Step | None:
        sources = [p for p, n in v.general.items() if n > 0]
        if not sources:
            return None
        if d.patients == 1:
            return None
        source = d.pick(sources)
        to = d.other_patient(source)
        minor = d.minor(1, v.general[source])
        moved = Transfer(d.new_id("T"), source, to, v.money(minor), d.day())
        effect = _Effect()
        effect.add(source, paid=-minor)
        effect.add(to, paid=minor)
        return done(Operation(transfer_credit, (moved,)), "transfer_credit", effect)

    def allocate(d: _Draw) -> Step | None:
        owing = sorted({v.owner[a] for a in owing_with_credit()})
        if not owing:
            return None
        pid = d.pick(owing)
        # Smallest first two times in three: the default, oldest first, is what the rest use.
        order = AllocationOrder.SMALLEST_FIRST if d.option(3) else AllocationOrder.OLDEST_FIRST
        on = LAST_DAY if d.flag() else d.day()
        providers = sorted({v.booked[a].provider or "" for a in live if v.owner[a] == pid} - {""})
        # A provider two times in three that there is one: policies read them least.
        provider = d.pick(providers) if providers and d.option(3) else None
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

    def cancel_visit(d: _Draw) -> Step | None:
        """A visit not billed cancelled — one holding a deposit when there is one."""
        bare = [a for a in live if not v.lines(a)]
        holding = [a for a in bare if v.held(a) > 0]
        if not bare:
            return None
        operation = Operation(cancel_appointment, (d.pick(holding or bare),), {"on": d.day()})
        return done(operation, "cancel_appointment", _Effect())

    return {
        "add_appointment": appointment,
        "add_charge": charge,
        "post_payment": lambda d: payment(d, "general"),
        # Not a kind of its own: what an application does when no one owing has money.
        "post_payment:owing": lambda d: payment(d, "owing"),
        "post_payment:appointment": lambda d: payment(d, "appointment"),
        "post_payment:line": lambda d: payment(d, "line"),
        "refund": refund_,
        "apply_unallocated": apply,
        "cancel_offsetting": offsetting,
        "unapply": unapply_,
        "release_credit": release,
        "adjust_charge": adjust,
        "reverse_payment": reverse,
        "reverse_payment:partial": reverse,
        "transfer_credit": transfer,
        "auto_allocate": allocate,
        "cancel_appointment": cancel_visit,
    }


def _held_in(row: Any, aid: str) -> bool:
    """Whether an allocation row is an entry held in the bucket of ``aid``."""
    return bool(row.charge_id is None and row.appointment_id == aid)
