"""The immutable ledger and its state records.

**How a ledger stays immutable at the speed of plain dicts.** All the ledgers descended from one
empty (or replayed) ledger — a *lineage* — share one set of plain ``dict`` tables. Exactly one
ledger of the lineage is the *root*: the tables hold its state. A command on the root writes the
tables in place and records, for each write, the value it replaced (an *undo* list); the ledger it
was given then stops being the root and keeps a link to the new one with that undo list. Reading
any other ledger of the lineage first *reroots* the tables to it: the undo lists on the path
between the two are applied (each turned into the list that goes back again), so every ledger
always reads exactly as it was made, however many commands came after it, and any of them can be
extended again (branched). This is Baker's trick for persistent arrays (H. G. Baker, *Shallow
binding makes functional arrays fast*, 1991; S. Conchon and J.-C. Filliâtre, *A persistent
union-find data structure*, 2007).

The costs: a command on the newest ledger costs a few dict writes — it never copies the ledger
and does not grow with it; going back to a ledger ``k`` commands away costs those ``k`` commands'
writes once (after which it is the root). A lineage has one lock (``State.lineage``): commands,
views and ``replay`` of one lineage take it, so ledgers may be shared between threads. Everything
but the tables — the journal (a persistent vector), the next entry number, the currency — is held
by each ledger's own :class:`State`. All amounts here are integer minor units.

The tables hold plain-tuple *rows* (see "Rows" below) and the caller's own value objects; the
``NamedTuple`` records (:class:`Entry`, :class:`AppointmentState`, :class:`PatientState`) are
views built by :class:`State`'s methods for code that reads by name.
"""

from __future__ import annotations

import datetime
import functools
import threading
from typing import TYPE_CHECKING, Any, Final, NamedTuple, ParamSpec, TypeVar

from patient_ledger._log import EventLog
from patient_ledger.errors import InvalidInputError
from patient_ledger.events import LedgerOpened
from patient_ledger.money import currency_code
from patient_ledger.values import Adjustment, Appointment, Charge, Payment, Transfer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from patient_ledger.events import Event

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: The one "oldest first" order of open entries: received date, then order of posting.
EntryKey = tuple[datetime.date, int, str]


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
    """The open entries of one bucket, oldest first, and their sum (the available amount)."""

    open: tuple[EntryKey, ...] = ()
    available: int = 0


class AppointmentState(NamedTuple):
    """An appointment with its charges total, what is allocated to it and its own bucket
    (read by :meth:`State.appointment` from the appointment and its :data:`AccountRow`)."""

    appointment: Appointment
    charged: int = 0
    allocated: int = 0
    #: ``(payment_id, amount)`` in order of application, newest last.
    allocations: tuple[tuple[str, int], ...] = ()
    bucket: Bucket = Bucket()

    @property
    def due(self) -> int:
        """The balance due: charges minus allocations (never below zero)."""
        return self.charged - self.allocated


def appointment_order(appointment: AppointmentState) -> tuple[datetime.date, str]:
    """The one order of a patient's appointments: by date, then id."""
    return (appointment.appointment.date, appointment.appointment.id)


class PatientState(NamedTuple):
    """A patient: appointment ids in order added, the general bucket and Total Paid (read by
    :meth:`State.patient` from its :data:`PatientRow`)."""

    appointments: tuple[str, ...] = ()
    general: Bucket = Bucket()
    paid: int = 0


# -- Rows: what the tables hold ---------------------------------------------------------------
#
# Plain tuples of strs, ints, dates and tuples of them. CPython's cyclic garbage collector stops
# tracking such a tuple the first time it sees it, so the hundreds of thousands of rows of a big
# ledger cost its full collections next to nothing (a NamedTuple is never untracked: holding
# them made a third of a long command loop's time). The records above are the readable views.

#: An entry: patient_id, appointment_id, payment_id, received_on, seq, remaining, cancelled.
EntryRow = tuple[str, str | None, str, datetime.date, int, int, int]
#: Positions in an :data:`EntryRow` read on hot paths.
PAYMENT_ID: Final = 2
REMAINING: Final = 5
#: An appointment's money: charged, allocated, allocations, its bucket's open keys, available.
AccountRow = tuple[int, int, tuple[tuple[str, int], ...], tuple[EntryKey, ...], int]
#: Positions in an :data:`AccountRow` read on hot paths.
OPEN: Final = 3
AVAILABLE: Final = 4
#: A patient: appointment ids, the general bucket's open keys and available amount, Total Paid.
PatientRow = tuple[tuple[str, ...], tuple[EntryKey, ...], int, int]

#: One write to a table, as it can be undone: the table, the key and the value it replaced
#: (``MISSING`` when the key was new).
Write = tuple[dict[str, Any], str, Any]
#: The marker of a key that was not in its table.
MISSING: Any = object()


class Lineage:
    """What the ledgers of one lineage share besides their tables: the lock that commands, views
    and loads hold, and the one object that writes the tables (``patient_ledger.apply``)."""

    __slots__ = ("lock", "writer")

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.writer: Any = None


class State(NamedTuple):
    """Everything a ledger knows: the lineage's shared tables keyed by id (valid while this
    state is the root: see :func:`reroot`), and this state's own journal and counters.

    ``link[0]`` is None for the root, else ``(the next state towards the root, the writes that
    turn that state's tables back into this one's)``.
    """

    currency: str
    log: EventLog
    appointments: dict[str, Appointment]
    #: Each appointment's money.
    accounts: dict[str, AccountRow]
    charges: dict[str, Charge]
    #: A charge's patient responsibility after its adjustments (adjusted charges only).
    adjusted: dict[str, int]
    payments: dict[str, Payment]
    #: The patients holding a payment's money, when it is not only its payer's (transfers).
    holders: dict[str, tuple[str, ...]]
    #: The payments that were reversed, with the day they were.
    reversed: dict[str, datetime.date]
    entries: dict[str, EntryRow]
    patients: dict[str, PatientRow]
    adjustments: dict[str, Adjustment]
    transfers: dict[str, Transfer]
    next_seq: int
    lineage: Lineage
    link: list[tuple[State, list[Write]] | None]

    def entry(self, entry_id: str) -> Entry:
        """The entry (KeyError if unknown)."""
        return Entry(entry_id, *self.entries[entry_id])

    def appointment(self, appointment_id: str) -> AppointmentState:
        """The appointment with its money (KeyError if unknown)."""
        charged, allocated, allocations, keys, available = self.accounts[appointment_id]
        return AppointmentState(
            self.appointments[appointment_id],
            charged,
            allocated,
            allocations,
            Bucket(keys, available),
        )

    def patient(self, patient_id: str) -> PatientState:
        """The patient (KeyError if unknown)."""
        appointments, keys, available, paid = self.patients[patient_id]
        return PatientState(appointments, Bucket(keys, available), paid)

    def charge_amount(self, charge_id: str) -> int:
        """A charge's patient responsibility: the charge plus its adjustments."""
        amount = self.adjusted.get(charge_id)
        return self.charges[charge_id].minor_units if amount is None else amount

    def holders_of(self, payment_id: str) -> tuple[str, ...]:
        """The patients holding a payment's money: its payer, and any it was transferred to."""
        holders = self.holders.get(payment_id)
        return (self.payments[payment_id].patient_id,) if holders is None else holders

    def next_entry_id(self, offset: int = 0) -> str:
        """The id the ``offset``-th entry created from this state will get."""
        return f"E{self.next_seq + offset}"

    def succeeded_by(self, log: EventLog, next_seq: int, undo: list[Write] | None) -> State:
        """The root state after this one's tables were written (``undo`` records the writes;
        None when nothing else refers to this state, as in a replay from scratch)."""
        # The tables are all the fields between ``log`` and ``next_seq``: self[2:-3].
        after = _new_state(State, (self[0], log, *self[2:-3], next_seq, self.lineage, [None]))
        self.link[0] = (after, undo)  # type: ignore[assignment] # None: a state no one can read
        return after


_new_state = tuple.__new__  # builds a State from its fields without the keyword machinery


def reroot(state: State) -> None:
    """Make the lineage's tables hold ``state`` (hold ``state.lineage.lock``)."""
    path = []
    node = state
    while (step := node.link[0]) is not None:
        path.append(node)
        node = step[0]
    for child in reversed(path):  # from the root's neighbour down to ``state``
        parent, undo = child.link[0]  # type: ignore[misc] # not the root: it has a link
        parent.link[0] = (child, undone(undo))
        child.link[0] = None


def undone(writes: list[Write]) -> list[Write]:
    """Undo ``writes``, newest first; return the writes that redo them."""
    redo: list[Write] = []
    for table, key, value in reversed(writes):
        redo.append((table, key, table.get(key, MISSING)))
        if value is MISSING:
            del table[key]
        else:
            table[key] = value
    return redo


class Ledger:
    """A practice's patient-payment ledger: immutable, rebuilt from its journal.

    Make one with :meth:`Ledger.empty`, change it with the commands, read it with the views.
    Two ledgers are equal when their journals (:attr:`events`) are equal. A ledger pickles as
    its journal.
    """

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        """Wrap engine state; use :meth:`empty` or :func:`~patient_ledger.replay` instead."""
        self._state = state

    @property
    def state(self) -> State:
        """The engine's state, made the root of its lineage (read-only, and only until another
        ledger of the lineage is used: the views are the supported way to read a ledger)."""
        with self._state.lineage.lock:
            reroot(self._state)
            return self._state

    @classmethod
    def empty(cls, currency: str = "USD") -> Ledger:
        """An empty ledger for a whole practice, in one currency (an ISO code or Currency).

        >>> Ledger.empty("USD").currency
        'USD'
        """
        code = currency_code(currency)
        return cls(opened_state(LedgerOpened(code)))

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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ledger):
            return NotImplemented
        # The journal and currency are each state's own: reading them never reroots the tables.
        return self._state.log == other._state.log

    def __hash__(self) -> int:
        return hash(self._state.log)

    def __repr__(self) -> str:
        with self._state.lineage.lock:
            s = self.state
            return (
                f"<Ledger {s.currency}: {len(s.log)} events, {len(s.patients)} patients, "
                f"{len(s.appointments)} appointments, {len(s.payments)} payments>"
            )

    def __reduce__(self) -> tuple[Any, ...]:
        from patient_ledger.apply import replay  # noqa: PLC0415 - apply imports this module

        return (replay, (self._state.log,))


def state_of(ledger: object) -> State:
    """The state of a ledger given to a command, view or store; anything else is refused.

    Only its journal and currency may be read outside :func:`exclusive` (which makes it the
    root of its lineage before the tables are read).

    Raises:
        InvalidInputError: ``ledger`` is not a :class:`Ledger`.
    """
    if not isinstance(ledger, Ledger):
        raise InvalidInputError(f"expected a Ledger, got {type(ledger).__name__}")
    return ledger._state  # noqa: SLF001 - this module's own class


def exclusive(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a command or view (its ledger: the first argument) holding the ledger's lineage lock,
    with the lineage's tables rerooted to the ledger."""

    @functools.wraps(function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        ledger = args[0] if args else kwargs.get("ledger")
        if isinstance(ledger, Ledger):
            state = ledger._state  # noqa: SLF001 - this module's own class
            with state.lineage.lock:
                if state.link[0] is not None:
                    reroot(state)
                return function(*args, **kwargs)
        return function(*args, **kwargs)  # which refuses what is not a ledger (state_of)

    return run


def opened_state(event: LedgerOpened) -> State:
    """The state right after ``LedgerOpened``: empty tables of a new lineage."""
    return State(
        event.currency,
        EventLog().appended(event),
        {},
        {},
        {},
        {},
        {},
        {},
        {},
        {},
        {},
        {},
        {},
        1,
        Lineage(),
        [None],
    )
