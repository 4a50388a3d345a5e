"""Every ledger is a value by construction (STYLE.md; SPEC §4 and §6, invariant 7).

Whatever else happens — other ledgers of the same history used in any order, from several
threads at once, a KeyboardInterrupt landing on any line of a command, a caller changing a Money
it was given — every ledger a caller holds keeps reading exactly as it did when it was made,
equals the replay of its journal, and can still be extended. These tests use only the public API
(the views read a ledger; nothing looks at the engine's tables), so they hold whatever the engine
is made of.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import os
import random
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from types import FrameType
from typing import Any, ClassVar

import attrs
import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.persist import journal

try:  # the invariant check may move to the core
    check_invariants: Callable[[pl.Ledger], tuple[Any, ...]] = pl.check_invariants  # type: ignore[attr-defined]
except AttributeError:
    from patient_ledger.testing import check_invariants

D = datetime.date
PACKAGE_DIR = os.path.dirname(os.path.abspath(pl.__file__)) + os.sep  # noqa: PTH100, PTH120
AGING_ON = D(2025, 6, 1)


def usd(minor: int) -> Money:
    """``usd(-1234)`` is ``Money("-12.34", "USD")`` (built from a string: exact)."""
    sign = "-" if minor < 0 else ""
    return Money(f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}", "USD")


def cents(money: Money) -> int:
    return int(money.amount.scaleb(2))


# -- what a ledger shows ----------------------------------------------------------------------

Fingerprint = tuple[int, tuple[tuple[Any, ...], ...]]
#: A fingerprint and its repr, taken when it was made: the repr is plain text, so it cannot
#: change even if a view ever handed out objects that something else later changes.
Snapshot = tuple[Fingerprint, str]


def fingerprint(ledger: pl.Ledger) -> Fingerprint:
    """Everything the views show of a ledger: for every patient the dashboard, the claims feed,
    the open entries and the aging (frozen attrs objects and tuples, compared with ==)."""
    return (
        len(ledger.events),
        tuple(
            (
                pid,
                pl.dashboard(ledger, pid),
                tuple(pl.claims_feed(ledger, pid)),
                tuple(pl.unallocated_entries(ledger, pid)),
                pl.aging(ledger, pid, on=AGING_ON),
            )
            for pid in pl.patients(ledger)
        ),
    )


def snapshot(ledger: pl.Ledger) -> Snapshot:
    shown = fingerprint(ledger)
    return shown, repr(shown)


def _shown(value: object) -> str:
    return str(value.amount) if isinstance(value, Money) else repr(value)


def _diff(was: object, now: object) -> str:
    """What changed between two view results: the fields, or the first row that differs."""
    if attrs.has(type(was)) and type(was) is type(now):
        return ", ".join(
            f"{a.name} {_shown(getattr(was, a.name))} -> {_shown(getattr(now, a.name))}"
            for a in attrs.fields(type(was))
            if getattr(was, a.name) != getattr(now, a.name)
        )
    if isinstance(was, tuple) and isinstance(now, tuple):
        if len(was) != len(now):
            return f"{len(was)} rows -> {len(now)} rows: {now!r}"
        for number, (row, row_now) in enumerate(zip(was, now, strict=True)):
            if row != row_now:
                return f"row {number}: {_diff(row, row_now)}"
    return f"{was!r} -> {now!r}"


def difference(expected: Snapshot, actual: Snapshot) -> str:
    """The first difference between two snapshots, short enough for a failure message."""
    (length, rows), (length_now, rows_now) = expected[0], actual[0]
    if length != length_now:
        return f"the journal had {length} events, now {length_now}"
    if [row[0] for row in rows] != [row[0] for row in rows_now]:
        return f"patients were {[r[0] for r in rows]}, now {[r[0] for r in rows_now]}"
    names = ("dashboard", "claims_feed", "unallocated_entries", "aging")
    for row, row_now in zip(rows, rows_now, strict=True):
        for name, was, now in zip(names, row[1:], row_now[1:], strict=True):
            if was != now:
                return f"patient {row[0]}'s {name}: {_diff(was, now)}"
    if expected[1] != actual[1]:
        return f"the views compare equal but their repr changed: was {expected[1]}, now {actual[1]}"
    return "no difference"


def _read(what: str, read: Callable[[], Any]) -> Any:
    """``read()``; an error while reading a ledger is a failure that names the ledger."""
    try:
        return read()
    except Exception as error:
        raise AssertionError(f"{what}: reading it raised {error!r}") from error


def expect_snapshot(now: Snapshot, recorded: Snapshot, what: str) -> None:
    if now != recorded:
        raise AssertionError(f"{what}: {difference(recorded, now)}")


def expect_reads_as(
    ledger: pl.Ledger, recorded: Snapshot, what: str, *, replay_views: bool = True
) -> None:
    """``ledger`` and the replay of its journal show exactly ``recorded`` (the replay's views
    are read too unless ``replay_views`` is False: then only its journal is compared).

    (It raises AssertionError itself: a plain ``assert`` would print both snapshots in full.)
    """
    now = _read(what, lambda: snapshot(ledger))
    if now != recorded:
        raise AssertionError(f"{what} reads differently: {difference(recorded, now)}")
    again = _read(what, lambda: pl.replay(ledger.events))
    if again != ledger:
        raise AssertionError(f"{what}: pl.replay(ledger.events) != ledger")
    if not replay_views:
        return
    replayed = _read(what, lambda: snapshot(again))
    if replayed != recorded:
        raise AssertionError(
            f"{what}: the replay of its journal reads differently: {difference(recorded, replayed)}"
        )


# == 1. Random trees of ledgers, read and extended from several threads ======================

PATIENTS = ("P1", "P2", "P3")
DAYS = tuple(D(2025, 1, 1) + datetime.timedelta(days=n) for n in range(0, 90, 4))
PAYMENT_TYPES = tuple(t for t in pl.PaymentType if t is not pl.PaymentType.REFUND)


@dataclasses.dataclass(frozen=True)
class Known:
    """What a test has put into a ledger (the ids its commands can name)."""

    appointments: tuple[pl.Appointment, ...] = ()
    charges: tuple[pl.Charge, ...] = ()
    payments: tuple[pl.Payment, ...] = ()  # payments and refunds

    def plus(self, **more: tuple[Any, ...]) -> Known:
        return dataclasses.replace(self, **{k: getattr(self, k) + v for k, v in more.items()})


@dataclasses.dataclass(frozen=True, eq=False)
class Node:
    ledger: pl.Ledger
    parent: Node | None
    known: Known
    recorded: Snapshot  # taken right when the ledger was made
    how: str

    def __str__(self) -> str:
        return f"the ledger made by {self.how} ({self.recorded[0][0]} events)"


@dataclasses.dataclass
class Held:
    """What the views say one patient holds, in minor units."""

    general: int
    rows: list[tuple[str, int, int, int]]  # appointment id, paid, balance due, its bucket


def money_of(ledger: pl.Ledger) -> dict[str, Held]:
    found = {}
    for pid in pl.patients(ledger):
        feed = pl.claims_feed(ledger, pid)
        held = sum(cents(r.appointment_unallocated) for r in feed)
        found[pid] = Held(
            cents(pl.dashboard(ledger, pid).unallocated) - held,
            [
                (
                    r.appointment_id,
                    cents(r.paid),
                    cents(r.balance_due),
                    cents(r.appointment_unallocated),
                )
                for r in feed
            ],
        )
    return found


Command = Callable[[pl.Ledger], pl.Ledger]


class Walker:
    """Makes commands for a ledger from what its views show: mostly valid ones, now and then one
    that asks a little too much (it must be refused and leave the ledger as it was)."""

    KINDS: ClassVar[dict[str, float]] = {
        "add_appointment": 3,
        "add_charge": 3,
        "post_payment to an appointment": 3,
        "post_payment unallocated": 3,
        "refund": 2,
        "apply_unallocated": 3,
        "cancel_offsetting": 1.5,
        "unapply": 2,
        "release_credit": 3,
        "reverse_payment": 1.5,
        "transfer_credit": 1.5,
        "auto_allocate": 1,
        "adjust_charge": 2,
        "resubmit": 1,
    }

    def __init__(self, name: str, seed: int, tree: list[Node]) -> None:
        self.name = name
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data
        self.tree = tree
        self.serial = 0
        self.done: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def new_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.name}-{self.serial}"

    def amount(self, most: int) -> int:
        """Up to ``most``, now and then one minor unit too much."""
        return most + 1 if self.rng.random() < 0.08 else self.rng.randint(1, most)

    def maybe_all(self, most: int) -> Money | None:
        return None if self.rng.random() < 0.3 else usd(self.amount(most))

    # -- extending a node -----------------------------------------------------------------

    def extend(self, node: Node, count: int) -> list[Node]:
        """Run ``count`` commands from ``node``; every ledger made is a new node of the tree."""
        made = []
        for _ in range(count):
            kind, command, known = self.command(node)
            try:
                ledger = command(node.ledger)
            except pl.LedgerError as error:
                self.refused[kind] += 1
                expect_reads_as(
                    node.ledger, node.recorded, f"{node}, after {kind} was refused: {error!r}"
                )
                continue
            self.done[kind] += 1
            how = f"{kind} ({self.name})"
            child = Node(ledger, node, known, snapshot(ledger), how)
            expect_reads_as(node.ledger, node.recorded, f"{node}, after {how} extended it")
            expect_reads_as(child.ledger, child.recorded, f"{child}, just made")
            self.tree.append(child)
            made.append(child)
            node = child
        return made

    def command(self, node: Node) -> tuple[str, Command, Known]:
        kinds = list(self.KINDS)
        for kind in self.rng.choices(kinds, [self.KINDS[k] for k in kinds], k=6):
            chosen = getattr(self, "make_" + kind.split()[0])(kind, node.ledger, node.known)
            if chosen is not None:  # else nothing to do that to yet: choose again
                return (kind, *chosen)
        kind = "add_appointment"
        return (kind, *self.make_add_appointment(kind, node.ledger, node.known))

    # -- the commands ---------------------------------------------------------------------

    def make_add_appointment(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        rng = self.rng
        appointment = pl.Appointment(
            self.new_id("A"),
            rng.choice(PATIENTS),
            rng.choice(DAYS),
            provider=rng.choice(["X", None]),
        )
        return (lambda lg: pl.add_appointment(lg, appointment)), known.plus(
            appointments=(appointment,)
        )

    def make_add_charge(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        if not known.appointments:
            return None
        appointment = self.rng.choice(known.appointments)
        charge = pl.Charge(
            self.new_id("C"), appointment.id, usd(self.rng.randint(0, 30_000)), code="99213"
        )
        return (lambda lg: pl.add_charge(lg, charge)), known.plus(charges=(charge,))

    def make_post_payment(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        rng = self.rng
        appointment = None
        if kind.endswith("appointment"):
            if not known.appointments:
                return None
            appointment = rng.choice(known.appointments)
        payment = pl.Payment(
            self.new_id("PAY"),
            appointment.patient_id if appointment else rng.choice(PATIENTS),
            usd(rng.randint(1, 15_000)),
            rng.choice(DAYS),
            method=rng.choice(list(pl.PaymentMethod)),
            type=rng.choice(PAYMENT_TYPES),
            appointment_id=appointment.id if appointment else None,
        )
        return (lambda lg: pl.post_payment(lg, payment)), known.plus(payments=(payment,))

    def make_refund(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        buckets = [
            (pid, aid, held)
            for pid, m in money_of(ledger).items()
            for aid, held in [(None, m.general), *((r[0], r[3]) for r in m.rows)]
            if held > 0
        ]
        if not buckets:
            return None
        pid, aid, held = self.rng.choice(buckets)
        payment = pl.Payment(
            self.new_id("R"),
            pid,
            usd(-self.amount(held)),
            self.rng.choice(DAYS),
            type=pl.PaymentType.REFUND,
            appointment_id=aid,
        )
        return (lambda lg: pl.refund(lg, payment)), known.plus(payments=(payment,))

    def make_apply_unallocated(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        choices = [
            (pid, aid, min(m.general, due))
            for pid, m in money_of(ledger).items()
            for aid, _, due, _ in m.rows
            if m.general > 0 and due > 0
        ]
        if not choices:
            return None
        pid, aid, most = self.rng.choice(choices)
        amount, on = self.maybe_all(most), self.rng.choice(DAYS)
        return (lambda lg: pl.apply_unallocated(lg, pid, aid, amount, on=on)), known

    def make_cancel_offsetting(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        patients = pl.patients(ledger)
        if not patients:
            return None
        pid = self.rng.choice(patients)
        entries = pl.unallocated_entries(ledger, pid)
        pairs = [
            (plus.id, minus.id)
            for minus in entries
            for plus in entries
            if minus.appointment_id == plus.appointment_id and minus.amount == -plus.amount
            if minus.amount.amount < 0
        ]
        ids = self.rng.choice(pairs) if pairs and self.rng.random() < 0.5 else None
        on = self.rng.choice(DAYS)
        return (lambda lg: pl.cancel_offsetting(lg, pid, ids, on=on)), known

    def make_unapply(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        choices = [(r[0], r[1]) for m in money_of(ledger).values() for r in m.rows if r[1] > 0]
        if not choices:
            return None
        aid, paid = self.rng.choice(choices)
        amount, on = self.maybe_all(paid), self.rng.choice(DAYS)
        return (lambda lg: pl.unapply(lg, aid, amount, on=on)), known

    def make_release_credit(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        choices = [(r[0], r[3]) for m in money_of(ledger).values() for r in m.rows if r[3] > 0]
        if not choices:
            return None
        aid, held = self.rng.choice(choices)
        amount, on = self.maybe_all(held), self.rng.choice(DAYS)
        return (lambda lg: pl.release_credit(lg, aid, amount, on=on)), known

    def make_reverse_payment(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        if not known.payments:
            return None
        payment_id, on = self.rng.choice(known.payments).id, self.rng.choice(DAYS)
        return (lambda lg: pl.reverse_payment(lg, payment_id, on=on, reason="bounced")), known

    def make_transfer_credit(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        choices = [(pid, m.general) for pid, m in money_of(ledger).items() if m.general > 0]
        if not choices:
            return None
        sender, held = self.rng.choice(choices)
        receiver = self.rng.choice([p for p in (*PATIENTS, "P4") if p != sender])
        transfer = pl.Transfer(
            self.new_id("T"), sender, receiver, usd(self.amount(held)), self.rng.choice(DAYS)
        )
        return (lambda lg: pl.transfer_credit(lg, transfer)), known

    def make_auto_allocate(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        patients = pl.patients(ledger)
        if not patients:
            return None
        pid, on = self.rng.choice(patients), self.rng.choice(DAYS)
        return (lambda lg: pl.auto_allocate(lg, pid, on=on)), known

    def make_adjust_charge(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        if not known.charges:
            return None
        rng = self.rng
        kind_of = rng.choice(list(pl.AdjustmentType))
        minor = rng.choice([-1, 1]) * rng.randint(1, 6_000)
        if kind_of is pl.AdjustmentType.WRITE_OFF:
            minor = -abs(minor)
        adjustment = pl.Adjustment(
            self.new_id("ADJ"), rng.choice(known.charges).id, usd(minor), rng.choice(DAYS), kind_of
        )
        return (lambda lg: pl.adjust_charge(lg, adjustment)), known

    def make_resubmit(self, kind: str, ledger: pl.Ledger, known: Known) -> Any:
        """The same payment (or refund) again: the ledger comes back unchanged."""
        if not known.payments:
            return None
        payment = self.rng.choice(known.payments)
        submit = pl.refund if payment.type is pl.PaymentType.REFUND else pl.post_payment
        return (lambda lg: submit(lg, payment)), known

    # -- reading nodes --------------------------------------------------------------------

    def verify(self, node: Node, where: str) -> None:
        """The node reads as recorded, so does its replay, and so does ``at(n)`` of an ancestor."""
        expect_reads_as(node.ledger, node.recorded, f"{where}: {node}")
        ancestor = node
        for _ in range(self.rng.randint(0, 6)):
            ancestor = ancestor.parent or ancestor
        past = node.ledger.at(len(ancestor.ledger.events))
        assert past == ancestor.ledger, f"{where}: {node}.at(n) != its ancestor {ancestor}"
        expect_snapshot(snapshot(past), ancestor.recorded, f"{where}: {node}.at(n) vs {ancestor}")


THREADS = 4


def pick(rng: random.Random, tree: list[Node]) -> Node:
    """Any node of the tree, the later (deeper) ones more often."""
    size = len(tree)
    return tree[max(rng.randrange(size), rng.randrange(size))]


@pytest.fixture
def quick_thread_switches() -> Any:
    """Let threads take turns often (more interleavings), and restore the interval afterwards."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("quick_thread_switches")
@pytest.mark.parametrize("seed", range(5))
def test_a_tree_of_ledgers_read_and_extended_from_threads_keeps_every_value(seed: int) -> None:
    root = pl.Ledger.empty("USD")
    tree = [Node(root, None, Known(), snapshot(root), "Ledger.empty")]
    builder = Walker("main", seed, tree)
    for _ in range(40):  # any earlier ledger of the tree, extended: branches everywhere
        builder.extend(pick(builder.rng, tree), builder.rng.randint(1, 5))
    first = list(tree)
    hot = builder.rng.sample(first, 3)  # read by every thread again and again: at once, often
    unread = []  # ledgers no one has read yet, to be read first by all the threads at once
    for _ in range(12):
        node = pick(builder.rng, first)
        kind, command, known = builder.command(node)
        try:
            ledger = command(node.ledger)
        except pl.LedgerError:
            continue
        # Recorded from a replay of its journal, so that its own first reading is the threads'.
        unread.append(Node(ledger, node, known, snapshot(pl.replay(ledger.events)), kind))

    barrier = threading.Barrier(THREADS)
    failures: list[str] = []
    walkers = [Walker(f"t{n}", seed * 100 + n, tree) for n in range(THREADS)]

    def walk(walker: Walker) -> None:
        try:
            rng = walker.rng
            for number, node in enumerate(unread):
                barrier.wait(timeout=30)
                walker.verify(node, f"thread {walker.name}, reading new ledger {number} at once")
            for step, node in enumerate(rng.sample(first, len(first))):  # each its own order
                if failures:
                    return
                walker.verify(node, f"thread {walker.name}, step {step}")
                walker.verify(rng.choice(hot), f"thread {walker.name}, step {step}, a hot node")
                if rng.random() < 0.25:  # any node, those other threads made included
                    walker.extend(pick(rng, tree), rng.randint(1, 3))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(f"thread {walker.name}: {error}\n{traceback.format_exc()}")
            barrier.abort()  # the others stop waiting for this one

    threads = [threading.Thread(target=walk, args=(w,)) for w in walkers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    assert not failures, failures[0]

    made = len(tree) - len(first)
    assert made > 0, "the threads extended nothing"
    for node in [*tree, *unread]:  # every ledger ever made, read again after all that
        expect_reads_as(node.ledger, node.recorded, f"at the end: {node}")
        assert check_invariants(node.ledger) == (), f"at the end: {node}"
    # The (single-threaded, so reproducible) build did what it says: nearly every kind of
    # command succeeded, most commands did, and a few were refused.
    assert len(builder.done) >= len(Walker.KINDS) - 2, dict(builder.done)
    assert builder.done.total() > 2 * builder.refused.total() > 0


# == 2. A KeyboardInterrupt at any line of a command ========================================


@dataclasses.dataclass
class Scenario:
    """A small practice: a base ledger, two of its ancestors, a sibling branch and a child."""

    early: pl.Ledger
    mid: pl.Ledger
    base: pl.Ledger
    sibling: pl.Ledger
    child: pl.Ledger
    late: pl.Ledger  # three commands after ``mid``, on the way to the base
    early_text: str  # the journal of ``early``
    more: str  # the journal lines that take ``mid`` to ``late``
    mid_head: str  # the hash of ``mid``'s last line

    def kept(self) -> list[tuple[str, pl.Ledger]]:
        """Every ledger made before the interrupted command."""
        return [
            ("an early ancestor", self.early),
            ("an ancestor", self.mid),
            ("the base ledger", self.base),
            ("a child of the base", self.child),
            ("a sibling branch", self.sibling),
        ]


def scenario() -> Scenario:
    """A new history (a new lineage for an engine that shares tables within one)."""
    ledger = pl.Ledger.empty("USD")
    ledger = pl.add_appointment(ledger, pl.Appointment("A1", "P1", D(2025, 1, 5)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd(10_000)))
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY1", "P1", usd(6_000), D(2025, 1, 5), appointment_id="A1")
    )
    early = ledger
    ledger = pl.add_appointment(ledger, pl.Appointment("A2", "P1", D(2025, 1, 20)))
    ledger = pl.add_charge(ledger, pl.Charge("C2", "A2", usd(8_000)))
    ledger = pl.post_payment(ledger, pl.Payment("PAY2", "P1", usd(20_000), D(2025, 1, 21)))
    ledger = pl.add_appointment(ledger, pl.Appointment("A3", "P1", D(2025, 2, 1)))
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY3", "P1", usd(3_000), D(2025, 2, 1), appointment_id="A3")
    )
    mid = ledger
    ledger = pl.refund(
        ledger,
        pl.Payment("R1", "P1", usd(-5_000), D(2025, 2, 2), type=pl.PaymentType.REFUND),
    )
    ledger = pl.add_appointment(ledger, pl.Appointment("A4", "P2", D(2025, 1, 10)))
    ledger = pl.add_charge(ledger, pl.Charge("C4", "A4", usd(4_500)))
    late = ledger
    ledger = pl.post_payment(ledger, pl.Payment("PAY4", "P2", usd(2_500), D(2025, 1, 11)))
    ledger = pl.post_payment(  # beyond A1's balance due: 30.00 held in A1's bucket
        ledger, pl.Payment("PAY5", "P1", usd(7_000), D(2025, 2, 3), appointment_id="A1")
    )
    ledger = pl.post_payment(  # received before PAY3: first in A3's bucket
        ledger, pl.Payment("PAY6", "P1", usd(1_500), D(2025, 1, 25), appointment_id="A3")
    )
    ledger = pl.add_appointment(ledger, pl.Appointment("A5", "P1", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C5", "A5", usd(2_500)))
    ledger = pl.apply_unallocated(ledger, "P1", "A2", usd(3_000), on=D(2025, 2, 4))
    base = ledger
    sibling = pl.post_payment(
        mid, pl.Payment("PAYS", "P1", usd(1_100), D(2025, 2, 5), appointment_id="A2")
    )
    sibling = pl.add_charge(sibling, pl.Charge("CS", "A3", usd(500)))
    child = pl.post_payment(base, pl.Payment("PAYC", "P2", usd(900), D(2025, 2, 6)))
    lines = journal.dumps(base).splitlines(keepends=True)
    early_text = "".join(lines[: len(early.events)])
    more = "".join(lines[len(mid.events) : len(late.events)])
    mid_head = journal.head("".join(lines[: len(mid.events)]))
    return Scenario(early, mid, base, sibling, child, late, early_text, more, mid_head)


ON = D(2025, 3, 1)

#: Each runs one command on the scenario's base (every one changes something), or a load.
INTERRUPTED: dict[str, Callable[[Scenario], pl.Ledger]] = {
    "post_payment to an appointment with charges": lambda s: pl.post_payment(
        s.base, pl.Payment("PX1", "P1", usd(7_000), D(2025, 2, 10), appointment_id="A2")
    ),
    "post_payment unallocated": lambda s: pl.post_payment(
        s.base, pl.Payment("PX2", "P1", usd(1_500), D(2025, 1, 30))
    ),
    "add_charge that auto-applies held money": lambda s: pl.add_charge(
        s.base, pl.Charge("CX", "A3", usd(4_000))
    ),
    "refund": lambda s: pl.refund(
        s.base,
        pl.Payment("RX", "P1", usd(-4_000), D(2025, 2, 10), type=pl.PaymentType.REFUND),
    ),
    "cancel_offsetting": lambda s: pl.cancel_offsetting(s.base, "P1", on=ON),
    "unapply": lambda s: pl.unapply(s.base, "A1", on=ON),
    "release_credit": lambda s: pl.release_credit(s.base, "A3", usd(2_000), on=ON),
    "adjust_charge": lambda s: pl.adjust_charge(
        s.base, pl.Adjustment("ADJ", "C1", usd(-2_000), ON, pl.AdjustmentType.CONTRACTUAL)
    ),
    "reverse_payment": lambda s: pl.reverse_payment(s.base, "PAY1", on=ON, reason="bounced"),
    "transfer_credit": lambda s: pl.transfer_credit(
        s.base, pl.Transfer("TX", "P1", "P3", usd(2_500), ON)
    ),
    "auto_allocate": lambda s: pl.auto_allocate(s.base, "P1", on=ON),
    "apply_unallocated": lambda s: pl.apply_unallocated(s.base, "P1", "A2", on=ON),
    "replay": lambda s: pl.replay(s.late.events),
    # (Short journals: every line of a load runs dozens of the library's lines.)
    "journal.loads": lambda s: journal.loads(s.early_text),
    "journal.extend": lambda s: journal.extend(s.mid, s.more, prev=s.mid_head),
}
#: The loads, and the ledger each rebuilds.
LOADS: dict[str, Callable[[Scenario], pl.Ledger]] = {
    "replay": lambda s: s.late,
    "journal.loads": lambda s: s.early,
    "journal.extend": lambda s: s.late,
}
#: The scenario's ledger each command is given, when it is not the base.
GIVEN = {"journal.extend": "an ancestor"}
MOST_LINES = 20_000  # no command of these small ledgers runs more: one that does is stuck
#: Which ledger is read right before each attempt: the command then starts from its own
#: ledger, or from another branch (for an engine that keeps one current ledger, the command
#: first goes back from the sibling branch to the base — the same code for every command, so
#: a few commands cover it; from the base it only writes its own changes).
BASE, SIBLING = "the base ledger", "a sibling branch"
FROM_A_SIBLING = {
    "post_payment to an appointment with charges",
    "reverse_payment",
    "journal.extend",
}


def _read_last(name: str) -> tuple[str, ...]:
    if name in {"replay", "journal.loads"}:  # they read no ledger of the scenario: one case
        return (SIBLING,)
    return (BASE, SIBLING) if name in FROM_A_SIBLING else (BASE,)


CASES = [
    pytest.param(name, last, id=f"{name}, {last} read last")
    for name in INTERRUPTED
    for last in _read_last(name)
]


class Trap:
    """A tracer that raises KeyboardInterrupt at the k-th line run by the library's own code."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.lines = 0
        self.where = ""
        self.raised: BaseException | None = None  # what came out of the interrupted call

    def run(self, call: Callable[[], pl.Ledger]) -> pl.Ledger | None:
        """``call()``, or None when it raised after this trap fired (``where`` tells whether it
        did; a real Ctrl-C is raised on)."""
        previous = sys.gettrace()
        sys.settrace(self.on_call)
        try:
            return call()
        except BaseException as error:
            if not self.where:
                raise
            self.raised = error
            return None
        finally:
            sys.settrace(previous)

    def on_call(self, frame: FrameType, event: str, arg: object) -> Any:
        """The global tracer: trace the lines of frames running the library's code only."""
        if frame.f_code.co_filename.startswith(PACKAGE_DIR):
            frame.f_trace_lines = True
            return self.on_line
        return None

    def on_line(self, frame: FrameType, event: str, arg: object) -> Any:
        """The local tracer: raising here raises in the traced frame, at this line (and turns
        tracing off, so the library's handlers run untraced)."""
        if event == "line":
            self.lines += 1
            if self.lines == self.k:
                code = frame.f_code
                where = os.path.relpath(code.co_filename, PACKAGE_DIR)
                self.where = f"{where}:{frame.f_lineno} in {code.co_name}()"
                raise KeyboardInterrupt
        return self.on_line


def check_kept(
    kept: list[tuple[str, pl.Ledger, Snapshot]], where: str, *, every_replay: bool = True
) -> None:
    """Each ledger reads as recorded, equals its replay and keeps the invariants (the views of
    the replays: of the base's only, unless ``every_replay``)."""
    for name, ledger, recorded in kept:
        replay_views = every_replay or name == BASE
        expect_reads_as(ledger, recorded, f"{where}: {name}", replay_views=replay_views)
        violations = check_invariants(ledger)
        assert violations == (), f"{where}: {name} breaks invariants: {violations}"


@pytest.fixture
def collector_restored() -> Any:
    """An interrupted library call may leave the cyclic collector off: turn it back as it was,
    so that no other test runs with it off (and the collector test starts from a known state)."""
    enabled = gc.isenabled()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        else:
            gc.disable()


@pytest.mark.usefixtures("collector_restored")
@pytest.mark.parametrize(("name", "last"), CASES)
def test_a_keyboard_interrupt_at_any_line_changes_no_ledger(name: str, last: str) -> None:
    run = INTERRUPTED[name]
    reference = run(scenario())  # computed before anything is interrupted, on its own history
    expected = snapshot(reference)
    s = scenario()
    if name in LOADS:
        assert reference == LOADS[name](s)
    else:
        assert reference != s.base, "the command should change something"
    kept = [(what, ledger, snapshot(ledger)) for what, ledger in s.kept()]
    # After an interrupt the ledger the command was given is read first (whatever the command
    # left behind for it shows there before anything else is read), the others after it.
    given = GIVEN.get(name, BASE)
    kept.sort(key=lambda item: item[0] != given)
    read_last = next(item for item in kept if item[0] == last)
    check_kept(kept, "before any interrupt")
    expect_reads_as(*read_last[1:], f"before any interrupt: {last}")

    k = 0
    while True:
        k += 1
        assert k < MOST_LINES, f"{name} never runs to its end"
        trap = Trap(k)
        result = trap.run(lambda: run(s))
        if not trap.where:  # it ran to its end: attempts 1..k-1 were stopped at every line
            break
        where = f"{name} interrupted at {trap.where} (its line {k})"
        check_kept(kept, where, every_replay=False)  # (the views of every replay: 25% slower)
        assert result is None, f"{where}: the KeyboardInterrupt was swallowed"
        assert isinstance(trap.raised, KeyboardInterrupt), (
            f"{where}: the KeyboardInterrupt came out as {trap.raised!r}"
        )
        try:
            again = run(s)
        except Exception as error:
            raise AssertionError(f"{where}: running it again raised {error!r}") from error
        assert again == reference, f"{where}: running it again made a different journal"
        expect_snapshot(snapshot(again), expected, f"{where}: running it again")
        violations = check_invariants(again)
        assert violations == (), f"{where}: running it again breaks invariants: {violations}"
        expect_reads_as(*read_last[1:], f"{where}, then run again: {last}")
    assert k > 20, f"only {k - 1} lines of the library ran: is the tracer working?"
    assert result == reference
    expect_snapshot(snapshot(result), expected, f"{name}, run to its end")
    check_kept(kept, f"{name}, after it ran to its end")


@pytest.mark.usefixtures("collector_restored")
@pytest.mark.parametrize("name", list(LOADS))
def test_an_interrupted_load_leaves_the_garbage_collector_as_it_was(name: str) -> None:
    """A library call changes nothing process-wide (STYLE.md), even when it is interrupted
    (a load that pauses the cyclic collector must turn it back on, whatever line it stopped)."""
    run = INTERRUPTED[name]
    s = scenario()
    gc.enable()  # (the fixture puts it back as it was)
    for k in range(1, MOST_LINES):
        trap = Trap(k)
        try:
            trap.run(lambda: run(s))
        except Exception as error:  # not interrupted this time: it failed on its own
            raise AssertionError(
                f"{name} (run after {k - 1} interrupts) raised {error!r}"
            ) from error
        if not trap.where:
            break
        assert gc.isenabled(), f"{name} interrupted at {trap.where} left the collector off"
    assert 20 < k < MOST_LINES - 1


# == 3. A caller changing the Money it was given or handed ==================================


def _moneys(value: object) -> list[Money]:
    """Every Money inside a view's result."""
    if isinstance(value, Money):
        return [value]
    if isinstance(value, tuple):
        return [m for item in value for m in _moneys(item)]
    if attrs.has(type(value)):
        return [m for a in attrs.fields(type(value)) for m in _moneys(getattr(value, a.name))]
    return []


def _change(money: Money) -> bool:
    """Try to change a Money in place; False when it refuses (a read-only Money)."""
    try:
        money.amount = Decimal(999)  # type: ignore[misc]
    except (AttributeError, TypeError):
        return False
    return True


def test_changing_a_money_a_view_returned_changes_nothing() -> None:
    ledger = scenario().base
    recorded = snapshot(ledger)
    text = journal.dumps(ledger)
    paid = cents(pl.dashboard(ledger, "P1").total_paid)
    due = [cents(row.balance_due) for row in pl.claims_feed(ledger, "P1")]
    shown = fingerprint(ledger)  # a second set of results, to be defaced
    moneys = _moneys(shown)
    assert len(moneys) > 40, "the views should show many amounts"
    zero = pl.dashboard(ledger, "P2").allocated
    assert cents(zero) == 0
    changed = [_change(money) for money in [*moneys, zero]]  # a read-only Money refuses
    what = f"after the caller changed {sum(changed)} of the {len(changed)} amounts it was shown"
    assert cents(pl.dashboard(ledger, "P1").total_paid) == paid, f"{what}: total paid"
    assert [cents(r.balance_due) for r in pl.claims_feed(ledger, "P1")] == due, f"{what}: due"
    assert pl.dashboard(ledger, "P2").allocated.amount == Decimal("0.00"), f"{what}: a zero"
    expect_snapshot(snapshot(ledger), recorded, what)
    assert journal.dumps(ledger) == text, f"{what}: the journal changed"
    expect_reads_as(ledger, recorded, what)
    more = pl.post_payment(ledger, pl.Payment("PX", "P1", usd(100), D(2025, 3, 1)))
    assert cents(pl.dashboard(more, "P1").total_paid) == paid + 100, f"{what}: a new ledger"


def test_changing_a_money_the_caller_submitted_changes_nothing() -> None:
    """The values keep what they were given: a Money changed after a command, or one read back
    from the journal and changed, leaves every ledger (and its journal text) as it was."""
    base = scenario().base
    amounts = [usd(4_000), usd(-1_000), usd(2_500), usd(500), usd(300)]
    ledger = pl.post_payment(
        base, pl.Payment("PX", "P1", amounts[0], D(2025, 3, 1), appointment_id="A2")
    )
    ledger = pl.refund(
        ledger,
        pl.Payment("RX", "P2", amounts[1], D(2025, 3, 1), type=pl.PaymentType.REFUND),
    )
    ledger = pl.add_charge(ledger, pl.Charge("CX", "A3", amounts[2]))
    ledger = pl.adjust_charge(ledger, pl.Adjustment("ADJ", "CX", amounts[3], D(2025, 3, 2)))
    ledger = pl.transfer_credit(ledger, pl.Transfer("TX", "P1", "P3", amounts[4], D(2025, 3, 3)))
    recorded = snapshot(ledger)
    text = journal.dumps(ledger)
    changed = [_change(money) for money in amounts]
    for event in ledger.events:  # the journal's own amounts, if any can be changed
        for field in ("payment", "charge", "adjustment", "transfer"):
            value = getattr(event, field, None)
            if value is not None:
                changed.append(_change(value.amount))
    what = f"after the caller changed {sum(changed)} of {len(changed)} amounts it submitted"
    assert journal.dumps(ledger) == text, f"{what}: the journal changed"
    expect_reads_as(ledger, recorded, what)
    assert journal.loads(text) == ledger
