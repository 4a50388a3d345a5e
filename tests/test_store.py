"""patient_ledger.persist.store against both backends: SQLite and PostgreSQL, the same tests."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.errors import ConcurrencyError, JournalError, StoreError
from patient_ledger.persist import journal
from patient_ledger.persist.store import Store, open_store
from tests.helpers import appointment, charge, pay
from tests.pg_server import postgres_url

WORKER = str(Path(__file__).parent / "store_worker.py")
NAMES = itertools.count()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    with postgres_url() as (url, reason):
        pytest.pg_skip_reason = reason  # type: ignore[attr-defined]
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledgers.db"
    if pg_url is None:
        pytest.skip(f"PostgreSQL: {pytest.pg_skip_reason}")  # type: ignore[attr-defined]
    return pg_url


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    opened = open_store(url)
    yield opened
    opened.close()


@pytest.fixture
def name() -> str:
    return f"practice-{time.time_ns()}-{next(NAMES)}"


def sample(n: int = 3) -> pl.Ledger:
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "100.00")
    for i in range(n):
        ledger = pay(ledger, f"PAY{i}", "10.00", "A1" if i % 2 else None)
    return ledger


def test_save_and_load(store: Store, name: str) -> None:
    ledger = sample()
    assert store.version(name) == 0
    assert store.save(name, ledger, expected_version=0) == len(ledger.events)
    assert store.version(name) == len(ledger.events)
    loaded = store.load(name)
    assert loaded == ledger
    assert pl.dashboard(loaded, "P1") == pl.dashboard(ledger, "P1")
    more = pay(loaded, "PAY9", "5.00")
    store.save(name, more, expected_version=len(loaded.events))
    assert store.load(name) == more
    assert store.load(name, base=loaded) == more
    assert store.save(name, more, expected_version=len(more.events)) == len(more.events)


def test_unknown_name(store: Store, name: str) -> None:
    with pytest.raises(pl.UnknownIdError, match=name):
        store.load(name)
    with pytest.raises(pl.InvalidInputError):
        store.load("")


def test_a_stale_writer_gets_a_concurrency_error_and_writes_nothing(
    store: Store, name: str
) -> None:
    base = sample()
    store.save(name, base, expected_version=0)
    first = pay(base, "X", "1.00")
    second = pay(base, "Y", "2.00")
    store.save(name, first, expected_version=len(base.events))
    with pytest.raises(ConcurrencyError) as caught:
        store.save(name, second, expected_version=len(base.events))
    assert isinstance(caught.value, pl.LedgerError)
    assert store.load(name) == first
    with pytest.raises(ConcurrencyError):
        store.save(name, pay(first, "Z", "1.00"), expected_version=0)


def test_a_ledger_that_does_not_extend_the_stored_one_is_refused(store: Store, name: str) -> None:
    store.save(name, sample(), expected_version=0)
    other = pay(pl.Ledger.empty(), "Q", "1.00")  # as long as sample(), other content
    other = pay(other, "R", "1.00")
    other = pay(pay(other, "S", "1.00"), "T", "1.00")
    other = pay(pay(other, "U", "1.00"), "V", "1.00")
    with pytest.raises(ConcurrencyError, match="does not extend"):
        store.save(name, other, expected_version=len(sample().events))
    with pytest.raises(pl.InvalidInputError):
        store.save(name, sample(), expected_version=-1)
    with pytest.raises(pl.InvalidInputError):
        store.save(name, sample(), expected_version=99)


def _sql(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Run SQL on the store's database behind its back."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return conn.execute(sql, params).fetchall()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql.replace("?", "%s"), params)
        return list(cursor.fetchall()) if cursor.description else []


def corrupt(url: str, name: str, seq: int) -> None:
    """Edit one stored line behind the store's back (its claimed hash kept)."""
    rows = _sql(
        url,
        "SELECT hash, body FROM journal_events WHERE name = ? AND seq >= ? AND seq <= ?"
        " ORDER BY seq",
        (name, seq - 1, seq),
    )
    (before, _), (claimed, body) = rows
    line = journal.unpack(bytes(claimed), bytes(body), seq, bytes(before).hex())
    _, edited = journal.pack(line.replace('"10.00"', '"99.00"', 1))
    _sql(url, "UPDATE journal_events SET body = ? WHERE name = ? AND seq = ?", (edited, name, seq))


def test_a_corrupted_row_is_detected_on_load(url: str, store: Store, name: str) -> None:
    ledger = sample()
    store.save(name, ledger, expected_version=0)
    corrupt(url, name, 3)
    with pytest.raises(JournalError) as caught:
        store.load(name)
    assert caught.value.line == 4


def test_two_processes_saving_concurrently_lose_nothing(url: str, store: Store, name: str) -> None:
    store.save(name, pl.Ledger.empty(), expected_version=0)
    count = 1000
    workers = [
        subprocess.Popen(
            [sys.executable, WORKER, url, name, "append", who, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("ALICE", "BOB")
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    ledger = store.load(name)
    assert len(ledger.events) == 1 + 2 * count
    ids = [e.payment.id for e in ledger.events if isinstance(e, pl.PaymentPosted)]
    assert sorted(ids) == sorted(f"{who}-{n}" for who in ("ALICE", "BOB") for n in range(count))
    for who in ("ALICE", "BOB"):
        assert pl.dashboard(ledger, who).total_paid == Money(count, "USD")


def test_a_writer_killed_while_saving_leaves_only_whole_commands(
    url: str, store: Store, name: str
) -> None:
    store.save(name, pl.Ledger.empty(), expected_version=0)
    size = 400
    for delay in (0.3, 0.7, 1.1):
        worker = subprocess.Popen(
            [sys.executable, WORKER, url, name, "bulk", str(size)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(delay)
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=60)  # reaps it and closes its pipes
        ledger = store.load(name)  # the chain, the head and the replay all check out
        assert (len(ledger.events) - 1) % size == 0
        assert store.version(name) == len(ledger.events)


def test_unsupported_urls() -> None:
    for bad in ("mysql://x", "sqlite://relative", 5):
        with pytest.raises(pl.InvalidInputError):
            open_store(bad)  # type: ignore[arg-type]


def test_the_head_row_guards_against_dropped_lines(url: str, store: Store, name: str) -> None:
    ledger = sample()
    store.save(name, ledger, expected_version=0)
    _sql(
        url,
        "DELETE FROM journal_events WHERE name = ? AND seq = ?",
        (name, len(ledger.events) - 1),
    )
    stored = len(ledger.events) - 1
    with pytest.raises(
        StoreError, match=f"head row says {len(ledger.events)} events, but {stored} lines"
    ):
        store.load(name)
    with pytest.raises(StoreError, match=f"{stored} lines"):
        store.verify(name)
