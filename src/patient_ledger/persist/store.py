"""Event stores: keep journals in a database, append with optimistic concurrency (a shell).

``open_store(url)`` gives one interface over two backends:

* ``sqlite:///path/to/file.db`` — the embedded default (stdlib ``sqlite3``, WAL mode);
* ``postgresql://user@host:port/dbname`` — PostgreSQL through psycopg 3 (the ``postgres``
  extra: ``pip install "patient-ledger[postgres]"``).

A store keeps each named journal as its canonical, hash-chained lines (see
:mod:`patient_ledger.persist.journal`) plus a head row with its version (the number of events) and
last hash. ``save(name, ledger, expected_version=n)`` appends the ledger's events after the
first ``n`` in one transaction; if another writer saved since, it raises
:class:`~patient_ledger.errors.ConcurrencyError` and writes nothing — reload and retry.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import itertools
import re
import sqlite3
import threading
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

from patient_ledger.errors import (
    ConcurrencyError,
    InvalidInputError,
    JournalError,
    SnapshotError,
    StoreError,
    UnknownIdError,
)
from patient_ledger.persist import journal, snapshot
from patient_ledger.state import Ledger
from patient_ledger.values import check_id

_SCHEMA = (
    (
        "CREATE TABLE IF NOT EXISTS journal_heads ("
        " name TEXT PRIMARY KEY, version INTEGER NOT NULL, head TEXT NOT NULL)"
    ),
    # Lines as releases before 0.6 kept them, whole; read, and moved to journal_events by the
    # first save.
    (
        "CREATE TABLE IF NOT EXISTS journal_lines ("
        " name TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,"
        " PRIMARY KEY (name, seq))"
    ),
    # Each line packed (journal.pack): its hash, and its event, type and version compressed.
    (
        "CREATE TABLE IF NOT EXISTS journal_events ("
        " name TEXT NOT NULL, seq INTEGER NOT NULL, hash {blob} NOT NULL, body {blob} NOT NULL,"
        " PRIMARY KEY (name, seq)){without_rowid}"
    ),
    # The state after the first ``events`` events, whose chain ends at ``hash`` (snapshot.py).
    (
        "CREATE TABLE IF NOT EXISTS journal_snapshots ("
        " name TEXT NOT NULL, events INTEGER NOT NULL, hash TEXT NOT NULL,"
        " format TEXT NOT NULL, data {blob} NOT NULL, PRIMARY KEY (name, events))"
    ),
)
#: Take a snapshot when a save leaves the journal this many events past its newest snapshot
#: (``open_store(url, snapshot_every=...)``; 0: only on demand, with ``Store.snapshot``).
SNAPSHOT_EVERY = 50_000
#: What a commit waits for before it returns (``open_store(url, synchronous=...)``). SQLite:
#: ``FULL`` (the default) fsyncs the write-ahead log at every commit, so a commit that returned
#: survives a power cut or an OS crash; ``NORMAL`` fsyncs only at checkpoints, so a commit
#: survives the process being killed but a power cut may lose the last ones (never corrupts);
#: ``EXTRA`` also fsyncs the folder when the log is made. PostgreSQL: ``FULL`` and ``EXTRA`` are
#: the server's own commit; ``NORMAL`` sets ``synchronous_commit`` off for the connection (a
#: crash of the server may lose the last commits, never corrupts).
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")
#: How long an SQLite store waits for another writer's lock, in seconds.
_BUSY_TIMEOUT = 60.0
#: Snapshots kept per journal: the newest, and the one before it in case the newest is damaged.
_SNAPSHOTS_KEPT = 2
#: How this release keeps a snapshot (the ``format`` column of its row): ``data`` is the
#: SHA-256 that binds it to its place in the chain (:func:`_binding`: of this format, the number
#: of events, the chain hash at the last of them and the rest of ``data``), then the snapshot's
#: bytes, zlib-compressed. A row of any other format (those of releases before the binding
#: included) is never decoded: a load replays the journal instead and replaces it.
SNAPSHOT_ROW_FORMAT = f"{snapshot.FORMAT}; sha256"
#: The most a snapshot may inflate to, in bytes: this much, plus :data:`_SNAPSHOT_PER_EVENT`
#: for each event it stands for. A snapshot takes about 90 bytes per event (the benchmark
#: workloads, 2 to 2,000 patients), so the bound leaves twenty times that; a larger state (long
#: notes on most payments, say) is not snapshotted, and its journal is replayed. A stored
#: snapshot beyond it is refused after inflating that far, as a damaged one.
_SNAPSHOT_BASE = 1024 * 1024
_SNAPSHOT_PER_EVENT = 2048
#: A chain hash as a head row holds it: SHA-256, in lowercase hex.
_HASH = re.compile(r"[0-9a-f]{64}")
_T = TypeVar("_T")


class Store(Protocol):
    """What every backend offers."""

    def load(self, name: str, *, base: Ledger | None = None) -> Ledger:
        """The named ledger (or ``base`` caught up with what was saved since it was loaded)."""
        ...

    def save(self, name: str, ledger: Ledger, *, expected_version: int) -> int:
        """Append ``ledger``'s events after the first ``expected_version``; the new version."""
        ...

    def version(self, name: str) -> int:
        """The number of events saved under ``name`` (0 if none)."""
        ...

    def snapshot(self, name: str, *, ledger: Ledger | None = None) -> int:
        """Store a snapshot of the named ledger now (or of ``ledger``, without loading); the
        number of events it stands for."""
        ...

    def verify(self, name: str) -> Ledger:
        """The named ledger, replayed from its first event, every snapshot checked against it."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    def newest_snapshot(self, name: str) -> int:
        """The number of events the newest snapshot of ``name`` stands for (0: none)."""
        ...

    def settings(self) -> dict[str, str]:
        """The durability settings in force, as the database reports them."""
        ...


class _SqlStore:
    """The logic both backends share; they differ in connections, placeholders and locking."""

    placeholder = "?"
    lock_clause = ""
    blob_type = "BLOB"
    _missing_table: type[Exception] = Exception
    #: What the database raises when it cannot do something now (busy, locked).
    _database_errors: tuple[type[Exception], ...] = ()
    #: Events a save may leave past the newest snapshot before it takes one (0: never).
    snapshot_every = SNAPSHOT_EVERY
    #: Per name, the ledger last loaded or saved and the hash its chain ends at.
    _known: dict[str, tuple[Ledger, str]]
    #: Per name, the newest snapshot's event count as last read (see :meth:`_snapshot_floor`).
    _snapshot_floors: dict[str, int]
    #: True when the store could only be opened for reading (read-only media): saves refuse.
    read_only = False

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def version(self, name: str) -> int:
        """The number of events saved under ``name`` (0 if none).

        Raises:
            StoreError: the head row is damaged.
        """
        self._settle()
        rows = self._execute(
            self._sql("SELECT version, head FROM journal_heads WHERE name = ?"), (name,)
        )
        return _head_row(name, rows[0])[0] if rows else 0

    def load(self, name: str, *, base: Ledger | None = None) -> Ledger:
        """The named ledger, its whole journal checked (chain, head, replay).

        With ``base`` (a ledger loaded from this store before), only the lines saved since are
        read and applied to it.

        Raises:
            UnknownIdError: nothing is saved under ``name``.
            JournalError: a stored line is corrupt (its number is in the message and ``.line``).
            StoreError: a row of the wrong type, or a head row that disagrees with the lines
                stored (naming both numbers).
        """
        _check_name(name)
        self._settle()
        version, head = self._head(name)
        start = 0 if base is None else len(base.events)
        if start > version:
            raise ConcurrencyError(
                f"the base ledger has {start} events, more than the {version} saved as {name!r}"
            )
        # Lines past the head read first may be a newer save committing meanwhile: not ours.
        texts = self._lines(name, max(start - 1, 0), version)
        if base is None:
            ledger = self._restored(name, texts, head)
            self._known[name] = (ledger, head)
            return ledger
        # The base's whole chain must end where the stored journal has it at that length: its
        # last shared line alike is not enough (two histories can share their last line).
        stored = journal.claimed_hash(texts[0], start) if texts else None
        if stored is None or self._head_of(name, base, start) != stored:
            raise ConcurrencyError(
                f"the base ledger is not a prefix of the journal saved as {name!r}", id=name
            )
        ledger = journal.extend(base, _joined(texts[1:]), prev=stored, head=head)
        self._known[name] = (ledger, head)
        return ledger

    def load_views(self, name: str, patient_id: str | None = None) -> Ledger:
        """A ledger of the named journal for views only (what the command line's ``balances``
        and ``report`` read): when the newest snapshot stands for the whole journal, one
        holding only the rows every patient's dashboard reads (``patient_id`` None) or one
        patient's views read (:mod:`patient_ledger.persist._partial`), decoded without the rest, its
        journal's lines read only if its events are; else the whole ledger (:meth:`load`).
        The snapshot is trusted as :meth:`load` trusts it: bound to the chain hash of its
        line, which is the head's. Never hand it to a command.

        Raises:
            UnknownIdError, JournalError, StoreError: as :meth:`load`.
        """
        from patient_ledger.persist import _partial  # noqa: PLC0415 - only the command line's reads

        _check_name(name)
        self._settle()
        version, head = self._head(name)
        newest = self._snapshots(name, version)[:1]
        if newest and newest[0][0] == version and version:
            last = self._lines(name, version - 1, version)
            texts = _Last(last[0], version)
            with contextlib.suppress(SnapshotError, JournalError):
                if journal.claimed_hash(texts[version - 1], version) == head:
                    _, body = _bound(texts, newest[0])
                    read = functools.partial(self._lines, name, 0, version)
                    lines = journal.StoredEvents(_Deferred(read, version))
                    if patient_id is None:
                        return _partial.patients_only(body, lines)
                    return _partial.one_patient(body, lines, patient_id)
        return self.load(name)

    def _restored(self, name: str, texts: Sequence[str], head: str) -> Ledger:
        """The ledger of the stored lines ``texts``: from the newest snapshot that matches
        them, replaying only the lines after it; from the first line when none does.

        A snapshot of another format, a damaged or forged one (its binding to the chain not
        its own), or one whose chain hash is not the stored line's is ignored — and, when the
        ledger is loaded without it, replaced.
        """
        ignored = False
        for row in self._snapshots(name, len(texts)):
            try:
                restored, chain = _of_chain(texts, row)
                return journal.extend(restored, _joined(texts[row[0] :]), prev=chain, head=head)
            except (SnapshotError, JournalError):
                # Another format, damaged, off the chain — or a tail that does not apply to
                # it: the journal from its first line says which.
                ignored = True
        ledger = journal.loads(_joined(texts), head=head)
        if ignored and not self.read_only:
            with contextlib.suppress(SnapshotError, *self._database_errors):  # busy: next load
                self._keep_snapshot(name, ledger, head, wait=False)
        return ledger

    def _snapshots(self, name: str, version: int) -> list[tuple[Any, ...]]:
        """The snapshot rows up to ``version``, newest first, as stored (their types unchecked):
        events, chain hash, format, data."""
        try:
            rows = self._execute(
                self._sql(
                    "SELECT events, hash, format, data FROM journal_snapshots"
                    " WHERE name = ? AND events <= ? ORDER BY events DESC"
                ),
                (name, version),
            )
        except self._missing_table:  # a read-only store written before snapshots existed
            return []
        return rows

    def snapshot(self, name: str, *, ledger: Ledger | None = None) -> int:
        """Store a snapshot of the named ledger as it is now (loading it first, from its newest
        snapshot); the number of events it stands for. Saves take one every
        :attr:`snapshot_every` events by themselves.

        With ``ledger`` (one this store loaded or saved under ``name``, or any that extends
        none of it wrongly), that ledger is snapshotted as it is, without loading anything —
        if the stored journal is still where it ends; if another writer saved since, nothing is
        written and 0 is returned.

        Raises:
            UnknownIdError: nothing is saved under ``name``; StoreError: a read-only store;
            SnapshotError: its state cannot be snapshotted (sums beyond 2**64 minor units, or
                more than a snapshot may hold: see :data:`_SNAPSHOT_PER_EVENT`).
            InvalidInputError: ``ledger`` is not a Ledger.
        """
        if self.read_only:
            raise StoreError(f"the store is open read-only: cannot snapshot {name!r}", id=name)
        if ledger is None:
            ledger = self.load(name)
            self._keep_snapshot(name, ledger, self._known[name][1])
            return len(ledger.events)
        _check_name(name)
        if not isinstance(ledger, Ledger):
            raise InvalidInputError(f"expected a Ledger, got {type(ledger).__name__}")
        self._settle()
        events = len(ledger.events)
        self._keep_snapshot(name, ledger, self._head_of(name, ledger, events))
        return events if self.newest_snapshot(name) == events else 0

    def newest_snapshot(self, name: str) -> int:
        """The number of events the newest snapshot of ``name`` (of this release's format)
        stands for; 0 when it has none."""
        _check_name(name)
        self._settle()
        try:
            return self._newest_snapshot(name)
        except self._missing_table:  # a read-only store written before snapshots existed
            return 0

    def verify(self, name: str) -> Ledger:
        """The named ledger replayed from its first line — every line, the chain, the head and
        the invariants checked, snapshots not used — and every kept snapshot of this release's
        format checked to be bound to its place in the chain and to hold exactly the state at
        its event.

        Raises:
            UnknownIdError: nothing is saved under ``name``.
            JournalError: a stored line is corrupt; SnapshotError: a snapshot disagrees, is
                damaged or forged; StoreError: a row of the wrong type, or a head row that
                disagrees with the lines stored.
        """
        _check_name(name)
        self._settle()
        version, head = self._head(name)
        texts = self._lines(name, 0, version)
        ledger = journal.loads(_joined(texts), head=head)
        for row in self._snapshots(name, version):
            if isinstance(row[2], str) and row[2] != SNAPSHOT_ROW_FORMAT:
                continue  # another release's: load ignores it and replaces it
            try:
                events, body = _bound(texts, row)
                same = snapshot.holds(body, ledger.at(events))
            except SnapshotError as error:
                msg = f"the snapshot of {name!r} at event {_shown(row[0])}: {error}"
                raise SnapshotError(msg, id=name) from None
            if not same:
                raise SnapshotError(f"the snapshot of {name!r} at event {events} disagrees")
        return ledger

    def _lines(self, name: str, start: int, stop: int) -> Sequence[str]:
        """The journal's stored lines ``start`` to ``stop - 1``, rebuilt from their packed rows
        as they are read (or, in a journal saved before lines were packed, as they are).

        Raises:
            StoreError: a row of the wrong type, or not every line from ``start`` to
                ``stop - 1`` stored (the head row, which says ``stop``, disagrees).
        """
        first = max(start - 1, 0)
        try:
            rows = self._execute(
                self._sql(
                    "SELECT seq, hash, body FROM journal_events"
                    " WHERE name = ? AND seq >= ? AND seq < ? ORDER BY seq"
                ),
                (name, first, stop),
            )
        except self._missing_table:  # a read-only store written before lines were packed
            rows = []
        whole = not rows
        if whole:
            rows = self._execute(
                self._sql(
                    "SELECT seq, line FROM journal_lines"
                    " WHERE name = ? AND seq >= ? AND seq < ? ORDER BY seq"
                ),
                (name, start, stop),
            )
            first = start
        if len(rows) != stop - first:
            raise StoreError(
                f"the journal {name!r} is damaged: its head row says {stop} events, but "
                + (
                    f"{len(rows)} lines are stored"
                    if not first
                    else f"{len(rows)} of lines {first + 1} to {stop} are stored"
                ),
                id=name,
                version=stop,
                found=len(rows),
            )
        if whole:
            return _whole_rows(name, rows, start)
        hashes, bodies = _packed_rows(name, rows, first)
        if start:  # the row before: only its hash, the chain the first line follows
            return _Packed(hashes[1:], bodies[1:], start, hashes[0].hex())
        return _Packed(hashes, bodies, 0, journal.GENESIS)

    def _pack_whole_lines(self, name: str, version: int) -> None:
        """Move a journal saved whole by an earlier release to packed rows (in the caller's
        transaction)."""
        whole = self._lines(name, 0, version)
        self._insert_rows(name, ((seq, *journal.pack(line)) for seq, line in enumerate(whole)))
        self._execute(self._sql("DELETE FROM journal_lines WHERE name = ?"), (name,))

    def _has_whole_lines(self, name: str) -> bool:
        rows = self._execute(
            self._sql("SELECT COUNT(*) FROM journal_lines WHERE name = ? AND seq = 0"), (name,)
        )
        return bool(rows[0][0])

    def _head(self, name: str) -> tuple[int, str]:
        heads = self._execute(
            self._sql("SELECT version, head FROM journal_heads WHERE name = ?"), (name,)
        )
        if not heads:
            raise UnknownIdError(f"no journal named {name!r} in the store", id=name)
        return _head_row(name, heads[0])

    def _keep_snapshot(
        self,
        name: str,
        ledger: Ledger,
        chain: str,
        *,
        wait: bool = True,  # noqa: ARG002 - SQLite's store uses it; PostgreSQL's readers never wait
    ) -> None:
        """Store a snapshot of ``ledger`` if the journal is still where it was (``wait``: for
        another writer to finish; a load replacing a snapshot does not)."""

        def keep() -> None:
            if self._lock_head(name) == (len(ledger.events), chain):
                self._write_snapshot(name, ledger, chain)

        self._transacted(keep)

    def _write_snapshot(self, name: str, ledger: Ledger, chain: str) -> None:
        """Store a snapshot of ``ledger`` (whose chain ends at ``chain``), bound to it, and drop
        all but the newest kept ones (inside the caller's transaction).

        Raises:
            SnapshotError: the state cannot be snapshotted, or is more than a snapshot may hold
                (nothing is written).
        """
        events, body = len(ledger.events), snapshot.encode(ledger)
        if len(body) > _snapshot_bound(events):
            raise SnapshotError(
                f"a state of {len(body):,} bytes is more than a snapshot of {events} events "
                f"may hold ({_snapshot_bound(events):,}): not snapshotted"
            )
        packed = zlib.compress(body, 1)
        data = _binding(events, chain, packed) + packed
        self._execute(
            self._sql("DELETE FROM journal_snapshots WHERE name = ? AND events = ?"),
            (name, events),
        )
        self._execute(
            self._sql(
                "INSERT INTO journal_snapshots (name, events, hash, format, data)"
                " VALUES (?, ?, ?, ?, ?)"
            ),
            (name, events, chain, SNAPSHOT_ROW_FORMAT, data),
        )
        kept = self._execute(
            self._sql("SELECT events FROM journal_snapshots WHERE name = ? ORDER BY events DESC"),
            (name,),
        )
        for (old,) in kept[_SNAPSHOTS_KEPT:]:
            self._execute(
                self._sql("DELETE FROM journal_snapshots WHERE name = ? AND events = ?"),
                (name, old),
            )

    def _newest_snapshot(self, name: str) -> int:
        rows = self._execute(
            self._sql("SELECT MAX(events) FROM journal_snapshots WHERE name = ? AND format = ?"),
            (name, SNAPSHOT_ROW_FORMAT),
        )
        newest = rows[0][0] if rows else None
        return newest if type(newest) is int else 0

    def _head_of(self, name: str, ledger: Ledger, n: int) -> str:
        """The hash the chain of ``ledger``'s first ``n`` events ends at.

        Taken from the ledger this store last loaded or saved under ``name`` when its events
        are the first ``n`` (the same objects, so checking is quick); else computed.
        """
        known = self._known.get(name)
        if known is not None and len(known[0].events) == n and ledger.extends(known[0]):
            return known[1]
        hashes = (line_hash for _, _, line_hash in itertools.islice(journal.lines(ledger), n))
        return collections.deque(hashes, maxlen=1)[0] if n else journal.GENESIS

    def save(self, name: str, ledger: Ledger, *, expected_version: int) -> int:
        """Append ``ledger``'s events after its first ``expected_version`` in one transaction.

        ``expected_version`` is the number of events the caller's base ledger had (what it
        loaded). Returns the new version.

        Raises:
            InvalidInputError: a malformed name or version.
            ConcurrencyError: the store is not at ``expected_version`` (another writer saved
                first), or the ledger does not extend what is stored. Nothing is written.
        """
        _check_name(name)
        if self.read_only:
            raise StoreError(f"the store is open read-only: cannot save {name!r}", id=name)
        if not isinstance(ledger, Ledger):
            raise InvalidInputError(f"expected a Ledger, got {type(ledger).__name__}")
        total = len(ledger.events)
        if (
            isinstance(expected_version, bool)
            or not isinstance(expected_version, int)
            or not 0 <= expected_version <= total
        ):
            raise InvalidInputError(
                f"expected_version must be an int from 0 to {total}, got {expected_version!r}"
            )
        self._settle()
        chain = self._transacted(lambda: self._append(name, ledger, expected_version))
        if chain is not None:
            self._known[name] = (ledger, chain)
        return total

    def _append(self, name: str, ledger: Ledger, expected_version: int) -> str | None:
        """Save's work, in its transaction: the hash the new head ends at (None: nothing new).

        Raises:
            ConcurrencyError, StoreError: as :meth:`save` says.
        """
        current, head = self._lock_head(name)
        if current != expected_version:
            raise ConcurrencyError(
                f"journal {name!r} is at version {current}, not {expected_version}: another "
                "writer saved first; reload and retry",
                id=name,
                expected_version=expected_version,
                version=current,
            )
        # The ledger must extend what is stored: its whole chain up to the stored length
        # ends at the stored head (a shared last line alone is not enough) — even when it
        # has nothing new, or a different ledger of the same length would pass as saved.
        if expected_version and self._head_of(name, ledger, expected_version) != head:
            raise ConcurrencyError(
                f"the ledger does not extend the journal saved as {name!r}", id=name
            )
        total = len(ledger.events)
        if expected_version == total:
            return None
        last = self._last_line(name)
        if expected_version and last is None and self._has_whole_lines(name):
            self._pack_whole_lines(name, expected_version)
        else:
            self._check_last_line(name, current, last)
        try:
            new = list(journal.packed(ledger, expected_version, head or journal.GENESIS))
        except JournalError as error:
            raise StoreError(f"cannot save {name!r}: {error}", id=name) from None
        self._insert_rows(name, ((seq, line_hash, body) for seq, line_hash, body, _ in new))
        chain = new[-1][3]
        self._set_head(name, total, chain, exists=expected_version > 0)
        if self.snapshot_every and total - self._snapshot_floor(name, total) >= self.snapshot_every:
            # A snapshot only speeds up opening: one that cannot be taken (sums beyond
            # what it can hold) leaves the save as it is, and loads replay from the last.
            with contextlib.suppress(SnapshotError):
                self._write_snapshot(name, ledger, chain)
        return chain

    def _last_line(self, name: str) -> object:
        """The sequence number of the last packed line stored under ``name`` (None: none), as
        stored (its type unchecked)."""
        rows = self._execute(
            self._sql("SELECT MAX(seq) FROM journal_events WHERE name = ?"), (name,)
        )
        return rows[0][0] if rows else None

    def _snapshot_floor(self, name: str, total: int) -> int:
        """The events the newest snapshot of ``name`` stands for, read again only when the
        number last read is :attr:`snapshot_every` or more behind ``total`` (in the caller's
        transaction). Snapshots are only ever added — the newest is never dropped — so a
        number read before is a floor: a journal less than ``snapshot_every`` past it needs
        no snapshot, whatever another writer added since. A save runs one statement fewer."""
        floor = self._snapshot_floors.get(name)
        if floor is None or total - floor >= self.snapshot_every:
            floor = self._snapshot_floors[name] = self._newest_snapshot(name)
        return floor

    def _check_last_line(self, name: str, version: int, last: object) -> None:
        """Refuse to append to a journal whose stored lines do not end where its head row
        says (``version``): ``last``, the last stored line's number, past it or short of it.

        Raises:
            StoreError: naming both numbers.
        """
        if (last is None and version == 0) or (type(last) is int and last == version - 1):
            return
        stored = "no lines" if last is None else f"lines up to {_shown(last)}"
        raise StoreError(
            f"the journal {name!r} is damaged: its head row says {version} events, but "
            f"{stored} are stored (counting from 0); not saved",
            id=name,
            version=version,
        )

    # -- backend hooks ------------------------------------------------------------------------

    def _transacted(self, work: Callable[[], _T]) -> _T:
        """``work()`` in one write transaction: committed if it returns, rolled back if
        anything else ends it — any exception, ``KeyboardInterrupt`` and ``SystemExit``
        included — wherever it lands: in ``BEGIN``, in the work, in ``COMMIT``, or in the
        rollback itself.

        Two ``finally`` clauses, one inside the other: an interrupt that lands in the first
        (before its rollback runs, or inside it) goes to the second, which rolls back again;
        each does nothing when no transaction is open. A ``with`` block would leave a gap
        between ``BEGIN`` and the block's handler, and a single ``finally`` one at its start.
        """
        try:
            try:
                self._begin()
                result = work()
                self._commit()
            finally:
                self._settle()
        finally:
            self._settle()
        return result

    def _begin(self) -> None:
        """Begin a write transaction (SQLite: taking the write lock now)."""
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _settle(self) -> None:
        """Roll back a transaction if one is open, so the store reads only what is committed
        and other writers can go on; nothing when none is. :meth:`_transacted` ends with it,
        and every public method begins with it, for what a second interrupt inside both of
        a transaction's rollbacks would leave open. Errors of the database are left to the
        call that follows."""
        raise NotImplementedError

    def _lock_head(self, name: str) -> tuple[int, str]:
        """The head row, locked until the transaction ends (SQLite: by ``BEGIN IMMEDIATE``).

        Raises:
            StoreError: the head row is damaged.
        """
        rows = self._execute(
            # lock_clause is a constant of the backend class, never input.
            self._sql("SELECT version, head FROM journal_heads WHERE name = ?" + self.lock_clause),  # noqa: S608
            (name,),
        )
        return _head_row(name, rows[0]) if rows else (0, "")

    def _set_head(self, name: str, version: int, head: str, *, exists: bool) -> None:
        if exists:
            sql = "UPDATE journal_heads SET version = ?, head = ? WHERE name = ?"
            self._execute(self._sql(sql), (version, head, name))
        else:
            sql = "INSERT INTO journal_heads (version, head, name) VALUES (?, ?, ?)"
            self._execute(self._sql(sql), (version, head, name))

    def _insert_rows(self, name: str, rows: Iterable[tuple[int, bytes, bytes]]) -> None:
        """Append packed lines: ``(seq, hash, body)``."""
        raise NotImplementedError


class _Packed(Sequence[str]):
    """Stored lines, kept packed and rebuilt one at a time when read (journal.unpack)."""

    def __init__(self, hashes: list[bytes], bodies: list[bytes], start: int, prev: str) -> None:
        self._hashes, self._bodies, self._start, self._prev = hashes, bodies, start, prev

    def __len__(self) -> int:
        return len(self._hashes)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> _Packed: ...

    def __getitem__(self, index: int | slice) -> str | _Packed:
        if isinstance(index, slice):
            first, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("stored lines are read in order")
            prev = self._prev if not first else self._hashes[first - 1].hex()
            return _Packed(
                self._hashes[first:stop], self._bodies[first:stop], self._start + first, prev
            )
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"stored line {index} out of range for {len(self)} lines")
        prev = self._prev if not index else self._hashes[index - 1].hex()
        return journal.unpack(self._hashes[index], self._bodies[index], self._start + index, prev)


class _Last(Sequence[str]):
    """A journal's lines of which only the last is read (a snapshot's binding to it)."""

    def __init__(self, line: str, count: int) -> None:
        self._line = line
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if index != self._count - 1:
            raise IndexError(index)
        return self._line


class _Deferred(Sequence[str]):
    """A journal's lines, read from the store only when one is read."""

    def __init__(self, read: Callable[[], Sequence[str]], count: int) -> None:
        self._read = read
        self._count = count
        self._lines: Sequence[str] | None = None

    def _all(self) -> Sequence[str]:
        if self._lines is None:
            self._lines = self._read()
        return self._lines

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]


def _joined(texts: Sequence[str]) -> str:
    return "".join(text + "\n" for text in texts)


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise InvalidInputError(f"a journal name must be a non-empty str, got {name!r}")
    check_id(name, "a journal name")  # also refuses a NUL, which neither database keeps


class SqliteStore(_SqlStore):
    """Journals in an SQLite file (WAL mode; writers serialized by ``BEGIN IMMEDIATE``)."""

    _missing_table = sqlite3.OperationalError
    _database_errors = (sqlite3.Error,)

    def __init__(
        self, path: str, *, snapshot_every: int = SNAPSHOT_EVERY, synchronous: str = "FULL"
    ) -> None:
        self.path = path
        self.snapshot_every = _every(snapshot_every)
        self._known = {}
        self._snapshot_floors = {}
        self._impatient = False
        self._owner = threading.current_thread()
        # check_same_thread off: _settle checks the thread itself, with a message that says
        # what to do (sqlite3's does not); close may then run from any thread.
        conn = sqlite3.connect(
            path, isolation_level=None, timeout=_BUSY_TIMEOUT, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={_synchronous(synchronous)}")
            for statement in _SCHEMA:
                conn.execute(statement.format(blob=self.blob_type, without_rowid=" WITHOUT ROWID"))
        except sqlite3.OperationalError as error:
            conn.close()  # read-only media or file: open it for reading only
            conn = _read_only(path, error)
            self.read_only = True
        self._conn = conn

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def _keep_snapshot(self, name: str, ledger: Ledger, chain: str, *, wait: bool = True) -> None:
        if wait:
            super()._keep_snapshot(name, ledger, chain)
            return
        self._impatient = True  # _settle waits again, should an interrupt skip the finally
        self._conn.execute("PRAGMA busy_timeout = 0")  # another writer busy: give up at once
        try:
            super()._keep_snapshot(name, ledger, chain)
        finally:
            self._patient()

    def _patient(self) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT * 1000)}")
        self._impatient = False

    def save(self, name: str, ledger: Ledger, *, expected_version: int) -> int:
        """As :meth:`_SqlStore.save`; a file SQLite may only read is a :class:`StoreError`."""
        try:
            return super().save(name, ledger, expected_version=expected_version)
        except sqlite3.OperationalError as error:
            if "readonly" not in str(error):
                raise
            self.read_only = True
            msg = f"the store is open read-only: cannot save {name!r} ({error})"
            raise StoreError(msg, id=name) from error

    def _begin(self) -> None:
        # IMMEDIATE takes the write lock now: a concurrent writer waits, then sees the new head.
        self._conn.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def settings(self) -> dict[str, str]:
        """``journal_mode`` and ``synchronous`` as SQLite reports them (``PRAGMA``)."""
        self._settle()
        mode = self._execute("PRAGMA journal_mode")[0][0]
        level = self._execute("PRAGMA synchronous")[0][0]
        return {
            "journal_mode": str(mode).upper(),
            "synchronous": _SYNC_NAMES.get(level, str(level)),
        }

    def _settle(self) -> None:
        current = threading.current_thread()
        if current is not self._owner:
            msg = (
                f"this SQLite store was opened in thread {self._owner.name!r} and is used in "
                f"thread {current.name!r}: a store belongs to the thread that opened it. Share "
                "one patient_ledger.open_practice(url) between threads (it serializes and "
                "groups their writes), or open a store in each thread"
            )
            raise StoreError(msg, thread=current.name, owner=self._owner.name)
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if self._impatient:
                self._patient()

    def _insert_rows(self, name: str, rows: Iterable[tuple[int, bytes, bytes]]) -> None:
        # Up to _ROWS_PER_INSERT rows in one statement: sqlite3 lets go of the GIL at every
        # step of a statement, and executemany steps once per row. A writer thread sharing
        # the interpreter with busy request threads then waits for the GIL once per row, as
        # long as a switch interval each time; one statement is one wait.
        batch: list[object] = []
        for row in rows:
            batch += (name, *row)
            if len(batch) == 4 * _ROWS_PER_INSERT:
                self._conn.execute(_insert_sql(_ROWS_PER_INSERT), batch)
                batch = []
        if batch:
            self._conn.execute(_insert_sql(len(batch) // 4), batch)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


#: The most packed lines one INSERT statement of an SQLite store writes (4 parameters each:
#: well within SQLite's least limit on parameters, 999 before 3.32).
_ROWS_PER_INSERT = 200


@functools.lru_cache(maxsize=16)
def _insert_sql(rows: int) -> str:
    """An INSERT of ``rows`` packed lines into ``journal_events``."""
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return f"INSERT INTO journal_events (name, seq, hash, body) VALUES {values}"  # noqa: S608 - placeholders only


#: ``PRAGMA synchronous``'s answers, by number.
_SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _synchronous(level: object) -> str:
    """A durability setting, checked: one of :data:`SYNCHRONOUS` (in any case).

    Raises:
        InvalidInputError: anything else.
    """
    name = level.upper() if isinstance(level, str) else None
    if name not in SYNCHRONOUS:
        raise InvalidInputError(
            f"synchronous must be one of {', '.join(SYNCHRONOUS)}, got {level!r}"
        )
    return name


def _read_only(path: str, error: sqlite3.Error) -> sqlite3.Connection:
    """A connection that only reads the store at ``path`` (``mode=ro``; ``immutable=1`` when
    even that cannot run, as on read-only media where SQLite cannot make its WAL index).

    Raises:
        StoreError: the file cannot be read as a store either.
    """
    if path == ":memory:" or not Path(path).is_file():
        raise StoreError(f"cannot open the store {path!r}: {error}") from None
    uri = Path(path).resolve().as_uri()
    for mode in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(
            f"{uri}?{mode}",
            uri=True,
            isolation_level=None,
            timeout=_BUSY_TIMEOUT,
            check_same_thread=False,
        )
        try:
            conn.execute("SELECT count(*) FROM journal_heads").fetchall()
        except sqlite3.Error:
            conn.close()
            continue
        return conn
    raise StoreError(f"cannot open the store {path!r}, even for reading: {error}") from None


class PostgresStore(_SqlStore):
    """Journals in PostgreSQL (psycopg 3); the head row is locked ``FOR UPDATE`` while saving."""

    placeholder = "%s"
    lock_clause = " FOR UPDATE"
    blob_type = "BYTEA"

    def __init__(
        self, url: str, *, snapshot_every: int = SNAPSHOT_EVERY, synchronous: str = "FULL"
    ) -> None:
        self.snapshot_every = _every(snapshot_every)
        self._synchronous = _synchronous(synchronous)
        try:
            import psycopg  # noqa: PLC0415 - an optional dependency (the postgres extra)
        except ImportError as error:  # pragma: no cover - depends on the installation
            msg = 'PostgreSQL stores need psycopg: pip install "patient-ledger[postgres]"'
            raise ImportError(msg) from error
        self._psycopg = psycopg
        self._missing_table = psycopg.errors.UndefinedTable
        self._database_errors = (psycopg.Error,)
        self._known = {}
        self._snapshot_floors = {}
        self._url, self._closed = url, False
        self._conn = self._connect()

        def create() -> None:
            for statement in _SCHEMA:
                self._conn.execute(statement.format(blob=self.blob_type, without_rowid=""))

        self._transacted(create)

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn.execute(sql, tuple(params))
        except self._psycopg.DataError as error:  # a value PostgreSQL cannot hold
            raise StoreError(f"the database refused a value: {error}") from error
        return list(cursor.fetchall()) if cursor.description else []

    def save(self, name: str, ledger: Ledger, *, expected_version: int) -> int:
        """As :meth:`_SqlStore.save`; two first saves of one name at once: the loser's lines
        clash with the winner's, it writes nothing and gets a :class:`ConcurrencyError`."""
        try:
            return super().save(name, ledger, expected_version=expected_version)
        except self._psycopg.errors.UniqueViolation as clash:
            raise _lost_race() from clash

    def _begin(self) -> None:
        self._conn.execute("BEGIN")

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    def _settle(self) -> None:
        # A connection left in a transaction rolls it back or, if even that fails, is closed
        # (the server then rolls back); one left closed (psycopg closes one whose query it
        # could not cancel) is opened again.
        conn, idle = self._conn, self._psycopg.pq.TransactionStatus.IDLE
        if not conn.closed and conn.info.transaction_status != idle:
            with contextlib.suppress(self._psycopg.Error):
                conn.execute("ROLLBACK")
            if conn.info.transaction_status != idle:
                conn.close()
        if conn.closed and not self._closed:
            with contextlib.suppress(self._psycopg.Error):
                self._conn = self._connect()

    def _connect(self) -> Any:
        conn = self._psycopg.connect(self._url, autocommit=True)
        if self._synchronous == "NORMAL":
            conn.execute("SET synchronous_commit TO off")
        return conn

    def settings(self) -> dict[str, str]:
        """``synchronous_commit`` as the server reports it for this connection."""
        self._settle()
        return {"synchronous_commit": str(self._execute("SHOW synchronous_commit")[0][0])}

    def _insert_rows(self, name: str, rows: Iterable[tuple[int, bytes, bytes]]) -> None:
        # One COPY per save: the rows stream to the server in one statement.
        with (
            self._conn.cursor() as cursor,
            cursor.copy("COPY journal_events (name, seq, hash, body) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((name, *row))

    def close(self) -> None:
        """Close the connection (for good: :meth:`_settle` opens again only one an interrupt
        left closed)."""
        self._closed = True
        self._conn.close()


def _lost_race() -> ConcurrencyError:
    return ConcurrencyError("another writer created this journal first; reload and retry")


def _shown(value: object) -> str:
    """A stored value for a message, cut short when it is long (a hostile row can be huge)."""
    text = repr(value[:60] if isinstance(value, str | bytes) else value)
    size = len(value) if isinstance(value, str | bytes) else 0
    return text if size <= 60 else f"{text}…({size:,} long)"


def _head_row(name: str, row: Sequence[object]) -> tuple[int, str]:
    """A head row's version and hash, checked: a positive int and a chain hash.

    Raises:
        StoreError: anything else, naming the journal and what its row holds.
    """
    version, head = row
    if (
        type(version) is not int
        or version < 1
        or not isinstance(head, str)
        or not _HASH.fullmatch(head)
    ):
        raise StoreError(
            f"the head row of journal {name!r} is damaged: version {_shown(version)}, "
            f"head {_shown(head)} (a version of at least 1 and a SHA-256 in hex expected)",
            id=name,
        )
    return version, head


def _packed_rows(
    name: str, rows: Sequence[Sequence[object]], first: int
) -> tuple[list[bytes], list[bytes]]:
    """The hashes and bodies of packed rows that should be lines ``first`` onwards, in order.

    Raises:
        StoreError: a row out of sequence, or a hash or body that is not bytes (naming the
            line).
    """
    if rows:
        # The common case checked at C speed (opening a practice reads every row); a damaged
        # row falls through to the loop below, which names it.
        numbers, line_hashes, line_bodies = zip(*rows, strict=True)
        if (
            numbers == tuple(range(first, first + len(rows)))
            and set(map(type, line_hashes)) == {bytes}
            and set(map(type, line_bodies)) == {bytes}
        ):
            return list(line_hashes), list(line_bodies)
    hashes: list[bytes] = []
    bodies: list[bytes] = []
    for seq, (number, line_hash, body) in enumerate(rows, first):
        if number != seq or type(line_hash) is not bytes or type(body) is not bytes:
            raise StoreError(
                f"journal {name!r}, line {seq + 1}: the stored row is damaged (seq "
                f"{_shown(number)}, a {type(line_hash).__name__} hash, a "
                f"{type(body).__name__} body; seq {seq} and bytes expected)",
                id=name,
                line=seq + 1,
            )
        hashes.append(line_hash)
        bodies.append(body)
    return hashes, bodies


def _whole_rows(name: str, rows: Sequence[Sequence[object]], first: int) -> list[str]:
    """The lines of a journal saved whole (before lines were packed), checked as
    :func:`_packed_rows` checks packed ones.

    Raises:
        StoreError: a row out of sequence, or a line that is not text (naming the line).
    """
    lines: list[str] = []
    for seq, (number, line) in enumerate(rows, first):
        if number != seq or not isinstance(line, str):
            raise StoreError(
                f"journal {name!r}, line {seq + 1}: the stored row is damaged (seq "
                f"{_shown(number)}, a {type(line).__name__} line; seq {seq} and text expected)",
                id=name,
                line=seq + 1,
            )
        lines.append(line)
    return lines


def _snapshot_bound(events: int) -> int:
    """The most a snapshot of ``events`` events may inflate to, in bytes."""
    return _SNAPSHOT_BASE + _SNAPSHOT_PER_EVENT * events


def _binding(events: int, chain: str, packed: bytes) -> bytes:
    """What binds a stored snapshot to its place: the SHA-256 of its row format, the number of
    events it stands for, the chain hash at the last of them, and its compressed bytes. A
    body swapped in from another row, or re-encoded, no longer matches it (unless the forger
    recomputes it, as one can the journal's own hashes: ``verify`` replays and compares)."""
    digest = hashlib.sha256(f"{SNAPSHOT_ROW_FORMAT}\n{events}\n{chain}\n".encode())
    digest.update(packed)
    return digest.digest()


def _bound(texts: Sequence[str], row: Sequence[object]) -> tuple[int, bytes]:
    """A snapshot row's event count and its snapshot's bytes, if the row is of this release's
    format, stands for the first ``events`` of the stored lines ``texts`` (their chain ends at
    its hash), is bound to that place (:func:`_binding`) and inflates within its bound.

    Raises:
        SnapshotError: it is not, or is damaged; JournalError: line ``events`` is corrupt.
    """
    events, chain, form, data = row
    if form != SNAPSHOT_ROW_FORMAT:
        raise SnapshotError(f"a snapshot of format {_shown(form)}, not {SNAPSHOT_ROW_FORMAT!r}")
    if type(events) is not int or not isinstance(chain, str) or type(data) is not bytes:
        raise SnapshotError(
            f"a damaged snapshot row: events {_shown(events)}, a {type(chain).__name__} chain "
            f"hash, {type(data).__name__} data"
        )
    if not 0 < events <= len(texts) or journal.claimed_hash(texts[events - 1], events) != chain:
        raise SnapshotError(f"the snapshot at event {events} is not of this journal's chain")
    binding, packed = data[:32], data[32:]
    if binding != _binding(events, chain, packed):
        raise SnapshotError(f"the snapshot at event {events} is not bound to its chain: forged")
    return events, _unzipped(packed, _snapshot_bound(events))


def _unzipped(data: bytes, bound: int) -> bytes:
    """A stored snapshot's bytes (kept zlib-compressed: about half the size), inflated to
    ``bound`` bytes at most.

    Raises:
        SnapshotError: not compressed data, cut short, or more than ``bound`` bytes.
    """
    unzipper = zlib.decompressobj()
    try:
        body = unzipper.decompress(data, bound + 1)
    except zlib.error as error:
        raise SnapshotError(f"a damaged snapshot: {error}") from None
    if len(body) > bound:
        raise SnapshotError(f"a snapshot that inflates to more than {bound:,} bytes: refused")
    if not unzipper.eof:
        raise SnapshotError("a damaged snapshot: cut short")
    return body


def _of_chain(texts: Sequence[str], row: Sequence[object]) -> tuple[Ledger, str]:
    """The ledger a snapshot row holds (its journal the lazy events of the stored lines
    ``texts`` it stands for) and the chain hash it ends at, if :func:`_bound` trusts it.

    Raises:
        SnapshotError: it does not, or is damaged; JournalError: line ``events`` is corrupt.
    """
    events, body = _bound(texts, row)
    return snapshot.decode(body, journal.StoredEvents(texts[:events])), str(row[1])


def _every(snapshot_every: object) -> int:
    if type(snapshot_every) is not int or snapshot_every < 0:
        raise InvalidInputError(f"snapshot_every must be an int >= 0, got {snapshot_every!r}")
    return snapshot_every


def open_store(
    url: str, *, snapshot_every: int = SNAPSHOT_EVERY, synchronous: str = "FULL"
) -> Store:
    """Open an event store: ``sqlite:///path.db`` or ``postgresql://...``.

    ``snapshot_every``: a save that leaves a journal this many events (or more) past its newest
    snapshot takes a new one (:data:`SNAPSHOT_EVERY` by default; 0: only on demand).
    ``synchronous``: what a commit waits for (:data:`SYNCHRONOUS`; ``FULL`` by default: a save
    that returned survives a power cut).

    An SQLite store belongs to the thread that opened it: used from another, it raises a
    :class:`StoreError` that says so (share a :func:`patient_ledger.open_practice` instead).

    Raises:
        InvalidInputError: an unsupported or malformed URL, or a bad ``snapshot_every`` or
            ``synchronous``.
    """
    level = _synchronous(synchronous)
    if not isinstance(url, str):
        raise InvalidInputError(f"a store URL must be a str, got {type(url).__name__}")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise InvalidInputError(f"an SQLite store URL is sqlite:///path, got {url!r}")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(path, snapshot_every=snapshot_every, synchronous=level)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url, snapshot_every=snapshot_every, synchronous=level)
    raise InvalidInputError(f"unsupported store URL {url!r}: use sqlite:/// or postgresql://")
