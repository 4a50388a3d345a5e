"""Event stores: keep journals in a database, append with optimistic concurrency (a shell).

``open_store(url)`` gives one interface over two backends:

* ``sqlite:///path/to/file.db`` — the embedded default (stdlib ``sqlite3``, WAL mode);
* ``postgresql://user@host:port/dbname`` — PostgreSQL through psycopg 3 (the ``postgres``
  extra: ``pip install "patient-ledger[postgres]"``).

A store keeps each named journal as its canonical, hash-chained lines (see
:mod:`patient_ledger.journal`) plus a head row with its version (the number of events) and
last hash. ``save(name, ledger, expected_version=n)`` appends the ledger's events after the
first ``n`` in one transaction; if another writer saved since, it raises
:class:`~patient_ledger.errors.ConcurrencyError` and writes nothing — reload and retry.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import sqlite3
import urllib.parse
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, overload

from patient_ledger import journal, snapshot
from patient_ledger.errors import (
    ConcurrencyError,
    InvalidInputError,
    JournalError,
    SnapshotError,
    StoreError,
    UnknownIdError,
)
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
#: How long an SQLite store waits for another writer's lock, in seconds.
_BUSY_TIMEOUT = 60.0
#: Snapshots kept per journal: the newest, and the one before it in case the newest is damaged.
_SNAPSHOTS_KEPT = 2


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

    def snapshot(self, name: str) -> int:
        """Store a snapshot of the named ledger now; the number of events it stands for."""
        ...

    def verify(self, name: str) -> Ledger:
        """The named ledger, replayed from its first event, every snapshot checked against it."""
        ...

    def close(self) -> None:
        """Release the connection."""
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
    #: True when the store could only be opened for reading (read-only media): saves refuse.
    read_only = False

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def version(self, name: str) -> int:
        """The number of events saved under ``name`` (0 if none)."""
        rows = self._execute(self._sql("SELECT version FROM journal_heads WHERE name = ?"), (name,))
        return int(rows[0][0]) if rows else 0

    def load(self, name: str, *, base: Ledger | None = None) -> Ledger:
        """The named ledger, its whole journal checked (chain, head, replay).

        With ``base`` (a ledger loaded from this store before), only the lines saved since are
        read and applied to it.

        Raises:
            UnknownIdError: nothing is saved under ``name``.
            JournalError: a stored line is corrupt (its number is in the message and ``.line``).
        """
        _check_name(name)
        version, head = self._head(name)
        start = 0 if base is None else len(base.events)
        # Lines past the head read first may be a newer save committing meanwhile: not ours.
        texts = self._lines(name, max(start - 1, 0), version)
        if base is None:
            ledger = self._restored(name, texts, head)
            self._known[name] = (ledger, head)
            return ledger
        if start > version:
            raise ConcurrencyError(
                f"the base ledger has {start} events, more than the {version} saved as {name!r}"
            )
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

    def _restored(self, name: str, texts: Sequence[str], head: str) -> Ledger:
        """The ledger of the stored lines ``texts``: from the newest snapshot that matches
        them, replaying only the lines after it; from the first line when none does.

        A snapshot of another format, a damaged one, or one whose chain hash is not the stored
        line's is ignored — and, when the ledger is loaded without it, replaced.
        """
        ignored = False
        for events, chain, form, data in self._snapshots(name, len(texts)):
            try:
                restored = _of_chain(texts, events, chain, form, data)
                return journal.extend(restored, _joined(texts[events:]), prev=chain, head=head)
            except (SnapshotError, JournalError):
                # Another format, damaged, off the chain — or a tail that does not apply to
                # it: the journal from its first line says which.
                ignored = True
        ledger = journal.loads(_joined(texts), head=head)
        if ignored and not self.read_only:
            with contextlib.suppress(SnapshotError, *self._database_errors):  # busy: next load
                self._keep_snapshot(name, ledger, head, wait=False)
        return ledger

    def _snapshots(self, name: str, version: int) -> list[tuple[int, str, str, bytes]]:
        """The snapshots up to ``version``, newest first: events, chain hash, format, data."""
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
        return [(int(n), str(chain), str(form), bytes(data)) for n, chain, form, data in rows]

    def snapshot(self, name: str) -> int:
        """Store a snapshot of the named ledger as it is now (loading it first, from its newest
        snapshot); the number of events it stands for. Saves take one every
        :attr:`snapshot_every` events by themselves.

        Raises:
            UnknownIdError: nothing is saved under ``name``; StoreError: a read-only store;
            SnapshotError: its state cannot be snapshotted (sums beyond 2**64 minor units).
        """
        if self.read_only:
            raise StoreError(f"the store is open read-only: cannot snapshot {name!r}", id=name)
        ledger = self.load(name)
        self._keep_snapshot(name, ledger, self._known[name][1])
        return len(ledger.events)

    def verify(self, name: str) -> Ledger:
        """The named ledger replayed from its first line — every line, the chain, the head and
        the invariants checked, snapshots not used — and every kept snapshot checked to hold
        exactly the state at its event.

        Raises:
            UnknownIdError: nothing is saved under ``name``.
            JournalError: a stored line is corrupt; SnapshotError: a snapshot disagrees.
        """
        _check_name(name)
        version, head = self._head(name)
        ledger = journal.loads(_joined(self._lines(name, 0, version)), head=head)
        for events, _, form, data in self._snapshots(name, version):
            if form != snapshot.FORMAT:
                continue  # another release's: load ignores it and replaces it
            if not 0 < events <= version or not snapshot.holds(_unzipped(data), ledger.at(events)):
                raise SnapshotError(f"the snapshot of {name!r} at event {events} disagrees")
        return ledger

    def _lines(self, name: str, start: int, stop: int) -> Sequence[str]:
        """The journal's stored lines ``start`` to ``stop - 1``, rebuilt from their packed rows
        as they are read (or, in a journal saved before lines were packed, as they are)."""
        try:
            rows = self._execute(
                self._sql(
                    "SELECT seq, hash, body FROM journal_events"
                    " WHERE name = ? AND seq >= ? AND seq < ? ORDER BY seq"
                ),
                (name, max(start - 1, 0), stop),
            )
        except self._missing_table:  # a read-only store written before lines were packed
            rows = []
        if rows:
            hashes = [bytes(row[1]) for row in rows]
            bodies = [bytes(row[2]) for row in rows]
            if start:  # the row before: only its hash, the chain the first line follows
                return _Packed(hashes[1:], bodies[1:], start, hashes[0].hex())
            return _Packed(hashes, bodies, 0, journal.GENESIS)
        rows = self._execute(
            self._sql(
                "SELECT line FROM journal_lines"
                " WHERE name = ? AND seq >= ? AND seq < ? ORDER BY seq"
            ),
            (name, start, stop),
        )
        return [str(line) for (line,) in rows]

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
        return int(heads[0][0]), str(heads[0][1])

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
        with self._transaction():
            if self._lock_head(name) == (len(ledger.events), chain):
                self._write_snapshot(name, ledger, chain)

    def _write_snapshot(self, name: str, ledger: Ledger, chain: str) -> None:
        """Store a snapshot of ``ledger`` (whose chain ends at ``chain``) and drop all but the
        newest kept ones (inside the caller's transaction).

        Raises:
            SnapshotError: the state cannot be snapshotted (nothing is written).
        """
        events, data = len(ledger.events), zlib.compress(snapshot.encode(ledger), 1)
        self._execute(
            self._sql("DELETE FROM journal_snapshots WHERE name = ? AND events = ?"),
            (name, events),
        )
        self._execute(
            self._sql(
                "INSERT INTO journal_snapshots (name, events, hash, format, data)"
                " VALUES (?, ?, ?, ?, ?)"
            ),
            (name, events, chain, snapshot.FORMAT, data),
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
            (name, snapshot.FORMAT),
        )
        return int(rows[0][0] or 0) if rows else 0

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
        with self._transaction():
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
            if expected_version == total:
                return total
            if expected_version and self._has_whole_lines(name):
                self._pack_whole_lines(name, expected_version)
            new = list(journal.packed(ledger, expected_version, head or journal.GENESIS))
            self._insert_rows(name, ((seq, line_hash, body) for seq, line_hash, body, _ in new))
            self._set_head(name, total, new[-1][3], exists=expected_version > 0)
            if self.snapshot_every and total - self._newest_snapshot(name) >= self.snapshot_every:
                # A snapshot only speeds up opening: one that cannot be taken (sums beyond
                # what it can hold) leaves the save as it is, and loads replay from the last.
                with contextlib.suppress(SnapshotError):
                    self._write_snapshot(name, ledger, new[-1][3])
        self._known[name] = (ledger, new[-1][3])
        return total

    # -- backend hooks ------------------------------------------------------------------------

    def _transaction(self) -> Any:
        raise NotImplementedError

    def _lock_head(self, name: str) -> tuple[int, str]:
        """The head row, locked until the transaction ends (SQLite: by ``BEGIN IMMEDIATE``)."""
        rows = self._execute(
            # lock_clause is a constant of the backend class, never input.
            self._sql("SELECT version, head FROM journal_heads WHERE name = ?" + self.lock_clause),  # noqa: S608
            (name,),
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, "")

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

    def __init__(self, path: str, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.path = path
        self.snapshot_every = _every(snapshot_every)
        self._known = {}
        conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
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
        self._conn.execute("PRAGMA busy_timeout = 0")  # another writer busy: give up at once
        try:
            super()._keep_snapshot(name, ledger, chain)
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT * 1000)}")

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

    def _transaction(self) -> Any:
        return _SqliteTransaction(self._conn)

    def _insert_rows(self, name: str, rows: Iterable[tuple[int, bytes, bytes]]) -> None:
        self._conn.executemany(
            "INSERT INTO journal_events (name, seq, hash, body) VALUES (?, ?, ?, ?)",
            ((name, *row) for row in rows),
        )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


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
            f"{uri}?{mode}", uri=True, isolation_level=None, timeout=_BUSY_TIMEOUT
        )
        try:
            conn.execute("SELECT count(*) FROM journal_heads").fetchall()
        except sqlite3.Error:
            conn.close()
            continue
        return conn
    raise StoreError(f"cannot open the store {path!r}, even for reading: {error}") from None


class _SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        # IMMEDIATE takes the write lock now: a concurrent writer waits, then sees the new head.
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


class PostgresStore(_SqlStore):
    """Journals in PostgreSQL (psycopg 3); the head row is locked ``FOR UPDATE`` while saving."""

    placeholder = "%s"
    lock_clause = " FOR UPDATE"
    blob_type = "BYTEA"

    def __init__(self, url: str, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.snapshot_every = _every(snapshot_every)
        try:
            import psycopg  # noqa: PLC0415 - an optional dependency (the postgres extra)
        except ImportError as error:  # pragma: no cover - depends on the installation
            msg = 'PostgreSQL stores need psycopg: pip install "patient-ledger[postgres]"'
            raise ImportError(msg) from error
        self._psycopg = psycopg
        self._missing_table = psycopg.errors.UndefinedTable
        self._database_errors = (psycopg.Error,)
        self._known = {}
        self._conn = psycopg.connect(url, autocommit=True)
        with self._conn.transaction():
            for statement in _SCHEMA:
                self._conn.execute(statement.format(blob=self.blob_type, without_rowid=""))

    def _execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn.execute(sql, tuple(params))
        except self._psycopg.DataError as error:  # a value PostgreSQL cannot hold
            raise StoreError(f"the database refused a value: {error}") from error
        return list(cursor.fetchall()) if cursor.description else []

    def _transaction(self) -> Any:
        return _PostgresTransaction(self)

    def _insert_rows(self, name: str, rows: Iterable[tuple[int, bytes, bytes]]) -> None:
        # One COPY per save: the rows stream to the server in one statement.
        with (
            self._conn.cursor() as cursor,
            cursor.copy("COPY journal_events (name, seq, hash, body) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((name, *row))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class _PostgresTransaction:
    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.transaction: Any = None

    def __enter__(self) -> None:
        self.transaction = self.store._conn.transaction()  # noqa: SLF001 - the store's own
        self.transaction.__enter__()

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        unique_violation = self.store._psycopg.errors.UniqueViolation  # noqa: SLF001
        try:
            self.transaction.__exit__(kind, error, trace)  # rolls back if the block failed
        except unique_violation as clash:
            raise _lost_race() from clash
        if isinstance(error, unique_violation):
            # Two first saves of one name at once: the loser's lines clash; it wrote nothing.
            raise _lost_race() from error


def _lost_race() -> ConcurrencyError:
    return ConcurrencyError("another writer created this journal first; reload and retry")


def _unzipped(data: bytes) -> bytes:
    """A stored snapshot's bytes (kept zlib-compressed: about half the size).

    Raises:
        SnapshotError: not compressed data.
    """
    try:
        return zlib.decompress(data)
    except zlib.error as error:
        raise SnapshotError(f"a damaged snapshot: {error}") from None


def _of_chain(texts: Sequence[str], events: int, chain: str, form: str, data: bytes) -> Ledger:
    """The ledger a snapshot holds, if it is of this release's format and stands for the first
    ``events`` of the stored lines ``texts`` (their chain ends at its hash ``chain``), its
    journal their lazy events.

    Raises:
        SnapshotError: it does not, or is damaged; JournalError: line ``events`` is corrupt.
    """
    if form != snapshot.FORMAT:
        raise SnapshotError(f"a snapshot of format {form!r}, not {snapshot.FORMAT!r}")
    if not 0 < events <= len(texts) or journal.claimed_hash(texts[events - 1], events) != chain:
        raise SnapshotError(f"the snapshot at event {events} is not of this journal's chain")
    return snapshot.decode(_unzipped(data), journal.StoredEvents(texts[:events]))


def _every(snapshot_every: object) -> int:
    if type(snapshot_every) is not int or snapshot_every < 0:
        raise InvalidInputError(f"snapshot_every must be an int >= 0, got {snapshot_every!r}")
    return snapshot_every


def open_store(url: str, *, snapshot_every: int = SNAPSHOT_EVERY) -> Store:
    """Open an event store: ``sqlite:///path.db`` or ``postgresql://...``.

    ``snapshot_every``: a save that leaves a journal this many events (or more) past its newest
    snapshot takes a new one (:data:`SNAPSHOT_EVERY` by default; 0: only on demand).

    Raises:
        InvalidInputError: an unsupported or malformed URL, or a bad ``snapshot_every``.
    """
    if not isinstance(url, str):
        raise InvalidInputError(f"a store URL must be a str, got {type(url).__name__}")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise InvalidInputError(f"an SQLite store URL is sqlite:///path, got {url!r}")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(path, snapshot_every=snapshot_every)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url, snapshot_every=snapshot_every)
    raise InvalidInputError(f"unsupported store URL {url!r}: use sqlite:/// or postgresql://")
