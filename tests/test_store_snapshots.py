"""Snapshots in the stores: a practice opens from its newest snapshot that matches the chain,
replaying only what came after it; anything else about a snapshot makes it ignored, never
trusted — and ``verify`` still replays everything."""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import patient_ledger as pl
from patient_ledger.errors import ConcurrencyError, InvalidInputError, SnapshotError
from patient_ledger.persist import journal, snapshot
from patient_ledger.persist.store import SNAPSHOT_ROW_FORMAT, Store, _binding, open_store
from tests.helpers import pay, tables
from tests.test_store import _sql, name, pg_url, sample, url  # noqa: F401 - the same fixtures

K = 5


@pytest.fixture
def store(url: str) -> Iterator[Store]:  # noqa: F811 - a store that snapshots every K events
    opened = open_store(url, snapshot_every=K)
    yield opened
    opened.close()


def _no_full_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> pl.Ledger:
        raise AssertionError("the journal was replayed from its first line")

    monkeypatch.setattr(journal, "loads", refuse)


def _grown(store: Store, name: str, payments: int) -> pl.Ledger:  # noqa: F811
    ledger = sample(1)
    store.save(name, ledger, expected_version=0)
    for i in range(payments):
        version = len(ledger.events)
        ledger = pay(ledger, f"MORE{i}", "1.00", None)
        store.save(name, ledger, expected_version=version)
    return ledger


def test_a_store_opens_from_its_snapshot_and_replays_only_the_rest(
    store: Store,
    name: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = _grown(store, name, 12)
    snapshots = [
        events
        for (events,) in store._execute(  # type: ignore[attr-defined]
            "SELECT events FROM journal_snapshots ORDER BY events"
        )
    ]
    assert len(snapshots) == 2  # the two newest kept, taken every K events
    assert snapshots[-1] <= len(ledger.events) < snapshots[-1] + K
    _no_full_replay(monkeypatch)
    loaded = store.load(name)
    assert loaded == ledger
    assert tables(loaded) == tables(ledger)
    assert pl.dashboard(loaded, "P1") == pl.dashboard(ledger, "P1")
    # It goes on like the original: commands, a save, and a store catching it up.
    more = pay(loaded, "AFTER", "2.00", "A1")
    store.save(name, more, expected_version=len(loaded.events))
    assert tables(store.load(name)) == tables(more)
    assert store.load(name, base=loaded) == more


def test_a_damaged_or_foreign_snapshot_is_ignored_and_replaced(
    store: Store,
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    ledger = _grown(store, name, 6)
    (events,) = _sql(url, "SELECT MAX(events) FROM journal_snapshots WHERE name = ?", (name,))[0]
    _sql(url, "UPDATE journal_snapshots SET data = ? WHERE name = ?", (b"\x93junk", name))
    assert tables(store.load(name)) == tables(ledger)
    (data,) = _sql(
        url,
        "SELECT data FROM journal_snapshots WHERE name = ? AND events = ?",
        (name, len(ledger.events)),
    )[0]
    assert snapshot.holds(zlib.decompress(bytes(data)[32:]), ledger)  # the damaged one, replaced
    # A snapshot of another ledger, claiming this chain's hash at its event, its binding
    # recomputed by a forger who knows how: load cannot tell it from a good one, but verify
    # replays everything and names it.
    other = pay(ledger.at(len(ledger.events) - 1), "FORGED", "9.99", None)  # as long, not equal
    packed = zlib.compress(snapshot.encode(other))
    chain = journal.head(journal.dumps(ledger))
    forged = _binding(len(ledger.events), chain, packed) + packed
    _sql(url, "DELETE FROM journal_snapshots WHERE name = ?", (name,))
    _sql(
        url,
        "INSERT INTO journal_snapshots (name, events, hash, format, data) VALUES (?, ?, ?, ?, ?)",
        (name, len(ledger.events), chain, SNAPSHOT_ROW_FORMAT, forged),
    )
    with pytest.raises(SnapshotError):
        store.verify(name)
    # A snapshot whose chain hash is not the stored line's is ignored.
    _sql(url, "UPDATE journal_snapshots SET hash = ? WHERE name = ?", ("0" * 64, name))
    assert tables(store.load(name)) == tables(ledger)
    assert events  # there was a snapshot to damage


def test_snapshots_on_demand_only(url: str, name: str) -> None:  # noqa: F811
    store = open_store(url, snapshot_every=0)
    try:
        ledger = _grown(store, name, 8)
        assert _sql(url, "SELECT COUNT(*) FROM journal_snapshots WHERE name = ?", (name,)) == [(0,)]
        assert store.snapshot(name) == len(ledger.events)
        assert store.verify(name) == ledger
    finally:
        store.close()
    with pytest.raises(InvalidInputError):
        open_store(url, snapshot_every=-1)


def test_a_store_from_before_snapshots_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    ledger = sample(3)
    _old_store(path, ledger)
    store = open_store(f"sqlite:///{path}", snapshot_every=2)
    try:
        assert store.load("old") == ledger
        more = pay(ledger, "NEW", "3.00", None)
        store.save("old", more, expected_version=len(ledger.events))
        assert store.load("old") == more
        assert store.verify("old") == more
        with sqlite3.connect(path) as conn:  # the first save packed the old lines
            assert conn.execute("SELECT COUNT(*) FROM journal_lines").fetchall() == [(0,)]
            assert conn.execute("SELECT COUNT(*) FROM journal_events").fetchall() == [
                (len(more.events),)
            ]
    finally:
        store.close()


def test_a_read_only_store_from_before_packed_lines_still_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    ledger = sample(2)
    _old_store(path, ledger)
    connect = sqlite3.connect

    def read_only_media(database: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        if not kwargs.get("uri"):
            database = f"{Path(database).resolve().as_uri()}?mode=ro"
            kwargs["uri"] = True
        return connect(database, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", read_only_media)
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.read_only  # type: ignore[attr-defined] # SqliteStore's
        assert store.load("old") == ledger
        assert store.verify("old") == ledger
    finally:
        store.close()


def test_a_save_of_another_ledger_as_long_as_the_stored_one_is_refused(
    store: Store,
    name: str,  # noqa: F811
) -> None:
    stored = sample(2)
    store.save(name, stored, expected_version=0)
    other = pay(stored.at(len(stored.events) - 1), "OTHER", "3.00", None)  # as long, not equal
    with pytest.raises(ConcurrencyError):
        store.save(name, other, expected_version=len(other.events))
    assert store.save(name, stored, expected_version=len(stored.events)) == len(stored.events)
    assert store.load(name) == stored


def test_a_snapshot_of_another_format_is_replaced(
    store: Store,
    url: str,  # noqa: F811
    name: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = _grown(store, name, 6)
    _sql(url, "UPDATE journal_snapshots SET format = ? WHERE name = ?", ("old/0", name))
    assert store.load(name) == ledger  # from its first line
    formats = _sql(url, "SELECT DISTINCT format FROM journal_snapshots WHERE name = ?", (name,))
    assert (SNAPSHOT_ROW_FORMAT,) in formats
    store.verify(name)  # the other format's are skipped
    _no_full_replay(monkeypatch)
    assert store.load(name) == ledger  # from the new snapshot


def test_verify_names_a_snapshot_row_out_of_range(
    store: Store,
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    ledger = _grown(store, name, 6)
    _sql(
        url,
        "DELETE FROM journal_snapshots WHERE name = ? AND events < ?",
        (name, len(ledger.events)),
    )
    _sql(url, "UPDATE journal_snapshots SET events = 0 WHERE name = ?", (name,))
    with pytest.raises(SnapshotError):
        store.verify(name)


def test_a_load_does_not_wait_for_a_writer_to_replace_a_damaged_snapshot(tmp_path: Path) -> None:
    busy = f"sqlite:///{tmp_path}/busy.db"
    store = open_store(busy, snapshot_every=K)
    ledger = _grown(store, "clinic", 6)
    store.close()
    _sql(busy, "UPDATE journal_snapshots SET data = ?", (b"\x93junk",))
    writer = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        reader = open_store(busy)
        assert reader.load("clinic") == ledger  # rebuilt, the snapshot left for later
        reader.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def _old_store(path: Path, ledger: pl.Ledger) -> None:
    """An SQLite store as the release before snapshots and packed lines wrote it: whole lines,
    the journal named 'old'."""
    rows = list(journal.lines(ledger))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE journal_heads"
            " (name TEXT PRIMARY KEY, version INTEGER NOT NULL, head TEXT NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE journal_lines (name TEXT NOT NULL, seq INTEGER NOT NULL,"
            " line TEXT NOT NULL, PRIMARY KEY (name, seq))"
        )
        conn.executemany(
            "INSERT INTO journal_lines VALUES ('old', ?, ?)", [(s, line) for s, line, _ in rows]
        )
        conn.execute("INSERT INTO journal_heads VALUES ('old', ?, ?)", (len(rows), rows[-1][2]))


def test_a_save_stands_when_its_snapshot_cannot_be_taken(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(_: pl.Ledger) -> bytes:
        raise SnapshotError("the state cannot be snapshotted: int too big")

    monkeypatch.setattr(snapshot, "encode", refuse)
    store = open_store(url, snapshot_every=1)
    ledger = pay(pl.Ledger.empty("USD"), "PAY1", "5.00")
    assert store.save(name, ledger, expected_version=0) == len(ledger.events)
    with pytest.raises(SnapshotError):
        store.snapshot(name)
    store.close()
    again = open_store(url)
    assert again.load(name) == ledger
    again.close()
