"""``patient-ledger statements`` and ``patient-ledger daysheet`` (SPEC §12, issue 29)."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.cli import main
from patient_ledger.persist import journal
from patient_ledger.report.statements import file_names
from tests.test_statements import february

D = datetime.date
FEB = ["--from", "2025-02-01", "--to", "2025-02-28"]


@pytest.fixture
def feb_journal(tmp_path: Path) -> str:
    path = tmp_path / "feb.jsonl"
    path.write_text(journal.dumps(february()), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_statements_as_json_keyed_by_patient(
    feb_journal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "statements", feb_journal, *FEB, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["P1", "P2"]
    p1 = data["P1"]
    assert (p1["start"], p1["end"], p1["opening_balance"], p1["closing_balance"]) == (
        "2025-02-01", "2025-02-28", "50.00", "145.00",
    )  # fmt: skip
    assert p1["lines"][0] == {
        "day": "2025-02-03", "kind": "PAYMENT", "ref": "PAY4", "description": "check payment",
        "amount": "-25.00", "balance": "25.00",
    }  # fmt: skip
    assert p1["aging"]["current"] == "145.00"
    assert (data["P2"]["credit"], data["P2"]["amount_due"]) == ("30.00", "0.00")
    # --patient: only those.
    code, out, _ = run(capsys, "statements", feb_journal, *FEB, "--format", "json",
                       "--patient", "P2")  # fmt: skip
    assert list(json.loads(out)) == ["P2"]


def test_statements_as_text_and_csv(feb_journal: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "statements", feb_journal, *FEB)
    assert code == 0
    assert "Opening balance" in out
    assert "TRANSFER_OUT" in out
    assert "payment PAY3 reversed, chargeback" in out
    code, out, _ = run(capsys, "statements", feb_journal, *FEB, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["patient_id"] for r in rows] == ["P1"] * 8 + ["P2"]
    assert rows[-1] == {"patient_id": "P2", "day": "2025-02-15", "kind": "TRANSFER_IN",
                        "ref": "T1", "description": "credit from P1", "amount": "-30.00",
                        "balance": "-30.00"}  # fmt: skip


def test_statements_to_a_directory_with_an_index(
    feb_journal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "mail"
    code, out, _ = run(capsys, "statements", feb_journal, *FEB, "--format", "csv",
                       "--out", str(out_dir))  # fmt: skip
    assert code == 0
    assert "2 statements" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["P1.csv", "P2.csv", "index.csv"]
    index = list(csv.DictReader(io.StringIO((out_dir / "index.csv").read_text(encoding="utf-8"))))
    assert [(r["patient_id"], r["opening_balance"], r["closing_balance"], r["amount_due"],
             r["file"]) for r in index] == [
        ("P1", "50.00", "145.00", "145.00", "P1.csv"),
        ("P2", "0.00", "-30.00", "0.00", "P2.csv"),
    ]  # fmt: skip
    assert len((out_dir / "P1.csv").read_text(encoding="utf-8").splitlines()) == 9
    # Files already there are refused, nothing written; --replace replaces them.
    (out_dir / "P2.csv").write_text("mine", encoding="utf-8")
    code, _, err = run(capsys, "statements", feb_journal, *FEB, "--format", "csv",
                       "--out", str(out_dir))  # fmt: skip
    assert code == 1
    assert "P1.csv" in err
    assert (out_dir / "P2.csv").read_text(encoding="utf-8") == "mine"
    code, _, _ = run(capsys, "statements", feb_journal, *FEB, "--format", "json",
                     "--out", str(out_dir))  # fmt: skip
    assert code == 0
    index_json = json.loads((out_dir / "index.json").read_text(encoding="utf-8"))
    assert index_json[0] == {"patient_id": "P1", "start": "2025-02-01", "end": "2025-02-28",
                             "opening_balance": "50.00", "closing_balance": "145.00",
                             "amount_due": "145.00", "credit": "0.00", "plan_due": "0.00",
                             "file": "P1.json"}  # fmt: skip
    assert json.loads((out_dir / "P2.json").read_text(encoding="utf-8"))["credit"] == "30.00"
    code, _, _ = run(capsys, "statements", feb_journal, *FEB, "--format", "csv",
                     "--out", str(out_dir), "--replace")  # fmt: skip
    assert code == 0
    assert (out_dir / "P2.csv").read_text(encoding="utf-8").startswith("patient_id,")


def test_file_names_stay_in_the_directory_and_apart() -> None:
    names = file_names(["P1", "p1", "../../x", "", ".hidden", "index", "A B"], ".txt")
    assert names == {
        "P1": "P1.txt", "p1": "p1-2.txt", "../../x": "______x.txt", "": "_.txt",
        ".hidden": "_hidden.txt", "index": "index-2.txt", "A B": "A_B.txt",
    }  # fmt: skip


def test_csv_cells_that_look_like_formulas_are_made_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payment = pl.Payment("=HYPERLINK(1)", "@P1", Money("5.00", "USD"), datetime.date(2025, 2, 3),
                         reference="+1")  # fmt: skip
    ledger = pl.post_payment(pl.Ledger.empty(), payment)
    path = tmp_path / "j.jsonl"
    path.write_text(journal.dumps(ledger), encoding="utf-8")
    code, out, _ = run(capsys, "statements", str(path), *FEB, "--format", "csv")
    assert code == 0
    assert "'@P1,2025-02-03,PAYMENT,'=HYPERLINK(1)" in out
    code, out, _ = run(capsys, "daysheet", str(path), "--on", "2025-02-03", "--format", "csv")
    assert "'=HYPERLINK(1),'@P1,OTHER,PAYMENT,'+1,5.00" in out


def test_the_day_sheet(feb_journal: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "daysheet", feb_journal, *FEB, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["start", "end", "lines", "totals", "net"]
    assert data["net"] == "105.00"
    assert [t["method"] for t in data["totals"]] == ["CASH", "CHECK", "CREDIT_CARD"]
    assert data["totals"][0] == {"method": "CASH", "count": 2, "received": "100.00",
                                 "returned": "-20.00", "net": "80.00"}  # fmt: skip
    code, out, _ = run(capsys, "daysheet", feb_journal, "--on", "2025-02-14")
    assert code == 0
    assert "Day sheet 2025-02-14" in out
    assert "Net: -20.00" in out
    code, out, _ = run(capsys, "daysheet", feb_journal, "--on", "2025-02-14", "--format", "csv")
    assert out.splitlines() == [
        "day,payment_id,patient_id,method,type,reference,amount",
        "2025-02-14,R1,P1,CASH,REFUND,,-20.00",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["daysheet", "--on", "2025-02-14", "--from", "2025-02-01", "--to", "2025-02-28"],
        ["daysheet", "--from", "2025-02-01"],
        ["daysheet"],
    ],
)
def test_the_day_sheet_needs_one_day_or_a_range(
    argv: list[str], feb_journal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, argv[0], feb_journal, *argv[1:])
    assert code == 2
    assert "--on DAY, or both --from DAY and --to DAY" in err


def test_refusals(feb_journal: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "statements", feb_journal, "--from", "2025-03-01", "--to",
                       "2025-02-01")  # fmt: skip
    assert (code, err.strip()) == (1, "refused: start 2025-03-01 is after end 2025-02-01")
    code, _, err = run(capsys, "statements", feb_journal, *FEB, "--patient", "P7")
    assert code == 1
    assert "'P7'" in err
    with pytest.raises(SystemExit) as usage:
        main(["statements", feb_journal, "--from", "Feb 1", "--to", "2025-02-28"])
    assert usage.value.code == 2
    capsys.readouterr()
    code, _, err = run(capsys, "statements", str(tmp_path / "none.jsonl"), *FEB)
    assert code == 3
    a_file = tmp_path / "a_file"
    a_file.write_text("", encoding="utf-8")
    code, _, err = run(capsys, "statements", feb_journal, *FEB, "--out", str(a_file))
    assert code == 1
    assert "not a directory" in err


def test_a_store_is_read_as_the_other_commands_read_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from patient_ledger.persist.store import open_store

    url = f"sqlite:///{tmp_path}/practice.db"
    store = open_store(url)
    try:
        store.save("clinic", february(), expected_version=0)
    finally:
        store.close()
    code, out, _ = run(capsys, "statements", url, "--name", "clinic", *FEB, "--format", "json")
    assert code == 0
    assert json.loads(out)["P1"]["closing_balance"] == "145.00"
    code, out, _ = run(capsys, "daysheet", str(tmp_path / "practice.db"), "--name", "clinic",
                       *FEB, "--format", "json")  # fmt: skip
    assert json.loads(out)["net"] == "105.00"


def test_a_ledger_loaded_from_a_snapshot_gives_the_same_statements(tmp_path: Path) -> None:
    # A snapshot's tables (entries, accounts, plans) are what a statement reads beside the
    # journal: loaded from one, every figure is the same.
    from patient_ledger.persist.store import open_store
    from tests.test_statements import plan_ledger

    reversed_plan = pl.reverse_payment(plan_ledger(), "PP1", on=D(2025, 2, 20))
    for name, ledger in [("feb", february()), ("plan", reversed_plan)]:
        url = f"sqlite:///{tmp_path}/{name}.db"
        store = open_store(url, snapshot_every=3)
        try:
            store.save("c", ledger.at(5), expected_version=0)
            store.save("c", ledger, expected_version=5)
        finally:
            store.close()
        reader = open_store(url)
        try:
            assert reader.newest_snapshot("c") is not None
            loaded = reader.load("c")
        finally:
            reader.close()
        for start, end in [(D(2025, 1, 1), D(2025, 1, 31)), (D(2025, 2, 1), D(2025, 2, 28))]:
            assert pl.statements(loaded, start=start, end=end) == pl.statements(
                ledger, start=start, end=end
            )
            assert pl.day_sheet(loaded, start, end) == pl.day_sheet(ledger, start, end)
