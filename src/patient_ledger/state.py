"""The immutable ledger and its state records.

Every collection is persistent (``immutables.Map``, a HAMT, or a short tuple), so a command
creates a handful of new nodes and never copies the ledger: its cost does not grow with the
number of patients or events already held.  All amounts here are integer minor units.

The state records are ``NamedTuple``s rather than frozen attrs classes: they are as immutable,
and build in about half the time, which matters on the path every command and replayed event
takes (``benchmarks/bench.py``). The public value objects stay attrs classes.
"""

from __future__ import annotations

import bisect
import datetime
from typing import TYPE_CHECKING, NamedTuple

import immutables

from patient_ledger._log import EventLog
from patient_ledger.errors import InvalidInputError
from patient_ledger.events import LedgerOpened
from patient_ledger.money import currency_code
from patient_ledger.values import Adjustment, Appointment, Charge, Payment, Transfer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from patient_ledger.events import Event

#: The one "oldest first" order of open entries: received date, then order of posting.
EntryKey = tuple[datetime.date, int, str]


class Entry(NamedTuple):
    """One row of the unallocated payments table: a signed amount in one bucket.

    ``remaining`` is what is still open (0 once used, moved or cancelled); ``cancelled`` is what
    ``cancel_offsetting`` closed of it (money that has left, so its payment cannot be reversed).
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

    def opened(self, key: EntryKey, amount: int) -> Bucket:
        """This bucket with a new open entry of ``amount``."""
        keys = self.open
        if not keys or keys[-1] < key:  # the usual case: the newest entry is also the latest
            return Bucket((*keys, key), self.available + amount)
        ordered = list(keys)
        bisect.insort(ordered, key)
        return Bucket(tuple(ordered), self.available + amount)

    def changed(self, entry: Entry, delta: int) -> Bucket:
        """This bucket after ``entry``'s open amount changed by ``delta`` (closing it at zero)."""
        keys = self.open
        if entry.remaining + delta == 0:
            keys = tuple(key for key in keys if key[2] != entry.id)
        return Bucket(keys, self.available + delta)


class AppointmentState(NamedTuple):
    """An appointment with its charges total, what is allocated to it and its own bucket."""

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


class ChargeState(NamedTuple):
    """A charge and its current patient responsibility (the charge plus its adjustments)."""

    charge: Charge
    amount: int


class PatientState(NamedTuple):
    """A patient: appointment ids in order added, the general bucket and Total Paid."""

    appointments: tuple[str, ...] = ()
    general: Bucket = Bucket()
    paid: int = 0


class PaymentState(NamedTuple):
    """A payment or refund, whether it was reversed, and the patients holding its money."""

    payment: Payment
    holders: tuple[str, ...]
    reversed: bool = False


_EMPTY: immutables.Map[str, object] = immutables.Map()


class State(NamedTuple):
    """Everything the ledger knows, as persistent maps keyed by id."""

    currency: str
    log: EventLog
    appointments: immutables.Map[str, AppointmentState] = _EMPTY  # type: ignore[assignment]
    charges: immutables.Map[str, ChargeState] = _EMPTY  # type: ignore[assignment]
    payments: immutables.Map[str, PaymentState] = _EMPTY  # type: ignore[assignment]
    entries: immutables.Map[str, Entry] = _EMPTY  # type: ignore[assignment]
    patients: immutables.Map[str, PatientState] = _EMPTY  # type: ignore[assignment]
    adjustments: immutables.Map[str, Adjustment] = _EMPTY  # type: ignore[assignment]
    transfers: immutables.Map[str, Transfer] = _EMPTY  # type: ignore[assignment]
    next_seq: int = 1

    def next_entry_id(self, offset: int = 0) -> str:
        """The id the ``offset``-th entry created from this state will get."""
        return f"E{self.next_seq + offset}"


class Ledger:
    """A practice's patient-payment ledger: immutable, rebuilt from its journal.

    Make one with :meth:`Ledger.empty`, change it with the commands, read it with the views.
    Two ledgers are equal when their journals (:attr:`events`) are equal.
    """

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        """Wrap engine state; use :meth:`empty` or :func:`~patient_ledger.replay` instead."""
        self._state = state

    @property
    def state(self) -> State:
        """The engine's state (read-only; the views are the supported way to read it)."""
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
        return self.state.currency

    @property
    def events(self) -> Sequence[Event]:
        """The append-only journal: everything that happened, in order."""
        return self.state.log

    def at(self, n: int) -> Ledger:
        """The ledger as it was after its first ``n`` events (``replay(events[:n])``).

        Raises:
            InvalidInputError: ``n`` is not an int between 1 and ``len(events)``.
        """
        from patient_ledger.apply import replay  # noqa: PLC0415 - apply imports this module

        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(self.state.log):
            raise InvalidInputError(
                f"at(n) needs 1 <= n <= {len(self.state.log)} (the journal's length), got {n!r}"
            )
        return replay(self.state.log[:n])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ledger):
            return NotImplemented
        return self.state.log == other.state.log

    def __hash__(self) -> int:
        return hash(self.state.log)

    def __repr__(self) -> str:
        s = self.state
        return (
            f"<Ledger {s.currency}: {len(s.log)} events, {len(s.patients)} patients, "
            f"{len(s.appointments)} appointments, {len(s.payments)} payments>"
        )


def state_of(ledger: object) -> State:
    """The state of a ledger given to a command or view; anything else is refused.

    Raises:
        InvalidInputError: ``ledger`` is not a :class:`Ledger`.
    """
    if not isinstance(ledger, Ledger):
        raise InvalidInputError(f"expected a Ledger, got {type(ledger).__name__}")
    return ledger.state


def opened_state(event: LedgerOpened) -> State:
    """The state right after ``LedgerOpened``: empty, in the event's currency."""
    return State(currency=event.currency, log=EventLog().appended(event))
