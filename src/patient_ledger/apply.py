"""apply_event: the one function that turns an event into the next ledger; replay folds it.

``apply_event`` never validates and never raises on a well-formed journal: the business rules
were checked by the command that decided the event, so a journal replays without re-running
them. Each event is applied through a short-lived :class:`_Changes` that holds a *transient*
of each table (``immutables.MapMutation``: written in place, but only on nodes it copied
itself), and freezes them into the next :class:`~patient_ledger.state.State`. The state it
started from is never written, so if applying fails or is interrupted half-way, the half-built
tables are simply dropped. ``replay`` applies a whole journal through one ``_Changes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, assert_never

from patient_ledger import _sorted
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
    NEW_PATIENT,
    AccountRow,
    EntryRow,
    Ledger,
    PatientRow,
    State,
    ledger_of,
    opened_state,
    state_of,
)

_add = _sorted.add
_remove = _sorted.remove


class _Changes:
    """The tables of one state being written by events, as transients."""

    __slots__ = (
        "accounts",
        "adjusted",
        "adjustments",
        "charges",
        "currency",
        "entries",
        "held",
        "holders",
        "next_seq",
        "patients",
        "payments",
        "placed",
        "reversed",
        "transfers",
    )

    def __init__(self, state: State) -> None:
        self.currency = state.currency
        self.next_seq = state.next_seq
        self.accounts = state.accounts.mutate()
        self.patients = state.patients.mutate()
        self.entries = state.entries.mutate()
        self.payments = state.payments.mutate()
        self.placed = state.placed.mutate()
        self.held = state.held.mutate()
        self.charges = state.charges.mutate()
        # Seldom written: kept as maps, set whole.
        self.adjusted = state.adjusted
        self.adjustments = state.adjustments
        self.transfers = state.transfers
        self.holders = state.holders
        self.reversed = state.reversed

    def freeze(self, log: Any) -> State:
        """The state after the writes (the transients are finished: use this once)."""
        return State(
            self.currency,
            log,
            self.next_seq,
            self.accounts.finish(),
            self.patients.finish(),
            self.entries.finish(),
            self.payments.finish(),
            self.placed.finish(),
            self.held.finish(),
            self.charges.finish(),
            self.adjusted,
            self.adjustments,
            self.transfers,
            self.holders,
            self.reversed,
        )

    # -- patients and payments -------------------------------------------------------------

    def add_paid(self, patient_id: str, amount: int) -> None:
        row = self.patients.get(patient_id, NEW_PATIENT)
        self.patients[patient_id] = (*row[:3], row[3] + amount, *row[4:])

    def add_holder(self, payment_id: str, patient_id: str) -> None:
        holders = self.holders.get(payment_id) or (self.payments[payment_id].patient_id,)
        if patient_id not in holders:
            self.holders = self.holders.set(payment_id, (*holders, patient_id))

    # -- entries and buckets ---------------------------------------------------------------

    def open_entry(  # noqa: PLR0917 - the six facts of a new entry, always all given
        self,
        entry_id: str,
        patient_id: str,
        appointment_id: str | None,
        payment_id: str,
        received_on: Any,
        amount: int,
    ) -> None:
        seq = self.next_seq
        self.next_seq = seq + 1
        self.entries[entry_id] = (
            patient_id,
            appointment_id,
            payment_id,
            received_on,
            seq,
            amount,
            0,
        )
        self.held[payment_id] = (*self.held.get(payment_id, ()), entry_id)
        key = (received_on, seq, entry_id)
        # (the event has made the patient known by now)
        (
            apps,
            general,
            general_available,
            paid,
            charged,
            allocated,
            held,
            negatives,
            owing,
            open_,
        ) = self.patients[patient_id]
        if amount < 0:
            negatives = _add(negatives, key)
        if appointment_id is None:
            general = _add(general, key)
            general_available += amount
        else:
            account = self.accounts[appointment_id]
            self.accounts[appointment_id] = (
                *account[:5],
                _add(account[5], key),
                account[6] + amount,
                account[7],
            )
            held += amount
        self.patients[patient_id] = (
            apps,
            general,
            general_available,
            paid,
            charged,
            allocated,
            held,
            negatives,
            owing,
            _add(open_, key),
        )

    def change_entry(self, entry_id: str, delta: int, *, cancelled: bool = False) -> EntryRow:
        """Change an open entry's amount by ``delta``; return the entry as it was."""
        row = self.entries[entry_id]
        patient_id, appointment_id, payment_id, received_on, seq, remaining, closed = row
        left = remaining + delta
        if cancelled:
            closed -= delta
        self.entries[entry_id] = (
            patient_id,
            appointment_id,
            payment_id,
            received_on,
            seq,
            left,
            closed,
        )
        (
            apps,
            general,
            general_available,
            paid,
            charged,
            allocated,
            held,
            negatives,
            owing,
            open_,
        ) = self.patients[patient_id]
        key = (received_on, seq, entry_id)
        if not left:
            open_ = _remove(open_, key)
            if remaining < 0:
                negatives = _remove(negatives, key)
            ids = self.held[payment_id]
            if len(ids) == 1:
                del self.held[payment_id]
            else:
                self.held[payment_id] = tuple(i for i in ids if i != entry_id)
        if appointment_id is None:
            if not left:
                general = _remove(general, key)
            general_available += delta
        else:
            account = self.accounts[appointment_id]
            self.accounts[appointment_id] = (
                *account[:5],
                _remove(account[5], key) if not left else account[5],
                account[6] + delta,
                account[7],
            )
            held += delta
        self.patients[patient_id] = (
            apps,
            general,
            general_available,
            paid,
            charged,
            allocated,
            held,
            negatives,
            owing,
            open_,
        )
        return row

    # -- appointments ----------------------------------------------------------------------

    def add_appointment(self, appointment: Any) -> None:
        appointment_id = appointment.id
        self.accounts[appointment_id] = (
            appointment,
            0,
            0,
            _sorted.EMPTY,
            0,
            _sorted.EMPTY,
            0,
            len(self.accounts),
        )
        row = self.patients.get(appointment.patient_id, NEW_PATIENT)
        self.patients[appointment.patient_id] = (
            _add(row[0], (appointment.date, appointment_id)),
            *row[1:],
        )

    def _account_money(
        self, appointment_id: str, charged_delta: int, allocated_delta: int
    ) -> AccountRow:
        """Change an appointment's charges and allocations, and its patient's sums; return the
        appointment's row as it was."""
        account = self.accounts[appointment_id]
        appointment, charged, allocated = account[0], account[1], account[2]
        self.accounts[appointment_id] = (
            appointment,
            charged + charged_delta,
            allocated + allocated_delta,
            *account[3:],
        )
        patient_id = appointment.patient_id
        row: PatientRow = self.patients[patient_id]
        owing = row[8]
        was_due = charged > allocated
        is_due = charged + charged_delta > allocated + allocated_delta
        if was_due != is_due:
            key = (appointment.date, appointment_id)
            owing = _add(owing, key) if is_due else _remove(owing, key)
        self.patients[patient_id] = (
            *row[:4],
            row[4] + charged_delta,
            row[5] + allocated_delta,
            row[6],
            row[7],
            owing,
            row[9],
        )
        return account

    def allocate(self, appointment_id: str, payment_id: str, amount: int) -> None:
        account = self._account_money(appointment_id, 0, amount)
        number = account[4]
        self.accounts[appointment_id] = (
            *self.accounts[appointment_id][:3],
            _add(account[3], (number, payment_id, amount)),
            number + 1,
            *account[5:],
        )
        self.placed[payment_id] = (
            *self.placed.get(payment_id, ()),
            (appointment_id, number, amount),
        )

    def deallocate(self, appointment_id: str, payment_id: str, amount: int) -> None:
        """Take ``amount`` of ``payment_id``'s allocations to the appointment off, newest first."""
        self._account_money(appointment_id, 0, -amount)
        account = self.accounts[appointment_id]
        allocations = account[3]
        placements = list(self.placed[payment_id])
        left = amount
        for i in range(len(placements) - 1, -1, -1):
            where, number, part = placements[i]
            if where != appointment_id or not left:
                continue
            take = min(part, left)
            left -= take
            allocations = _remove(allocations, (number, payment_id, part))
            if part > take:
                allocations = _add(allocations, (number, payment_id, part - take))
            placements[i] = (where, number, part - take)
        kept = tuple(placement for placement in placements if placement[2])
        if kept:
            self.placed[payment_id] = kept
        else:
            del self.placed[payment_id]
        self.accounts[appointment_id] = (*account[:3], allocations, *account[4:])

    def apply_held(self, applied: tuple[Application, ...]) -> None:
        """Apply parts of open entries to appointments' charges."""
        for entry_id, appointment_id, amount in applied:
            row = self.change_entry(entry_id, -amount)
            self.allocate(appointment_id, row[2], amount)

    def return_allocations(
        self, appointment_id: str, returned: tuple[Return, ...], *, to_general: bool
    ) -> None:
        """Hold allocations again as new entries: in the general or the appointment's bucket."""
        patient_id = self.accounts[appointment_id][0].patient_id
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


def _apply(c: _Changes, event: Event) -> None:  # noqa: PLR0915 - one case per event
    """Apply one event (not ``LedgerOpened``) to the changes being collected."""
    match event:
        case PaymentPosted(payment=p, allocated=allocated, entry_id=entry_id):
            c.payments[p.id] = p
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
            c.charges[charge.id] = charge
            c._account_money(charge.appointment_id, charge.minor_units, 0)  # noqa: SLF001
            c.apply_held(applied)
        case AppointmentAdded(appointment=appointment):
            c.add_appointment(appointment)
        case UnallocatedApplied(applied=applied):
            c.apply_held(applied)
        case RefundPosted(payment=p, entry_id=entry_id):
            c.payments[p.id] = p
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
            c.move_credit(moves, c.accounts[appointment_id][0].patient_id)
        case ChargeAdjusted(adjustment=adjustment):
            charge = c.charges[adjustment.charge_id]
            before = c.adjusted.get(charge.id, charge.minor_units)
            c.adjusted = c.adjusted.set(charge.id, before + adjustment.minor_units)
            c._account_money(charge.appointment_id, adjustment.minor_units, 0)  # noqa: SLF001
            c.adjustments = c.adjustments.set(adjustment.id, adjustment)
            c.return_allocations(charge.appointment_id, event.returned, to_general=False)
            c.apply_held(event.applied)
        case CreditTransferred(transfer=transfer, moves=moves):
            c.transfers = c.transfers.set(transfer.id, transfer)
            c.add_paid(transfer.to_patient_id, 0)  # the receiver becomes known
            c.move_credit(moves, transfer.to_patient_id)
        case PaymentReversed():
            for appointment_id, amount in event.allocations:
                c.deallocate(appointment_id, event.payment_id, amount)
                c.add_paid(c.accounts[appointment_id][0].patient_id, -amount)
            for entry_id, amount in event.entries:
                row = c.change_entry(entry_id, -amount)
                c.add_paid(row[0], -amount)
            c.reversed = c.reversed.set(event.payment_id, event.on)
            c.apply_held(event.applied)
        case LedgerOpened():  # pragma: no cover - opened_state() handles it; never a change
            pass
        case _:
            assert_never(event)


def advance(state: State, event: Event) -> State:
    """The state after ``event`` (not ``LedgerOpened``); ``state`` is left as it was."""
    changes = _Changes(state)
    _apply(changes, event)
    return changes.freeze(state.log.appended(event))


def apply_event(ledger: Ledger, event: Event) -> Ledger:
    """Return the ledger after ``event``: the one mutator, shared by commands and replay.

    No business rule is checked (the command that decided the event did): this is how a
    recorded journal is applied. ``ledger`` is left as it was, whatever happens.

    Raises:
        InvalidInputError: ``event`` is not an event, or is a second ``LedgerOpened``.
    """
    state = state_of(ledger)
    if type(event) not in EVENT_TYPES or isinstance(event, LedgerOpened):
        raise InvalidInputError(
            f"apply_event takes an event other than LedgerOpened, got {type(event).__name__}"
        )
    return ledger_of(advance(state, event))


def replay(events: Iterable[Event], *, onto: Ledger | None = None) -> Ledger:
    """Rebuild a ledger from its journal: ``replay(ledger.events) == ledger`` always.

    Business rules are not re-run; only the journal's shape is checked. The events are applied
    by the same mutator as the commands', in one batch of transient writes. With ``onto``, the
    events continue that ledger's journal (how a store catches a ledger up); ``onto`` is left
    as it was.

    Raises:
        InvalidInputError: the journal is empty, does not start with ``LedgerOpened`` (or,
            ``onto`` a ledger, holds one), holds something that is not an event, or an event
            that does not apply to the ledger before it. Its ``index`` names the item.
    """
    changes: _Changes | None = None
    log: Any = None
    batch: list[Event] = []
    opened = onto is not None
    if onto is not None:
        state = state_of(onto)
        changes, log = _Changes(state), state.log
    for number, event in enumerate(events):
        if type(event) not in EVENT_TYPES:
            raise InvalidInputError(
                f"journal item {number} is not an event: {type(event).__name__}", index=number
            )
        if opened == isinstance(event, LedgerOpened):
            raise InvalidInputError(
                f"journal item {number}: LedgerOpened must come first, and only once",
                index=number,
            )
        if changes is None:
            state = opened_state(event)  # type: ignore[arg-type] # checked just above
            changes, log, opened = _Changes(state), state.log, True
            continue
        batch.append(event)
        try:
            _apply(changes, event)
        except Exception as error:  # noqa: BLE001 - any failure to apply names its item
            raise InvalidInputError(
                f"journal item {number}: {type(event).__name__} does not apply to the ledger "
                f"before it: {type(error).__name__} {error}",
                index=number,
            ) from None
    if changes is None:
        raise InvalidInputError("cannot replay an empty journal: it must start with LedgerOpened")
    return ledger_of(changes.freeze(log.extended(batch)))
