"""apply_event: the one function that turns an event into the next state; replay folds it.

``apply_event`` never validates and never raises on a well-formed journal: the business rules
were checked by the command that decided the event, so a journal replays without re-running
them.  Each event is applied through a short-lived :class:`_Changes` that writes the lineage's
tables, recording every write so that the state it started from stays readable (see
:mod:`patient_ledger.state`), and freezes the result into the next :class:`State`.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime
import gc
from collections.abc import Iterable, Iterator
from typing import Any, assert_never

from patient_ledger._log import EventLog
from patient_ledger.errors import InvalidInputError
from patient_ledger.events import (
    EVENT_TYPES,
    AllocationUnapplied,
    Application,
    AppointmentAdded,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntriesCancelled,
    Event,
    LedgerOpened,
    Move,
    PaymentPosted,
    PaymentReversed,
    RefundPosted,
    Return,
    UnallocatedApplied,
)
from patient_ledger.state import (
    MISSING,
    AccountRow,
    EntryKey,
    EntryRow,
    Ledger,
    PatientRow,
    State,
    Write,
    opened_state,
    reroot,
    undone,
)
from patient_ledger.values import Appointment

_NEW_PATIENT: PatientRow = ((), (), 0, 0)
_NO_MONEY: AccountRow = (0, 0, (), (), 0)


class _Changes:
    """One state's tables being written by events, each write recorded in ``undo`` (None when
    nothing else refers to the state: a replay from scratch)."""

    # The tables most events write; the others are read from ``state``.
    __slots__ = (
        "accounts",
        "appointments",
        "charges",
        "entries",
        "next_seq",
        "patients",
        "payments",
        "state",
        "undo",
    )

    def __init__(self, state: State, undo: list[Write] | None) -> None:
        self.state = state
        self.undo = undo
        self.appointments = state.appointments
        self.accounts = state.accounts
        self.charges = state.charges
        self.payments = state.payments
        self.entries = state.entries
        self.patients = state.patients
        self.next_seq = state.next_seq

    def put(self, table: dict[str, Any], key: str, value: object) -> None:
        """Write one table entry, recording what it replaces."""
        if self.undo is not None:
            self.undo.append((table, key, table.get(key, MISSING)))
        table[key] = value

    def abandon(self) -> None:
        """Undo every write: the state is again as it was (after an event failed to apply)."""
        if self.undo is not None:
            undone(self.undo)
            self.undo.clear()

    def freeze(self, log: EventLog) -> State:
        """The state after the writes, now the root; the old state links to it."""
        return self.state.succeeded_by(log, self.next_seq, self.undo)

    # -- patients and payments -------------------------------------------------------------

    def add_paid(self, patient_id: str, amount: int) -> None:
        appointments, keys, available, paid = self.patients.get(patient_id, _NEW_PATIENT)
        self.put(self.patients, patient_id, (appointments, keys, available, paid + amount))

    def add_holder(self, payment_id: str, patient_id: str) -> None:
        table = self.state.holders
        holders = table.get(payment_id) or (self.payments[payment_id].patient_id,)
        if patient_id not in holders:
            self.put(table, payment_id, (*holders, patient_id))

    # -- entries and buckets ---------------------------------------------------------------

    def open_entry(  # noqa: PLR0917 - the six facts of a new entry, always all given
        self,
        entry_id: str,
        patient_id: str,
        appointment_id: str | None,
        payment_id: str,
        received_on: datetime.date,
        amount: int,
    ) -> None:
        seq = self.next_seq
        self.next_seq = seq + 1
        row = (patient_id, appointment_id, payment_id, received_on, seq, amount, 0)
        self.put(self.entries, entry_id, row)
        key = (received_on, seq, entry_id)
        if appointment_id is None:  # (the event has made the patient known by now)
            appointments, keys, available, paid = self.patients[patient_id]
            keys = (*keys, key) if not keys or keys[-1] < key else _inserted(keys, key)
            self.put(self.patients, patient_id, (appointments, keys, available + amount, paid))
        else:
            charged, allocated, allocations, keys, available = self.accounts[appointment_id]
            keys = (*keys, key) if not keys or keys[-1] < key else _inserted(keys, key)
            self.put(
                self.accounts,
                appointment_id,
                (charged, allocated, allocations, keys, available + amount),
            )

    def change_entry(self, entry_id: str, delta: int, *, cancelled: bool = False) -> EntryRow:
        """Change an open entry's amount by ``delta``; return the entry as it was."""
        row = self.entries[entry_id]
        patient_id, appointment_id, payment_id, received_on, seq, remaining, closed = row
        left = remaining + delta
        if cancelled:
            closed -= delta
        self.put(
            self.entries,
            entry_id,
            (patient_id, appointment_id, payment_id, received_on, seq, left, closed),
        )
        if appointment_id is None:
            appointments, keys, available, paid = self.patients[patient_id]
            if not left:
                keys = _without(keys, entry_id)
            self.put(self.patients, patient_id, (appointments, keys, available + delta, paid))
        else:
            charged, allocated, allocations, keys, available = self.accounts[appointment_id]
            if not left:
                keys = _without(keys, entry_id)
            self.put(
                self.accounts,
                appointment_id,
                (charged, allocated, allocations, keys, available + delta),
            )
        return row

    # -- appointments ----------------------------------------------------------------------

    def add_appointment(self, appointment: Appointment) -> None:
        self.put(self.appointments, appointment.id, appointment)
        self.put(self.accounts, appointment.id, _NO_MONEY)
        pid = appointment.patient_id
        appointments, keys, available, paid = self.patients.get(pid, _NEW_PATIENT)
        self.put(self.patients, pid, ((*appointments, appointment.id), keys, available, paid))

    def allocate(self, appointment_id: str, payment_id: str, amount: int) -> None:
        charged, allocated, allocations, keys, available = self.accounts[appointment_id]
        self.put(
            self.accounts,
            appointment_id,
            (charged, allocated + amount, (*allocations, (payment_id, amount)), keys, available),
        )

    def deallocate(self, appointment_id: str, payment_id: str, amount: int) -> None:
        """Take ``amount`` of ``payment_id``'s allocations off, its newest first."""
        charged, allocated, allocations, keys, available = self.accounts[appointment_id]
        parts = list(allocations)
        left = amount
        for i in range(len(parts) - 1, -1, -1):
            pid, part = parts[i]
            if pid != payment_id or not left:
                continue
            take = min(part, left)
            left -= take
            parts[i] = (pid, part - take)
        kept = tuple(pair for pair in parts if pair[1])
        self.put(
            self.accounts, appointment_id, (charged, allocated - amount, kept, keys, available)
        )

    def add_charged(self, appointment_id: str, amount: int) -> None:
        charged, allocated, allocations, keys, available = self.accounts[appointment_id]
        self.put(
            self.accounts,
            appointment_id,
            (charged + amount, allocated, allocations, keys, available),
        )

    def apply_held(self, applied: tuple[Application, ...]) -> None:
        """Apply parts of open entries to appointments' charges."""
        for entry_id, appointment_id, amount in applied:
            row = self.change_entry(entry_id, -amount)
            self.allocate(appointment_id, row[2], amount)

    def return_allocations(
        self, appointment_id: str, returned: tuple[Return, ...], *, to_general: bool
    ) -> None:
        """Hold allocations again as new entries: in the general or the appointment's bucket."""
        patient_id = self.appointments[appointment_id].patient_id
        for payment_id, amount, entry_id in returned:
            self.deallocate(appointment_id, payment_id, amount)
            self.open_entry(
                entry_id,
                patient_id,
                None if to_general else appointment_id,
                payment_id,
                self.payments[payment_id].received_on,
                amount,
            )

    def move_credit(self, moves: tuple[Move, ...], to_patient_id: str) -> None:
        """Move parts of open entries into new entries of a patient's general bucket."""
        for from_entry_id, entry_id, amount in moves:
            source_patient_id, _, payment_id, received_on, *_ = self.change_entry(
                from_entry_id, -amount
            )
            self.open_entry(entry_id, to_patient_id, None, payment_id, received_on, amount)
            if to_patient_id != source_patient_id:
                self.add_paid(source_patient_id, -amount)
                self.add_paid(to_patient_id, amount)
                self.add_holder(payment_id, to_patient_id)


def _inserted(keys: tuple[EntryKey, ...], key: EntryKey) -> tuple[EntryKey, ...]:
    """A bucket's open keys with ``key`` in its place, oldest first (an entry received before
    the newest one: the usual case, appending, is written where it happens)."""
    ordered = list(keys)
    bisect.insort(ordered, key)
    return tuple(ordered)


def _without(keys: tuple[EntryKey, ...], entry_id: str) -> tuple[EntryKey, ...]:
    """A bucket's open keys without the entry ``entry_id`` (closed)."""
    return tuple(key for key in keys if key[2] != entry_id)


def apply_event(state: State, event: Event) -> State:
    """Return the state after ``event``: the one mutator, shared by commands and replay.

    ``state`` is left as it was (see :mod:`patient_ledger.state` for how); if the event fails to
    apply, nothing is changed.
    """
    if isinstance(event, LedgerOpened):
        return opened_state(event)
    with state.lineage.lock:
        return advance(state, event)


def advance(state: State, event: Event) -> State:
    """:func:`apply_event` for a caller that holds the lineage's lock (the commands)."""
    if state.link[0] is not None:
        reroot(state)
    changes: _Changes | None = state.lineage.writer  # one per lineage, reused: same tables
    if changes is None:
        changes = state.lineage.writer = _Changes(state, None)
    changes.state = state
    changes.next_seq = state.next_seq
    changes.undo = []
    try:
        _apply(changes, event)
    except BaseException:
        changes.abandon()
        raise
    return changes.freeze(state.log.appended(event))


def _apply(c: _Changes, event: Event) -> None:  # noqa: PLR0915 - one case per event
    """Apply one event (not ``LedgerOpened``) to the changes being collected."""
    match event:
        case PaymentPosted(payment=p, allocated=allocated, entry_id=entry_id):
            c.put(c.payments, p.id, p)
            c.add_paid(p.patient_id, p.minor_units)
            if allocated:
                c.allocate(p.appointment_id, p.id, allocated)  # type: ignore[arg-type]
            if entry_id is not None:
                c.open_entry(
                    entry_id,
                    p.patient_id,
                    p.appointment_id,
                    p.id,
                    p.received_on,
                    p.minor_units - allocated,
                )
        case ChargeAdded(charge=charge, applied=applied):
            c.put(c.charges, charge.id, charge)
            c.add_charged(charge.appointment_id, charge.minor_units)
            c.apply_held(applied)
        case AppointmentAdded(appointment=appointment):
            c.add_appointment(appointment)
        case UnallocatedApplied(applied=applied):
            c.apply_held(applied)
        case RefundPosted(payment=p, entry_id=entry_id):
            c.put(c.payments, p.id, p)
            c.add_paid(p.patient_id, p.minor_units)
            c.open_entry(
                entry_id, p.patient_id, p.appointment_id, p.id, p.received_on, p.minor_units
            )
        case EntriesCancelled(parts=parts):
            for entry_id, amount in parts:
                c.change_entry(entry_id, -amount, cancelled=True)
        case AllocationUnapplied(appointment_id=appointment_id):
            c.return_allocations(appointment_id, event.returned, to_general=True)
            c.apply_held(event.applied)
        case CreditReleased(appointment_id=appointment_id, moves=moves):
            c.move_credit(moves, c.appointments[appointment_id].patient_id)
        case ChargeAdjusted(adjustment=adjustment):
            charge = c.charges[adjustment.charge_id]
            before = c.state.adjusted.get(charge.id, charge.minor_units)
            c.put(c.state.adjusted, charge.id, before + adjustment.minor_units)
            c.add_charged(charge.appointment_id, adjustment.minor_units)
            c.put(c.state.adjustments, adjustment.id, adjustment)
            c.return_allocations(charge.appointment_id, event.returned, to_general=False)
            c.apply_held(event.applied)
        case CreditTransferred(transfer=transfer, moves=moves):
            c.put(c.state.transfers, transfer.id, transfer)
            c.add_paid(transfer.to_patient_id, 0)  # the receiver becomes known
            c.move_credit(moves, transfer.to_patient_id)
        case PaymentReversed():
            for appointment_id, amount in event.allocations:
                c.deallocate(appointment_id, event.payment_id, amount)
                c.add_paid(c.appointments[appointment_id].patient_id, -amount)
            for entry_id, amount in event.entries:
                row = c.change_entry(entry_id, -amount)
                c.add_paid(row[0], -amount)
            c.put(c.state.reversed, event.payment_id, event.on)
            c.apply_held(event.applied)
        case LedgerOpened():  # pragma: no cover - opened_state() handles it; never a change
            pass
        case _:
            assert_never(event)


class Replayer:
    """Applies many events at once (replay, loading a journal) with the same ``_apply`` as
    ``apply_event``: ``add`` one event at a time, then ``freeze`` the state after them all.

    Started from an existing state (the ``base`` of a load), it records its writes so that
    state stays as it was; from a new one it writes without a record. Hold the state's lock.
    """

    def __init__(self, state: State, *, base: bool) -> None:
        reroot(state)
        self.changes = _Changes(state, [] if base else None)
        self.events: list[Event] = []

    def add(self, event: Event) -> None:
        self.events.append(event)
        _apply(self.changes, event)

    def abandon(self) -> None:
        """Undo everything added (a load that failed): the base state is as it was."""
        self.changes.abandon()

    def freeze(self) -> State:
        return self.changes.freeze(self.changes.state.log.extended(self.events))


def replay(events: Iterable[Event]) -> Ledger:
    """Rebuild a ledger from its journal: ``replay(ledger.events) == ledger`` always.

    Business rules are not re-run; only the journal's shape is checked. The events are applied
    by the same mutator as the commands', in one batch of in-place map mutations.

    Raises:
        InvalidInputError: the journal is empty, does not start with ``LedgerOpened``, opens
            twice, or holds something that is not an event.
    """
    with paused_gc():
        return _replay(events)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector during a bulk build, then restore it.

    A replay creates hundreds of thousands of long-lived, acyclic objects: the collector would
    only traverse them again and again (half the time of a large replay, measured in
    ``benchmarks/``). Reference counting still frees everything as usual; only the cycle
    detector waits. Whether it was enabled before is restored, whatever happens.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _replay(events: Iterable[Event]) -> Ledger:
    bulk: Replayer | None = None
    for number, event in enumerate(events):  # a new lineage: nothing else sees it yet
        if type(event) not in EVENT_TYPES:
            raise InvalidInputError(
                f"journal item {number} is not an event: {type(event).__name__}", index=number
            )
        if (number == 0) != isinstance(event, LedgerOpened):
            raise InvalidInputError(
                f"journal item {number}: LedgerOpened must come first, and only once",
                index=number,
            )
        if bulk is None:
            bulk = Replayer(opened_state(event), base=False)  # type: ignore[arg-type]
        else:
            bulk.add(event)
    if bulk is None:
        raise InvalidInputError("cannot replay an empty journal: it must start with LedgerOpened")
    return Ledger(bulk.freeze())
