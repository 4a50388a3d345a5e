"""Practice-wide commands: auto-allocation and cancel-offsetting for every patient in one call,
each the same as the per-patient command applied patient by patient; and `patient-ledger
auto-allocate` on a journal file and on a store."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

import patient_ledger as pl
from patient_ledger import cli
from patient_ledger.persist import journal
from patient_ledger.persist.store import open_store
from tests.helpers import appointment, charge, pay, refund, usd

D = datetime.date
ON = D(2025, 3, 1)


def practice() -> pl.Ledger:
    ledger = pl.Ledger.empty()
    for n, patient in enumerate(["P3", "P1", "P2"]):
        visit = f"A{n}"
        ledger = appointment(ledger, visit, pid=patient, day=D(2025, 1, 10 + n))
        ledger = charge(ledger, f"C{n}", visit, "40.00")
        ledger = pay(ledger, f"PAY{n}", "25.00", pid=patient)  # credit, held in general
        ledger = pay(ledger, f"BACK{n}", "5.00", pid=patient)
        ledger = refund(ledger, f"R{n}", "-5.00", pid=patient)  # offsets BACK{n}
    return appointment(ledger, "LATE", pid="P1", day=D(2025, 6, 1))  # dated after ON


def test_every_patient_at_once_is_every_patient_one_by_one() -> None:
    ledger = practice()
    one_by_one = ledger
    for patient in pl.patients(ledger):
        one_by_one = pl.auto_allocate(one_by_one, patient, on=ON)
    assert pl.auto_allocate_all(ledger, on=ON) == one_by_one
    # 40.00 charged; 25.00 + 5.00 paid, 5.00 refunded: 25.00 applied, 15.00 still due
    assert pl.dashboard(one_by_one, "P2").statement_balance == usd("15.00")
    closed = ledger
    for patient in pl.patients(ledger):
        closed = pl.cancel_offsetting(closed, patient, on=ON)
    assert pl.cancel_offsetting_all(ledger, on=ON) == closed
    assert len(closed.events) == len(ledger.events) + 3
    assert pl.auto_allocate_all(pl.Ledger.empty(), on=ON) == pl.Ledger.empty()


def test_a_malformed_date_is_refused_before_any_patient() -> None:
    with pytest.raises(pl.InvalidInputError):
        pl.auto_allocate_all(practice(), on="2025-03-01")  # type: ignore[arg-type]
    with pytest.raises(pl.InvalidInputError):
        pl.cancel_offsetting_all(practice(), on=None)  # type: ignore[arg-type]


def test_the_command_appends_to_a_journal_file_and_to_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = practice()
    # Smallest first pays whole balances only (none here): the default order, oldest first.
    assert pl.auto_allocate_all(ledger, on=ON, order=pl.AllocationOrder.SMALLEST_FIRST) == ledger
    expected = pl.auto_allocate_all(ledger, on=ON)
    path = tmp_path / "practice.jsonl"
    path.write_text(journal.dumps(ledger), encoding="utf-8")
    argv = ["--on", "2025-03-01", "--order", "oldest_first"]
    assert cli.main(["auto-allocate", str(path), *argv]) == 0
    assert "3 events appended" in capsys.readouterr().out
    assert journal.loads(path.read_bytes()) == expected
    database = tmp_path / "practice.db"
    store = open_store(f"sqlite:///{database}")
    store.save("practice", ledger, expected_version=0)
    store.close()
    assert cli.main(["auto-allocate", str(database), *argv]) == 0
    store = open_store(f"sqlite:///{database}")
    assert store.load("practice") == expected
    store.close()
    assert cli.main(["auto-allocate", str(tmp_path / "none.jsonl"), *argv]) == cli.EXIT_IO
