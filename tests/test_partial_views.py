"""A snapshot decoded only as far as one patient's views, or every patient's dashboard, need
(issue 27: ``report --patient`` and ``balances`` without decoding every row) answers those
views exactly as the whole ledger does."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings

import patient_ledger as pl
from patient_ledger import cli, testing
from patient_ledger.errors import SnapshotError
from patient_ledger.persist import _cache, _partial, journal, snapshot
from patient_ledger.report.render import report_data, report_html, report_text
from patient_ledger.testing import generate

ON = datetime.date(2025, 9, 30)


def report(ledger: pl.Ledger, patient_id: str) -> tuple[object, ...]:
    try:
        return (
            report_text(ledger, patient_id, ON, colour=False),
            report_data(ledger, patient_id, ON),
            report_html(ledger, patient_id, ON),
        )
    except pl.UnknownIdError as error:
        return ("refused", str(error))


def check(ledger: pl.Ledger) -> None:
    data = snapshot.encode(ledger)
    assert pl.dashboards(_partial.patients_only(data, ledger.events)) == pl.dashboards(ledger)
    for patient_id in [*pl.patients(ledger), "NOBODY"]:
        one = _partial.one_patient(data, ledger.events, patient_id)
        assert report(one, patient_id) == report(ledger, patient_id), patient_id


@settings(max_examples=60, deadline=None)
@given(testing.ledgers(max_steps=40))
def test_one_patient_s_rows_give_its_whole_report(ledger: pl.Ledger) -> None:
    check(ledger)


def test_big_patients_whose_sets_are_trees() -> None:
    # Two patients with hundreds of visits, entries and lines: their sorted sets are B-trees,
    # written flat in the snapshot and made trees again.
    check(generate.practice(3_000, seed=11, patients=2))


def test_another_format_is_refused() -> None:
    ledger = generate.practice(50, seed=1, patients=2)
    data = snapshot.encode(ledger).replace(snapshot.FORMAT.encode(), b"patient_ledger/state/0")
    with pytest.raises(SnapshotError):
        _partial.one_patient(data, ledger.events, "P0")
    with pytest.raises(SnapshotError):
        _partial.patients_only(data, ledger.events)


def test_the_command_line_reads_a_cached_journal_partly_and_prints_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_cache, "MIN_EVENTS", 10)
    ledger = generate.practice(600, seed=4, patients=6)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(ledger), encoding="utf-8")
    commands = [
        ["report", str(path), "--patient", "P3", "--on", "2025-09-30"],
        ["report", str(path), "--patient", "P3", "--on", "2025-09-30", "--format", "json"],
        ["balances", str(path)],
        ["balances", str(path), "--format", "csv"],
    ]
    whole = []
    for argv in commands:  # the first writes the cache
        assert cli.main(argv) == 0
        whole.append(capsys.readouterr().out)

    def refuse(*args: object, **kwargs: object) -> pl.Ledger:
        raise AssertionError("the whole ledger was decoded")

    monkeypatch.setattr(snapshot, "decode", refuse)
    monkeypatch.setattr(journal, "loads", refuse)
    for argv, expected in zip(commands[1:], whole[1:], strict=True):
        assert cli.main(argv) == 0
        assert capsys.readouterr().out == expected


def test_the_command_line_reads_a_store_partly_and_prints_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from patient_ledger.persist.store import open_store

    ledger = generate.practice(600, seed=4, patients=6)
    db = tmp_path / "practice.db"
    store = open_store(f"sqlite:///{db}", snapshot_every=0)
    store.save("practice", ledger.at(300), expected_version=0)
    store.snapshot("practice")  # behind the head: views read the whole ledger
    store.save("practice", ledger, expected_version=300)
    commands = [
        ["report", str(db), "--patient", "P3", "--on", "2025-09-30", "--format", "json"],
        ["report", str(db), "--patient", "NOBODY"],
        ["balances", str(db), "--format", "csv"],
    ]
    whole = []
    for argv in commands:
        code = cli.main(argv)
        whole.append((code, *capsys.readouterr()))
    store.snapshot("practice")  # now at the head: views read it partly
    store.close()

    def refuse(*args: object, **kwargs: object) -> pl.Ledger:
        raise AssertionError("the whole ledger was decoded")

    monkeypatch.setattr(snapshot, "decode", refuse)
    monkeypatch.setattr(journal, "loads", refuse)
    monkeypatch.setattr(journal, "extend", refuse)
    for argv, expected in zip(commands, whole, strict=True):
        assert (cli.main(argv), *capsys.readouterr()) == expected
