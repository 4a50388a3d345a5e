"""apply_event: the one function that turns an event into the next ledger; replay folds it.

``apply_event`` never validates and never raises on a well-formed journal: the business rules
were checked by the command that decided the event, so a journal replays without re-running
them. Each event is applied through a short-lived :class:`_Changes` that collects the rows it
writes in plain dicts (reading them back before the state's maps) and then sets them into new
maps in one ``Map.update`` per table: the state it started from is never written, so if applying
fails or is interrupted half-way, the half-built rows are simply dropped. ``replay`` applies a
whole journal through one ``_Changes``: its dicts then hold the whole ledger, built at dict speed,
and become maps once, at the end.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from patient_ledger import _sorted
from patient_ledger._log import EventLog
from patient_ledger._stored import StoredCharge
from patient_ledger.errors import InvalidInputError
from patient_ledger.events import (
    EVENT_TYPES,
    RECORDING,
    AllocationUnapplied,
    Application,
    AppointmentAdded,
    AppointmentCancelled,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntriesCancelled,
    Event,
    InstallmentSkipped,
    LedgerOpened,
    Move,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    PaymentPosted,
    PaymentReversed,
    PlanPaymentPosted,
    RefundPosted,
    Return,
    UnallocatedApplied,
    recorded,
)
from patient_ledger.money import exponent, minor_text
from patient_ledger.state import (
    ADDED,
    ALLOCATED,
    AVAILABLE,
    CHARGED,
    GENERAL_AVAILABLE,
    LINES,
    NEGATIVE,
    NEW_PATIENT,
    OPEN,
    OWING,
    PLAN_AMOUNT,
    PLAN_CANCELLED,
    PLAN_COUNTING,
    PLAN_PAID,
    PLAN_SKIPS,
    AccountRow,
    EntryKey,
    EntryRow,
    Ledger,
    Lines,
    PatientRow,
    PaymentRow,
    PlanRow,
    State,
    account_with_lines,
    ledger_of,
    line_at,
    line_changed,
    line_of,
    line_position,
    opened_state,
    place,
    plan_active,
    state_of,
    with_line,
    with_new_line,
)
from patient_ledger.values import Appointment, Charge

_add = _sorted.add
_remove = _sorted.remove
_new_state = tuple.__new__
#: Beyond every allocation number: ``(appointment_id, _LAST)`` bounds an appointment's
#: placements in a payment's sorted set from above.
_LAST = float("inf")


class _Misfit(AssertionError):  # noqa: N818 - apply_event and replay turn it into their refusal
    """An event that does not fit the state it is applied to (it was decided on another).
    ``apply_event`` and ``replay`` refuse such an event with an ``InvalidInputError``; raised
    through a command, it is the engine's own check on its own decision failing (a bug)."""


def _fresh(known: object, new: object, what: str, value_id: str) -> None:
    """Refuse an event that makes a second value with one id."""
    if value_id in new or value_id in known:  # type: ignore[operator] # dicts and maps
        raise _Misfit(f"{what} {value_id!r} is already in the ledger")


def _shown(c: _Changes, minor: int) -> str:
    """An amount of minor units as a refusal shows it: ``'25.00 USD'``."""
    code = c.state.currency
    return f"{minor_text(minor, exponent(code))} {code}"


def _held_in(row: EntryRow, entry_id: str, patient_id: str, bucket: str | None) -> None:
    """Refuse an event that takes an entry from another bucket than the one it names."""
    if row[0] != patient_id or row[1] != bucket:
        where = "the general bucket" if bucket is None else f"appointment {bucket!r}'s bucket"
        raise _Misfit(f"entry {entry_id!r} is not in patient {patient_id!r}'s {where}")


def _not_cancelled(c: _Changes, appointment_id: str | None) -> None:
    """Refuse an event that puts money or charges on a cancelled appointment."""
    if appointment_id is not None and appointment_id in c.cancelled:
        raise _Misfit(f"appointment {appointment_id!r} was cancelled")


def _settled(c: _Changes, appointment_id: str) -> None:
    """Refuse an event that leaves money held on an appointment with a balance due: its
    command would have applied it (SPEC §6, invariant 5), so the event was decided on another
    state."""
    account = c.account(appointment_id)
    if account[AVAILABLE] > 0 and account[CHARGED] > account[ALLOCATED]:
        raise _Misfit(
            f"appointment {appointment_id!r} would hold {_shown(c, account[AVAILABLE])} with "
            f"{_shown(c, account[CHARGED] - account[ALLOCATED])} due: this ledger auto-applies "
            "held money"
        )


def _placed(  # noqa: PLR0917 - where, whose, and place's own arguments
    c: _Changes,
    appointment_id: str,
    payment_id: str,
    lines: Lines,
    owing: _sorted.Keys,
    amount: int,
    first: str | None,
) -> tuple[Lines, _sorted.Keys, list[tuple[str, int]]]:
    """``amount`` of a payment placed on an appointment's lines: as the event being applied
    records it (its ``lines``), else as :func:`~patient_ledger.state.place` decides (the named
    line first, then line order) — recorded when a command decides. Refuse an event that
    places more than the lines owe."""
    if c.given is not None:
        return _given_placement(c, appointment_id, payment_id, lines, owing, amount)
    lines, owing, parts, left = place(lines, owing, amount, first)
    if left:
        raise _Misfit(
            f"appointment {appointment_id!r} owes {_shown(c, amount - left)} on its lines, not "
            f"the {_shown(c, amount)} placed there"
        )
    record = c.record
    if record is not None:
        for charge_id, part in parts:
            record.append((payment_id, appointment_id, charge_id, part))
    return lines, owing, parts


def _given_placement(  # noqa: PLR0917 - where, whose, the lines, how much
    c: _Changes,
    appointment_id: str,
    payment_id: str,
    lines: Lines,
    owing: _sorted.Keys,
    amount: int,
) -> tuple[Lines, _sorted.Keys, list[tuple[str, int]]]:
    """``amount`` placed as the event's next line parts say: each must be this payment's, on
    this appointment, and no more than its line owes."""
    parts = []
    for charge_id, part in _given_parts(c, appointment_id, payment_id, amount, sign=1):
        position = line_position(lines, charge_id)
        _, responsibility, allocated = line_at(lines, position)
        if part > responsibility - allocated:
            raise _Misfit(
                f"line {charge_id!r} of appointment {appointment_id!r} owes "
                f"{_shown(c, responsibility - allocated)}, not the {_shown(c, part)} placed there"
            )
        lines, owing = with_line(lines, owing, position, responsibility, allocated + part)
        parts.append((charge_id, part))
    return lines, owing, parts


def _given_takes(
    c: _Changes, appointment_id: str, payment_id: str, amount: int
) -> list[tuple[str | None, int]]:
    """The event's next line parts taking ``amount`` of a payment off an appointment, as
    ``(charge_id, amount)``."""
    takes: list[tuple[str | None, int]] = [
        *_given_parts(c, appointment_id, payment_id, amount, sign=-1)
    ]
    return takes


def _given_parts(
    c: _Changes, appointment_id: str, payment_id: str, amount: int, *, sign: int
) -> Iterator[tuple[str, int]]:
    """The event's next line parts moving ``amount`` of a payment onto an appointment's lines
    (``sign`` 1) or off them (−1), as ``(charge_id, amount moved)``, each checked to be this
    payment's, on this appointment, and no more than what is left to move."""
    given = c.given
    assert given is not None  # noqa: S101 - narrowing only; the caller checked
    verb, moved = ("place", "placed on") if sign > 0 else ("take", "taken off")
    on_or_off = moved.split()[1]
    left = amount
    while left > 0:
        at = c.at
        if at >= len(given):
            raise _Misfit(
                f"its lines {verb} {_shown(c, amount - left)} of payment {payment_id!r} "
                f"{on_or_off} appointment {appointment_id!r}, not {_shown(c, amount)}"
            )
        paid_by, where, charge_id, part = given[at]
        if paid_by != payment_id or where != appointment_id or not 0 < sign * part <= left:
            raise _Misfit(
                f"its line part {at + 1} ({paid_by!r}, {where!r}, {charge_id!r}, "
                f"{_shown(c, part)}) is not the next {_shown(c, sign * left)} of payment "
                f"{payment_id!r} {moved} appointment {appointment_id!r}"
            )
        c.at = at + 1
        left -= sign * part
        yield charge_id, sign * part


def _entry_seq(c: _Changes, entry_id: str) -> int:
    """The number of a new entry (its place in "oldest first"), and the state's next one moved
    past it. A command names its entries ``E<next number>``; an event read from elsewhere (a
    shard of a journal, say) keeps the order its ids give, and the next entry a command names
    is never one the ledger already has.

    Raises:
        _Misfit: the ledger already has an entry ``entry_id``.
    """
    seq = c.next_seq
    if entry_id != f"E{seq}":
        if entry_id in c.entries or entry_id in c.state.entries:
            raise _Misfit(f"entry {entry_id!r} is already in the ledger")
        digits = entry_id[1:]
        if entry_id[:1] == "E" and digits.isascii() and digits.isdigit() and int(digits) > seq:
            seq = int(digits)
    c.next_seq = seq + 1
    return seq


class _Changes:
    """The rows written by events, kept in plain dicts until :meth:`freeze` sets them into new
    maps. Reads look at the written rows first, then at the state's maps; the state is never
    written."""

    __slots__ = (
        "accounts",
        "active",
        "adjusted",
        "adjustments",
        "appointments",
        "at",
        "cancelled",
        "charges",
        "counted",
        "entries",
        "given",
        "holders",
        "next_seq",
        "patient_plans",
        "patients",
        "payments",
        "planned",
        "plans",
        "record",
        "reversed",
        "state",
        "transfers",
    )

    def __init__(self, state: State) -> None:
        self.state = state
        self.next_seq = state.next_seq
        # Where money goes on lines: the event's own record being applied (``given``, read from
        # ``at`` on), or a record being made (``record``: a command deciding its event).
        self.given: tuple[Any, ...] | None = None
        self.at = 0
        self.record: list[Any] | None = None
        self.accounts: dict[str, AccountRow] = {}
        self.patients: dict[str, PatientRow] = {}
        self.entries: dict[str, EntryRow] = {}
        self.payments: dict[str, PaymentRow] = {}
        self.charges: dict[str, Charge] = {}
        self.appointments: dict[str, Appointment] = {}
        # Seldom written: kept as maps, set whole.
        self.adjusted = state.adjusted
        self.adjustments = state.adjustments
        self.transfers = state.transfers
        self.holders = state.holders
        self.reversed = state.reversed
        self.cancelled = state.cancelled
        self.plans = state.plans
        self.patient_plans = state.patient_plans
        self.planned = state.planned
        self.counted = state.counted
        self.active = state.active

    def freeze(self, log: EventLog) -> State:
        """The state after the writes."""
        s = self.state
        return _new_state(  # State's fields in order, without NamedTuple's keyword machinery
            State,
            (
                s.currency,
                log,
                self.next_seq,
                s.accounts.update(self.accounts) if self.accounts else s.accounts,
                s.patients.update(self.patients) if self.patients else s.patients,
                s.entries.update(self.entries) if self.entries else s.entries,
                s.payments.update(self.payments) if self.payments else s.payments,
                s.charges.update(self.charges) if self.charges else s.charges,
                s.appointments.update(self.appointments) if self.appointments else s.appointments,
                self.adjusted,
                self.adjustments,
                self.transfers,
                self.holders,
                self.reversed,
                self.cancelled,
                self.plans,
                self.patient_plans,
                self.planned,
                self.counted,
                self.active,
            ),
        )

    # -- reads: the rows written so far, else the state's ---------------------------------

    def account(self, appointment_id: str) -> AccountRow:
        row = self.accounts.get(appointment_id)
        return self.state.accounts[appointment_id] if row is None else row

    def patient(self, patient_id: str) -> PatientRow:
        row = self.patients.get(patient_id)
        return self.state.patients[patient_id] if row is None else row

    def patient_or_new(self, patient_id: str) -> PatientRow:
        row = self.patients.get(patient_id) or self.state.patients.get(patient_id)
        return NEW_PATIENT if row is None else row

    def entry(self, entry_id: str) -> EntryRow:
        row = self.entries.get(entry_id)
        return self.state.entries[entry_id] if row is None else row

    def payment(self, payment_id: str) -> PaymentRow:
        row = self.payments.get(payment_id)
        return self.state.payments[payment_id] if row is None else row

    def charge(self, charge_id: str) -> Charge | StoredCharge:
        row = self.charges.get(charge_id)
        return self.state.charges[charge_id] if row is None else row

    # -- patients and payments -------------------------------------------------------------

    def add_paid(self, patient_id: str, amount: int) -> None:
        row = self.patient_or_new(patient_id)
        self.patients[patient_id] = (*row[:3], row[3] + amount, *row[4:])

    def add_holder(self, payment_id: str, patient_id: str) -> None:
        holders = self.holders.get(payment_id) or (self.payment(payment_id)[0].patient_id,)
        if patient_id not in holders:
            self.holders = self.holders.set(payment_id, (*holders, patient_id))

    # -- entries and buckets ---------------------------------------------------------------
    #
    # A bucket's sorted set holds its open positive entries (what draws take, oldest first);
    # the patient's ``negatives`` set holds its open negative ones, whatever their bucket.

    def open_entry(  # noqa: PLR0917 - the six facts of a new entry, always all given
        self,
        entry_id: str,
        patient_id: str,
        appointment_id: str | None,
        payment_id: str,
        received_on: datetime.date,
        amount: int,
    ) -> None:
        seq = _entry_seq(self, entry_id)
        self.entries[entry_id] = (
            patient_id,
            appointment_id,
            payment_id,
            received_on,
            seq,
            amount,
            0,
        )
        payment, placed, held_ids, count = self.payment(payment_id)
        self.payments[payment_id] = (payment, placed, _add(held_ids, entry_id), count)
        # (the event has made the patient known by now)
        key = (received_on, seq, entry_id)
        self._bucket(patient_id, appointment_id, key, amount, _add, positive=amount > 0)

    def move_to_general(self, entry_id: str) -> None:
        """Move an open entry of an appointment's bucket to its patient's general bucket,
        keeping its id, payment and key (its place in "oldest first")."""
        patient_id, appointment_id, payment_id, received_on, seq, remaining, closed = self.entry(
            entry_id
        )
        self.entries[entry_id] = (patient_id, None, payment_id, received_on, seq, remaining, closed)
        key = (received_on, seq, entry_id)
        positive = remaining > 0
        self._bucket(patient_id, appointment_id, key, -remaining, _remove, positive, moving=True)
        self._bucket(patient_id, None, key, remaining, _add, positive, moving=True)

    def change_entry(self, entry_id: str, delta: int, *, cancelled: bool = False) -> EntryRow:
        """Change an open entry's amount by ``delta``; return the entry as it was."""
        row = self.entry(entry_id)
        patient_id, appointment_id, payment_id, received_on, seq, remaining, closed = row
        left = remaining + delta
        if not min(remaining, 0) <= left <= max(remaining, 0):
            raise _Misfit(
                f"entry {entry_id!r} holds {_shown(self, remaining)}: "
                f"{_shown(self, -delta)} cannot be taken from it"
            )
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
        if not left:
            payment, placed, held_ids, count = self.payment(payment_id)
            self.payments[payment_id] = (payment, placed, _remove(held_ids, entry_id), count)
        key = (received_on, seq, entry_id)
        closing = None if left else _remove
        self._bucket(patient_id, appointment_id, key, delta, closing, positive=remaining > 0)
        return row

    def _bucket(  # noqa: PLR0917 - a bucket, an entry's key, and what happens to it
        self,
        patient_id: str,
        appointment_id: str | None,
        key: EntryKey,
        delta: int,
        change: Callable[[_sorted.Keys, Any], _sorted.Keys] | None,
        positive: bool,
        *,
        moving: bool = False,
    ) -> None:
        """Change a bucket's available amount by ``delta`` and, with ``change``, add the entry
        ``key`` to (``_add``) or remove it from (``_remove``) the bucket's set of open positive
        entries — or, for a negative entry, the patient's set of open negative ones (unless it
        is only ``moving`` between the patient's buckets)."""
        apps, general, available, paid, charged, allocated, held, negatives, owing = self.patient(
            patient_id
        )
        if change is not None and not positive and not moving:
            negatives = change(negatives, key)
        positive_change = change if positive else None
        if appointment_id is None:
            if positive_change is not None:
                general = positive_change(general, key)
            available += delta
        else:
            account = self.account(appointment_id)
            negative = account[NEGATIVE]
            if change is not None and not positive:  # (moving too: it leaves this bucket)
                negative = change(negative, key)
            self.accounts[appointment_id] = (
                *account[:OPEN],
                account[OPEN] if positive_change is None else positive_change(account[OPEN], key),
                account[AVAILABLE] + delta,
                *account[ADDED:NEGATIVE],
                negative,
            )
            held += delta
        self.patients[patient_id] = (
            apps,
            general,
            available,
            paid,
            charged,
            allocated,
            held,
            negatives,
            owing,
        )

    # -- appointments ----------------------------------------------------------------------

    def add_appointment(self, appointment: Appointment) -> None:
        appointment_id = appointment.id
        self.appointments[appointment_id] = appointment
        self.accounts[appointment_id] = (
            appointment.patient_id,
            appointment.date,
            0,
            0,
            _sorted.EMPTY,
            0,
            _sorted.EMPTY,
            0,
            # Its number in the order added: the state's appointments, then this writer's.
            len(self.state.accounts) + len(self.appointments) - 1,
            (),
            _sorted.EMPTY,
            _sorted.EMPTY,
        )
        pid = appointment.patient_id
        row = self.patient_or_new(pid)
        self.patients[pid] = (_add(row[0], (appointment.date, appointment_id)), *row[1:])

    def account_money(
        self, appointment_id: str, charged_delta: int, allocated_delta: int
    ) -> AccountRow:
        """Change an appointment's charges and allocations, and its patient's sums; return the
        appointment's row as it was."""
        account = self.account(appointment_id)
        patient_id, date, charged, allocated = account[:4]
        self.accounts[appointment_id] = (
            patient_id,
            date,
            charged + charged_delta,
            allocated + allocated_delta,
            *account[4:],
        )
        row = self.patient(patient_id)
        owing = row[8]
        if (charged > allocated) != (charged + charged_delta > allocated + allocated_delta):
            key = (date, appointment_id)
            owing = _remove(owing, key) if charged > allocated else _add(owing, key)
        self.patients[patient_id] = (
            *row[:4],
            row[4] + charged_delta,
            row[5] + allocated_delta,
            row[6],
            row[7],
            owing,
        )
        return account

    def allocate(
        self, appointment_id: str, payment_id: str, amount: int, first: str | None = None
    ) -> None:
        """Place ``amount`` of a payment on the appointment's lines: the line ``first`` (if
        named), then the others in line order, each up to its balance due."""
        account = self.account_money(appointment_id, 0, amount)
        lines, owing, parts = _placed(
            self, appointment_id, payment_id, account[LINES], account[OWING], amount, first
        )
        self._record(appointment_id, payment_id, account, lines, owing, parts)

    def _record(  # noqa: PLR0917 - a placement: where, whose, and what it changed
        self,
        appointment_id: str,
        payment_id: str,
        account: AccountRow,
        lines: tuple[Any, ...],
        owing: _sorted.Keys,
        parts: list[tuple[str, int]],
    ) -> None:
        """Record the parts of one placement, in the order placed: each is the newest
        allocation of its payment on the appointment."""
        number, allocations = account[5], account[4]
        payment, placed, held_ids, count = self.payment(payment_id)
        for charge_id, part in parts:
            allocations = _add(allocations, (number, payment_id, part, charge_id))
            placed = _add(placed, (appointment_id, number, part, charge_id, count))
            number += 1
            count += 1
        self.payments[payment_id] = (payment, placed, held_ids, count)
        self.accounts[appointment_id] = account_with_lines(
            self.accounts[appointment_id], lines, owing, (allocations, number)
        )

    def deallocate(
        self,
        appointment_id: str,
        payment_id: str,
        amount: int,
        line: str | None = None,
        *,
        only: bool = True,
    ) -> None:
        """Take ``amount`` of ``payment_id``'s allocations to the appointment off, newest first:
        only from ``line`` when it is named (``only``), or from it first and then from any
        line (not ``only``)."""
        self.account_money(appointment_id, 0, -amount)
        account = self.accounts[appointment_id]
        allocations = account[4]
        lines, owing = account[LINES], account[OWING]
        payment, placed, held_ids, count = self.payment(payment_id)
        left = amount
        # The payment's parts on this appointment, newest first (their allocation numbers grow);
        # with a preferred line, its parts go first, then (unless only it) every other part. An
        # event that records its lines says which line each take is from (``None``: as much as
        # is left).
        here = list(_sorted.iterate_reversed_below(placed, (appointment_id, _LAST)))
        passes: list[tuple[str | None, int | None]]
        if self.given is not None:
            passes = list(_given_takes(self, appointment_id, payment_id, amount))
        elif only or line is None:
            passes = [(line, None)]
        else:
            passes = [(line, None), (None, None)]
        record = self.record
        start = 0 if record is None else len(record)  # (takes of this call may be merged)
        for wanted, limit in passes:
            want = left if limit is None else limit
            for i, (where, number, part, charge_id, order) in enumerate(here):
                if not want or where != appointment_id:
                    break
                if not part or (wanted is not None and charge_id != wanted):
                    continue
                take = min(part, want)
                want -= take
                left -= take
                allocations = _remove(allocations, (number, payment_id, part, charge_id))
                placed = _remove(placed, here[i])
                if part > take:
                    allocations = _add(allocations, (number, payment_id, part - take, charge_id))
                    placed = _add(placed, (where, number, part - take, charge_id, order))
                here[i] = (where, number, part - take, charge_id, order)
                lines, owing = line_changed(lines, owing, charge_id, 0, -take)
                if record is not None:
                    last = record[-1] if len(record) > start else None
                    if last and last[:3] == (payment_id, appointment_id, charge_id):
                        take -= record.pop()[3]  # (the same line, taken on: one part)
                    record.append((payment_id, appointment_id, charge_id, -take))
            if limit is not None and want:
                raise _Misfit(
                    f"payment {payment_id!r} has {_shown(self, limit - want)} on line "
                    f"{wanted!r} of appointment {appointment_id!r}, not {_shown(self, limit)} "
                    "to take off"
                )
        if left:
            raise _Misfit(
                f"payment {payment_id!r} has {_shown(self, amount - left)} on appointment "
                f"{appointment_id!r}, not {_shown(self, amount)} to take off"
            )
        self.payments[payment_id] = (payment, placed, held_ids, count)
        self.accounts[appointment_id] = account_with_lines(
            account, lines, owing, (allocations, account[5])
        )

    def rebalance(self, appointment_id: str, charge_id: str) -> None:
        """Move what a line holds beyond its responsibility (after an adjustment lowered it) to
        the appointment's other lines with a balance due, in line order: newest freed first,
        each part placed anew as the newest placement of its payment (SPEC §10)."""
        for payment_id, take in _freed(self.account(appointment_id), charge_id):
            self.deallocate(appointment_id, payment_id, take, charge_id)
            self.allocate(appointment_id, payment_id, take)

    def apply_held(self, applied: tuple[Application, ...], first: str | None = None) -> None:
        """Apply parts of open entries to appointments' lines (``first`` first, if named)."""
        for entry_id, appointment_id, amount in applied:
            row = self.change_entry(entry_id, -amount)
            owner = self.account(appointment_id)[0]
            if row[0] != owner or row[1] not in (None, appointment_id):
                raise _Misfit(
                    f"entry {entry_id!r} is not patient {owner!r}'s money for appointment "
                    f"{appointment_id!r}"
                )
            self.allocate(appointment_id, row[2], amount, first)

    def return_allocations(
        self,
        appointment_id: str,
        returned: tuple[Return, ...],
        *,
        to_general: bool,
        line: str | None = None,
        only: bool = False,
    ) -> None:
        """Hold allocations again as new entries: in the general or the appointment's bucket;
        taken from ``line`` only, or from it first, when one is given."""
        patient_id = self.account(appointment_id)[0]
        for payment_id, amount, entry_id in returned:
            self.deallocate(appointment_id, payment_id, amount, line, only=only)
            self.open_entry(
                entry_id,
                patient_id,
                None if to_general else appointment_id,
                payment_id,
                self.payment(payment_id)[0].received_on,
                amount,
            )

    def move_credit(
        self,
        moves: tuple[Move, ...],
        to_patient_id: str,
        from_patient_id: str,
        from_bucket: str | None,
    ) -> None:
        """Move parts of open entries of one bucket into new entries of a patient's general
        bucket."""
        for from_entry_id, entry_id, amount in moves:
            row = self.change_entry(from_entry_id, -amount)
            _held_in(row, from_entry_id, from_patient_id, from_bucket)
            source_patient_id, _, payment_id, received_on, *_ = row
            self.open_entry(entry_id, to_patient_id, None, payment_id, received_on, amount)
            if to_patient_id != source_patient_id:
                self.add_paid(source_patient_id, -amount)
                self.add_paid(to_patient_id, amount)
                self.add_holder(payment_id, to_patient_id)


# -- one function per event -------------------------------------------------------------------


def _payment_posted(c: _Changes, event: PaymentPosted) -> None:
    # The hottest event: its lines placed by _pay_lines (as a plan payment's are), the rest held.
    p = event.payment
    patient_id, appointment_id, amount = p.patient_id, p.appointment_id, p.minor_units
    if appointment_id is None and p.charge_id is not None:  # a line names its appointment
        appointment_id = c.charge(p.charge_id).appointment_id
    allocated, entry_id = event.allocated, event.entry_id
    _fresh(c.state.payments, c.payments, "payment", p.id)
    _not_cancelled(c, appointment_id)
    apps, general, available, paid, charged, allocated_sum, held, negatives, owing = (
        c.patient_or_new(patient_id)
    )
    placed: _sorted.Keys = _sorted.EMPTY
    held_ids: _sorted.Keys = _sorted.EMPTY
    if appointment_id is not None:
        if allocated:
            placed, _, owing = _pay_lines(
                c, appointment_id, patient_id, p.id, allocated, p.charge_id, placed, 0, owing
            )
            allocated_sum += allocated
        elif c.account(appointment_id)[0] != patient_id:
            raise _Misfit(f"appointment {appointment_id!r} is not patient {patient_id!r}'s")
    if entry_id is not None:
        rest = amount - allocated
        seq = _entry_seq(c, entry_id)
        c.entries[entry_id] = (patient_id, appointment_id, p.id, p.received_on, seq, rest, 0)
        key = (p.received_on, seq, entry_id)
        held_ids = (entry_id,)
        if appointment_id is None:
            general = _add(general, key)
            available += rest
        else:
            account = c.account(appointment_id)
            c.accounts[appointment_id] = (
                *account[:OPEN],
                _add(account[OPEN], key),
                account[AVAILABLE] + rest,
                *account[ADDED:],
            )
            held += rest
    c.patients[patient_id] = (
        apps,
        general,
        available,
        paid + amount,
        charged,
        allocated_sum,
        held,
        negatives,
        owing,
    )
    c.payments[p.id] = (p, placed, held_ids, _sorted.size(placed))
    if appointment_id is not None and entry_id is not None:
        _settled(c, appointment_id)


def _pay_lines(  # noqa: PLR0917 - where, whose, how much, and the payment's rows so far
    c: _Changes,
    appointment_id: str,
    patient_id: str,
    payment_id: str,
    amount: int,
    first: str | None,
    placed: _sorted.Keys,
    count: int,
    owing: _sorted.Keys,
) -> tuple[_sorted.Keys, int, _sorted.Keys]:
    """Place ``amount`` of a payment on an appointment's lines (``first`` first, if named), its
    row built once: the hot path of both payment events. Return the payment's placements and
    their count, and the patient's appointments owing, as they are after it."""
    account = c.account(appointment_id)
    owner, date, charged, allocated, allocations, number = account[:6]
    if owner != patient_id:
        raise _Misfit(f"appointment {appointment_id!r} is not patient {patient_id!r}'s")
    lines, lines_owing, parts = _placed(
        c, appointment_id, payment_id, account[LINES], account[OWING], amount, first
    )
    allocated += amount
    if allocated == charged:  # its balance due is paid: no longer owing
        owing = _remove(owing, (date, appointment_id))
    for charge_id, part in parts:
        allocations = _add(allocations, (number, payment_id, part, charge_id))
        placed = _add(placed, (appointment_id, number, part, charge_id, count))
        number += 1
        count += 1
    c.accounts[appointment_id] = (
        *account[:3],
        allocated,
        allocations,
        number,
        *account[6:LINES],
        lines,
        lines_owing,
        account[NEGATIVE],
    )
    return placed, count, owing


def _charge_added(c: _Changes, event: ChargeAdded) -> None:
    charge = event.charge
    _fresh(c.state.charges, c.charges, "charge", charge.id)
    _not_cancelled(c, charge.appointment_id)
    c.charges[charge.id] = charge
    c.account_money(charge.appointment_id, charge.minor_units, 0)
    current = c.accounts[charge.appointment_id]
    c.accounts[charge.appointment_id] = account_with_lines(
        current, *with_new_line(current[LINES], current[OWING], charge.id, charge.minor_units)
    )
    _applied_and_settled(c, charge.appointment_id, event.applied)


def _applied_and_settled(
    c: _Changes, appointment_id: str, applied: tuple[Application, ...]
) -> None:
    """Apply held money, then refuse the event if the appointment still holds money with a
    balance due."""
    c.apply_held(applied)
    _settled(c, appointment_id)


def _appointment_added(c: _Changes, event: AppointmentAdded) -> None:
    _fresh(c.state.appointments, c.appointments, "appointment", event.appointment.id)
    c.add_appointment(event.appointment)


def _unallocated_applied(c: _Changes, event: UnallocatedApplied) -> None:
    c.apply_held(event.applied, event.charge_id)


def _refund_posted(c: _Changes, event: RefundPosted) -> None:
    p = event.payment
    _fresh(c.state.payments, c.payments, "payment", p.id)
    _not_cancelled(c, p.appointment_id)
    if p.appointment_id is not None and c.account(p.appointment_id)[0] != p.patient_id:
        raise _Misfit(f"appointment {p.appointment_id!r} is not patient {p.patient_id!r}'s")
    c.payments[p.id] = (p, _sorted.EMPTY, _sorted.EMPTY, 0)
    c.add_paid(p.patient_id, p.minor_units)
    c.open_entry(event.entry_id, p.patient_id, p.appointment_id, p.id, p.received_on, p.minor_units)
    available = (
        c.patient(p.patient_id)[GENERAL_AVAILABLE]
        if p.appointment_id is None
        else c.account(p.appointment_id)[AVAILABLE]
    )
    if available < 0:
        raise _Misfit(
            f"refund {p.id!r} takes {_shown(c, -p.minor_units)}, more than its bucket holds"
        )


def _entries_cancelled(c: _Changes, event: EntriesCancelled) -> None:
    for entry_id, amount in event.parts:
        row = c.change_entry(entry_id, -amount, cancelled=True)
        if row[0] != event.patient_id:
            raise _Misfit(f"entry {entry_id!r} is not patient {event.patient_id!r}'s")


def _allocation_unapplied(c: _Changes, event: AllocationUnapplied) -> None:
    c.return_allocations(
        event.appointment_id, event.returned, to_general=True, line=event.charge_id, only=True
    )
    _applied_and_settled(c, event.appointment_id, event.applied)


def _credit_released(c: _Changes, event: CreditReleased) -> None:
    owner = c.account(event.appointment_id)[0]
    c.move_credit(event.moves, owner, owner, event.appointment_id)


def _charge_adjusted(c: _Changes, event: ChargeAdjusted) -> None:
    adjustment = event.adjustment
    _fresh(c.adjustments, (), "adjustment", adjustment.id)
    charge = c.charge(adjustment.charge_id)
    appointment_id = charge.appointment_id
    before = c.adjusted.get(charge.id, charge.minor_units)
    c.adjusted = c.adjusted.set(charge.id, before + adjustment.minor_units)
    c.account_money(appointment_id, adjustment.minor_units, 0)
    current = c.accounts[appointment_id]
    c.accounts[appointment_id] = account_with_lines(
        current,
        *line_changed(current[LINES], current[OWING], charge.id, adjustment.minor_units, 0),
    )
    c.adjustments = c.adjustments.set(adjustment.id, adjustment)
    freed = _freed(c.accounts[appointment_id], charge.id)
    returned = [(payment_id, amount) for payment_id, amount, _ in event.returned]
    moved = sum(amount for _, amount in freed) - sum(amount for _, amount in returned)
    if _tail(freed, moved) == returned:
        # SPEC §10: the line's freed parts, newest first, go to the other lines while they have
        # a balance due (placed anew), and the rest, as recorded, to the appointment's bucket.
        entries = iter(event.returned)
        for payment_id, amount in freed:
            c.deallocate(appointment_id, payment_id, amount, charge.id)
            to_lines = min(amount, moved)
            moved -= to_lines
            if to_lines:
                c.allocate(appointment_id, payment_id, to_lines)
            if amount > to_lines:
                _, _, entry_id = next(entries)
                c.open_entry(
                    entry_id,
                    current[0],
                    appointment_id,
                    payment_id,
                    c.payment(payment_id)[0].received_on,
                    amount - to_lines,
                )
    else:
        # A journal written before line items: it names the payments whose money went back to
        # the bucket (the appointment's newest allocations); they stand, taken from the
        # adjusted line first, and what the line still holds beyond its responsibility moves
        # to the other lines.
        c.return_allocations(appointment_id, event.returned, to_general=False, line=charge.id)
        c.rebalance(appointment_id, charge.id)
    _applied_and_settled(c, appointment_id, event.applied)


def _freed(account: AccountRow, charge_id: str) -> list[tuple[str, int]]:
    """What a line holds beyond its responsibility, as ``(payment_id, amount)`` parts of its
    allocations, newest first."""
    _, responsibility, allocated = line_of(account, charge_id)
    excess = allocated - responsibility
    freed = []
    for _, payment_id, part, line in _sorted.iterate_reversed(account[4]):
        if excess <= 0:
            break
        if line == charge_id:
            take = min(part, excess)
            freed.append((payment_id, take))
            excess -= take
    return freed


def _tail(parts: list[tuple[str, int]], skip: int) -> list[tuple[str, int]]:
    """``parts`` after the first ``skip`` of their amount."""
    tail = []
    for payment_id, amount in parts:
        passed = min(amount, skip)
        skip -= passed
        if amount > passed:
            tail.append((payment_id, amount - passed))
    return tail


def _credit_transferred(c: _Changes, event: CreditTransferred) -> None:
    transfer = event.transfer
    _fresh(c.transfers, (), "transfer", transfer.id)
    c.transfers = c.transfers.set(transfer.id, transfer)
    c.add_paid(transfer.to_patient_id, 0)  # the receiver becomes known
    c.move_credit(event.moves, transfer.to_patient_id, transfer.from_patient_id, None)


def _payment_reversed(c: _Changes, event: PaymentReversed) -> None:
    payment_id = event.payment_id
    total = 0
    for appointment_id, amount in event.allocations:
        if amount < 0:
            raise _Misfit(f"payment {payment_id!r}: a reversal takes back {_shown(c, amount)}")
        c.deallocate(appointment_id, payment_id, amount)
        c.add_paid(c.account(appointment_id)[0], -amount)
        total += amount
    c.payment(payment_id)  # (a KeyError names an unknown payment)
    for entry_id, amount in event.entries:
        row = c.change_entry(entry_id, -amount)
        if row[2] != payment_id:
            raise _Misfit(
                f"entry {entry_id!r} holds payment {row[2]!r}'s money, not {payment_id!r}'s"
            )
        c.add_paid(row[0], -amount)
        total += amount
    _, before = c.reversed.get(payment_id, (None, 0))
    c.reversed = c.reversed.set(payment_id, (event.on, before + total))
    if event.uncounted:
        _uncount(c, payment_id, event.uncounted)
    c.apply_held(event.applied)
    for appointment_id, _ in event.allocations:
        _settled(c, appointment_id)


def _appointment_cancelled(c: _Changes, event: AppointmentCancelled) -> None:
    appointment_id = event.appointment_id
    account = c.account(appointment_id)
    _not_cancelled(c, appointment_id)
    if account[LINES]:
        raise _Misfit(f"appointment {appointment_id!r} has charges: it cannot be cancelled")
    given = c.given
    if given is None:
        keys = [*_sorted.iterate(account[OPEN]), *_sorted.iterate(account[NEGATIVE])]
        moved = [key[2] for key in keys]
        if c.record is not None:
            c.record.extend(moved)
    else:
        moved = list(given)
        c.at = len(given)
    for entry_id in moved:
        row = c.entry(entry_id)
        if row[1] != appointment_id or not row[5]:
            raise _Misfit(
                f"entry {entry_id!r} is not open in appointment {appointment_id!r}'s bucket"
            )
        c.move_to_general(entry_id)
    account = c.account(appointment_id)
    if _sorted.size(account[OPEN]) or _sorted.size(account[NEGATIVE]):
        raise _Misfit(
            f"appointment {appointment_id!r}'s bucket holds entries the event does not move"
        )
    c.cancelled = c.cancelled.set(appointment_id, event.on)


def _uncount(c: _Changes, payment_id: str, uncounted: int) -> None:
    """A plan payment counts ``uncounted`` less toward its plan (after a reversal)."""
    plan_id, counted = c.counted[payment_id]
    if not 0 < uncounted <= counted:
        raise _Misfit(
            f"payment {payment_id!r} counts {_shown(c, counted)} toward plan {plan_id!r}, "
            f"not {_shown(c, uncounted)} to take back"
        )
    c.counted = c.counted.set(payment_id, (plan_id, counted - uncounted))
    row = c.plans[plan_id]
    counting = row[PLAN_COUNTING]
    if counted == uncounted:
        counting = _remove(counting, (c.payment(payment_id)[0].received_on, payment_id))
    row = (*row[:PLAN_PAID], row[PLAN_PAID] - uncounted, row[PLAN_SKIPS], counting)
    _set_plan(c, plan_id, row)


def _set_plan(c: _Changes, plan_id: str, row: PlanRow) -> None:
    """Write a plan's row, keeping the set of active plans."""
    c.plans = c.plans.set(plan_id, row)
    if plan_active(row):
        if plan_id not in c.active:
            c.active = c.active.set(plan_id, True)  # noqa: FBT003 - a set's value
    elif plan_id in c.active:
        c.active = c.active.delete(plan_id)


def _plan(c: _Changes, plan_id: str) -> PlanRow:
    row = c.plans.get(plan_id)
    if row is None:
        raise _Misfit(f"payment plan {plan_id!r} is not in the ledger")
    return row


def _payment_plan_created(c: _Changes, event: PaymentPlanCreated) -> None:
    plan = event.plan
    if plan.id in c.plans:
        raise _Misfit(f"payment plan {plan.id!r} is already in the ledger")
    c.patient(plan.patient_id)  # (a KeyError names an unknown patient)
    amount = event.amount
    if amount <= 0 or (plan.minor_units is not None and plan.minor_units != amount):
        raise _Misfit(f"payment plan {plan.id!r} of {plan.amount!r} cannot cover {amount}")
    row: PlanRow = (
        plan.patient_id,
        plan.minor_units,
        amount,
        plan.installments,
        plan.first_due,
        plan.created_on,
        plan.appointment_ids,
        None,
        0,
        (),
        _sorted.EMPTY,
    )
    _set_plan(c, plan.id, row)
    mine = c.patient_plans.get(plan.patient_id, ())
    # A plain sorted tuple: a patient has few plans.
    c.patient_plans = c.patient_plans.set(
        plan.patient_id, tuple(sorted((*mine, (plan.created_on, plan.id))))
    )
    for appointment_id in plan.appointment_ids:
        if c.account(appointment_id)[0] != plan.patient_id:
            raise _Misfit(f"appointment {appointment_id!r} is not patient {plan.patient_id!r}'s")
        before = c.planned.get(appointment_id, ())
        c.planned = c.planned.set(appointment_id, (*before, plan.id))


def _plan_payment_posted(c: _Changes, event: PlanPaymentPosted) -> None:
    # As hot as a payment: each appointment's lines placed by _pay_lines, the rest held.
    p = event.payment
    patient_id, plan_id, amount = p.patient_id, p.plan_id, p.minor_units
    if plan_id is None or p.appointment_id is not None or p.charge_id is not None:
        raise _Misfit(f"payment {p.id!r} is not a plan payment")
    _fresh(c.state.payments, c.payments, "payment", p.id)
    row = _plan(c, plan_id)
    if row[0] != patient_id:
        raise _Misfit(f"payment plan {plan_id!r} is not patient {patient_id!r}'s")
    apps, general, available, paid, charged, allocated_sum, held, negatives, owing = c.patient(
        patient_id
    )
    placed: _sorted.Keys = _sorted.EMPTY
    count = 0
    rest = amount
    for appointment_id, part_of_it in event.placed:
        placed, count, owing = _pay_lines(
            c, appointment_id, patient_id, p.id, part_of_it, None, placed, count, owing
        )
        allocated_sum += part_of_it
        rest -= part_of_it
    entry_id = event.entry_id
    if rest < 0 or (rest > 0) != (entry_id is not None):
        raise _Misfit(f"payment {p.id!r} places {_shown(c, amount - rest)} of its amount")
    held_ids: _sorted.Keys = _sorted.EMPTY
    if entry_id is not None:
        seq = _entry_seq(c, entry_id)
        c.entries[entry_id] = (patient_id, None, p.id, p.received_on, seq, rest, 0)
        general = _add(general, (p.received_on, seq, entry_id))
        available += rest
        held_ids = (entry_id,)
    c.patients[patient_id] = (
        apps,
        general,
        available,
        paid + amount,
        charged,
        allocated_sum,
        held,
        negatives,
        owing,
    )
    c.payments[p.id] = (p, placed, held_ids, count)
    counted = event.counted
    if not 0 <= counted <= min(amount, row[PLAN_AMOUNT] - row[PLAN_PAID]):
        raise _Misfit(f"payment {p.id!r} cannot count {_shown(c, counted)} toward {plan_id!r}")
    c.counted = c.counted.set(p.id, (plan_id, counted))
    if counted:
        counting = _add(row[PLAN_COUNTING], (p.received_on, p.id))
        _set_plan(
            c, plan_id, (*row[:PLAN_PAID], row[PLAN_PAID] + counted, row[PLAN_SKIPS], counting)
        )


def _installment_skipped(c: _Changes, event: InstallmentSkipped) -> None:
    row = _plan(c, event.plan_id)
    skips = row[PLAN_SKIPS]
    if event.added != row[3] + len(skips) + 1:
        raise _Misfit(
            f"payment plan {event.plan_id!r} would add installment {row[3] + len(skips) + 1}, "
            f"not {event.added}"
        )
    skips = (*skips, (event.number, event.amount))
    _set_plan(c, event.plan_id, (*row[:PLAN_SKIPS], skips, row[PLAN_COUNTING]))


def _payment_plan_cancelled(c: _Changes, event: PaymentPlanCancelled) -> None:
    row = _plan(c, event.plan_id)
    if row[PLAN_CANCELLED] is not None:
        raise _Misfit(f"payment plan {event.plan_id!r} was already cancelled")
    (
        patient_id,
        given,
        amount,
        count,
        first_due,
        created_on,
        appointment_ids,
        _,
        paid,
        skips,
        counting,
    ) = row
    cancelled: PlanRow = (
        patient_id,
        given,
        amount,
        count,
        first_due,
        created_on,
        appointment_ids,
        event.on,
        paid,
        skips,
        counting,
    )
    _set_plan(c, event.plan_id, cancelled)


#: How each event but ``LedgerOpened`` (which makes a new state) is applied. A test checks that
#: every event type has its function.
_APPLY: dict[type[Any], Callable[[_Changes, Any], None]] = {
    PaymentPosted: _payment_posted,
    ChargeAdded: _charge_added,
    AppointmentAdded: _appointment_added,
    UnallocatedApplied: _unallocated_applied,
    RefundPosted: _refund_posted,
    EntriesCancelled: _entries_cancelled,
    AllocationUnapplied: _allocation_unapplied,
    CreditReleased: _credit_released,
    ChargeAdjusted: _charge_adjusted,
    CreditTransferred: _credit_transferred,
    PaymentReversed: _payment_reversed,
    AppointmentCancelled: _appointment_cancelled,
    PaymentPlanCreated: _payment_plan_created,
    PlanPaymentPosted: _plan_payment_posted,
    InstallmentSkipped: _installment_skipped,
    PaymentPlanCancelled: _payment_plan_cancelled,
}


#: The field in which each kind of event records where its money went (see
#: :mod:`patient_ledger.events`).
_RECORDS: Final[dict[type[Any], str]] = dict.fromkeys(RECORDING, "lines") | {
    AppointmentCancelled: "moved"
}


def _apply(c: _Changes, event: Event) -> None:
    """Apply ``event`` as it is: where its record says its money went, or — for an event without
    one (written before its line version, or built by hand) — where the rules place it."""
    kind = type(event)
    name = _RECORDS.get(kind)
    if name is None:
        _APPLY[kind](c, event)
        return
    given = getattr(event, name)
    c.given, c.at = given, 0
    _APPLY[kind](c, event)
    c.given = None
    if given is not None and c.at != len(given):
        raise _Misfit(f"its {name} record holds {len(given) - c.at} parts it did not move")


def advance(state: State, event: Event) -> State:
    """The state after a command's ``event`` (not ``LedgerOpened``), which gets the record of
    where its money went (``lines``, ``moved``) as it is applied: the rules that place money
    run here, once. ``state`` is left as it was."""
    changes = _Changes(state)
    kind = type(event)
    name = _RECORDS.get(kind)
    if name is not None and getattr(event, name) is None:
        record: list[Any] = []
        changes.record = record
        _APPLY[kind](changes, event)
        if record:
            event = recorded(event, tuple(record))
    else:
        _apply(changes, event)
    return changes.freeze(state.log.appended(event))


def apply_event(ledger: Ledger, event: Event) -> Ledger:
    """Return the ledger after ``event``: the one mutator, shared by commands and replay.

    No business rule is checked (the command that decided the event did): this is how a
    recorded journal is applied. ``ledger`` is left as it was, whatever happens.

    Raises:
        InvalidInputError: ``event`` is not an event, is a second ``LedgerOpened``, carries
            a value in another currency than the ledger's, or does not fit the ledger (it was
            decided on another: it names an unknown id, makes a second value or entry with one
            id, or moves money that is not where it says). Its ``index`` is the event's place
            in the journal.
    """
    state = state_of(ledger)
    if type(event) not in EVENT_TYPES or isinstance(event, LedgerOpened):
        raise InvalidInputError(
            f"apply_event takes an event other than LedgerOpened, got {type(event).__name__}"
        )
    number = len(state.log)
    _check_currency(event, state.currency, number)
    try:
        changes = _Changes(state)
        _apply(changes, event)
        return ledger_of(changes.freeze(state.log.appended(event)))
    except Exception as error:  # noqa: BLE001 - any failure to apply names the event
        raise _does_not_fit(number, event, error) from None


def _does_not_fit(number: int, event: Event, error: Exception) -> InvalidInputError:
    """The refusal of journal item ``number``, an event that did not apply: it names the event,
    the value it carries, and why."""
    name = _VALUES.get(type(event))
    what = type(event).__name__
    if name is not None:
        what = f"{what} of {getattr(event, name).id!r}"
    if isinstance(error, KeyError):
        why = f"it names {error.args[0]!r}, which is not in the ledger"
    elif isinstance(error, _Misfit | ValueError):
        why = str(error)
    else:
        why = f"{type(error).__name__} {error}"
    return InvalidInputError(
        f"journal item {number}: {what} does not fit the ledger before it: {why}", index=number
    )


#: The value object each kind of event carries (its amount is in the ledger's currency).
_VALUES: Final = {
    PaymentPosted: "payment",
    PlanPaymentPosted: "payment",
    RefundPosted: "payment",
    ChargeAdded: "charge",
    ChargeAdjusted: "adjustment",
    CreditTransferred: "transfer",
}


def _check_currency(event: Event, currency: str, number: int) -> None:
    """Refuse an event whose value object is in another currency than the ledger's: the journal
    could not be read back (a command refuses such a value before it decides an event)."""
    name = _VALUES.get(type(event))
    if isinstance(event, PaymentPlanCreated) and getattr(event.plan, "amount", None) is not None:
        name = "plan"
    if name is not None:
        value = getattr(event, name)
        code = getattr(getattr(getattr(value, "amount", None), "currency", None), "code", None)
        if code is None:
            raise InvalidInputError(
                f"journal item {number}: {type(event).__name__} carries "
                f"{type(value).__name__} as its {name}, not a value object with an amount",
                index=number,
            )
        if code != currency:
            raise InvalidInputError(
                f"journal item {number}: {type(event).__name__} of {value.id!r} is in {code}, "
                f"not the ledger's {currency}",
                index=number,
            )


def replay(events: Iterable[Event], *, onto: Ledger | None = None) -> Ledger:
    """Rebuild a ledger from its journal: ``replay(ledger.events) == ledger`` always.

    Business rules are not re-run; only the journal's shape is checked. The events are applied
    by the same mutator as the commands', in one batch of transient writes. With ``onto``, the
    events continue that ledger's journal (how a store catches a ledger up); ``onto`` is left
    as it was.

    Raises:
        InvalidInputError: the journal is empty, does not start with ``LedgerOpened`` (or,
            ``onto`` a ledger, holds one), holds something that is not an event, an event
            carrying a value in another currency than the ledger's, or an event that does not
            apply to the ledger before it. Its ``index`` names the item.
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
        _check_currency(event, state.currency, number)
        batch.append(event)
        try:
            _apply(changes, event)
        except Exception as error:  # noqa: BLE001 - any failure to apply names its item
            raise _does_not_fit(number, event, error) from None
    if changes is None:
        raise InvalidInputError("cannot replay an empty journal: it must start with LedgerOpened")
    return ledger_of(changes.freeze(log.extended(batch)))
