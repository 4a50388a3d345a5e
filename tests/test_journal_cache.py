"""A journal file opens from the snapshot cache beside it only when the cache matches the file's
chain; the command line reads stores as it reads journal files; verify reads neither cache nor
snapshot."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec
import pytest

import patient_ledger as pl
from patient_ledger import cli
from patient_ledger.errors import JournalError
from patient_ledger.persist import _cache, journal, snapshot
from patient_ledger.persist.store import open_store
from tests.helpers import appointment, charge, pay, tables


def practice(payments: int, amount: str = "1.00") -> pl.Ledger:
    ledger = charge(appointment(pl.Ledger.empty(), "A1"), "C1", "A1", "100.00")
    for n in range(payments):
        patient = f"P{n % 7}"
        ledger = pay(ledger, f"PAY{n}", amount, "A1" if patient == "P1" else None, pid=patient)
    return ledger


@pytest.fixture(autouse=True)
def small_journals_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cache, "MIN_EVENTS", 10)


def refuse_full_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    def loads(*args: object, **kwargs: object) -> pl.Ledger:
        raise AssertionError("the journal was loaded whole")

    monkeypatch.setattr(journal, "loads", loads)


def test_a_second_open_comes_from_the_cache_and_equals_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = practice(40)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(ledger), encoding="utf-8")
    first = _cache.load(path)
    assert _cache.cache_path(path).is_file()
    refuse_full_loads(monkeypatch)
    second = _cache.load(path)
    assert second == ledger == first
    assert tables(second) == tables(ledger)
    assert pl.dashboards(second) == pl.dashboards(ledger)


def test_lines_appended_after_the_cache_are_replayed_onto_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short, longer = practice(20), practice(25)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(short), encoding="utf-8")
    _cache.load(path)
    path.write_text(journal.dumps(longer), encoding="utf-8")  # five more payments
    refuse_full_loads(monkeypatch)
    assert tables(_cache.load(path)) == tables(longer)


def test_an_edited_line_is_found_whatever_the_cache_says(tmp_path: Path) -> None:
    ledger = practice(30)
    path = tmp_path / "practice.jsonl"
    text = journal.dumps(ledger)
    path.write_text(text, encoding="utf-8")
    _cache.load(path)
    lines = text.splitlines(keepends=True)
    lines[10] = lines[10].replace('"1.00"', '"9.00"', 1)  # covered by the cache
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(JournalError) as raised:
        _cache.load(path)
    assert raised.value.details["line"] == 11


def _forge(path: Path, ledger: pl.Ledger, *, rebind: bool) -> None:
    """Replace the cache's body by another ledger's snapshot, keeping its key (and, with
    ``rebind``, recomputing its digest as whoever can write the folder could)."""
    assert tables(ledger) != tables(journal.loads(path.read_bytes()))
    decoder = msgspec.msgpack.Decoder(tuple[str, int, int, str, str, str, bytes])
    cache = _cache.cache_path(path)
    tag, events, size, covered, chain, digest, _ = decoder.decode(cache.read_bytes())
    body = snapshot.encode(ledger.at(events))
    if rebind:
        key = f"{tag}\n{events}\n{size}\n{covered}\n{chain}\n"
        digest = hashlib.sha256(key.encode() + body).hexdigest()
    cache.write_bytes(msgspec.msgpack.encode((tag, events, size, covered, chain, digest, body)))


def test_a_cache_whose_body_is_not_its_own_is_ignored_and_written_again(tmp_path: Path) -> None:
    true, other = practice(30), practice(30, amount="50.00")
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(true), encoding="utf-8")
    _cache.load(path)
    _forge(path, other, rebind=False)
    assert tables(_cache.load(path)) == tables(true)
    assert tables(_cache.load(path)) == tables(true)  # the cache written again is sound


def test_a_cache_of_another_journal_is_ignored(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_text(journal.dumps(practice(30)), encoding="utf-8")
    two.write_text(journal.dumps(pay(practice(29), "OTHER", "3.00")), encoding="utf-8")
    _cache.load(one)
    _cache.cache_path(two).write_bytes(_cache.cache_path(one).read_bytes())
    assert tables(_cache.load(two)) == tables(journal.loads(two.read_bytes()))


def test_verify_reads_the_journal_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    true = practice(30)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(true), encoding="utf-8")
    _cache.load(path)
    _forge(path, practice(30, amount="50.00"), rebind=True)  # a cache rebound by hand
    assert cli.main(["verify", str(path)]) == 0
    assert f"OK: {len(true.events)} events" in capsys.readouterr().out


def test_the_command_line_reads_a_store_as_it_reads_a_journal_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = practice(30)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(ledger), encoding="utf-8")
    database = tmp_path / "practice.db"
    store = open_store(f"sqlite:///{database}")
    store.save("practice", ledger, expected_version=0)
    store.save("other", practice(3), expected_version=0)
    store.close()
    outputs = []
    for source in (str(path), str(database), f"sqlite:///{database}"):
        assert cli.main(["balances", source, "--format", "json"]) == 0
        outputs.append(capsys.readouterr().out)
        assert cli.main(["report", source, "--patient", "P1", "--format", "json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0::2] == [outputs[0]] * 3
    assert outputs[1::2] == [outputs[1]] * 3
    assert cli.main(["balances", str(database), "--name", "other", "--format", "json"]) == 0
    assert capsys.readouterr().out != outputs[0]
    assert cli.main(["verify", str(database)]) == 0
    assert f"OK: {len(ledger.events)} events" in capsys.readouterr().out
    assert cli.main(["balances", str(tmp_path / "missing.db")]) == cli.EXIT_IO
    assert not (tmp_path / "missing.db").exists()  # a command that reads creates no store


def test_a_file_at_the_cache_path_that_is_not_a_cache_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(practice(30)), encoding="utf-8")
    theirs = _cache.cache_path(path)
    theirs.write_bytes(b"somebody's notes")
    assert tables(_cache.load(path)) == tables(practice(30))
    assert theirs.read_bytes() == b"somebody's notes"


def test_a_pipe_at_the_cache_path_is_not_read(tmp_path: Path) -> None:
    import os

    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(practice(30)), encoding="utf-8")
    os.mkfifo(_cache.cache_path(path))  # reading it would wait for a writer forever
    assert tables(_cache.load(path)) == tables(practice(30))
    assert not _cache.cache_path(path).is_file()  # left alone


def test_a_cache_covering_other_bytes_is_ignored_even_when_the_chain_agrees(
    tmp_path: Path,
) -> None:
    # The same events written with other bytes (a space added to a line's end) no longer
    # match the bytes the cache covers: the journal is loaded whole, and says what is wrong.
    ledger = practice(30)
    path = tmp_path / "practice.jsonl"
    text = journal.dumps(ledger)
    path.write_text(text, encoding="utf-8")
    _cache.load(path)
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace("\n", " \n")
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(JournalError) as raised:
        _cache.load(path)
    assert raised.value.details["line"] == 4


def test_a_journal_without_its_last_newline_is_not_cached(tmp_path: Path) -> None:
    # Text appended to it would continue its last line: the bytes covered would mislead.
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(practice(30)).rstrip("\n"), encoding="utf-8")
    assert _cache.load(path) == practice(30)
    assert not _cache.cache_path(path).exists()


def test_a_cache_of_the_format_before_is_replaced(tmp_path: Path) -> None:
    ledger = practice(30)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(ledger), encoding="utf-8")
    old = ("patient_ledger/journal-cache/1", 31, "0" * 64, "0" * 64, b"")
    _cache.cache_path(path).write_bytes(msgspec.msgpack.encode(old))
    assert _cache.load(path) == ledger
    assert _cache.cache_path(path).read_bytes()[:32] == _cache._PREFIXES[0]
