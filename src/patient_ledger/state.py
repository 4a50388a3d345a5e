"""The immutable ledger: persistent maps of plain-tuple rows, never written once made.

A ledger's :class:`State` holds its tables as ``immutables.Map`` (hash array mapped tries, as
Clojure's maps): a command builds the next state by *setting* a few rows, which copies only the
short path to each row and shares everything else with the state it started from. Nothing a
ledger can reach is ever written again, so every ledger is a value by construction — any of them
can be read or extended at any time, from any thread, at the same cost, and an exception or an
interrupt at any point leaves every existing ledger as it was (the half-built state is simply
dropped). An old ledger costs only the rows that differ from its successors'.

Within a patient, everything that grows with the patient — its appointments, its buckets' open
entries, an appointment's allocations — is a persistent sorted set (:mod:`patient_ledger._sorted`),
and the figures the dashboard shows are kept as running sums, so a patient with 100,000 payments
costs per command what a small one does. All amounts here are integer minor units.

Rows are plain tuples of strs, ints, dates and tuples of them (see "Rows" below): CPython's cyclic
collector stops tracking such tuples, so they cost its full collections next to nothing. The
``NamedTuple`` records (:class:`Entry`, :class:`AppointmentState`, :class:`PatientState`) are
views built by :class:`State`'s methods for code that reads by name.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import immutables

from patient_ledger import _sorted
from patient_ledger._log import EventLog
from patient_ledger._stored import (
    StoredAdjustment,
    StoredAppointment,
    StoredCharge,
    StoredPayment,
    StoredTransfer,
    value_of,
)
from patient_ledger.errors import InvalidInputError
from patient_ledger.events import LedgerOpened
from patient_ledger.money import currency_code
from patient_ledger.values import (
    Adjustment,
    Appointment,
    Charge,
    Payment,
    Transfer,
    add_months,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from patient_ledger.events import Event

#: The one "oldest first" order of open entries: received date, then order of posting.
EntryKey = tuple[datetime.date, int, str]
#: The one order of a patient's appointments: by date, then id.
AppointmentKey = tuple[datetime.date, str]
#: An allocation, in order of placement: its number on the appointment, payment, amount, and
#: the line (charge) it pays.
AllocationKey = tuple[int, str, int, str]
#: A line item of an appointment: charge_id, responsibility (charge plus adjustments), allocated.
Line = tuple[str, int, int]

Map = immutables.Map


class Entry(NamedTuple):
    """One row of the unallocated payments table: a signed amount in one bucket.

    ``remaining`` is what is still open (0 once used, moved or cancelled); ``cancelled`` is what
    ``cancel_offsetting`` closed of it (money that has left, so its payment cannot be reversed).
    The ``entries`` table holds it as an :data:`EntryRow`; :meth:`State.entry` reads it.
    """

    id: str
    patient_id: str
    appointment_id: str | None
    payment_id: str
    received_on: datetime.date
    seq: int
    remaining: int
    cancelled: int = 0

    @property
    def key(self) -> EntryKey:
        """The sort key of "oldest first"."""
        return (self.received_on, self.seq, self.id)


class Bucket(NamedTuple):
    """One bucket: the keys of its open *positive* entries (a sorted set: what draws take,
    oldest first) and its available amount, the sum of all its open entries (an open refund's
    negative entry is in the patient's ``negatives``)."""

    open: _sorted.Keys = _sorted.EMPTY
    available: int = 0


class AppointmentState(NamedTuple):
    """An appointment with its charges total, what is allocated to it and its own bucket
    (read by :meth:`State.appointment` from its :data:`AccountRow`)."""

    appointment: Appointment | StoredAppointment
    charged: int = 0
    allocated: int = 0
    #: A sorted set of :data:`AllocationKey`: in order of application, newest last.
    allocations: _sorted.Keys = _sorted.EMPTY
    bucket: Bucket = Bucket()

    @property
    def due(self) -> int:
        """The balance due: charges minus allocations (never below zero)."""
        return self.charged - self.allocated


class PatientState(NamedTuple):
    """A patient (read by :meth:`State.patient` from its :data:`PatientRow`)."""

    #: A sorted set of :data:`AppointmentKey`.
    appointments: _sorted.Keys = _sorted.EMPTY
    general: Bucket = Bucket()
    paid: int = 0
    charged: int = 0
    allocated: int = 0
    #: The sum of the patient's appointment buckets' available amounts.
    held: int = 0
    #: The keys of the patient's open negative entries (refunds not yet cancelled).
    negatives: _sorted.Keys = _sorted.EMPTY
    #: The appointments with a balance due (:data:`AppointmentKey`).
    owing: _sorted.Keys = _sorted.EMPTY


# -- Rows: what the tables hold ---------------------------------------------------------------

#: An entry: patient_id, appointment_id, payment_id, received_on, seq, remaining, cancelled.
EntryRow = tuple[str, str | None, str, datetime.date, int, int, int]
#: Positions in an :data:`EntryRow`.
PATIENT: Final = 0
APPOINTMENT: Final = 1
REMAINING: Final = 5
#: An appointment's money: patient_id, date, charged, allocated, allocations (sorted set of
#: :data:`AllocationKey`), the next allocation number, its bucket's open positive keys,
#: available, its number in the order appointments were added (events list them in that
#: order), its :data:`Lines` in line order, the positions of its lines with a balance due
#: (a sorted set: money placed in line order finds them without walking the paid ones), and its
#: bucket's open negative entries (a sorted set of keys: a cancelled visit moves them without
#: walking the patient's others).
AccountRow = tuple[
    str,
    datetime.date,
    int,
    int,
    _sorted.Keys,
    int,
    _sorted.Keys,
    int,
    int,
    "Lines",
    _sorted.Keys,
    _sorted.Keys,
]
#: Positions in an :data:`AccountRow`.
OWNER: Final = 0
CHARGED: Final = 2
ALLOCATED: Final = 3
OPEN: Final = 6
AVAILABLE: Final = 7
ADDED: Final = 8
LINES: Final = 9
OWING: Final = 10
NEGATIVE: Final = 11
#: A patient: the fields of :class:`PatientState`, in order.
PatientRow = tuple[_sorted.Keys, _sorted.Keys, int, int, int, int, int, _sorted.Keys, _sorted.Keys]
#: Positions in a :data:`PatientRow`.
GENERAL_AVAILABLE: Final = 2
NEW_PATIENT: PatientRow = (
    _sorted.EMPTY,
    _sorted.EMPTY,
    0,
    0,
    0,
    0,
    0,
    _sorted.EMPTY,
    _sorted.EMPTY,
)
#: Where a payment's money is allocated: ``(appointment_id, allocation number, amount,
#: charge_id, order)`` — ``order`` counts the payment's placements, oldest first.
Placement = tuple[str, int, int, str, int]
#: A payment (or refund): the value, its placements (a sorted set: by appointment, then
#: allocation number), its open entries' ids (a sorted set) and how many placements it made.
PaymentRow = tuple[Payment | StoredPayment, _sorted.Keys, _sorted.Keys, int]


#: The most lines in one chunk of an appointment's lines: setting a line copies its chunk and
#: the tuple of chunks, never all the lines.
_CHUNK: Final = 64
#: An appointment's lines: a tuple of chunks, each holding up to :data:`_CHUNK` lines flat,
#: ``(charge_id, responsibility, allocated, charge_id, ...)`` (a line costs three slots, not a
#: tuple of its own).
Lines = tuple[tuple[Any, ...], ...]


def lines_of(account: AccountRow) -> list[Line]:
    """An appointment's lines, in line order."""
    return [chunk[i : i + 3] for chunk in account[LINES] for i in range(0, len(chunk), 3)]


def line_position(lines: Lines, charge_id: str) -> int:
    """Where the line of ``charge_id`` is among an appointment's ``lines`` (KeyError if none).
    Found at C speed: an id (a str) can only equal a line's first slot."""
    for n, chunk in enumerate(lines):
        if charge_id in chunk:
            return n * _CHUNK + chunk.index(charge_id) // 3
    raise KeyError(charge_id)


def line_at(lines: Lines, position: int) -> Line:
    """The line at ``position`` among an appointment's lines."""
    n, k = divmod(position, _CHUNK)
    line: Line = lines[n][3 * k : 3 * k + 3]
    return line


def line_of(account: AccountRow, charge_id: str) -> Line:
    """The line of ``charge_id`` among an appointment's lines (KeyError if none)."""
    lines = account[LINES]
    return line_at(lines, line_position(lines, charge_id))


def with_line(
    lines: Lines, owing: _sorted.Keys, position: int, responsibility: int, allocated: int
) -> tuple[Lines, _sorted.Keys]:
    """Lines and owing positions with the line at ``position`` set to ``responsibility`` and
    ``allocated`` (its chunk copied, the others shared; the owing set changed only when the
    line starts or stops having a balance due)."""
    n, k = divmod(position, _CHUNK)
    chunk = lines[n]
    i = 3 * k
    was_owing = chunk[i + 1] > chunk[i + 2]
    chunk = chunk[: i + 1] + (responsibility, allocated) + chunk[i + 3 :]
    lines = lines[:n] + (chunk,) + lines[n + 1 :]
    if was_owing != (responsibility > allocated):
        owing = _sorted.remove(owing, position) if was_owing else _sorted.add(owing, position)
    return lines, owing


def line_changed(
    lines: Lines, owing: _sorted.Keys, charge_id: str, responsibility: int, allocated: int
) -> tuple[Lines, _sorted.Keys]:
    """Lines and owing positions with the line of ``charge_id`` changed by these amounts
    (KeyError if there is no such line)."""
    position = line_position(lines, charge_id)
    _, was_responsible, was_allocated = line_at(lines, position)
    return with_line(
        lines, owing, position, was_responsible + responsibility, was_allocated + allocated
    )


def account_with_lines(
    account: AccountRow,
    lines: Lines,
    owing: _sorted.Keys,
    allocations: tuple[_sorted.Keys, int] | None = None,
) -> AccountRow:
    """An appointment's row with new lines and owing positions (and, when given, new
    allocations and next allocation number), every other slot as it was."""
    head = account[:4] + allocations + account[6:LINES] if allocations else account[:LINES]
    return (*head, lines, owing, *account[OWING + 1 :])  # type: ignore[return-value] # slots kept


def with_new_line(
    lines: Lines, owing: _sorted.Keys, charge_id: str, responsibility: int
) -> tuple[Lines, _sorted.Keys]:
    """Lines and owing positions with a new line, last in line order, nothing allocated."""
    line = (charge_id, responsibility, 0)
    if lines and len(lines[-1]) < 3 * _CHUNK:
        position = (len(lines) - 1) * _CHUNK + len(lines[-1]) // 3
        lines = lines[:-1] + (lines[-1] + line,)
    else:
        position = len(lines) * _CHUNK
        lines += (line,)
    return lines, _sorted.add(owing, position) if responsibility > 0 else owing


def place(
    lines: Lines, owing: _sorted.Keys, amount: int, first: str | None
) -> tuple[Lines, _sorted.Keys, list[tuple[str, int]], int]:
    """Place ``amount`` on an appointment's lines: the line ``first`` (when named), then the
    others with a balance due in line order, each up to its balance due (SPEC §10). Return the
    lines, the owing positions, the parts ``(charge_id, amount)`` in the order placed, and what
    is left of ``amount`` beyond the lines' balance due (commands never leave any). Only the
    lines that take money are visited."""
    parts = []
    order: Iterable[int] = _sorted.iterate(owing)
    if first is not None:
        order = chain((line_position(lines, first),), order)
    for position in order:
        if not amount:
            break
        charge_id, responsibility, allocated = line_at(lines, position)
        take = min(amount, responsibility - allocated)
        if take > 0:
            lines, owing = with_line(lines, owing, position, responsibility, allocated + take)
            parts.append((charge_id, take))
            amount -= take
    return lines, owing, parts, amount


def owing_of(lines: Lines) -> _sorted.Keys:
    """The positions of the lines with a balance due: what an account's owing set must be."""
    return _sorted.from_sorted(
        tuple(
            n * _CHUNK + i // 3
            for n, chunk in enumerate(lines)
            for i in range(0, len(chunk), 3)
            if chunk[i + 1] > chunk[i + 2]
        )
    )


#: A payment plan (SPEC §11): patient_id, the amount it was given (minor units, or None),
#: the amount it covers, its installments as agreed, first_due, created_on, appointment_ids,
#: the day it was cancelled (or None), paid (what counts), its skips — ``(number skipped,
#: amount)`` in the order skipped, each adding one installment at the end — and the payments
#: that count toward it (a sorted set of ``(received_on, payment_id)``).
PlanRow = tuple[
    str,
    int | None,
    int,
    int,
    datetime.date,
    datetime.date,
    tuple[str, ...],
    datetime.date | None,
    int,
    tuple[tuple[int, int], ...],
    _sorted.Keys,
]
#: Positions in a :data:`PlanRow`.
PLAN_AMOUNT: Final = 2
PLAN_APPOINTMENTS: Final = 6
PLAN_CANCELLED: Final = 7
PLAN_PAID: Final = 8
PLAN_SKIPS: Final = 9
PLAN_COUNTING: Final = 10


def plan_active(row: PlanRow) -> bool:
    """Whether a plan is ``ACTIVE``: not cancelled, something remaining."""
    return row[PLAN_CANCELLED] is None and row[PLAN_PAID] < row[PLAN_AMOUNT]


class Installment(NamedTuple):
    """An installment of a plan as the engine computes it (minor units)."""

    number: int
    due_on: datetime.date
    amount: int
    skipped: bool
    #: The part covered by what counts toward the plan.
    covered: int


def plan_installments(row: PlanRow) -> list[Installment]:
    """A plan's installments, by number (SPEC §11): installment *k* is due ``first_due`` plus
    *k* − 1 months; each is amount ÷ installments rounded down to the minor unit and the last
    takes the rest; each skip adds one of the skipped one's amount at the end. Installments not
    skipped are covered in order by ``paid``. O(the plan's installments)."""
    amount, count, first_due = row[PLAN_AMOUNT], row[3], row[4]
    skips = row[PLAN_SKIPS]
    base = amount // count
    amounts = [base] * (count - 1) + [amount - base * (count - 1)]
    amounts += [skipped_amount for _, skipped_amount in skips]
    skipped = {number for number, _ in skips}
    paid = row[PLAN_PAID]
    out = []
    for number, part in enumerate(amounts, 1):
        covered = 0
        if number not in skipped:
            covered = min(part, paid)
            paid -= covered
        out.append(
            Installment(number, add_months(first_due, number - 1), part, number in skipped, covered)
        )
    return out


def installment_of(row: PlanRow, number: int) -> tuple[int, bool, int] | None:
    """Installment ``number`` of a plan as ``(amount, skipped, covered)``, or None when the
    plan has no such installment: :func:`plan_installments`'s figures for one installment,
    without its dates."""
    amount, count, skips = row[PLAN_AMOUNT], row[3], row[PLAN_SKIPS]
    if not 1 <= number <= count + len(skips):
        return None
    base = amount // count
    last = amount - base * (count - 1)
    skipped = {n for n, _ in skips}
    before = 0  # what the installments before it, not skipped, add up to
    for n in range(1, number + 1):
        part = base if n < count else last if n == count else skips[n - count - 1][1]
        if n == number:
            covered = 0 if n in skipped else min(part, max(0, row[PLAN_PAID] - before))
            return part, n in skipped, covered
        if n not in skipped:
            before += part
    return None  # pragma: no cover - the loop returns at ``number``


def plan_figures(row: PlanRow, on: datetime.date) -> tuple[int, datetime.date | None, int, int]:
    """A plan's figures on ``on``, as :func:`plan_installments` gives them but without building
    its installments (what the plan report reads for every active plan): the first
    installment's amount, the due day and the uncovered part of the first installment neither
    paid nor skipped (``None`` and 0 when none), and what is not covered of the installments
    due before ``on``. O(the plan's installments) in plain int arithmetic, one date built."""
    amount, count, first_due = row[PLAN_AMOUNT], row[3], row[4]
    skips, paid = row[PLAN_SKIPS], row[PLAN_PAID]
    base = amount // count
    last = amount - base * (count - 1)
    total = count + len(skips)
    months = (on.year - first_due.year) * 12 + on.month - first_due.month
    due_before = 0  # how many installments fall due before ``on``
    if months >= 0:
        due_before = min(total, months + (add_months(first_due, months) < on))
    skipped = {number for number, _ in skips} if skips else ()
    covered_before = 0  # what the installments due before ``on`` (not skipped) add up to
    left = paid
    next_number, next_left = 0, 0
    for number in range(1, total + 1):
        if number in skipped:
            continue
        part = base if number < count else last if number == count else skips[number - count - 1][1]
        if number <= due_before:
            covered_before += part
        if not next_number:
            if left >= part:
                left -= part
            else:
                next_number, next_left = number, part - left
        elif number > due_before:
            break
    next_due = add_months(first_due, next_number - 1) if next_number else None
    return (base if count > 1 else last), next_due, next_left, max(0, covered_before - paid)


class State(NamedTuple):
    """Everything a ledger knows: its journal, counters and persistent tables keyed by id."""

    currency: str
    log: EventLog
    next_seq: int
    #: Each appointment's money (rows of plain data: the collector leaves them alone).
    accounts: Map[str, AccountRow]
    patients: Map[str, PatientRow]
    entries: Map[str, EntryRow]
    payments: Map[str, PaymentRow]
    #: Value objects — or, in a ledger opened from a snapshot, the records standing for them
    #: (:mod:`patient_ledger._stored`): read their fields, or ask :func:`value_of` for one.
    charges: Map[str, Charge | StoredCharge]
    appointments: Map[str, Appointment | StoredAppointment]
    #: A charge's patient responsibility after its adjustments (adjusted charges only).
    adjusted: Map[str, int]
    adjustments: Map[str, Adjustment | StoredAdjustment]
    transfers: Map[str, Transfer | StoredTransfer]
    #: The patients holding a payment's money, when it is not only its payer's (transfers).
    holders: Map[str, tuple[str, ...]]
    #: The payments reversals took money from: the last day, and how much in all.
    reversed: Map[str, tuple[datetime.date, int]]
    #: The cancelled appointments, with the day they were.
    cancelled: Map[str, datetime.date]
    #: Payment plans (SPEC §11), as :data:`PlanRow`.
    plans: Map[str, PlanRow]
    #: Each patient's plans: a sorted tuple of ``(created_on, plan_id)``.
    patient_plans: Map[str, tuple[tuple[datetime.date, str], ...]]
    #: The plans an appointment was put in (a plan no longer active frees it).
    planned: Map[str, tuple[str, ...]]
    #: Each payment naming a plan: ``(plan_id, what it counts toward it now)``.
    counted: Map[str, tuple[str, int]]
    #: The plans neither completed nor cancelled (a set: the values are ``True``).
    active: Map[str, bool]

    def placements(self, payment_id: str) -> list[Placement]:
        """A payment's placements, in the order placed (KeyError if unknown)."""
        return sorted(_sorted.iterate(self.payments[payment_id][1]), key=lambda p: p[4])

    def left_of(self, payment_id: str) -> int:
        """What is left of a payment: its allocations and its open entries (KeyError if
        unknown)."""
        _, placed, held, _ = self.payments[payment_id]
        allocated: int = sum(placement[2] for placement in _sorted.iterate(placed))
        return allocated + sum(
            self.entries[entry_id][REMAINING] for entry_id in _sorted.iterate(held)
        )

    def held_by(self, payment_id: str) -> list[str]:
        """The ids of a payment's open entries (KeyError if unknown)."""
        return list(_sorted.iterate(self.payments[payment_id][2]))

    def entry(self, entry_id: str) -> Entry:
        """The entry (KeyError if unknown)."""
        return Entry(entry_id, *self.entries[entry_id])

    def appointment(self, appointment_id: str) -> AppointmentState:
        """The appointment with its money (KeyError if unknown)."""
        _, _, charged, allocated, allocations, _, keys, available, *_ = self.accounts[
            appointment_id
        ]
        return AppointmentState(
            self.appointments[appointment_id],
            charged,
            allocated,
            allocations,
            Bucket(keys, available),
        )

    def appointment_ids(self, patient_id: str) -> Iterator[str]:
        """The patient's appointments by date, then id."""
        return (key[1] for key in _sorted.iterate(self.patients[patient_id][0]))

    def patient(self, patient_id: str) -> PatientState:
        """The patient (KeyError if unknown)."""
        row = self.patients[patient_id]
        return PatientState(row[0], Bucket(row[1], row[2]), *row[3:])

    def charge_amount(self, charge_id: str) -> int:
        """A charge's patient responsibility: the charge plus its adjustments."""
        amount = self.adjusted.get(charge_id)
        return self.charges[charge_id].minor_units if amount is None else amount

    def holders_of(self, payment_id: str) -> tuple[str, ...]:
        """The patients holding a payment's money: its payer, and any it was transferred to."""
        holders = self.holders.get(payment_id)
        return (self.payments[payment_id][0].patient_id,) if holders is None else holders

    def differing(self, other: State) -> list[str]:
        """The names of the tables (the journal included) whose rows differ from ``other``'s;
        a record (a restored ledger's) and the value object it stands for are alike."""
        return [
            name
            for name in State._fields
            if getattr(self, name) != getattr(other, name)
            and _as_values(self, name) != _as_values(other, name)
        ]

    def next_entry_id(self, offset: int = 0) -> str:
        """The id the ``offset``-th entry created from this state will get."""
        return f"E{self.next_seq + offset}"


def _as_values(state: State, name: str) -> object:
    """A table with its records (if any) turned into the value objects they stand for."""
    table = getattr(state, name)
    if name == "payments":
        return {key: (value_of(row[0], state.currency), *row[1:]) for key, row in table.items()}
    if name in ("charges", "appointments", "adjustments", "transfers"):
        return {key: value_of(value, state.currency) for key, value in table.items()}
    return table


def opened_state(event: LedgerOpened) -> State:
    """The state right after ``LedgerOpened``: empty tables."""
    empty: Map[Any, Any] = Map()
    return State(
        event.currency,
        EventLog().appended(event),
        1,
        *(empty,) * 17,
    )


class Ledger:
    """A practice's patient-payment ledger: immutable, rebuilt from its journal.

    Make one with :meth:`Ledger.empty`, change it with the commands, read it with the views.
    Two ledgers are equal when their journals (:attr:`events`) are equal. A ledger pickles as
    its journal. Nothing a ledger holds is ever written after it is made: use any ledger at any
    time, from any thread.
    """

    __slots__ = ("_state",)

    _state: State

    def __init__(self) -> None:
        """Refuse direct construction: use :meth:`empty`, the commands or ``replay``."""
        raise TypeError("make a Ledger with Ledger.empty(), the commands or replay()")

    @classmethod
    def empty(cls, currency: str = "USD") -> Ledger:
        """An empty ledger for a whole practice, in one currency (an ISO code or Currency).

        >>> Ledger.empty("USD").currency
        'USD'
        """
        code = currency_code(currency)
        return ledger_of(opened_state(LedgerOpened(code)))

    @property
    def currency(self) -> str:
        """The ledger's currency code, fixed at creation."""
        return self._state.currency

    @property
    def events(self) -> Sequence[Event]:
        """The append-only journal: everything that happened, in order."""
        return self._state.log

    def at(self, n: int) -> Ledger:
        """The ledger as it was after its first ``n`` events (``replay(events[:n])``).

        Raises:
            InvalidInputError: ``n`` is not an int between 1 and ``len(events)``.
        """
        from patient_ledger.apply import replay  # noqa: PLC0415 - apply imports this module

        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(self._state.log):
            raise InvalidInputError(
                f"at(n) needs 1 <= n <= {len(self._state.log)} (the journal's length), got {n!r}"
            )
        return replay(self._state.log[:n])

    def extends(self, other: Ledger) -> bool:
        """Whether this ledger's journal begins with ``other``'s: ``other`` is this ledger
        before some commands (or this ledger itself). Quick when this ledger was made from
        ``other`` by commands — how a store checks that a ledger it is given continues the one
        it loaded or saved.

        >>> base = Ledger.empty("USD")
        >>> from patient_ledger import Appointment, add_appointment
        >>> import datetime
        >>> later = add_appointment(base, Appointment("A1", "P1", datetime.date(2025, 1, 2)))
        >>> later.extends(base), base.extends(later)
        (True, False)
        """
        if not isinstance(other, Ledger):
            raise InvalidInputError(f"expected a Ledger, got {type(other).__name__}")
        return self._state.log.starts_with(other._state.log)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ledger):
            return NotImplemented
        return self._state.log == other._state.log

    def __hash__(self) -> int:
        return hash(self._state.log)

    def __repr__(self) -> str:
        s = self._state
        return (
            f"<Ledger {s.currency}: {len(s.log)} events, {len(s.patients)} patients, "
            f"{len(s.accounts)} appointments, {len(s.payments)} payments>"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        from patient_ledger.apply import replay  # noqa: PLC0415 - apply imports this module

        return (replay, (self._state.log,))


_new_ledger = object.__new__


def ledger_of(state: State) -> Ledger:
    """The ledger holding ``state`` (the core's own constructor)."""
    ledger = _new_ledger(Ledger)
    ledger._state = state  # noqa: SLF001 - this module's own class
    return ledger


def state_of(ledger: object) -> State:
    """The state of a ledger given to a command or view; anything else is refused.

    Raises:
        InvalidInputError: ``ledger`` is not a :class:`Ledger`.
    """
    if not isinstance(ledger, Ledger):
        raise InvalidInputError(f"expected a Ledger, got {type(ledger).__name__}")
    return ledger._state  # noqa: SLF001 - this module's own class
