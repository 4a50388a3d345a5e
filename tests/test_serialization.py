"""persist.journal: canonical form, round trips, and tamper detection with line numbers."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings

import patient_ledger as pl
from patient_ledger.cli.demo import month_at_the_practice, play, seed_walkthrough
from patient_ledger.errors import JournalError
from patient_ledger.persist import journal
from patient_ledger.testing import ledgers


def sample() -> pl.Ledger:
    ledger = pl.Ledger.empty()
    for _, ledger in play(seed_walkthrough() + month_at_the_practice()):  # noqa: B007
        pass
    return ledger


def rehash(lines: list[str], start: int) -> list[str]:
    """Recompute the chain from ``start`` on, as a forger would."""
    out = lines[:start]
    prev = json.loads(out[-1])["hash"] if out else journal.GENESIS
    for line in lines[start:]:
        record = json.loads(line)
        record.pop("hash")
        record["prev"] = prev
        prev = hashlib.sha256(journal._canonical(record).encode()).hexdigest()
        out.append(journal._canonical({**record, "hash": prev}))
    return out


def test_round_trip_and_canonical_form() -> None:
    ledger = sample()
    text = journal.dumps(ledger)
    assert text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == len(ledger.events)
    for n, line in enumerate(lines):
        record = json.loads(line)
        assert line == json.dumps(record, sort_keys=True, separators=(",", ":"))
        assert record["seq"] == n
        assert record["v"] in {1, journal.SCHEMA_VERSION}
        assert record["type"] == type(ledger.events[n]).__name__
    again = journal.loads(text)
    assert again == ledger
    assert journal.dumps(again) == text
    journal.verify(text)
    assert journal.head(text) == json.loads(lines[-1])["hash"]


def test_amounts_are_exact_decimal_strings_with_their_currency() -> None:
    text = journal.dumps(sample())
    payment = next(json.loads(line) for line in text.splitlines() if '"PaymentPosted"' in line)
    assert payment["event"]["payment"]["amount"] == {"amount": "100.00", "currency": "USD"}
    assert payment["event"]["allocated"] == {"amount": "100.00", "currency": "USD"}
    assert "e-" not in text.lower().replace("e-mail", "")


@settings(max_examples=40, deadline=None)
@given(ledgers())
def test_every_ledger_round_trips(ledger: pl.Ledger) -> None:
    text = journal.dumps(ledger)
    again = journal.loads(text)
    assert again == ledger
    assert journal.dumps(again) == text
    for pid in pl.patients(ledger):
        assert pl.dashboard(again, pid) == pl.dashboard(ledger, pid)


def bad_line(text: str, head: str | None = None) -> int:
    with pytest.raises(JournalError) as caught:
        journal.verify(text, head=head)
    error = caught.value
    assert isinstance(error, pl.LedgerError)
    assert error.code is pl.ErrorCode.CORRUPT_JOURNAL
    assert str(error).startswith(f"line {error.line}: ")
    return error.line


def test_an_edit_is_detected_at_its_line() -> None:
    lines = journal.dumps(sample()).splitlines()
    edited = lines.copy()
    edited[3] = edited[3].replace('"100.00"', '"900.00"', 1)  # PAY1's amount
    assert edited[3] != lines[3]
    assert bad_line("\n".join(edited) + "\n") == 4


def test_reordered_deleted_and_inserted_lines_are_detected() -> None:
    lines = journal.dumps(sample()).splitlines()
    swapped = lines.copy()
    swapped[3], swapped[4] = swapped[4], swapped[3]
    assert bad_line("\n".join(swapped)) == 4
    assert bad_line("\n".join(lines[:7] + lines[8:])) == 8
    assert bad_line("\n".join([*lines[:7], lines[2], *lines[7:]])) == 8


def test_a_cut_line_is_detected_and_dropped_lines_need_the_head() -> None:
    text = journal.dumps(sample())
    lines = text.splitlines()
    assert bad_line(text[: len(text) - 40]) == len(lines)
    shorter = "\n".join(lines[:-3]) + "\n"
    journal.verify(shorter)  # a valid, shorter journal...
    assert journal.loads(shorter) == sample().at(len(lines) - 3)
    assert bad_line(shorter, head=journal.head(text)) == len(lines) - 3  # ...unless the head says


def test_a_forged_chain_still_has_to_replay() -> None:
    lines = journal.dumps(sample()).splitlines()
    record = json.loads(lines[7])
    assert record["type"] == "ChargeAdded"
    record["event"]["applied"] = [["E999", "A2", {"amount": "1.00", "currency": "USD"}]]
    lines[7] = journal._canonical(record)
    forged = rehash(lines, 7)
    assert bad_line("\n".join(forged)) == 8


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", 1),
        ("not json\n", 1),
        ("[1, 2]\n", 1),
        ("\n\n", 1),
    ],
)
def test_malformed_text(text: str, line: int) -> None:
    assert bad_line(text) == line


def test_the_first_line_must_open_the_ledger_and_only_once() -> None:
    lines = journal.dumps(sample()).splitlines()
    assert bad_line("\n".join(rehash(lines[1:], 0))) == 1
    assert bad_line("\n".join(rehash([*lines, lines[0]], len(lines)))) == len(lines) + 1
    wrong_version = json.loads(lines[0])
    wrong_version["v"] = 99
    assert bad_line("\n".join(rehash([journal._canonical(wrong_version)], 0))) == 1


def test_journal_errors_pickle() -> None:
    import pickle

    error = JournalError("content does not match its hash (edited)", line=7)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.line, str(copy)) == (7, str(error))
