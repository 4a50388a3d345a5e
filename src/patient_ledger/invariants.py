"""Invariants of SPEC §6, checked from outside the commands: for the command line's ``verify``,
for the stores and for tests (``patient_ledger.testing`` re-exports them).

:func:`check_invariants` reads a ledger through its public views and its journal, and — as the
core's own check — the engine's records (invariant 8), which no shell reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
from moneyed import Money

from patient_ledger import _sorted
from patient_ledger.apply import replay
from patient_ledger.errors import LedgerError
from patient_ledger.events import (
    EVENT_TYPES,
    AllocationUnapplied,
    AppointmentAdded,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    Event,
    PaymentPosted,
    PaymentReversed,
    PlanPaymentPosted,
    RefundPosted,
)
from patient_ledger.money import to_minor
from patient_ledger.state import (
    AVAILABLE,
    NEGATIVE,
    OPEN,
    PLAN_AMOUNT,
    PLAN_COUNTING,
    PLAN_PAID,
    REMAINING,
    Ledger,
    State,
    lines_of,
    owing_of,
    plan_active,
    plan_installments,
    state_of,
)
from patient_ledger.views import (
    claims_feed,
    dashboard,
    line_items,
    patients,
    unallocated_entries,
)


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


class _Owners(dict[str, str]):
    """Ids the events seen so far map; the rest looked up in the state (journals checked from
    a snapshot on), or a KeyError."""

    def __init__(self, lookup: Callable[[str], str] | None) -> None:
        super().__init__()
        self.lookup = lookup

    def __missing__(self, key: str) -> str:
        if self.lookup is None:
            raise KeyError(key)
        return self.lookup(key)


def _journal_paid(
    events: Iterable[Event], state: State | None = None
) -> tuple[dict[str, int], int]:
    """Total Paid per patient and in all, re-derived from the journal's ``events`` (with
    ``state``: events that continue a journal, whose earlier ids the state knows)."""
    paid: dict[str, int] = defaultdict(int)
    s = state
    owner_of_entry = _Owners(None if s is None else lambda key: s.entries[key][0])
    owner_of_appointment = _Owners(None if s is None else lambda key: s.accounts[key][0])
    appointment_of_charge = _Owners(
        None if s is None else lambda key: s.charges[key].appointment_id
    )
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
                if entry_id is not None:
                    owner_of_entry[entry_id] = p.patient_id
            case PlanPaymentPosted(payment=p, entry_id=entry_id):
                paid[p.patient_id] += p.minor_units
                total += p.minor_units
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
            case PaymentReversed():
                for appointment_id, amount in event.allocations:
                    paid[owner_of_appointment[appointment_id]] -= amount
                    total -= amount
                for entry_id, amount in event.entries:
                    paid[owner_of_entry[entry_id]] -= amount
                    total -= amount
            case _:
                pass
    return paid, total


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
    # Ledgers are equal when their journals are: invariant 7 compares what replaying the
    # journal builds with what the ledger holds, table by table.
    state, again = state_of(ledger), state_of(replay(ledger.events))
    differ = state.differing(again)
    checker.check(
        not differ,
        7,
        None,
        f"the ledger's {', '.join(differ)} differ from what replaying its journal builds",
    )
    checker.found.extend(_check_records(state))
    return tuple(checker.found)


def check_loaded(ledger: Ledger, *, since: Ledger | None = None) -> tuple[Violation, ...]:
    """Check SPEC §6 on a ledger just rebuilt from a journal, from its rows: what every path
    that loads a journal runs (:mod:`patient_ledger.persist.journal`, the stores).

    The same invariants as :func:`check_invariants` — Total Paid against the journal
    (invariant 0), invariants 1 to 5 for every patient and appointment, the engine's records
    (invariant 8) — read from the rows rather than through the views, in a fraction of the
    time. Invariant 7 holds by construction (the ledger *is* its journal's replay) and
    invariant 6 by the rows' types (integer minor units of the ledger's currency).

    With ``since`` — a ledger the journal continues (a store's snapshot) — only what the events
    after it did is checked: each patient's Total Paid changed by what those events received,
    invariants 1 to 5 on every patient and appointment they changed, and no zero amounts moved.
    The engine's other records (which entries and allocations each payment's money is in) are
    checked whole only without ``since``: a store's ``verify`` does that.
    """
    state = state_of(ledger)
    before = None if since is None else state_of(since)
    events = state.log if before is None else state.log[len(before.log) :]
    journal_paid, journal_total = _journal_paid(events, state)
    found: list[Violation] = []
    total_paid = 0
    for pid, row in state.patients.items():
        _, _, general, paid, _, allocated, held, *_ = row
        earlier = None if before is None else before.patients.get(pid)
        if earlier is row:
            continue  # untouched since ``since``
        received = paid - (0 if earlier is None else earlier[3])
        total_paid += received
        unallocated = general + held
        if paid != allocated + unallocated:
            found.append(
                Violation(1, pid, f"total paid {paid} != allocated {allocated} + {unallocated}")
            )
        if received != journal_paid.get(pid, 0):
            found.append(
                Violation(0, pid, f"total paid {paid} != {journal_paid.get(pid, 0)} received")
            )
        if general < 0:
            found.append(Violation(4, pid, f"general bucket below zero: {general}"))
    if total_paid != journal_total:
        found.append(
            Violation(0, None, f"total paid {total_paid} != {journal_total} in the journal")
        )
    for appointment_id, account in state.accounts.items():
        if before is not None and before.accounts.get(appointment_id) is account:
            continue
        pid, charged, allocated, available = account[0], account[2], account[3], account[AVAILABLE]
        where = f"appointment {appointment_id}"
        if not 0 <= allocated <= charged:
            found.append(Violation(3, pid, f"{where}: {allocated} allocated of {charged}"))
        if available < 0:
            found.append(Violation(4, pid, f"{where}: its bucket is below zero: {available}"))
        if available and allocated != charged:
            found.append(Violation(5, pid, f"{where}: money held while a balance is due"))
    if before is None:
        found.extend(_check_records(state))
    else:  # the records of what the events did: no event moves a zero amount
        found.extend(_zero_moves(events, len(before.log)))
        found.extend(_check_plans(state, before))
    return tuple(found)


def _check_plans(state: State, before: State | None = None) -> Iterator[Violation]:
    """SPEC §11's invariants, for every plan (with ``before``: every plan changed since):
    0 ≤ paid ≤ amount, and the installments not skipped add up to the amount. And the
    engine's records of plans agree: ``paid`` is what its payments count, the payments that
    count are those counting more than zero, and the set of active plans is what the rows say.
    """
    counted: dict[str, int] = defaultdict(int)
    counting: dict[str, set[tuple[Any, str]]] = defaultdict(set)
    if before is None or state.counted is not before.counted:
        for payment_id, (plan_id, amount) in state.counted.items():
            counted[plan_id] += amount
            if amount:
                received_on = state.payments[payment_id][0].received_on
                counting[plan_id].add((received_on, payment_id))
    for plan_id, row in state.plans.items():
        if before is not None and before.plans.get(plan_id) is row:
            continue
        pid, amount, paid = row[0], row[PLAN_AMOUNT], row[PLAN_PAID]
        where = f"payment plan {plan_id}"
        if not 0 <= paid <= amount:
            yield Violation(9, pid, f"{where}: paid {paid} is not between 0 and {amount}")
        schedule = plan_installments(row)
        covering = sum(i.amount for i in schedule if not i.skipped)
        if covering != amount:
            yield Violation(9, pid, f"{where}: its installments add up to {covering}, not {amount}")
        if (before is None or state.counted is not before.counted) and (
            counted[plan_id] != paid
            or counting[plan_id] != set(_sorted.iterate(row[PLAN_COUNTING]))
        ):
            yield Violation(8, pid, f"{where}: its payments count {counted[plan_id]}")
        if (plan_id in state.active) != plan_active(row):
            yield Violation(8, pid, f"{where}: the set of active plans disagrees with it")
    if len(state.active) != sum(map(plan_active, state.plans.values())):
        yield Violation(8, None, "the set of active plans holds plans that are not")


def _check_records(state: State) -> list[Violation]:
    """Invariant 8 (beyond SPEC): the engine's own records agree with one another.

    Every payment's money is accounted for — allocated, held in open entries, or closed by
    ``cancel_offsetting`` — and is zero once reversed; each appointment's allocations add up to
    what is allocated to it, as each payment's placements say; each bucket's available amount is
    the sum of exactly its open entries, oldest first; each patient's running sums and indexes
    (appointments, appointments owing, open negative entries) and each appointment's lines with a
    balance due are what its rows say. Rows are
    read as the tuples they are (state.py): this runs on every journal loaded.
    """
    found: list[Violation] = []
    accounted: dict[str, int] = defaultdict(int)
    placed: dict[tuple[str, str], int] = defaultdict(int)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    appointments: dict[str, set[tuple[Any, str]]] = defaultdict(set)
    owing: dict[str, set[tuple[Any, str]]] = defaultdict(set)
    for appointment_id, account in state.accounts.items():
        pid, day, charged, allocated, allocations, _, _, available, _, chunks, lines_owing, _ = (
            account
        )
        where = f"appointment {appointment_id}"
        parts = list(_sorted.iterate(allocations))
        if sum(part for _, _, part, _ in parts) != allocated or allocated > charged:
            found.append(Violation(8, pid, f"{where}: allocations do not add up"))
        on_line: dict[str, int] = defaultdict(int)
        for _, payment_id, part, charge_id in parts:
            accounted[payment_id] += part
            placed[payment_id, appointment_id] += part
            on_line[charge_id] += part
            if part <= 0:
                found.append(Violation(8, pid, f"{where}: a non-positive allocation {part}"))
        lines = lines_of(account)
        if (
            any(on_line[c] != allocated for c, _, allocated in lines)
            or any(state.charge_amount(c) != responsibility for c, responsibility, _ in lines)
            or sum(responsibility for _, responsibility, _ in lines) != charged
            or set(on_line) - {c for c, _, _ in lines}
            or list(_sorted.iterate(lines_owing)) != list(_sorted.iterate(owing_of(chunks)))
        ):
            found.append(Violation(8, pid, f"{where}: its lines disagree with its allocations"))
        for charge_id, responsibility, on_it in lines:  # invariant 3, line by line (SPEC §10)
            if not 0 <= on_it <= responsibility:
                found.append(
                    Violation(3, pid, f"line {charge_id} of {where}: {on_it} of {responsibility}")
                )
        totals = sums[pid]
        totals[0] += charged
        totals[1] += allocated
        totals[2] += available
        appointments[pid].add((day, appointment_id))
        if charged != allocated:
            owing[pid].add((day, appointment_id))
    held: dict[str, set[str]] = defaultdict(set)
    for payment_id, (_, placements, held_ids, _) in state.payments.items():
        for appointment_id, _, part, *_ in _sorted.iterate(placements):
            placed[payment_id, appointment_id] -= part
        if _sorted.size(held_ids):
            held[payment_id] = set(_sorted.iterate(held_ids))
    if any(placed.values()):
        found.append(Violation(8, None, "payments' placements disagree with the allocations"))
    buckets: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    open_ids: dict[str, set[str]] = defaultdict(set)
    for entry_id, (
        owner,
        bucket,
        payment_id,
        received_on,
        seq,
        remaining,
        cancelled,
    ) in state.entries.items():
        accounted[payment_id] += remaining + cancelled
        if remaining:
            buckets[owner, bucket].append((received_on, seq, entry_id))
            open_ids[payment_id].add(entry_id)
    if held != open_ids:
        found.append(Violation(8, None, "payments' open entries disagree with the entries"))
    for pid in state.patients:
        found.extend(_check_patient(state, pid, buckets, sums[pid]))
        row = state.patients[pid]
        if (
            set(_sorted.iterate(row[0])) != appointments[pid]
            or set(_sorted.iterate(row[8])) != owing[pid]
        ):
            found.append(Violation(8, pid, "appointments or those owing disagree"))
    found.extend(_check_accounted(state, accounted))
    found.extend(_check_plans(state))
    return found


def _check_accounted(state: State, accounted: dict[str, int]) -> Iterator[Violation]:
    """Every payment's money is where its records say, and no event moves zero."""
    for payment_id, (known, *_) in state.payments.items():
        expected = known.minor_units - state.reversed.get(payment_id, (None, 0))[1]
        if accounted.get(payment_id, 0) != expected:
            yield Violation(
                8,
                known.patient_id,
                f"payment {payment_id}: {accounted.get(payment_id, 0)} accounted for, "
                f"{expected} expected (money created or lost)",
            )
    yield from _zero_moves(state.log, 0)


def _zero_moves(events: Iterable[Event], start: int) -> Iterator[Violation]:
    """An event that moves a zero amount (``start``: the number of the first)."""
    for number, event in enumerate(events, start):
        if type(event) in _MOVES and any(amount == 0 for amount in _amounts(event)):
            yield Violation(8, None, f"event {number} moves a zero amount: {event!r}")


def _check_patient(
    state: State, pid: str, buckets: dict[tuple[str, str | None], list[Any]], sums: list[int]
) -> list[Violation]:
    """One patient's buckets, open and negative entries and running sums."""
    found = []
    row = state.patients[pid]
    entries = state.entries
    pairs = [(None, row[1], row[2], None)] + [
        (a, state.accounts[a][OPEN], state.accounts[a][AVAILABLE], state.accounts[a][NEGATIVE])
        for _, a in _sorted.iterate(row[0])
    ]
    every: list[Any] = []
    for appointment_id, keys_open, available, keys_negative in pairs:
        keys = sorted(buckets.get((pid, appointment_id), ()))
        every.extend(keys)
        total = sum(entries[k[2]][REMAINING] for k in keys)
        positive = [k for k in keys if entries[k[2]][REMAINING] > 0]
        negative = [k for k in keys if entries[k[2]][REMAINING] < 0]
        if (
            list(_sorted.iterate(keys_open)) != positive
            or available != total
            or (keys_negative is not None and list(_sorted.iterate(keys_negative)) != negative)
        ):
            name = appointment_id or "general"
            found.append(Violation(8, pid, f"bucket {name}: open entries or sum disagree"))
    negatives = [k for k in sorted(every) if entries[k[2]][REMAINING] < 0]
    if list(_sorted.iterate(row[7])) != negatives:
        found.append(Violation(8, pid, "the patient's open negative entries disagree"))
    if [row[4], row[5], row[6]] != sums:
        found.append(Violation(8, pid, "the patient's running sums disagree with its rows"))
    return found


#: The names of the tuples of parts an event may hold; in each part, the one int is the amount
#: (the other items are ids).
_PARTS = ("applied", "returned", "moves", "parts", "allocations", "entries", "placed")
#: The kinds of event that hold parts.
_MOVES = frozenset(
    kind for kind in EVENT_TYPES if any(name in attrs.fields_dict(kind) for name in _PARTS)
)


def _amounts(event: Event) -> list[int]:
    """The amounts an event moves between entries and allocations."""
    return [
        next(item for item in part if isinstance(item, int))
        for name in _PARTS
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
            self._lines(ledger, pid, r.appointment_id, (r_resp, r_paid, r_due))
        return sum_paid, sum_resp

    def _lines(
        self, ledger: Ledger, pid: str, appointment_id: str, row: tuple[int, int, int]
    ) -> None:
        """Invariant 3 per line (SPEC §10): 0 ≤ a line's paid ≤ its responsibility, and an
        appointment's row is the sum of its lines."""
        totals = [0, 0, 0]
        for line in line_items(ledger, appointment_id):
            where = f"line {line.charge_id} of appointment {appointment_id}"
            figures = [
                self.minor(getattr(line, name), f"{where} {name}", pid)
                for name in ("responsibility", "paid", "balance_due")
            ]
            resp, paid, due = figures
            self.check(0 <= paid <= resp, 3, pid, f"{where}: paid {paid} of {resp}")
            self.check(due == resp - paid, 3, pid, f"{where}: due {due} != {resp} - {paid}")
            totals = [t + f for t, f in zip(totals, figures, strict=True)]
        self.check(
            tuple(totals) == row, 3, pid, f"appointment {appointment_id}: its lines sum to {totals}"
        )


def assert_invariants(ledger: Ledger) -> None:
    """Raise :class:`InvariantError` (an ``AssertionError``) listing every broken invariant."""
    violations = check_invariants(ledger)
    if violations:
        raise InvariantError(violations)
