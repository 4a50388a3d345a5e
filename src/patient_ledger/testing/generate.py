"""A practice to load-test with: a deterministic, realistic mix of every command (a shell).

``practice(events=100_000, seed=7)`` is a ledger of about that many events — visits, charges,
payments to visits and unallocated, applications, refunds, cancellations, adjustments,
unapplies, releases, transfers, auto-allocations and reversals in the shares of :data:`MIX` —
the same for the same arguments on every machine. ``patient-ledger demo --generate N --journal
FILE`` writes one as a journal. The benchmarks (``benchmarks/``) draw their workloads here.

``plan(n, patients)`` draws ``n`` steps — appointments, charges, payments to appointments and
unallocated, applications, refunds, cancellations, and the SPEC §9 commands (adjustments,
unapply, release, transfers, auto-allocation, reversals) — while running them on :class:`Bare`,
the same balance arithmetic over integer cents in plain dicts. Every step is valid against the
balances ``Bare`` holds, and ``Bare`` is exact: after the steps, each patient's Total Paid,
allocated, unallocated and statement balance equal the ledger's dashboard
(``tests/test_bench.py`` checks it). Timing ``Bare`` over the steps gives the floor for pure
Python that the ledger is compared with.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from typing import Any

from moneyed import Money

from patient_ledger import commands as pl
from patient_ledger.state import Ledger
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    Appointment,
    Charge,
    Payment,
    PaymentType,
    Transfer,
)

Step = tuple[str, tuple[Any, ...]]
START = datetime.date(2025, 1, 1)


class Bare:
    """Balances over integer cents in plain dicts; one method per kind of step."""

    def __init__(self) -> None:
        self.charged: dict[str, int] = {}
        self.allocated: dict[str, int] = {}
        self.held: dict[str, int] = {}  # each appointment's own bucket
        self.owner: dict[str, str] = {}
        self.dated: dict[str, datetime.date] = {}
        self.appointments: dict[str, list[str]] = {}
        self.general: dict[str, int] = {}
        self.paid: dict[str, int] = {}
        self.charge_of: dict[str, str] = {}  # charge -> appointment
        self.charge_amount: dict[str, int] = {}
        self.payment: dict[str, tuple[str, int]] = {}  # fully allocated payment -> (aid, cents)

    def _auto_apply(self, aid: str) -> None:
        take = min(self.held[aid], self.charged[aid] - self.allocated[aid])
        if take > 0:
            self.held[aid] -= take
            self.allocated[aid] += take

    def _apply_general(self, pid: str, aid: str) -> None:
        take = min(self.general[pid], self.charged[aid] - self.allocated[aid])
        if take > 0:
            self.general[pid] -= take
            self.allocated[aid] += take

    def appointment(self, a: tuple[Any, ...]) -> None:
        aid, pid, day = a
        self.owner[aid] = pid
        self.dated[aid] = day
        self.charged[aid] = self.allocated[aid] = self.held[aid] = 0
        self.appointments.setdefault(pid, []).append(aid)
        self.general.setdefault(pid, 0)
        self.paid.setdefault(pid, 0)

    def charge(self, a: tuple[Any, ...]) -> None:
        cid, aid, cents = a
        self.charge_of[cid] = aid
        self.charge_amount[cid] = cents
        self.charged[aid] += cents
        self._auto_apply(aid)

    def pay(self, a: tuple[Any, ...]) -> None:
        pay_id, pid, cents, _, aid = a
        self.paid[pid] = self.paid.get(pid, 0) + cents
        self.general.setdefault(pid, 0)
        if aid is None:
            self.general[pid] += cents
            return
        take = min(cents, self.charged[aid] - self.allocated[aid])
        self.allocated[aid] += take
        self.held[aid] += cents - take
        if take == cents:
            self.payment[pay_id] = (aid, cents)

    def apply(self, a: tuple[Any, ...]) -> None:
        pid, aid, _ = a
        self._apply_general(pid, aid)

    def refund(self, a: tuple[Any, ...]) -> None:
        _, pid, cents, _ = a
        self.general[pid] -= cents
        self.paid[pid] -= cents

    def cancel(self, a: tuple[Any, ...]) -> None:
        """Closing offsetting entries changes no balance."""

    def adjust(self, a: tuple[Any, ...]) -> None:
        _, cid, cents, _ = a
        aid = self.charge_of[cid]
        self.charge_amount[cid] += cents
        self.charged[aid] += cents
        excess = self.allocated[aid] - self.charged[aid]
        if excess > 0:  # allocations beyond the charges are held on the appointment again
            self.allocated[aid] -= excess
            self.held[aid] += excess
        self._auto_apply(aid)

    def unapply(self, a: tuple[Any, ...]) -> None:
        aid, _ = a
        self.general[self.owner[aid]] += self.allocated[aid]
        self.allocated[aid] = 0
        self._auto_apply(aid)

    def release(self, a: tuple[Any, ...]) -> None:
        aid, _ = a
        self.general[self.owner[aid]] += self.held[aid]
        self.held[aid] = 0

    def transfer(self, a: tuple[Any, ...]) -> None:
        _, sender, receiver, cents, _ = a
        self.general[sender] -= cents
        self.paid[sender] -= cents
        self.general[receiver] = self.general.get(receiver, 0) + cents
        self.paid[receiver] = self.paid.get(receiver, 0) + cents

    def auto(self, a: tuple[Any, ...]) -> None:
        pid, _ = a
        for aid in sorted(self.appointments.get(pid, ()), key=lambda x: (self.dated[x], x)):
            self._apply_general(pid, aid)

    def reverse(self, a: tuple[Any, ...]) -> None:
        pay_id, _ = a
        aid, cents = self.payment.pop(pay_id)
        self.allocated[aid] -= cents
        self.paid[self.owner[aid]] -= cents
        self._auto_apply(aid)


#: The step kinds, in the order the tables print them.
KINDS = (
    "appointment",
    "charge",
    "pay",
    "apply",
    "refund",
    "cancel",
    "adjust",
    "unapply",
    "release",
    "transfer",
    "auto",
    "reverse",
)
#: Each kind's share of the steps drawn (what cannot be drawn validly becomes a payment).
MIX = (
    ("appointment", 0.14),
    ("charge", 0.22),
    ("pay", 0.33),
    ("apply", 0.08),
    ("refund", 0.04),
    ("cancel", 0.04),
    ("adjust", 0.03),
    ("unapply", 0.02),
    ("release", 0.02),
    ("transfer", 0.03),
    ("auto", 0.02),
    ("reverse", 0.03),
)


class Planner:
    """Draws valid steps against the balances a :class:`Bare` holds: one method per kind,
    returning None when nothing of that kind is valid now."""

    def __init__(self, patients: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.patients = patients
        self.bare = Bare()
        self.aids: list[str] = []
        self.cids: list[str] = []
        self.known: list[str] = []  # patients the ledger knows, in the order it met them
        self.seen: set[str] = set()
        # Fully allocated payments that may be reversed: (payment, appointment, step posted),
        # and the last step at which each appointment's allocations may have been given back.
        self.reversible: list[tuple[str, str, int]] = []
        self.unsettled: dict[str, int] = {}

    def step(self, i: int, kind: str, day: datetime.date) -> Step:
        pid = f"P{self.rng.randrange(self.patients)}"
        step: Step | None = getattr(self, kind)(i, day, pid)
        if step is None:  # nothing valid of that kind now: an unallocated payment instead
            step = self.pay(i, day, pid, general=True)
        kind, a = step
        getattr(self.bare, kind)(a)
        if kind in {"appointment", "pay", "transfer"}:
            met = a[2] if kind == "transfer" else a[1]
            if met not in self.seen:
                self.seen.add(met)
                self.known.append(met)
        if kind == "pay" and a[0] in self.bare.payment:
            self.reversible.append((a[0], a[4], i))
        return step

    def appointment(self, i: int, day: datetime.date, pid: str) -> Step:
        self.aids.append(f"A{i}")
        return ("appointment", (f"A{i}", pid, day))

    def charge(self, i: int, day: datetime.date, pid: str) -> Step:
        self.cids.append(f"C{i}")
        return ("charge", (f"C{i}", self.rng.choice(self.aids), self.rng.randrange(1000, 30000)))

    def pay(self, i: int, day: datetime.date, pid: str, *, general: bool = False) -> Step:
        aid = None if general or self.rng.random() < 0.4 else self.rng.choice(self.aids)
        payer = pid if aid is None else self.bare.owner[aid]
        return ("pay", (f"PAY{i}", payer, self.rng.randrange(500, 20000), day, aid))

    def apply(self, i: int, day: datetime.date, pid: str) -> Step:
        aid = self.rng.choice(self.aids)
        return ("apply", (self.bare.owner[aid], aid, day))

    def refund(self, i: int, day: datetime.date, pid: str) -> Step | None:
        if self.bare.general.get(pid, 0) < 300:
            return None
        return ("refund", (f"R{i}", pid, self.bare.general[pid] // 2, day))

    def transfer(self, i: int, day: datetime.date, pid: str) -> Step | None:
        to = f"P{self.rng.randrange(self.patients)}"
        if self.bare.general.get(pid, 0) < 300 or to == pid:
            return None
        return ("transfer", (f"T{i}", pid, to, self.bare.general[pid] // 2, day))

    def cancel(self, i: int, day: datetime.date, pid: str) -> Step:
        return ("cancel", (self.rng.choice(self.known), day))

    def auto(self, i: int, day: datetime.date, pid: str) -> Step:
        return ("auto", (self.rng.choice(self.known), day))

    def adjust(self, i: int, day: datetime.date, pid: str) -> Step | None:
        if not self.cids:
            return None
        cid = self.rng.choice(self.cids)
        cents = self.rng.randrange(100, 3000)
        if self.rng.random() < 0.5 and self.bare.charge_amount[cid] >= 2 * cents:
            cents = -cents  # lowers the charge: allocations beyond it are held again
            self.unsettled[self.bare.charge_of[cid]] = i
        return ("adjust", (f"ADJ{i}", cid, cents, day))

    def unapply(self, i: int, day: datetime.date, pid: str) -> Step:
        aid = self.rng.choice(self.aids)
        self.unsettled[aid] = i
        return ("unapply", (aid, day))

    def release(self, i: int, day: datetime.date, pid: str) -> Step:
        return ("release", (self.rng.choice(self.aids), day))

    def reverse(self, i: int, day: datetime.date, pid: str) -> Step | None:
        if not self.reversible:
            return None
        pay_id, aid, posted = self.reversible.pop(self.rng.randrange(len(self.reversible)))
        if posted <= self.unsettled.get(aid, -1) or pay_id not in self.bare.payment:
            return None
        return ("reverse", (pay_id, day))


def plan(n: int, patients: int, seed: int = 7) -> list[Step]:
    """``n`` steps over up to ``patients`` patients, each valid against the balances so far."""
    planner = Planner(patients, seed)
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    steps = []
    for i in range(n):
        kind = planner.rng.choices(kinds, weights)[0] if planner.aids else "appointment"
        steps.append(planner.step(i, kind, day_of(i, n)))
    return steps


def day_of(i: int, n: int) -> datetime.date:
    """The day of step ``i`` of a plan of ``n`` steps: a year from :data:`START`, in order."""
    return START + datetime.timedelta(days=i * 365 // n)


def bare_loop(steps: list[Step]) -> Bare:
    """The floor: the same balance arithmetic, step by step, over plain dicts."""
    bare = Bare()
    handlers = {kind: getattr(bare, kind) for kind in KINDS}
    for kind, a in steps:
        handlers[kind](a)
    return bare


Command = tuple[Callable[..., Ledger], tuple[Any, ...], dict[str, Any]]


def usd(cents: int) -> Money:
    """Exact USD from integer cents."""
    sign = "-" if cents < 0 else ""
    return Money(f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}", "USD")


def to_commands(steps: list[Step], *, in_day_order: bool = False) -> list[tuple[str, Command]]:
    """The steps as library calls, with their value objects built beforehand.

    ``in_day_order``: each charge is posted on the day of its step (``posted_on``), so that
    the journal is in day order (SPEC §12: views as of any date cut it). Otherwise a charge's
    day is its visit's, often long before the step that adds it (a late posting).
    """
    out: list[tuple[str, Command]] = []
    for i, (kind, a) in enumerate(steps):
        command: Command
        if kind == "appointment":
            command = (pl.add_appointment, (Appointment(*a),), {})
        elif kind == "charge":
            posted = day_of(i, len(steps)) if in_day_order else None
            command = (pl.add_charge, (Charge(a[0], a[1], usd(a[2]), posted_on=posted),), {})
        elif kind == "pay":
            payment = Payment(a[0], a[1], usd(a[2]), a[3], appointment_id=a[4])
            command = (pl.post_payment, (payment,), {})
        elif kind == "apply":
            command = (pl.apply_unallocated, (a[0], a[1]), {"on": a[2]})
        elif kind == "refund":
            refund = Payment(a[0], a[1], usd(-a[2]), a[3], type=PaymentType.REFUND)
            command = (pl.refund, (refund,), {})
        elif kind == "adjust":
            why = AdjustmentType.CONTRACTUAL if a[2] < 0 else AdjustmentType.OTHER
            command = (pl.adjust_charge, (Adjustment(a[0], a[1], usd(a[2]), a[3], why),), {})
        elif kind == "transfer":
            transfer = Transfer(a[0], a[1], a[2], usd(a[3]), a[4])
            command = (pl.transfer_credit, (transfer,), {})
        else:
            functions: dict[str, Callable[..., Ledger]] = {
                "cancel": pl.cancel_offsetting,
                "auto": pl.auto_allocate,
                "unapply": pl.unapply,
                "release": pl.release_credit,
                "reverse": pl.reverse_payment,
            }
            function = functions[kind]
            command = (function, (a[0],), {"on": a[1]})
        out.append((kind, command))
    return out


def run_ledger(commands: list[tuple[str, Command]]) -> Ledger:
    """Run every command on an empty ledger, one after another."""
    ledger = Ledger.empty("USD")
    for _, (command, args, kwargs) in commands:
        ledger = command(ledger, *args, **kwargs)
    return ledger


def practice(
    events: int = 10_000,
    *,
    seed: int = 7,
    patients: int | None = None,
    in_day_order: bool = False,
) -> Ledger:
    """A practice's ledger of ``events`` events or a few more (the command that reaches the
    number is kept whole), drawn from :func:`plan` with ``seed`` over ``patients`` patients
    (one per 25 events by default, at least 2): deterministic — the same arguments give the
    same journal, byte for byte. ``in_day_order``: every charge carries the day it was posted
    (:func:`to_commands`), so dated views (``dashboards(on=)``) cut the journal anywhere.

    >>> ledger = practice(events=200, seed=1)
    >>> 200 <= len(ledger.events) < 210, practice(events=200, seed=1) == ledger
    (True, True)

    Raises:
        ValueError: ``events`` below 1 or ``patients`` below 1.
    """
    if events < 1 or (patients is not None and patients < 1):
        raise ValueError(f"events and patients must be at least 1, got {events}, {patients}")
    who = patients if patients is not None else max(2, events // 25)
    steps = events * 7 // 6 + 10
    while True:
        ledger = Ledger.empty("USD")
        drawn = to_commands(plan(steps, who, seed), in_day_order=in_day_order)
        for _, (command, args, kwargs) in drawn:
            ledger = command(ledger, *args, **kwargs)
            if len(ledger.events) >= events:
                return ledger
        steps *= 2  # the plan made fewer events than asked: draw a longer one
