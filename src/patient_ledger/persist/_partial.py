"""Ledgers for a read of a few views, decoded from a snapshot without decoding all of it.

A snapshot (:mod:`patient_ledger.snapshot`) is one MessagePack body; a command that prints one
patient's report, or every patient's dashboard, needs only a few of its rows. msgspec skips what
it is not asked to decode (a :class:`msgspec.Raw` is the bytes of a value, found without
building it), so :func:`patients_only` decodes the ``patients`` table alone, and
:func:`one_patient` the rows one patient's views read: the patient's row, its appointments'
accounts and values, their lines' charges, its buckets' entries, and the cancelled
appointments. Every other table of the ledger returned is empty.

Such a ledger answers those views exactly as the whole ledger would (the tests compare them for
every patient), and nothing else: it is never handed to a command or a user — the command line
uses it for ``balances`` and ``report`` when a snapshot stands for the whole journal. The
snapshot's format rules are :mod:`patient_ledger.snapshot`'s: another format is refused with
:class:`~patient_ledger.errors.SnapshotError`, and the caller loads the whole ledger instead.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Final

import immutables
import msgspec
from moneyed import CURRENCIES

from patient_ledger import _sorted
from patient_ledger._log import EventLog
from patient_ledger._stored import StoredAppointment, StoredCharge
from patient_ledger.errors import SnapshotError
from patient_ledger.events import Event
from patient_ledger.persist import snapshot
from patient_ledger.state import LINES, NEGATIVE, OPEN, Ledger, State, ledger_of

__all__ = ["one_patient", "patients_only"]

_Raw = msgspec.Raw
_Rows = dict[str, _Raw]
#: A snapshot's body with only the tables a patient's views read decoded to rows of bytes.
_ONE = msgspec.msgpack.Decoder(
    tuple[
        str,
        int,
        int,
        _Rows,  # accounts
        _Rows,  # patients
        _Rows,  # entries
        _Raw,  # payments
        _Rows,  # charges
        _Rows,  # appointments
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        dict[str, datetime.date],  # cancelled
        _Rows,  # plans
        _Rows,  # patient_plans
        _Raw,
        _Raw,
        _Raw,
        tuple[tuple[str, str, int], ...],  # the big sets
    ]
)
#: The same, with the patients table decoded whole and every other table skipped.
_PATIENTS = msgspec.msgpack.Decoder(
    tuple[
        str,
        int,
        int,
        _Raw,
        dict[str, snapshot._Patient],  # noqa: SLF001 - the snapshot's own row types
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        _Raw,
        tuple[tuple[str, str, int], ...],
    ]
)
_ACCOUNT = msgspec.msgpack.Decoder(snapshot._Account)  # noqa: SLF001
_PATIENT = msgspec.msgpack.Decoder(snapshot._Patient)  # noqa: SLF001
_ENTRY = msgspec.msgpack.Decoder(snapshot._Entry)  # noqa: SLF001
_CHARGE = msgspec.msgpack.Decoder(StoredCharge)
_APPOINTMENT = msgspec.msgpack.Decoder(StoredAppointment)
_PLAN = msgspec.msgpack.Decoder(snapshot._Plan)  # noqa: SLF001
_PATIENT_PLANS = msgspec.msgpack.Decoder(tuple[snapshot._DayKey, ...])  # noqa: SLF001
_EMPTY: Final[immutables.Map[Any, Any]] = immutables.Map()


def _body(data: bytes, decoder: msgspec.msgpack.Decoder[Any]) -> Any:
    try:
        tag, raw = snapshot._HEADER.decode(data)  # noqa: SLF001 - the snapshot's own header
        if tag != snapshot.FORMAT:
            raise SnapshotError(f"a snapshot of format {tag!r}, not {snapshot.FORMAT!r}")
        body = decoder.decode(raw)
    except (msgspec.DecodeError, TypeError) as error:
        raise SnapshotError(f"a damaged snapshot: {error}") from None
    if body[0] not in CURRENCIES:
        raise SnapshotError(f"a damaged snapshot: unknown currency {body[0]!r}")
    return body


def _state(body: Any, events: Sequence[Event], tables: dict[str, Any]) -> Ledger:
    currency, count, next_seq = body[:3]
    if len(events) != count:
        raise SnapshotError(f"the snapshot stands for {count} events, not {len(events)}")
    maps = [
        immutables.Map(tables[name]) if name in tables else _EMPTY for name in State._fields[3:]
    ]
    return ledger_of(State(currency, EventLog(base=events), next_seq, *maps))


def _row(
    decoder: msgspec.msgpack.Decoder[Any],
    raw: _Raw,
    big: dict[tuple[str, str], list[int]],
    table: str,
    key: str,
) -> Any:
    """One row decoded, its big sorted sets made B-trees again (as :func:`snapshot.decode`)."""
    row = decoder.decode(raw)
    positions = big.get((table, key))
    if positions:
        row = list(row)
        for position in positions:
            row[position] = _sorted.from_sorted(row[position])
        row = tuple(row)
    return row


def patients_only(data: bytes, events: Sequence[Event]) -> Ledger:
    """A ledger holding only the snapshot's ``patients`` table: every patient's dashboard.

    Raises:
        SnapshotError: not a snapshot of this format, or damaged.
    """
    body = _body(data, _PATIENTS)
    patients = body[4]
    try:
        for table, key, position in body[-1]:
            if table == "patients":
                row = list(patients[key])
                row[position] = _sorted.from_sorted(row[position])
                patients[key] = tuple(row)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise SnapshotError(f"a damaged snapshot: {type(error).__name__} {error}") from None
    return _state(body, events, {"patients": patients})


def one_patient(data: bytes, events: Sequence[Event], patient_id: str) -> Ledger:
    """A ledger holding only what ``patient_id``'s views read — the dashboard, the claims
    feed and its lines, the open entries, aging, the patient's plans — or no patient if the
    snapshot has none of that id.

    Raises:
        SnapshotError: not a snapshot of this format, or damaged.
    """
    body = _body(data, _ONE)
    accounts, patients, entries, charges, appointments = (body[i] for i in (3, 4, 5, 7, 8))
    big: dict[tuple[str, str], list[int]] = {}
    for table, key, position in body[-1]:
        big.setdefault((table, key), []).append(position)
    tables: dict[str, dict[str, Any]] = {
        "patients": {},
        "accounts": {},
        "entries": {},
        "charges": {},
        "appointments": {},
        "cancelled": {},
        "plans": {},
        "patient_plans": {},
    }
    try:
        raw = patients.get(patient_id)
        if raw is not None:
            patient = _row(_PATIENT, raw, big, "patients", patient_id)
            tables["patients"][patient_id] = patient
            held = [*_sorted.iterate(patient[1]), *_sorted.iterate(patient[7])]
            for _, appointment_id in _sorted.iterate(patient[0]):
                account = _row(_ACCOUNT, accounts[appointment_id], big, "accounts", appointment_id)
                tables["accounts"][appointment_id] = account
                tables["appointments"][appointment_id] = _APPOINTMENT.decode(
                    appointments[appointment_id]
                )
                if appointment_id in body[14]:
                    tables["cancelled"][appointment_id] = body[14][appointment_id]
                held += [*_sorted.iterate(account[OPEN]), *_sorted.iterate(account[NEGATIVE])]
                for chunk in account[LINES]:
                    for charge_id in chunk[::3]:
                        tables["charges"][charge_id] = _CHARGE.decode(charges[charge_id])
            for _, _, entry_id in held:
                tables["entries"][entry_id] = _ENTRY.decode(entries[entry_id])
            mine = body[16].get(patient_id)
            if mine is not None:  # the patient's payment plans (SPEC §11), for the report
                tables["patient_plans"][patient_id] = _PATIENT_PLANS.decode(mine)
                for _, plan_id in tables["patient_plans"][patient_id]:
                    tables["plans"][plan_id] = _row(_PLAN, body[15][plan_id], big, "plans", plan_id)
    except (KeyError, IndexError, TypeError, ValueError, msgspec.DecodeError) as error:
        raise SnapshotError(f"a damaged snapshot: {type(error).__name__} {error}") from None
    return _state(body, events, tables)
