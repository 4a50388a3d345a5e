"""The command line and the demo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.cli import main
from patient_ledger.persist import journal
from tests.test_views import two_line_visit


def test_demo_plays_the_seed_walkthrough(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "seed", "--colour", "never"]) == 0
    out = capsys.readouterr().out
    assert "Step 6:" in out
    assert "200.00 [G]" in out  # the green box: the patient's unallocated $200
    assert "20.00 [Y]" in out  # the yellow box: A2's own unallocated $20
    assert "replayed and compared equal" in out
    assert "\x1b[" not in out


def test_demo_in_colour_and_the_month(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--colour", "always"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[30;42m" in out  # black on green: the seed's green box, drawn by rich
    assert "Aging at month end" in out
    assert "Scenario: month" in out


def test_demo_plays_lines_policies_and_a_cancelled_visit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--scenario", "lines", "--colour", "never"]) == 0
    out = capsys.readouterr().out
    assert "Scenario: lines" in out
    assert "Step 6:" in out
    assert "Where PAY60's money is now" in out
    assert "NINA     V60          L61    45.00" in out  # the named line, not the first
    assert "NINA     V60          L60    70.00" in out  # $100 less the $30 reversed
    assert "SAM      V71              L71      30.00" in out  # smallest first, whole balances
    assert "SAM      V72              L72      50.00" in out
    assert "SAM      (none: general)  (held)   20.00" in out  # not part of V70's $80
    assert "RITA     (none: general)  (held)   75.00" in out  # the cancelled visit's deposit
    assert "replayed and compared equal" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["nonsense"])
    assert caught.value.code == 2


def test_python_dash_m_runs_the_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "patient_ledger", "demo", "--scenario", "seed"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "Live claims feed" in done.stdout


@pytest.fixture
def demo_journal(tmp_path: Path) -> Path:
    path = tmp_path / "demo.jsonl"
    assert main(["demo", "--scenario", "all", "--colour", "never", "--journal", str(path)]) == 0
    return path


def test_report_json(demo_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "report",
                str(demo_journal),
                "--patient",
                "P1",
                "--format",
                "json",
                "--on",
                "2025-03-31",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["patient_id"] == "P1"
    assert data["dashboard"] == {
        "total_paid": "120.00",
        "allocated": "120.00",
        "unallocated": "0.00",
        "patient_responsibility": "135.00",
        "statement_balance": "15.00",
        "total_balance": "15.00",
    }
    assert [r["appointment_id"] for r in data["claims_feed"]] == ["A1", "A2"]
    assert data["claims_feed"][1]["balance_due"] == "15.00"
    assert data["unallocated_entries"] == []
    assert data["aging"]["days_31_60"] == "15.00"


def test_report_text_and_html(demo_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "report",
                str(demo_journal),
                "--patient",
                "ANA",
                "--on",
                "2025-03-31",
                "--colour",
                "never",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "20.00 [Y]" in text
    assert "Aging on 2025-03-31" in text
    assert (
        main(
            [
                "report",
                str(demo_journal),
                "--patient",
                "ANA",
                "--format",
                "html",
                "--on",
                "2025-03-31",
            ]
        )
        == 0
    )
    page = capsys.readouterr().out
    assert page.startswith("<!doctype html>")
    assert 'class="amount yellow">20.00<' in page
    assert 'class="amount green">20.00<' in page


def test_report_of_an_unknown_patient_or_file(
    demo_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(demo_journal), "--patient", "NOBODY"]) == 1
    assert "NOBODY" in capsys.readouterr().err
    assert main(["report", str(demo_journal) + ".missing", "--patient", "P1"]) == 3


def test_verify(demo_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(demo_journal)]) == 0
    assert "OK: 56 events" in capsys.readouterr().out
    lines = demo_journal.read_text().splitlines()
    lines[10] = lines[10].replace('"', "'", 1)
    demo_journal.write_text("\n".join(lines) + "\n")
    assert main(["verify", str(demo_journal)]) == 1
    assert "line 11" in capsys.readouterr().err


CSV_HEAD = "id,patient_id,amount,received_on,method,type,appointment_id\n"


def test_import_payments_all_or_nothing(
    demo_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = demo_journal.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        CSV_HEAD + "X1,P1,15.00,2025-04-01,CASH,COPAY,A2\n"
        "X2,P9,50.00,2025-04-01,CHECK,PAYMENT,\n"
        "X3,P9,-80.00,2025-04-02,CHECK,REFUND,\n"
    )
    assert main(["import-payments", str(bad), "--journal", str(demo_journal)]) == 1
    err = capsys.readouterr().err
    assert "line 4" in err
    assert "X3" in err
    assert demo_journal.read_bytes() == before
    good = tmp_path / "good.csv"
    good.write_text(
        CSV_HEAD + "X1,P1,15.00,2025-04-01,cash,COPAY,A2\n"
        "\n"
        "X2,P9,50.00,2025-04-01,CHECK,,\n"
        "X3,P9,-20.00,2025-04-02,CHECK,REFUND,\n"
    )
    assert main(["import-payments", str(good), "--journal", str(demo_journal)]) == 0
    after = demo_journal.read_bytes()
    assert after.startswith(before)
    ledger = journal.loads(after.decode())
    assert pl.dashboard(ledger, "P1").statement_balance == Money("0.00", "USD")
    assert pl.dashboard(ledger, "P9").total_paid == Money("30.00", "USD")
    assert main(["verify", str(demo_journal)]) == 0


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        ("id,patient,amount\n", 1),
        (CSV_HEAD + "X1,P1,ten,2025-04-01,CASH,PAYMENT,\n", 2),
        (CSV_HEAD + "X1,P1,1.00,2025-04-01,CASH,PAYMENT,\nX2,P1,1.00,April,CASH,PAYMENT,\n", 3),
        (CSV_HEAD + "X1,P1,1.00,2025-04-01,BITCOIN,PAYMENT,\n", 2),
        (CSV_HEAD + "X1,P1,1.00,2025-04-01,CASH,PAYMENT,A404\n", 2),
        (CSV_HEAD + "X1,P1,1.00\n", 2),
    ],
)
def test_import_names_the_bad_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, line: int
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(rows)
    target = tmp_path / "new.jsonl"
    assert main(["import-payments", str(source), "--journal", str(target)]) == 1
    assert f"line {line}" in capsys.readouterr().err
    assert not target.exists()


def test_import_into_a_new_journal(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(CSV_HEAD + "X1,P1,1.00,2025-04-01,CASH,PAYMENT,\n")
    target = tmp_path / "new.jsonl"
    assert main(["import-payments", str(source), "--journal", str(target)]) == 0
    assert len(journal.loads(target.read_text()).events) == 2


def test_report_shows_each_appointments_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_text(journal.dumps(two_line_visit()), encoding="utf-8")
    capsys.readouterr()
    report = ["report", str(path), "--patient", "P1", "--on", "2025-03-31"]
    assert main([*report, "--colour", "never"]) == 0
    text = capsys.readouterr().out.splitlines()
    v1 = next(n for n, line in enumerate(text) if line.startswith("V1 "))
    assert text[v1 - 1].startswith("V0 ")  # V0 has no charges: no lines
    assert text[v1 + 1].split() == [
        "-",
        "C1",
        "99213",
        "Office",
        "visit",
        "100.00",
        "10.00",
        "90.00",
    ]
    assert text[v1 + 2].split() == ["-", "C2", "80053", "Lab", "panel", "40.00", "40.00", "0.00"]
    assert text[v1 + 3] == ""
    assert main([*report, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["claims_feed"][0]["line_items"] == []
    assert [(i["charge_id"], i["paid"]) for i in data["claims_feed"][1]["line_items"]] == [
        ("C1", "10.00"),
        ("C2", "40.00"),
    ]
    assert main([*report, "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert re.search(
        r"<td>V1</td>.*?</tr><tr><td class=\"line indent\">C1</td><td class=\"line\">99213 Office"
        r" visit</td>.*?</tr><tr><td class=\"line indent\">C2</td>",
        page,
    )


def test_import_payments_reads_the_formats_it_is_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "us.csv"
    source.write_text(
        'payment_id,patient_id,amount,received_on\nT1,P1,"$1,234.56",1/6/2025\n'
        "T2,P1,($20.00),1/7/2025\n",
        encoding="utf-8",
    )
    target = tmp_path / "j.jsonl"
    assert main(["import-payments", str(source), "--journal", str(target)]) == 1
    assert "--amounts us" in capsys.readouterr().err  # advice it can take
    assert not target.exists()
    argv = ["--journal", str(target), "--date-format", "MM/DD/YYYY", "--amounts", "us"]
    assert main(["import-payments", str(source), *argv]) == 0
    dashboard = pl.dashboard(journal.loads(target.read_bytes()), "P1")
    assert dashboard.total_paid == Money("1214.56", "USD")
