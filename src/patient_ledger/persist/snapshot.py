"""Snapshots: a ledger's state as plain data, so that a store opens a practice without
replaying its history (the core's one read-only interface to its tables for persistence).

:func:`encode` writes the state after a ledger's last event as MessagePack (msgspec): strs, ints,
dates and arrays of them — no objects, nothing executable, so a snapshot read back from a
database is only ever *data*. :func:`decode` rebuilds the tables in one pass, each row decoded
straight into the tuple the engine holds (msgspec checks every field's type on the way), and
gives the ledger a journal whose events are the caller's sequence — typically a store's lazy
view of its stored lines, decoded only when read.

A snapshot names its format (:data:`FORMAT`, which changes whenever the tables' rows do) and the
number of events it stands for; a snapshot of another format is refused with
:class:`~patient_ledger.errors.SnapshotError`, and the caller (a store) falls back to replaying the
journal. Checking that a snapshot belongs to a journal — the chain hash at its event — is the
store's part: see :mod:`patient_ledger.persist.store`.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, Final

import immutables
import msgspec
from moneyed import CURRENCIES

from patient_ledger import _sorted
from patient_ledger._log import EventLog, Events
from patient_ledger._stored import (
    StoredAdjustment,
    StoredAppointment,
    StoredCharge,
    StoredPayment,
    StoredTransfer,
)
from patient_ledger.errors import SnapshotError
from patient_ledger.events import Event
from patient_ledger.state import Ledger, State, ledger_of, state_of
from patient_ledger.values import plain

__all__ = ["FORMAT", "Events", "decode", "encode", "events_of", "holds"]

#: The format of the rows a snapshot holds: a snapshot of any other format is never decoded.
FORMAT: Final = "patient_ledger/state/4"

_Date = datetime.date
_Opt = str | None
_EntryKey = tuple[_Date, int, str]
_DayKey = tuple[_Date, str]
_AllocationKey = tuple[int, str, int, str]
_Placement = tuple[str, int, int, str, int]
# The rows, as the engine holds them (state.py), with every sorted set written flat.
_Account = tuple[
    str,
    _Date,
    int,
    int,
    tuple[_AllocationKey, ...],
    int,
    tuple[_EntryKey, ...],
    int,
    int,
    tuple[tuple[str | int, ...], ...],
    tuple[int, ...],
    tuple[_EntryKey, ...],
]
_Patient = tuple[
    tuple[_DayKey, ...],
    tuple[_EntryKey, ...],
    int,
    int,
    int,
    int,
    int,
    tuple[_EntryKey, ...],
    tuple[_DayKey, ...],
]
_Entry = tuple[str, _Opt, str, _Date, int, int, int]
_Plan = tuple[
    str,
    int | None,
    int,
    int,
    _Date,
    _Date,
    tuple[str, ...],
    _Date | None,
    int,
    tuple[tuple[int, int], ...],
    tuple[_DayKey, ...],
]
#: Where a big sorted set was written flat: table, row id, position in the row.
_Big = tuple[str, str, int]

_Body = tuple[
    str,  # currency
    int,  # events
    int,  # next_seq
    dict[str, _Account],
    dict[str, _Patient],
    dict[str, _Entry],
    dict[str, tuple[StoredPayment, tuple[_Placement, ...], tuple[str, ...], int]],
    dict[str, StoredCharge],
    dict[str, StoredAppointment],
    dict[str, int],  # adjusted
    dict[str, StoredAdjustment],
    dict[str, StoredTransfer],
    dict[str, tuple[str, ...]],  # holders
    dict[str, tuple[_Date, int]],  # reversed
    dict[str, _Date],  # cancelled
    dict[str, _Plan],
    dict[str, tuple[_DayKey, ...]],  # patient_plans
    dict[str, tuple[str, ...]],  # planned
    dict[str, tuple[str, int]],  # counted
    dict[str, bool],  # active
    tuple[_Big, ...],
]
_ENCODER = msgspec.msgpack.Encoder(enc_hook=plain)
_HEADER = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw])
_BODY = msgspec.msgpack.Decoder(_Body)
#: The state's tables, in the order a snapshot holds them (after currency, log and counter).
_TABLES: Final = State._fields[3:]
#: The positions of sorted sets in each table's rows.
_SETS: Final = {
    "accounts": (4, 6, 10, 11),
    "patients": (0, 1, 7, 8),
    "payments": (1, 2),
    "plans": (10,),
}
#: A value object's (or its record's) fields, in the order its record is written.
_APPOINTMENT: Final = attrgetter(*StoredAppointment.__struct_fields__)
_CHARGE: Final = attrgetter(*StoredCharge.__struct_fields__)
_PAYMENT: Final = attrgetter(*StoredPayment.__struct_fields__)
_ADJUSTMENT: Final = attrgetter(*StoredAdjustment.__struct_fields__)
_TRANSFER: Final = attrgetter(*StoredTransfer.__struct_fields__)


def encode(ledger: Ledger) -> bytes:
    """The state after the ledger's last event, as a snapshot (MessagePack bytes)."""
    s = state_of(ledger)
    big: list[_Big] = []

    def rows(table: str, rows: immutables.Map[str, Any]) -> dict[str, Any]:
        positions = _SETS[table]
        out: dict[str, Any] = {}
        for key, row in rows.items():
            out[key] = row
            if any(_sorted.is_big(row[i]) for i in positions):
                flat = list(row)
                for i in positions:
                    if _sorted.is_big(row[i]):
                        big.append((table, key, i))
                        flat[i] = tuple(_sorted.iterate(row[i]))
                out[key] = flat
        return out

    payments = rows("payments", s.payments)
    payments = {key: (_PAYMENT(row[0]), *row[1:]) for key, row in payments.items()}
    body = (
        s.currency,
        len(s.log),
        s.next_seq,
        rows("accounts", s.accounts),
        rows("patients", s.patients),
        dict(s.entries.items()),
        payments,
        {k: _CHARGE(c) for k, c in s.charges.items()},
        {k: _APPOINTMENT(a) for k, a in s.appointments.items()},
        dict(s.adjusted.items()),
        {k: _ADJUSTMENT(a) for k, a in s.adjustments.items()},
        {k: _TRANSFER(t) for k, t in s.transfers.items()},
        dict(s.holders.items()),
        dict(s.reversed.items()),
        dict(s.cancelled.items()),
        rows("plans", s.plans),
        dict(s.patient_plans.items()),
        dict(s.planned.items()),
        dict(s.counted.items()),
        dict(s.active.items()),
        big,
    )
    try:
        return _ENCODER.encode((FORMAT, msgspec.Raw(_ENCODER.encode(body))))
    except OverflowError as error:  # sums beyond 2**64 minor units (a 3-decimal currency's)
        raise SnapshotError(f"the state cannot be snapshotted: {error}") from None


def events_of(data: bytes) -> int:
    """How many events a snapshot stands for (its format checked).

    Raises:
        SnapshotError: not a snapshot, or one of another format.
    """
    count: int = _body(data)[1]
    return count


def _body(data: bytes) -> Any:
    try:
        tag, raw = _HEADER.decode(data)
    except (msgspec.DecodeError, TypeError) as error:
        raise SnapshotError(f"not a snapshot: {error}") from None
    if tag != FORMAT:
        raise SnapshotError(f"a snapshot of format {tag!r}, not {FORMAT!r}: ignored")
    try:
        return _BODY.decode(raw)
    except msgspec.DecodeError as error:
        raise SnapshotError(f"a damaged snapshot: {error}") from None


def decode(data: bytes, events: Sequence[Event]) -> Ledger:
    """The ledger a snapshot holds, with ``events`` — the journal's first events, as many as
    the snapshot stands for — as its journal (read only when something reads them).

    Whether ``events`` are the journal the snapshot was taken from is the caller's to know (a
    store checks the chain hash at its last event).

    Raises:
        SnapshotError: not a snapshot, one of another format, a damaged one, or ``events`` of
            another length.
    """
    return _opened(_body(data), events)


def _opened(body: Any, events: Sequence[Event]) -> Ledger:
    """The ledger a decoded snapshot's body holds (its big sets made B-trees in place)."""
    currency, count, next_seq, *tables, big = body
    if len(events) != count:
        raise SnapshotError(f"the snapshot stands for {count} events, not {len(events)}")
    if currency not in CURRENCIES:
        raise SnapshotError(f"a damaged snapshot: unknown currency {currency!r}")
    named = dict(zip(_TABLES, tables, strict=True))
    try:
        for table, key, position in big:
            row = list(named[table][key])
            row[position] = _sorted.from_sorted(row[position])
            named[table][key] = tuple(row)
        state = State(currency, EventLog(base=events), next_seq, *map(immutables.Map, tables))
    except (KeyError, ValueError, IndexError, TypeError) as error:
        raise SnapshotError(f"a damaged snapshot: {type(error).__name__} {error}") from None
    return ledger_of(state)


def holds(data: bytes, ledger: Ledger) -> bool:
    """Whether a snapshot holds exactly ``ledger``'s state: every table, row for row (compared
    as written: a set is its keys, whatever shape a B-tree of them had).

    Raises:
        SnapshotError: not a snapshot, one of another format, or a damaged one.
    """
    held = _body(data)
    same = bool(held[:-1] == _body(encode(ledger))[:-1])
    _opened(held, ledger.events)  # it opens (after the comparison: this changes its big sets)
    return same
