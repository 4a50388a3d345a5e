"""Hostile round 2 — stores and snapshots (issue 25, items 2, 4, 13 and 15): an interrupted
save leaves nothing open and nothing half-seen; a snapshot is trusted only when it is bound to
its place in the chain; every decompression is bounded; a row of the wrong type, or a head row
that disagrees with its lines, is a clear refusal. Each hostile input ends within 2 CPU seconds
and 256 MB with a refusal or a whole result."""

from __future__ import annotations

import sqlite3
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.errors import JournalError, LedgerError, SnapshotError, StoreError
from patient_ledger.persist import journal, snapshot
from patient_ledger.persist import store as store_module
from patient_ledger.persist.store import Store, open_store
from tests.helpers import appointment, charge, pay, tables
from tests.test_store import _sql, name, pg_url, url  # noqa: F401 - the same fixtures

STORE_PY = store_module.__file__
#: The resource bound on every hostile input: CPU seconds, bytes allocated at the peak.
CPU_BOUND, MEMORY_BOUND = 2.0, 256 * 1024 * 1024
#: What a decompression bomb inflates to: 64 MiB of zeros, in about 64 KB.
BOMB = 64 << 20


def refused(
    work: Callable[[], object],
    kind: type[LedgerError] = LedgerError,
    memory: int = MEMORY_BOUND,
) -> LedgerError:
    """Run ``work``: it must raise ``kind`` within the resource bound (``memory``: a tighter
    one, in bytes at the peak)."""
    tracemalloc.start()
    start = time.process_time()
    try:
        with pytest.raises(kind) as caught:
            work()
        cpu = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cpu < CPU_BOUND
    assert peak < memory, f"{peak:,} bytes at the peak"
    return caught.value


def whole(work: Callable[[], Any], memory: int = MEMORY_BOUND) -> Any:
    """Run ``work``: it must end within the resource bound (``memory``: a tighter one)."""
    tracemalloc.start()
    start = time.process_time()
    try:
        result = work()
        cpu = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cpu < CPU_BOUND
    assert peak < memory, f"{peak:,} bytes at the peak"
    return result


def bomb(size: int, prefix: bytes = b"") -> bytes:
    """``prefix`` and ``size`` zero bytes, zlib-compressed (about a thousandth of the size)."""
    packer = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [packer.compress(prefix)]
    parts += [packer.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + packer.flush()


def practice(payments: int = 3, amount: str = "10.00") -> pl.Ledger:
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "100.00")
    for i in range(payments):
        ledger = pay(ledger, f"PAY{i}", amount, None)
    return ledger


# -- 2. an interrupted save: rolled back at once, the store usable, nothing uncommitted seen ----


class _Interrupt:
    """A trace function that raises KeyboardInterrupt at the ``k``-th line or return event in
    the store's code (the 'return' of a method that has just run BEGIN or COMMIT included):
    Ctrl-C landing at that point."""

    def __init__(self, k: int) -> None:
        self.k, self.seen, self.fired = k, 0, False

    def __call__(self, frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename != STORE_PY:
            return None
        return self._local

    def _local(self, frame: FrameType, event: str, arg: object) -> Any:
        if event in ("line", "return") and not self.fired:
            self.seen += 1
            if self.seen == self.k:
                self.fired = True
                raise KeyboardInterrupt
        return self._local


def _interrupted_save(store: Store, name: str, ledger: pl.Ledger, expected: int, k: int) -> bool:  # noqa: F811
    """Save with Ctrl-C at point ``k``; whether it fired (False: the save ran to its end)."""
    interrupt = _Interrupt(k)
    sys.settrace(interrupt)
    try:
        store.save(name, ledger, expected_version=expected)
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)
    return interrupt.fired


def _others_can_write(url: str, name: str) -> None:  # noqa: F811
    """Another connection takes the write lock (SQLite) or the head row's (PostgreSQL) at once."""
    if url.startswith("sqlite"):
        other = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if a write is left open
            other.execute("ROLLBACK")
        finally:
            other.close()
        return
    import psycopg

    with psycopg.connect(url) as other:
        other.execute("SET lock_timeout = '500ms'")
        other.execute("SELECT version FROM journal_heads WHERE name = %s FOR UPDATE", (name,))
        other.execute(  # waits for a first save's uncommitted head row, if one is left
            "INSERT INTO journal_heads (name, version, head) VALUES (%s, 1, '')"
            " ON CONFLICT DO NOTHING",
            (name,),
        )
        other.rollback()


@pytest.mark.parametrize("snapshot_every", [0, 1])
def test_ctrl_c_anywhere_in_a_save_leaves_nothing_open_and_nothing_unsaved_seen(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
    snapshot_every: int,
) -> None:
    store = open_store(url, snapshot_every=snapshot_every)
    check = open_store(url)
    committed = practice(1)
    store.save(name, committed, expected_version=0)
    k, fired = 0, True
    try:
        while fired:
            k += 1
            new = pay(committed, f"K{k}", "1.00", None)
            fired = _interrupted_save(store, name, new, len(committed.events), k)
            # At once, before the store is used again: no write left open.
            _others_can_write(url, name)
            # The store reads only what is committed — the old ledger or the new one, whole —
            # the same as another connection.
            seen = store.load(name)
            assert seen == check.load(name)
            assert seen in (committed, new)
            assert store.version(name) == check.version(name) == len(seen.events)
            # Later saves work, from the store and from another connection.
            more = pay(seen, f"MORE{k}", "2.00", None)
            store.save(name, more, expected_version=len(seen.events))
            committed = pay(more, f"OTHER{k}", "3.00", None)
            check.save(name, committed, expected_version=len(more.events))
            assert store.load(name) == committed
        assert k > 20  # every point of a save was interrupted, then one save ran whole
        assert store.verify(name) == committed
    finally:
        store.close()
        check.close()


def test_ctrl_c_in_a_first_save_leaves_no_journal_half_made(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url, snapshot_every=1)
    ledger = practice(2)
    try:
        k, fired = 0, True
        while fired:
            k += 1
            fired = _interrupted_save(store, f"{name}-{k}", ledger, 0, k)
            _others_can_write(url, f"{name}-{k}")
            if store.version(f"{name}-{k}"):
                assert store.load(f"{name}-{k}") == ledger
            else:
                with pytest.raises(pl.UnknownIdError):
                    store.load(f"{name}-{k}")
                assert store.save(f"{name}-{k}", ledger, expected_version=0)
        assert k > 10
    finally:
        store.close()


def test_a_transaction_an_interrupt_left_open_is_rolled_back_by_the_next_call(
    tmp_path: Path,
) -> None:
    # A second Ctrl-C inside the rollback itself can still leave one open: every call of the
    # store begins by rolling it back, so it never reads what was not committed.
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    ledger = practice(1)
    store.save("clinic", ledger, expected_version=0)
    conn = store._conn  # type: ignore[attr-defined]
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE journal_heads SET version = 99")
    assert store.version("clinic") == len(ledger.events)
    assert not conn.in_transaction
    assert store.load("clinic") == ledger
    store.close()


# -- 4. a snapshot is trusted only when bound to its place in the chain ----------------------


def _snapshot_rows(url: str, name: str) -> list[tuple[Any, ...]]:  # noqa: F811
    return _sql(
        url,
        "SELECT events, hash, data FROM journal_snapshots WHERE name = ? ORDER BY events DESC",
        (name,),
    )


def _zipped_at(data: bytes) -> int:
    """Where the zlib stream starts in a stored snapshot's data (after its binding, if any)."""
    try:
        zlib.decompress(data)
    except zlib.error:
        return 32
    return 0


def _figures(ledger: pl.Ledger) -> list[Money]:
    board = pl.dashboard(ledger, "P1")
    return [board.total_paid, board.unallocated, board.total_balance]


def test_a_snapshot_body_re_encoded_with_other_amounts_is_ignored(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url, snapshot_every=1)
    true = practice(5, "10.00")
    store.save(name, true, expected_version=0)
    events, _, data = _snapshot_rows(url, name)[0]
    data = bytes(data)
    at = _zipped_at(data)
    # The same events, the amounts a hundred times larger: the hash column and any prefix kept.
    forged = data[:at] + zlib.compress(snapshot.encode(practice(5, "1000.00")), 1)
    _sql(
        url,
        "UPDATE journal_snapshots SET data = ? WHERE name = ? AND events = ?",
        (forged, name, events),
    )
    with pytest.raises(SnapshotError):
        store.verify(name)  # as before: it replays everything and compares
    loaded = whole(lambda: store.load(name))
    assert _figures(loaded) == _figures(true)
    assert tables(loaded) == tables(true)
    assert store.verify(name) == true  # the load replaced it
    store.close()


def test_snapshot_bodies_swapped_between_journals_are_ignored(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url, snapshot_every=1)
    small, large = practice(5, "10.00"), practice(5, "1000.00")
    store.save(name, small, expected_version=0)
    store.save(f"{name}-large", large, expected_version=0)
    (events, _, data_small), *_ = _snapshot_rows(url, name)
    (_, _, data_large), *_ = _snapshot_rows(url, f"{name}-large")
    update = "UPDATE journal_snapshots SET data = ? WHERE name = ? AND events = ?"
    _sql(url, update, (bytes(data_large), name, events))
    _sql(url, update, (bytes(data_small), f"{name}-large", events))
    assert _figures(store.load(name)) == _figures(small)
    assert _figures(store.load(f"{name}-large")) == _figures(large)
    assert tables(store.load(name)) == tables(small)
    for journal_name in (name, f"{name}-large"):  # replaced by a good one on load
        assert store.verify(journal_name)
    store.close()


def test_a_snapshot_from_before_the_binding_is_ignored_and_replaced(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url, snapshot_every=1)
    ledger = practice(3)
    store.save(name, ledger, expected_version=0)
    events, _, _ = _snapshot_rows(url, name)[0]
    old = zlib.compress(snapshot.encode(practice(3, "99.00")), 1)  # a forgery, or a real one
    _sql(
        url,
        "UPDATE journal_snapshots SET format = ?, data = ? WHERE name = ? AND events = ?",
        (snapshot.FORMAT, old, name, events),
    )
    assert tables(store.load(name)) == tables(ledger)
    ((form,),) = _sql(
        url, "SELECT format FROM journal_snapshots WHERE name = ? AND events = ?", (name, events)
    )
    assert form == store_module.SNAPSHOT_ROW_FORMAT
    assert store.verify(name) == ledger
    store.close()


# -- 13. every decompression bounded ---------------------------------------------------------


def test_a_packed_line_that_inflates_beyond_its_bound_is_refused_naming_it() -> None:
    body = b"\x01" + bomb(BOMB, b"PaymentPosted 1 ")
    error = refused(
        lambda: journal.unpack(bytes(32), body, 6, journal.GENESIS), JournalError, BOMB * 3 // 4
    )
    assert error.line == 7  # type: ignore[attr-defined]
    assert "16,777,216" in str(error)


def test_a_stored_row_that_inflates_beyond_its_bound_is_refused_naming_it(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url)
    store.save(name, practice(3), expected_version=0)
    body = b"\x01" + bomb(BOMB, b"PaymentPosted 1 ")
    _sql(url, "UPDATE journal_events SET body = ? WHERE name = ? AND seq = 3", (body, name))
    for work in (lambda: store.load(name), lambda: store.verify(name)):
        # Inflated only to its bound (16 MiB; twice that allocated at most), not to 64 MiB.
        assert refused(work, JournalError, BOMB * 3 // 4).line == 4  # type: ignore[attr-defined]
    store.close()


def test_a_line_beyond_the_bound_is_not_saved(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journal, "MAX_PACKED_LINE", 400)
    store = open_store(url)
    ledger = pl.post_payment(
        practice(1),
        pl.Payment(
            "LONG",
            "P1",
            Money("1.00", "USD"),
            practice(1).events[-1].payment.received_on,
            notes="n" * 500,
        ),  # type: ignore[attr-defined]
    )
    with pytest.raises(StoreError, match="line 5"):
        store.save(name, ledger, expected_version=0)
    assert store.version(name) == 0
    store.close()


def test_a_snapshot_that_inflates_beyond_its_bound_is_ignored(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url, snapshot_every=1)
    ledger = practice(3)
    store.save(name, ledger, expected_version=0)
    events, chain, data = _snapshot_rows(url, name)[0]
    at = _zipped_at(bytes(data))
    packed = bomb(BOMB)
    forged = bytes(data)[:at] + packed
    update = "UPDATE journal_snapshots SET data = ? WHERE name = ? AND events = ?"
    _sql(url, update, (forged, name, events))
    assert whole(lambda: tables(store.load(name)), BOMB // 8) == tables(ledger)
    # Even with its binding recomputed (a forger who knows how), it is inflated only so far.
    binding = store_module._binding(events, chain, packed)
    _sql(url, update, (binding + packed, name, events))
    assert whole(lambda: tables(store.load(name)), BOMB // 8) == tables(ledger)
    _sql(url, update, (binding + packed, name, events))
    error = refused(lambda: store.verify(name), SnapshotError, BOMB // 8)
    assert "inflates to more than" in str(error)
    store.close()


def test_a_state_beyond_the_bound_is_not_snapshotted(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store_module, "_SNAPSHOT_BASE", 0)
    monkeypatch.setattr(store_module, "_SNAPSHOT_PER_EVENT", 10)
    store = open_store(url, snapshot_every=1)
    ledger = practice(3)
    store.save(name, ledger, expected_version=0)  # the save stands, without its snapshot
    assert _snapshot_rows(url, name) == []
    with pytest.raises(SnapshotError, match="more than a snapshot"):
        store.snapshot(name)
    assert store.load(name) == ledger
    store.close()


# -- 15. rows of the wrong type; a head that disagrees with the lines -------------------------


def test_a_head_version_past_the_stored_lines_is_refused_naming_both(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url)
    ledger = practice(4)
    store.save(name, ledger, expected_version=0)
    n = len(ledger.events)
    _sql(url, "UPDATE journal_heads SET version = ? WHERE name = ?", (n + 3, name))
    for work in (lambda: store.load(name), lambda: store.verify(name)):
        error = refused(work, StoreError)
        assert f"says {n + 3} events, but {n} lines are stored" in str(error)
    with pytest.raises(StoreError, match=f"says {n + 3} events, but"):
        store.load(name, base=ledger.at(3))
    store.close()


def test_lines_past_the_head_are_refused_on_save_naming_both(
    url: str,  # noqa: F811
    name: str,  # noqa: F811
) -> None:
    store = open_store(url)
    ledger = practice(4)
    store.save(name, ledger, expected_version=0)
    n = len(ledger.events)
    short = ledger.at(n - 2)
    _sql(
        url,
        "UPDATE journal_heads SET version = ?, head = ? WHERE name = ?",
        (n - 2, journal.head(journal.dumps(short)), name),
    )
    error = refused(lambda: store.save(name, ledger, expected_version=n - 2), StoreError)
    assert f"says {n - 2} events, but lines up to {n - 1}" in str(error)
    _sql(url, "DELETE FROM journal_heads WHERE name = ?", (name,))
    error = refused(lambda: store.save(name, ledger, expected_version=0), StoreError)
    assert "says 0 events" in str(error)
    store.close()


SQLITE_DAMAGE = [
    ("a text version", "UPDATE journal_heads SET version = 'ten'", "head row"),
    ("a real version", "UPDATE journal_heads SET version = 7.5", "head row"),
    ("an integer head", "UPDATE journal_heads SET head = 5", "head row"),
    ("a short head", "UPDATE journal_heads SET head = 'abc'", "head row"),
    ("a text body", "UPDATE journal_events SET body = 'text' WHERE seq = 2", "line 3"),
    ("an integer body", "UPDATE journal_events SET body = 7 WHERE seq = 2", "line 3"),
    ("a text hash", "UPDATE journal_events SET hash = 'ab' WHERE seq = 4", "line 5"),
    ("a text seq", "UPDATE journal_events SET seq = 'one' WHERE seq = 1", "lines are stored"),
    (
        "a huge text head",
        "UPDATE journal_heads SET head = printf('%.*c', 1000000, 'x')",
        "head row",
    ),
]


@pytest.mark.parametrize(("what", "sql", "named"), SQLITE_DAMAGE, ids=[d[0] for d in SQLITE_DAMAGE])
def test_a_row_of_the_wrong_sql_type_is_a_store_error_naming_it(
    tmp_path: Path, what: str, sql: str, named: str
) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.save("clinic", practice(4), expected_version=0)
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    for work in (lambda: store.load("clinic"), lambda: store.verify("clinic")):
        error = refused(work, StoreError)
        assert named in str(error)
        assert len(str(error)) < 500  # a huge value is cut short
    if "head" in sql:
        assert named in str(refused(lambda: store.version("clinic"), StoreError))
        n = len(practice(4).events)
        assert named in str(
            refused(lambda: store.save("clinic", practice(5), expected_version=n), StoreError)
        )
    store.close()


def _hand_made(path: Path, ledger: pl.Ledger) -> None:
    """A store file whose tables were made without types or NOT NULL (by a hostile hand)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE journal_heads (name PRIMARY KEY, version, head)")
        conn.execute("CREATE TABLE journal_lines (name, seq, line)")
        conn.execute("CREATE TABLE journal_events (name, seq, hash, body)")
        conn.execute("CREATE TABLE journal_snapshots (name, events, hash, format, data)")
        rows = list(journal.packed(ledger, 0, journal.GENESIS))
        conn.executemany(
            "INSERT INTO journal_events VALUES ('clinic', ?, ?, ?)",
            [(seq, line_hash, body) for seq, line_hash, body, _ in rows],
        )
        conn.execute("INSERT INTO journal_heads VALUES ('clinic', ?, ?)", (len(rows), rows[-1][3]))


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("UPDATE journal_events SET body = NULL WHERE seq = 1", "line 2"),
        ("UPDATE journal_events SET hash = NULL WHERE seq = 3", "line 4"),
        ("UPDATE journal_heads SET version = NULL", "head row"),
        ("UPDATE journal_heads SET head = NULL", "head row"),
        ("UPDATE journal_events SET seq = NULL WHERE seq = 0", "lines are stored"),
    ],
)
def test_nulls_are_a_store_error_naming_the_row(tmp_path: Path, sql: str, named: str) -> None:
    path = tmp_path / "hand.db"
    ledger = practice(4)
    _hand_made(path, ledger)
    store = open_store(f"sqlite:///{path}")
    assert store.load("clinic") == ledger
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    for work in (lambda: store.load("clinic"), lambda: store.verify("clinic")):
        assert named in str(refused(work, StoreError))
    store.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE journal_snapshots SET data = 'text'",
        "UPDATE journal_snapshots SET data = NULL",
        "UPDATE journal_snapshots SET hash = 5",
        "UPDATE journal_snapshots SET events = 2.5",
    ],
)
def test_a_snapshot_row_of_the_wrong_type_is_ignored_by_load_and_named_by_verify(
    tmp_path: Path, sql: str
) -> None:
    path = tmp_path / "hand.db"
    ledger = practice(4)
    _hand_made(path, ledger)
    store = open_store(f"sqlite:///{path}", snapshot_every=1)
    store.snapshot("clinic")
    with sqlite3.connect(path) as conn:
        conn.execute(sql)
    assert "snapshot" in str(refused(lambda: store.verify("clinic"), SnapshotError))
    assert whole(lambda: store.load("clinic")) == ledger
    store.close()
