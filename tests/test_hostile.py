"""Hostile files, racing writers and forged journals (issue 15): nothing lost, nothing invented,
every refusal quick and names what it refuses. One test (or table) per finding."""

from __future__ import annotations

import codecs
import datetime
import hashlib
import json
import os
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
from patient_ledger import _files, drchrono, fhir, imports, journal
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
from patient_ledger.store import open_store
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
    ("line", "amount", "named", "invariant"),
    [
        # a refund of $5 forged to $3: consistent until the cancellation that pairs it with $5
        # (only the engine's records disagree: the bisection by whole checks)
        (5, "-3.00", 8, 8),
        (6, "-3.00", 7, 3),  # an appointment over-applied, no dashboard figure wrong
        (3, "0.01", 4, 1),  # one patient's figures: the quick bisection
    ],
)
def test_every_kind_of_forgery_names_its_event(
    line: int, amount: str, named: int, invariant: int
) -> None:
    forged = [json.loads(text) for text in fuzz.LINES]
    fuzz.amount_slots(forged[line])[0]["amount"] = amount
    error = quick(lambda: journal.loads(fuzz.rehash(forged)), bound=5)
    assert isinstance(error, JournalError)
    assert error.line == named
    assert f"invariant {invariant} breaks" in str(error)
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
        CSV_HEAD + '"X\n1\n",P1,1.00,2025-04-01,CASH,PAYMENT,\n'  # lines 2 to 4
        "X2,P1,1.00,2025-04-01,CASH,PAYMENT,\n"  # line 5
        '"X\n3",P1,oops,2025-04-01,CASH,PAYMENT,\n'  # lines 6 and 7
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
        with pytest.raises(StoreError, match="NUL"):
            store.save("a\x00b", pl.Ledger.empty(), expected_version=0)
        with pytest.raises(StoreError, match="NUL"):
            store.load("a\x00b")
        with pytest.raises(InvalidInputError, match="empty"):
            store.save("\u200b", pl.Ledger.empty(), expected_version=0)
    finally:
        store.close()


READ_ONLY_CHECK = """
import sys
from patient_ledger.errors import StoreError
from patient_ledger.invariants import check_invariants
from patient_ledger.store import open_store
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
