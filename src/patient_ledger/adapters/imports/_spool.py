"""The strict CSV reader every CSV command shares (:func:`_records`), and the spool that sorts an
import's rows into the one posting order in a temporary SQLite database."""

from __future__ import annotations

import csv
import datetime
import io
import pickle
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from patient_ledger.adapters._order import Position, Record
from patient_ledger.adapters.imports._columns import _NOUN
from patient_ledger.errors import (
    DuplicateIdError,
    InvalidInputError,
)
from patient_ledger.money import FrozenMoney
from patient_ledger.state import Ledger, state_of
from patient_ledger.values import Appointment


def _records(path: Path, where: str) -> Iterator[tuple[int, list[str]]]:
    """The file's records with the physical line each starts on (blank lines skipped). Lines
    are decoded one at a time, so a byte that is not UTF-8 is named by its line."""
    number = 0

    def lines(source: Iterator[bytes]) -> Iterator[str]:
        nonlocal number
        for number, raw in enumerate(source, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                msg = f"{where} line {number}: not UTF-8 text: save the file as UTF-8"
                raise InvalidInputError(msg, file=where, line=number) from None
            yield text.removeprefix("\ufeff") if number == 1 else text

    with path.open("rb") as source:
        reader = csv.reader(lines(iter(source)), strict=True)
        start = 1
        try:
            for record in reader:
                if any(cell.strip() for cell in record):
                    yield start, record
                start = reader.line_num + 1
        except csv.Error as error:
            msg = f"{where} line {start}: {error}"
            raise InvalidInputError(msg, file=where, line=start) from None


class _Pickler(pickle.Pickler):
    """Spooled values name their amounts, dates and strings by value (``persistent_id``), so
    that :class:`_Unpickler` hands every row the same objects for the same values: a
    million rows share a few hundred dates and amounts, and each visit's id is one string for
    the visit, its charges and its payments. It is most of the memory a ledger built by an
    import needs."""

    def persistent_id(self, obj: Any) -> bytes | None:
        # Bytes: a persistent id is pickled too, and bytes are not shared (no recursion).
        # Exact types: a str enum member (a payment's method) is pickled as itself.
        kind = type(obj)
        if kind is str:
            return b"s" + cast("str", obj).encode("utf-8", "surrogatepass")
        if kind is datetime.date:
            return b"d" + cast("datetime.date", obj).isoformat().encode()
        if kind is FrozenMoney:
            return b"m" + f"{obj.amount} {obj.currency.code}".encode()
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, blob: bytes, shared: dict[bytes, object]) -> None:
        super().__init__(io.BytesIO(blob))
        self.shared = shared

    def persistent_load(self, pid: Any) -> object:
        found = self.shared.get(pid)
        if found is None:
            if len(self.shared) >= 100_000:  # bounded: ids are shared while they are near
                self.shared.clear()
            kind, text = pid[:1], pid[1:].decode("utf-8", "surrogatepass")
            if kind == b"s":
                found = text
            elif kind == b"d":
                found = datetime.date.fromisoformat(text)
            else:
                amount, code = text.split(" ")
                found = FrozenMoney(Decimal(amount), code)
            self.shared[pid] = found
        return found


def _dumps(value: object) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


#: The spool's columns of a row's :class:`~patient_ledger.adapters._order.Position`, and its
#: posting order: that position, then files in the order given and rows top to bottom.
_POSITION = " INTEGER, ".join(Position._fields)


_ORDER = ", ".join((*Position._fields, "file", "line"))


class _Spool:
    """Rows parsed and waiting to be posted, in a temporary SQLite database, sorted on the way
    out; and every id read, by kind, with the day it is posted on and where it was read. The
    database is SQLite's private temporary one (an empty file name): kept in memory while small,
    spilled to a file that SQLite unlinks as soon as it opens it (in ``SQLITE_TMPDIR``,
    ``TMPDIR`` or ``/var/tmp``), so no row of it is left on disk after the process ends, however
    it ends."""

    def __init__(self, ledger: Ledger) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            f"CREATE TABLE row ({_POSITION} INTEGER, file INTEGER, line INTEGER, value BLOB);"
            "CREATE TABLE seen (kind TEXT, id TEXT, day INTEGER, file INTEGER, line INTEGER,"
            " PRIMARY KEY (kind, id)) WITHOUT ROWID;"
        )
        self.state = state_of(ledger)
        self.names: list[str] = []  # the files read, by number
        self.pending: list[tuple[int, int, int, int, bytes]] = []
        self.ignored: list[tuple[str, tuple[str, ...]]] = []  # columns no field reads, by file
        self.count = 0

    def day_of(self, kind: str, key: str) -> int | None:
        """The day (ordinal) of a visit or a charge read earlier, or already in the ledger."""
        query = "SELECT day FROM seen WHERE kind=? AND id=?"
        found = self.db.execute(query, (kind, key)).fetchone()
        if found:
            return int(found[0])
        state = self.state
        if kind == "plans":
            plan = state.plans.get(key)
            return None if plan is None else plan[5].toordinal()  # created_on
        if kind == "charges":
            charge = state.charges.get(key)
            key = charge.appointment_id if charge is not None else ""
        if key in state.accounts:
            return state.appointment(key).appointment.date.toordinal()
        return None

    def add(self, kind: str, at: Position, place: tuple[int, int], value: Record) -> None:
        """Spool a value of a kind of file read at ``place`` (file, line) to be posted at
        ``at`` (:func:`~patient_ledger.adapters._order.position`); a visit's date and a
        charge's day are kept for the rows that name them.

        Raises:
            DuplicateIdError: the kind's id was read before in this import (both lines named).
        """
        known = value.date.toordinal() if isinstance(value, Appointment) else at.day
        added = self.db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", (kind, value.id, known, *place)
        )
        if not added.rowcount:
            query = "SELECT file, line FROM seen WHERE kind=? AND id=?"
            file, line = self.db.execute(query, (kind, value.id)).fetchone()
            first = f"{self.names[file]} line {line}"
            then = f"{self.names[place[0]]} line {place[1]}"
            msg = (
                f"{_NOUN[kind]} id {value.id!r} is on two rows of this import, {first} and "
                f"{then}: an id may appear once in an import"
            )
            raise DuplicateIdError(msg, id=value.id, first=first, then=then)
        self.pending.append((*at, *place, _dumps(value)))
        self.count += 1
        self.flush(now=False)

    def flush(self, now: bool = True) -> None:
        """Write the pending rows (every 10,000 rows, or at once when asked)."""
        if self.pending and (now or len(self.pending) >= 10_000):
            self.db.executemany("INSERT INTO row VALUES (?, ?, ?, ?, ?)", self.pending)
            self.pending.clear()

    def sorted(self) -> Iterator[tuple[int, int, object]]:
        """``(file, line, value)`` in posting order."""
        self.flush()
        self.db.execute(f"CREATE INDEX posting ON row ({_ORDER})")
        query = f"SELECT file, line, value FROM row ORDER BY {_ORDER}"  # noqa: S608 - our own column names
        shared: dict[bytes, object] = {}
        for file, line, blob in self.db.execute(query):
            yield file, line, _Unpickler(blob, shared).load()  # our own rows, spooled just now
