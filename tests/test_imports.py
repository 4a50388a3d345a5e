"""patient-ledger import (a practice's own CSV exports) and patient-ledger balances."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
from pathlib import Path

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.adapters.imports import (
    Formats,
    check_formats,
    import_files,
    load_formats,
    load_mapping,
)
from patient_ledger.cli import _Progress, main
from patient_ledger.persist import journal
from patient_ledger.views import dashboards

CLINIC = Path(__file__).parent / "data" / "clinic"
D = datetime.date


def usd(text: str) -> Money:
    return Money(text, "USD")


def clinic_import(target: Path) -> list[str]:
    return [
        "import",
        "--visits",
        str(CLINIC / "visits.csv"),
        "--charges",
        str(CLINIC / "charges.csv"),
        "--payments",
        str(CLINIC / "payments.csv"),
        "--columns",
        str(CLINIC / "columns.toml"),
        "--journal",
        str(target),
    ]


@pytest.fixture
def clinic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    target = tmp_path / "clinic.jsonl"
    assert main(clinic_import(target)) == 0
    out = capsys.readouterr().out
    assert "imported 14 visits, 15 charges, 15 payments, 2 refunds, 0 adjustments" in out
    assert "12 patients" in out
    return target


def by_hand() -> pl.Ledger:
    """Three of the clinic's patients, posted through the API in the order of their dates."""
    ledger = pl.Ledger.empty()
    for visit in [("V103", "P04", D(2025, 3, 5)), ("V106", "P07", D(2025, 3, 7))]:
        ledger = pl.add_appointment(ledger, pl.Appointment(*visit, "Dr. Shah"))
    ledger = pl.add_appointment(ledger, pl.Appointment("V109", "P10", D(2025, 3, 12), "Dr. Lee"))
    ledger = pl.post_payment(ledger, pl.Payment("T4", "P04", usd("50.00"), D(2025, 3, 1), "CHECK"))
    ledger = pl.post_payment(
        ledger, pl.Payment("T11", "P10", usd("300.00"), D(2025, 3, 1), "CHECK")
    )
    ledger = pl.add_charge(ledger, pl.Charge("L5", "V103", usd("35.00")))
    ledger = pl.post_payment(
        ledger, pl.Payment("T5", "P04", usd("35.00"), D(2025, 3, 5), "CASH", "COPAY", "V103")
    )
    ledger = pl.add_charge(ledger, pl.Charge("L8", "V106", usd("180.00")))
    ledger = pl.post_payment(
        ledger,
        pl.Payment("T8", "P07", usd("200.00"), D(2025, 3, 7), "CREDIT_CARD", "PAYMENT", "V106"),
    )
    ledger = pl.add_charge(ledger, pl.Charge("L11", "V109", usd("100.00")))
    ledger = pl.refund(
        ledger, pl.Payment("R1", "P04", usd("-50.00"), D(2025, 3, 20), "CHECK", "REFUND")
    )
    return pl.refund(
        ledger,
        pl.Payment("R2", "P07", usd("-20.00"), D(2025, 3, 21), "CREDIT_CARD", "REFUND", "V106"),
    )


def test_balances_agree_with_the_api_on_every_patient(
    clinic: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = journal.loads(clinic.read_text())
    assert main(["balances", str(clinic), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert list(found) == list(pl.patients(ledger))
    assert len(found) == 12
    for pid in pl.patients(ledger):
        assert found[pid] == pl.dashboard(ledger, pid).as_dict()
        assert set(found[pid]) == {
            "total_paid", "allocated", "unallocated", "patient_responsibility",
            "statement_balance", "total_balance",
        }  # fmt: skip
    hand = by_hand()
    for pid in pl.patients(hand):  # the same figures as the API, posted by hand
        assert found[pid] == pl.dashboard(hand, pid).as_dict()
    assert found["P10"]["total_balance"] == "-200.00"  # a prepayment stays unallocated
    assert found["P10"]["statement_balance"] == "100.00"
    assert main(["balances", str(clinic), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r.pop("patient_id"): r for r in rows} == found
    assert main(["balances", str(clinic)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split("  ")[:3] == ["Patient", "Total Paid", "Allocated"]
    assert text[2 + 9].split() == ["P10", "300.00", "0.00", "300.00", "100.00", "100.00", "-200.00"]
    assert main(["verify", str(clinic)]) == 0


def test_balances_on_a_date(clinic: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = journal.loads(clinic.read_text())
    for day in ["2025-03-01", "2025-03-05", "2025-03-20", "2025-12-31"]:
        assert main(["balances", str(clinic), "--on", day, "--format", "json"]) == 0
        found = json.loads(capsys.readouterr().out)
        expected = dashboards(ledger, D.fromisoformat(day))
        assert found == {pid: d.as_dict() for pid, d in expected.items()}
    assert main(["balances", str(clinic), "--on", "2025-03-01", "--format", "json"]) == 0
    early = json.loads(capsys.readouterr().out)
    # Every visit is known; on 3/1 only the two prepayments had come in, no charge yet.
    assert early["P10"]["unallocated"] == "300.00"
    assert early["P10"]["patient_responsibility"] == "0.00"
    assert early["P04"]["total_paid"] == "50.00"
    assert main(["balances", str(clinic), "--on", "2025-03-20", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["P04"]["total_paid"] == "35.00"  # refunded
    assert dashboards(ledger, D(2024, 1, 1)) == {
        pid: pl.dashboard(ledger.at(15), pid) for pid in pl.patients(ledger.at(15))
    }  # visits only
    with pytest.raises(SystemExit):
        main(["balances", str(clinic), "--on", "20250301"])


def test_importing_twice_adds_nothing_and_appends_keep_the_chain(
    clinic: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = clinic.read_bytes()
    assert main(clinic_import(clinic)) == 0
    assert "(46 already in the journal)" in capsys.readouterr().out
    assert clinic.read_bytes() == before
    more = clinic.parent / "more.csv"
    more.write_text(
        "payment_id,patient_id,amount,received_on,visit_id\nT99,P02,60.00,2025-04-01,V101\n"
    )
    assert main(["import", "--payments", str(more), "--journal", str(clinic)]) == 0
    after = clinic.read_bytes()
    assert after.startswith(before)
    assert pl.dashboard(journal.loads(after.decode()), "P02").statement_balance == usd("0.00")
    assert main(["verify", str(clinic)]) == 0
    assert (
        main(["import", "--payments", str(more), "--journal", str(clinic), "--currency", "EUR"])
        == 1
    )
    assert "EUR" in capsys.readouterr().err


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


VISITS = "visit_id,patient_id,date\nV1,P1,2025-03-03\n"
CHARGES = "charge_id,visit_id,amount,code\nC1,V1,100.00,99213\n"


def test_common_names_need_no_mapping_and_refunds_follow_their_money(tmp_path: Path) -> None:
    payments = write(
        tmp_path,
        "payments.csv",
        "Payment ID,Patient ID,Amount,Received On,Method,Type,Visit ID,Charge ID\n"
        "R1,P1,-30.00,2025-03-03,cash,,V1,\n"  # before its money in the file, the same day
        "T1,P1,130.00,2025-03-03,Credit Card,,V1,\n"
        "T0,P1,20.00,2025-02-01,check,,V1,C1\n",  # names a line: posted on the visit's day
    )
    adjustments = write(
        tmp_path,
        "adjustments.csv",
        "adjustment_id,charge_id,amount,date,type,reason\nA1,C1,-10.00,2025-03-04,contractual,\n",
    )
    ledger, summary = import_files(
        pl.Ledger.empty(),
        {
            "visits": [write(tmp_path, "v.csv", VISITS)],
            "charges": [write(tmp_path, "c.csv", CHARGES)],
            "payments": [payments],
            "adjustments": [adjustments],
        },
    )
    assert (summary.visits, summary.charges, summary.payments, summary.refunds) == (1, 1, 2, 1)
    assert summary.adjustments == 1
    kinds = [type(e).__name__ for e in ledger.events[1:]]
    assert kinds == [
        "AppointmentAdded", "ChargeAdded", "PaymentPosted", "PaymentPosted", "RefundPosted",
        "ChargeAdjusted",
    ]  # fmt: skip
    paid = [e.payment.id for e in ledger.events if isinstance(e, pl.PaymentPosted)]
    assert paid == ["T1", "T0"]  # file order within the day (T0 moved to the visit day)
    d = pl.dashboard(ledger, "P1")
    assert (d.total_paid, d.patient_responsibility, d.total_balance) == (
        usd("120.00"),
        usd("90.00"),
        usd("-30.00"),
    )
    methods = [e.payment.method for e in ledger.events if isinstance(e, pl.PaymentPosted)]
    assert methods == [pl.PaymentMethod.CREDIT_CARD, pl.PaymentMethod.CHECK]  # "Credit Card"


def refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    target = tmp_path / "new.jsonl"
    assert main(["import", *options, "--journal", str(target)]) == 1
    assert not target.exists()
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "day", ["20250303", "2025-W10-1", "03/03/2025", "２０２５-03-03", "2025-02-30", "2025-3-3"]
)
def test_dates_are_iso_only(tmp_path: Path, capsys: pytest.CaptureFixture[str], day: str) -> None:
    visits = write(tmp_path, "v.csv", f"visit_id,patient_id,date\nV0,P1,2025-03-01\nV1,P1,{day}\n")
    err = refused(tmp_path, capsys, "--visits", str(visits))
    assert f"{visits} line 3: visit 'V1': date" in err
    assert "nothing imported" in err


@pytest.mark.parametrize(
    "amount", ["1_000.00", "1e3", "$10.00", "1,000.00", "١٠", "１０", "+5.00", "10.005", "", "NaN"]
)
def test_amounts_are_plain_decimals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], amount: str
) -> None:
    visits = write(tmp_path, "v.csv", VISITS)
    charges = write(tmp_path, "c.csv", f'charge_id,visit_id,amount\nC1,V1,"{amount}"\n')
    err = refused(tmp_path, capsys, "--visits", str(visits), "--charges", str(charges))
    assert f"{charges} line 2: " in err


def test_every_error_names_its_file_and_physical_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    visits = write(tmp_path, "v.csv", "\ufeff" + VISITS)  # an Excel BOM is no problem
    charges = write(
        tmp_path,
        "c.csv",
        'charge_id,visit_id,amount,description\nC1,V1,10.00,"two\nlines"\n\nC2,V9,5.00,x\n',
    )
    err = refused(tmp_path, capsys, "--visits", str(visits), "--charges", str(charges))
    assert f"{charges} line 5: charge 'C2': visit 'V9'" in err
    payments = write(
        tmp_path,
        "p.csv",
        "payment_id,patient_id,amount,received_on\nT1,P1,10.00,2025-03-01\n"
        "R1,P1,-20.00,2025-03-02\n",
    )
    err = refused(tmp_path, capsys, "--payments", str(payments))
    assert f"{payments} line 3: " in err  # more than the bucket holds: refused by the ledger
    assert "R1" in err
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"visit_id,patient_id,date\nV1,P\xff,2025-03-01\n")
    assert f"{binary} line 2: not UTF-8" in refused(tmp_path, capsys, "--visits", str(binary))
    short = write(tmp_path, "s.csv", "visit_id,patient_id,date\nV1,P1\n")
    assert f"{short} line 2: 2 fields" in refused(tmp_path, capsys, "--visits", str(short))
    nameless = write(tmp_path, "n.csv", "Appt,Who,When\nV1,P1,2025-03-01\n")
    err = refused(tmp_path, capsys, "--visits", str(nameless))
    assert f"{nameless} line 1: no column for visits.id" in err
    assert "--column visits.id=HEADER" in err


def test_a_mapping_by_option_or_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    visits = write(tmp_path, "v.csv", "Appt,Who,When\nV1,P1,2025-03-01\n")
    target = tmp_path / "j.jsonl"
    options = ["import", "--visits", str(visits), "--journal", str(target)]
    mapping = ["--column", "visits.id=Appt", "--column", "visits.patient_id=Who"]
    assert main([*options, *mapping, "--column", "visits.date=When"]) == 0
    assert pl.patients(journal.loads(target.read_text())) == ("P1",)
    bad = write(tmp_path, "m.toml", '[visit]\nid = "Appt"\n')
    assert main([*options, "--columns", str(bad)]) == 1
    assert "unknown kind 'visit'" in capsys.readouterr().err
    assert main([*options, "--column", "visits.when=When"]) == 1
    assert "visits has no field 'when'" in capsys.readouterr().err
    assert main([*options, "--column", "visits.id"]) == 2
    assert main(["import", "--journal", str(target)]) == 2


def test_the_progress_bar_shows_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    bar = _Progress(5000, quiet)
    bar.step()
    bar.done()
    assert quiet.getvalue() == ""
    shown = Terminal()
    bar = _Progress(None, shown)
    bar.start("reading", None)
    bar.advance(3)
    bar.start("posting", 5000)
    bar.advance(5000)
    bar.done()
    assert "posting" in shown.getvalue()


def test_one_call_for_every_dashboard_agrees_with_the_shards(clinic: Path) -> None:
    from patient_ledger.adapters import batch

    ledger = journal.loads(clinic.read_text())
    every = dashboards(ledger)
    assert every == batch.dashboards(batch.partition(ledger, 3))
    assert every == {pid: pl.dashboard(ledger, pid) for pid in pl.patients(ledger)}


def test_a_single_path_per_kind(tmp_path: Path) -> None:
    ledger, summary = import_files(pl.Ledger.empty(), {"visits": write(tmp_path, "v.csv", VISITS)})
    assert (summary.visits, pl.patients(ledger)) == (1, ("P1",))
    assert summary.text().startswith("imported 1 visit, 0 charges")


# -- Hostile round 2 — CSV imports (issue 25 items 5, 6, 7 and 12; issue 24's one reader) -----


def run(*argv: str) -> tuple[int, str]:
    """Run the command line; its exit code and what it printed to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


PAYMENTS_HEAD = "id,patient_id,amount,received_on,method,type,appointment_id\n"
PAID = "T1,P1,5.00,2025-03-03,CASH,,\n"


@pytest.mark.parametrize(
    ("kind", "head", "first", "then"),
    [
        ("visits", "visit_id,patient_id,date\n", "V1,P1,2025-03-03\n", "V1,P1,2025-03-03\n"),
        ("visits", "visit_id,patient_id,date\n", "V1,P1,2025-03-03\n", "V1,P2,2025-03-04\n"),
        ("charges", "charge_id,visit_id,amount\n", "C1,V0,10.00\n", "C1,V0,10.00\n"),
        ("payments", PAYMENTS_HEAD, PAID, PAID),
        ("payments", PAYMENTS_HEAD, PAID, "T1,P1,-5.00,2025-03-04,CASH,,\n"),
        ("adjustments", "adjustment_id,charge_id,amount,date\n", "A1,C0,-1.00,2025-03-03\n",
         "A1,C0,-1.00,2025-03-03\n"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("where", ["one file", "two files"])
def test_a_repeated_id_in_one_import_is_refused_naming_both_lines(
    tmp_path: Path, kind: str, head: str, first: str, then: str, where: str
) -> None:
    base = write(tmp_path, "base_v.csv", "visit_id,patient_id,date\nV0,P1,2025-03-01\n")
    base_c = write(tmp_path, "base_c.csv", "charge_id,visit_id,amount\nC0,V0,50.00\n")
    if where == "one file":
        files = [write(tmp_path, "a.csv", head + "\n" + first + then)]  # lines 3 and 4
        places = [(files[0], 3), (files[0], 4)]
    else:
        files = [write(tmp_path, "a.csv", head + first), write(tmp_path, "b.csv", head + then)]
        places = [(files[0], 2), (files[1], 2)]
    target = tmp_path / "j.jsonl"
    options = {"visits": [base], "charges": [base_c]}
    options[kind] = [*options.get(kind, []), *files]
    argv = [f"--{k}={p}" for k, paths in options.items() for p in paths]
    code, err = run("import", *argv, "--journal", str(target))
    assert code == 1, err
    (a, m), (b, n) = places
    assert f"refused: {b} line {n}: " in err
    assert f"{a} line {m} and {b} line {n}" in err
    assert "once in an import" in err
    assert not target.exists()
    if kind == "payments" and where == "one file":  # import-payments: the same rule
        code, err = run("import-payments", str(files[0]), "--journal", str(target))
        assert (code, f"{a} line {m} and {b} line {n}" in err) == (1, True)
        assert not target.exists()


def test_an_id_already_in_the_journal_is_idempotent_or_a_duplicate(tmp_path: Path) -> None:
    target = tmp_path / "j.jsonl"
    first = write(tmp_path, "a.csv", PAYMENTS_HEAD + "T1,P1,5.00,2025-03-03,CASH,,\n")
    assert run("import-payments", str(first), "--journal", str(target))[0] == 0
    before = target.read_bytes()
    assert run("import-payments", str(first), "--journal", str(target))[0] == 0  # re-import
    assert target.read_bytes() == before
    other = write(tmp_path, "b.csv", PAYMENTS_HEAD + "T1,P1,6.00,2025-03-03,CASH,,\n")
    code, err = run("import", "--payments", str(other), "--journal", str(target))
    assert code == 1
    assert f"{other} line 2: " in err
    assert "T1" in err
    assert target.read_bytes() == before


@pytest.mark.parametrize(
    ("head", "row", "named"),
    [
        ("payment_id,patient_id,Amount,amount,date", "T1,P1,5.00,500.00,2025-03-03",
         ["'Amount'", "'amount'"]),
        ("payment_id,Patient ID,patient-id,amount,date", "T1,P1,P2,5.00,2025-03-03",
         ["'Patient ID'", "'patient-id'"]),
        ("payment_id,Patient ID,MRN,amount,date", "T1,P1,M1,5.00,2025-03-03",
         ["'Patient ID'", "'MRN'"]),
        ("payment_id,patient_id,amount,Date,Payment Date", "T1,P1,5.00,2025-03-03,2025-03-04",
         ["'Date'", "'Payment Date'"]),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["import", "import-payments"])
def test_ambiguous_headers_are_refused_naming_both_columns(
    tmp_path: Path, head: str, row: str, named: list[str], command: str
) -> None:
    source = write(tmp_path, "p.csv", f"{head}\n{row}\n")
    target = tmp_path / "j.jsonl"
    option = ["--payments"] if command == "import" else []
    code, err = run(command, *option, str(source), "--journal", str(target))
    assert code == 1
    assert f"{source} line 1: " in err
    assert all(name in err for name in named), err
    assert not target.exists()


def test_an_ambiguous_field_mapped_explicitly_is_read_from_its_column(tmp_path: Path) -> None:
    source = write(
        tmp_path, "p.csv", "payment_id,Patient ID,MRN,amount,date\nT1,P1,M1,5.00,2025-03-03\n"
    )
    target = tmp_path / "j.jsonl"
    mapped = ["--column", "payments.patient_id=MRN"]
    assert run("import", "--payments", str(source), *mapped, "--journal", str(target))[0] == 0
    assert pl.patients(journal.loads(target.read_text())) == ("M1",)


@pytest.mark.parametrize("header", ["Patient", "Patient Name", "patient-name", "Name"])
def test_a_header_that_may_hold_names_is_not_taken_for_patient_ids(
    tmp_path: Path, header: str
) -> None:
    source = write(tmp_path, "v.csv", f"visit_id,{header},date\nV1,Ada Lovelace,2025-03-03\n")
    target = tmp_path / "j.jsonl"
    code, err = run("import", "--visits", str(source), "--journal", str(target))
    assert code == 1
    assert f"{source} line 1: no column for visits.patient_id" in err
    assert f"--column visits.patient_id='{header}'" in err
    assert not target.exists()
    mapped = ["--column", f"visits.patient_id={header}"]  # a deliberate choice is honoured
    assert run("import", "--visits", str(source), *mapped, "--journal", str(target))[0] == 0
    with_mrn = write(
        tmp_path, "w.csv", f"visit_id,{header},MRN,date\nV2,Ada Lovelace,M7,2025-03-03\n"
    )
    assert run("import", "--visits", str(with_mrn), "--journal", str(target))[0] == 0
    assert pl.patients(journal.loads(target.read_text()))[-1] == "M7"  # keyed by the MRN


AMOUNTS = ["10.00", "-10.00", "10", "1e3", "1_000", "+5", "$5", "١٢٣", "10.001", "1" * 80, "0"]


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("method", ["credit card", "Credit-Card", "CASH", "bitcoin", ""])
def test_both_commands_read_a_payment_row_by_one_set_of_rules(
    tmp_path: Path, amount: str, method: str
) -> None:
    row = f"T1,P1,{amount},2025-03-03,{method},,\n"
    source = write(tmp_path, "p.csv", PAYMENTS_HEAD + "T0,P1,20.00,2025-03-01,CASH,,\n" + row)
    answers = []
    for n, argv in enumerate([["import", "--payments"], ["import-payments"]]):
        target = tmp_path / f"j{n}.jsonl"
        code, err = run(*argv, str(source), "--journal", str(target))
        answers.append(
            (code, err.replace(str(target), "J"), target.exists() and target.read_text())
        )
    assert answers[0] == answers[1]
    code, err, text = answers[0]
    if amount == "-10.00" and method.lower() in {"credit card", "credit-card", "cash"}:
        assert code == 0  # an untyped negative amount is a refund
        events = journal.loads(str(text)).events
        assert isinstance(events[-1], pl.RefundPosted)
    if amount == "10.00" and method:
        assert code == (1 if method == "bitcoin" else 0)  # "credit card" is CREDIT_CARD


def test_there_is_one_amount_parser() -> None:
    from patient_ledger import cli, money
    from patient_ledger.adapters import imports

    assert not hasattr(imports, "parse_amount") or imports.parse_amount is money.parse_amount
    assert not hasattr(cli, "parse_amount")
    assert not hasattr(cli, "_CsvLines")
    assert not hasattr(cli, "_payment")


@pytest.mark.parametrize("currency", ["EUR", "usd", "XYZ", ""])
def test_both_commands_check_currency_the_same_way(tmp_path: Path, currency: str) -> None:
    source = write(tmp_path, "p.csv", PAYMENTS_HEAD + "T1,P1,5.00,2025-03-03,CASH,,\n")
    target = tmp_path / "j.jsonl"
    assert run("import-payments", str(source), "--journal", str(target))[0] == 0
    before = target.read_bytes()
    answers = [
        run(*argv, str(source), "--journal", str(target), "--currency", currency)
        for argv in (["import", "--payments"], ["import-payments"])
    ]
    assert answers[0] == answers[1]
    assert answers[0][0] == 1
    assert target.read_bytes() == before


# -- Exports as practice systems write them (issue 27 item 4) ---------------------------------

US = check_formats(date="MM/DD/YYYY", amounts="us")


def one_charge(tmp_path: Path, amount: str, formats: Formats | None = US) -> Money:
    """The amount of one charge whose cell is ``amount``, read under ``formats``."""
    visits = write(tmp_path, "v.csv", "visit_id,patient_id,date\nV1,P1,1/6/2025\n")
    charges = write(tmp_path, "c.csv", f'charge_id,visit_id,amount\nC1,V1,"{amount}"\n')
    ledger, _ = import_files(
        pl.Ledger.empty(), {"visits": visits, "charges": charges}, formats=formats
    )
    return pl.dashboard(ledger, "P1").patient_responsibility


@pytest.mark.parametrize(
    ("day", "form", "expected"),
    [
        ("1/6/2025", "MM/DD/YYYY", D(2025, 1, 6)),
        ("01/06/2025", "MM/DD/YYYY", D(2025, 1, 6)),
        ("12/31/2025", "MM/DD/YYYY", D(2025, 12, 31)),
        ("1/6/2025", "DD/MM/YYYY", D(2025, 6, 1)),
        ("31/12/2025", "DD/MM/YYYY", D(2025, 12, 31)),
        ("2025-01-06", "YYYY-MM-DD", D(2025, 1, 6)),
    ],
)
def test_a_declared_date_format_is_read(
    tmp_path: Path, day: str, form: str, expected: datetime.date
) -> None:
    visits = write(tmp_path, "v.csv", f"visit_id,patient_id,date\nV1,P1,{day}\n")
    formats = check_formats(date=form)
    ledger, _ = import_files(pl.Ledger.empty(), {"visits": visits}, formats=formats)
    added = ledger.events[-1]
    assert isinstance(added, pl.AppointmentAdded)
    assert added.appointment.date == expected


@pytest.mark.parametrize(
    ("day", "form", "said"),
    [
        # the default names exactly the declaration that reads the cell, and never guesses
        ("1/6/2025", "YYYY-MM-DD", ("date '1/6/2025' is not a date: write YYYY-MM-DD; if your "
         "export writes US dates, add --date-format MM/DD/YYYY (DD/MM/YYYY if it writes the "
         "day first)")),
        ("1/13/2025", "YYYY-MM-DD", ("date '1/13/2025' is not a date: write YYYY-MM-DD; if your "
         "export writes US dates, add --date-format MM/DD/YYYY")),
        ("13/1/2025", "YYYY-MM-DD", ("date '13/1/2025' is not a date: write YYYY-MM-DD; if your "
         "export writes the day first, add --date-format DD/MM/YYYY")),
        ("13/13/2025", "YYYY-MM-DD", "date '13/13/2025' is not a date: write YYYY-MM-DD"),
        # a declaration the file contradicts names the cell
        ("13/01/2025", "MM/DD/YYYY", ("date '13/01/2025' is not MM/DD/YYYY: there is no month "
         "13 (if the export writes dates as DD/MM/YYYY, every date in it is: declare "
         "--date-format DD/MM/YYYY; nothing is guessed)")),
        ("1/13/2025", "DD/MM/YYYY", ("date '1/13/2025' is not DD/MM/YYYY: there is no month "
         "13 (if the export writes dates as MM/DD/YYYY, every date in it is: declare "
         "--date-format MM/DD/YYYY; nothing is guessed)")),
        ("13/13/2025", "MM/DD/YYYY", "date '13/13/2025' is not MM/DD/YYYY: there is no month 13"),
        ("2/30/2025", "MM/DD/YYYY", ("date '2/30/2025' is not a date of the calendar "
         "(MM/DD/YYYY)")),
        ("2025-01-06", "MM/DD/YYYY", ("date '2025-01-06' is not MM/DD/YYYY, the declared date "
         "format")),
        ("1/6/25", "MM/DD/YYYY", "date '1/6/25' is not MM/DD/YYYY"),  # no two-digit years
        ("001/6/2025", "MM/DD/YYYY", "date '001/6/2025' is not MM/DD/YYYY"),
        ("1-6-2025", "MM/DD/YYYY", "date '1-6-2025' is not MM/DD/YYYY"),
        ("1/6/2025 ", "MM/DD/YYYY", None),  # ASCII spaces are trimmed: read
        ("٣/6/2025", "MM/DD/YYYY", "date '٣/6/2025' is not MM/DD/YYYY"),
    ],
)  # fmt: skip
def test_a_date_not_in_the_declared_format_is_refused_naming_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], day: str, form: str, said: str | None
) -> None:
    visits = write(tmp_path, "v.csv", f"visit_id,patient_id,date\nV1,P1,{day}\n")
    options = ["--visits", str(visits), "--date-format", form]
    if said is None:
        assert main(["import", *options, "--journal", str(tmp_path / "j.jsonl")]) == 0
        return
    err = refused(tmp_path, capsys, *options)
    assert err.startswith(f"refused: {visits} line 2: visit 'V1': {said}")
    if "there is no month" in said and "nothing is guessed" not in said:
        assert "--date-format" not in err  # 13/13/2025 is no date either way: no hint


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("$1,234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("$1,234,567.00", "1234567.00"),
        ("1234.56", "1234.56"),
        ("$0.50", "0.50"),
        ("$12", "12"),
        ("-$20.00", "-20.00"),
        ("-20.00", "-20.00"),
        ("($20.00)", "-20.00"),
        ("(20.00)", "-20.00"),
        ("($1,020.00)", "-1020.00"),
        ("$999,999,999,999.99", "999999999999.99"),
    ],
)
def test_us_amounts_are_read_exactly(tmp_path: Path, cell: str, expected: str) -> None:
    if expected.startswith("-"):  # a negative charge is not a charge: an adjustment is
        visits = write(tmp_path, "v.csv", "visit_id,patient_id,date\nV1,P1,1/6/2025\n")
        charges = write(tmp_path, "c.csv", 'charge_id,visit_id,amount\nC1,V1,"$5,000.00"\n')
        adjustments = write(
            tmp_path, "a.csv", f'adjustment_id,charge_id,amount,date\nA1,C1,"{cell}",1/7/2025\n'
        )
        files = {"visits": visits, "charges": charges, "adjustments": adjustments}
        ledger, _ = import_files(pl.Ledger.empty(), files, formats=US)
        adjusted = ledger.events[-1]
        assert isinstance(adjusted, pl.ChargeAdjusted)
        assert adjusted.adjustment.amount == usd(expected)
        assert str(adjusted.adjustment.amount.amount) == expected  # exact, as written
        return
    assert one_charge(tmp_path, cell) == usd(expected)


@pytest.mark.parametrize(
    ("cell", "said"),
    [
        ("$1,234.565", ("amount '$1,234.565', read as 1234.565 USD is finer than the "
         "currency's minor unit (10^-2); it is refused, never rounded")),
        ("$0.001", "finer than the currency's minor unit"),
        ("1,23.00", "is not a US amount"),  # commas in the wrong places
        ("12,34.00", "is not a US amount"),
        ("1234,567.00", "is not a US amount"),
        ("1,2345.00", "is not a US amount"),
        ("0,123.00", "is not a US amount"),
        ("1,234.5,6", "is not a US amount"),
        (",123.00", "is not a US amount"),
        ("1.234,56", "is not a US amount"),  # a European amount is not a US one
        ("$-20.00", "is not a US amount"),  # the minus leads
        ("-($20.00)", "is not a US amount"),
        ("(-20.00)", "is not a US amount"),
        ("($20.00", "is not a US amount"),
        ("$ 20.00", "is not a US amount"),
        ("20.00$", "is not a US amount"),
        ("US$20.00", "is not a US amount"),
        ("€20.00", "is not a US amount"),
        ("+$20.00", "is not a US amount"),
        ("$$20.00", "is not a US amount"),
        ("$.50", "is not a US amount"),
        ("$20.", "is not a US amount"),
        ("1e3", "is not a US amount"),
        ("1_000.00", "is not a US amount"),
        ("$１０.00", "is not a US amount"),
        ("$1,000,000,000,000.01", "beyond the supported maximum"),
    ],
)  # fmt: skip
def test_us_amounts_refuse_everything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str, said: str
) -> None:
    visits = write(tmp_path, "v.csv", "visit_id,patient_id,date\nV1,P1,1/6/2025\n")
    charges = write(tmp_path, "c.csv", f'charge_id,visit_id,amount\nC1,V1,"{cell}"\n')
    options = ["--visits", str(visits), "--charges", str(charges)]
    err = refused(tmp_path, capsys, *options, "--date-format", "MM/DD/YYYY", "--amounts", "us")
    assert err.startswith(f"refused: {charges} line 2: charge 'C1': amount ")
    assert said in err.splitlines()[0]


@pytest.mark.parametrize("cell", ["$1,234.56", "1,234.56", "($20.00)", "(20.00)", "-$5.00"])
def test_us_amounts_under_plain_are_refused_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str
) -> None:
    payments = write(tmp_path, "p.csv", PAYMENTS_HEAD + f'T1,P1,"{cell}",2025-01-06,,,\n')
    err = refused(tmp_path, capsys, "--payments", str(payments))
    assert err.startswith(
        f"refused: {payments} line 2: payment 'T1': amount '{cell}' is not a decimal amount "
        "(ASCII digits, an optional '-' and decimal point); if your export writes US amounts "
        "($1,234.56, refunds in parentheses), add --amounts us\n"
    )


@pytest.mark.parametrize("cell", ["1e3", "1,23.00", "$-5", "10.001"])
def test_no_hint_where_us_would_refuse_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str
) -> None:
    payments = write(tmp_path, "p.csv", PAYMENTS_HEAD + f'T1,P1,"{cell}",2025-01-06,,,\n')
    assert "--amounts" not in refused(tmp_path, capsys, "--payments", str(payments))


def test_json_bodies_get_no_command_line_hints() -> None:
    body = {"id": "T1", "patient_id": "P1", "amount": "$5.00", "received_on": "2025-01-06"}
    with pytest.raises(pl.InvalidAmountError) as amount:
        pl.parse_record("payments", body, "USD")
    body |= {"amount": "5.00", "received_on": "1/6/2025"}
    with pytest.raises(pl.InvalidInputError) as day:
        pl.parse_record("payments", body, "USD")
    body |= {"received_on": "2025-01-06", "type": "Patient Payment"}
    with pytest.raises(pl.InvalidInputError) as word:
        pl.parse_record("payments", body, "USD")
    for error in (amount, day, word):
        assert "--" not in str(error.value)
        assert "TOML" not in str(error.value)


OFFICE = (
    "Payment ID,Patient ID,Amount,Date,Method,Type,Visit ID\n"
    'T1,P1,"$1,100.00",1/6/2025,Credit Card,Patient Payment,\n'
    "T2,P1,$20.00,1/7/2025,Visa,Copay,\n"
    "T3,P1,($20.00),1/8/2025,Credit Card,Patient Refund,\n"
)
OFFICE_TOML = """
[format]
date = "MM/DD/YYYY"
amounts = "us"

[values.payments.type]
"Patient Payment" = "PAYMENT"
"patient refund" = "refund"

[values.payments.method]
"Visa" = "CREDIT_CARD"
"""


def test_an_office_managers_export_with_its_declarations(tmp_path: Path) -> None:
    payments = write(tmp_path, "p.csv", OFFICE)
    formats = load_formats(write(tmp_path, "columns.toml", OFFICE_TOML))
    ledger, summary = import_files(pl.Ledger.empty(), {"payments": payments}, formats=formats)
    assert (summary.payments, summary.refunds) == (2, 1)
    paid = [e.payment for e in ledger.events if isinstance(e, pl.PaymentPosted | pl.RefundPosted)]
    assert [(p.amount, p.received_on, p.method, p.type) for p in paid] == [
        (usd("1100.00"), D(2025, 1, 6), pl.PaymentMethod.CREDIT_CARD, pl.PaymentType.PAYMENT),
        (usd("20.00"), D(2025, 1, 7), pl.PaymentMethod.CREDIT_CARD, pl.PaymentType.COPAY),
        (usd("-20.00"), D(2025, 1, 8), pl.PaymentMethod.CREDIT_CARD, pl.PaymentType.REFUND),
    ]
    # the same from the command line: the TOML's [format], or the options, or both agreeing
    toml = tmp_path / "columns.toml"
    for n, extra in enumerate([[], ["--date-format", "MM/DD/YYYY", "--amounts", "us"]]):
        target = tmp_path / f"j{n}.jsonl"
        code, err = run("import", "--payments", str(payments), "--columns", str(toml), *extra,
                        "--journal", str(target))  # fmt: skip
        assert code == 0, err
        assert journal.loads(target.read_text()).events == ledger.events


def test_a_word_with_no_mapping_is_refused_naming_the_table_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payments = write(tmp_path, "p.csv", OFFICE)
    toml = write(tmp_path, "columns.toml", '[format]\ndate = "MM/DD/YYYY"\namounts = "us"\n')
    err = refused(tmp_path, capsys, "--payments", str(payments), "--columns", str(toml))
    assert err.startswith(
        f"refused: {payments} line 2: PaymentType must be one of PAYMENT, COPAY, "
        "COINSURANCE, DEDUCTIBLE, CORRECTION, REFUND, OTHER; got 'PATIENT_PAYMENT'; map your "
        "export's word to one of them in the --columns TOML: [values.payments.type] "
        '"Patient Payment" = "NAME"\n'
    )
    adjustments = write(tmp_path, "a.csv", "adjustment_id,charge_id,amount,date,type\n"
                        "A1,C1,-1.00,2025-01-06,Courtesy\n")  # fmt: skip
    err = refused(tmp_path, capsys, "--adjustments", str(adjustments))
    assert "AdjustmentType must be one of INSURANCE, CONTRACTUAL" in err
    assert '[values.adjustments.type] "Courtesy" = "NAME"' in err


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('[format]\ndate = "M/D/Y"\n', ("date format 'M/D/Y' is not one of YYYY-MM-DD, "
         "MM/DD/YYYY, DD/MM/YYYY")),
        ('[format]\ndate = "%m/%d/%Y"\n', "is not one of"),
        ('[format]\namounts = "eu"\n', "amount style 'eu' is not one of plain, us"),
        ('[format]\ndecimal = ","\n', "[format] has no 'decimal' (it has date, amounts)"),
        ("[format]\ndate = 1\n", "[format] date must be text"),
        ('format = "us"\n', "[format] and [values] must be tables"),
        ('[values.payments.provider]\n"Dr" = "X"\n', ("[values] maps the words of "
         "payments.method, payments.type, adjustments.type only, not payments.provider")),
        ('[values.payments.type]\n"Patient Payment" = "GIFT"\n', ("[values.payments.type] "
         "'Patient Payment' = 'GIFT': not a PaymentType (PAYMENT, COPAY")),
        ('[values.payments.type]\n"Pmt" = "PAYMENT"\n"PMT" = "COPAY"\n', ("maps 'Pmt' and "
         "'PMT', one word (case, spaces and hyphens do not count), to PAYMENT and COPAY")),
        ('[values.payments.type]\n"" = "PAYMENT"\n', "maps an empty word"),
        ('[values.payments]\ntype = "PAYMENT"\n', 'must be a table of "word" = "NAME"'),
        ("[values]\npayments = 1\n", "[values.payments] must hold a table per field"),
    ],
)  # fmt: skip
def test_a_bad_declaration_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, said: str
) -> None:
    payments = write(tmp_path, "p.csv", PAYMENTS_HEAD + PAID)
    columns = write(tmp_path, "columns.toml", toml)
    err = refused(tmp_path, capsys, "--payments", str(payments), "--columns", str(columns))
    assert err.startswith(f"refused: {columns}: ")
    assert said in err


def test_a_flag_and_the_toml_that_disagree_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payments = write(tmp_path, "p.csv", OFFICE)
    toml = write(tmp_path, "columns.toml", OFFICE_TOML)
    err = refused(tmp_path, capsys, "--payments", str(payments), "--columns", str(toml),
                  "--date-format", "DD/MM/YYYY")  # fmt: skip
    assert err.startswith(
        f"refused: {toml}: [format] date = 'MM/DD/YYYY', but 'DD/MM/YYYY' is declared too "
        "(--date-format): declare one"
    )
    with pytest.raises(SystemExit, match="2"):
        main(["import", "--payments", str(payments), "--date-format", "M/D/Y",
              "--journal", str(tmp_path / "j.jsonl")])  # fmt: skip
    assert "invalid choice: 'M/D/Y'" in capsys.readouterr().err


def test_parentheses_and_commas_only_with_us(tmp_path: Path) -> None:
    assert one_charge(tmp_path, "1,234.56") == usd("1234.56")
    with pytest.raises(pl.InvalidAmountError, match="add --amounts us"):
        one_charge(tmp_path, "1,234.56", check_formats(date="MM/DD/YYYY"))
    with pytest.raises(pl.InvalidAmountError, match="add --amounts us"):
        one_charge(tmp_path, "(5.00)", check_formats(date="MM/DD/YYYY"))


def test_mappings_by_toml_leave_headers_alone(tmp_path: Path) -> None:
    """A columns TOML holds headers, formats and words side by side; load_mapping reads the
    headers, load_formats the rest."""
    toml = write(tmp_path, "columns.toml", '[payments]\nid = "Payment #"\n' + OFFICE_TOML)
    assert load_mapping(toml) == {"payments": {"id": "Payment #"}}
    assert load_formats(toml).amounts == "us"
    assert main(["import", "--payments", str(write(tmp_path, "p.csv", PAYMENTS_HEAD + PAID)),
                 "--column", "format.date=MM/DD/YYYY",
                 "--journal", str(tmp_path / "j.jsonl")]) == 1  # fmt: skip


# -- Every importer says which columns it ignored (issue 27 item 2, the CSV importer) ---------


def test_the_summary_names_the_columns_no_field_read_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    visits = write(
        tmp_path, "v.csv", "Visit ID,MRN,Patient Name,Date,Room,\nV1,M1,Ada,2025-01-06,3,\n"
    )
    charges = write(tmp_path, "c.csv", CHARGES.replace("2025-03-03", "2025-01-06"))
    payments = write(tmp_path, "p.csv", "id,patient_id,amount,date,Batch,Memo Line\n"
                     "T1,M1,5.00,2025-01-06,B7,hi\n")  # fmt: skip
    target = tmp_path / "j.jsonl"
    assert main(["import", "--visits", str(visits), "--charges", str(charges),
                 "--payments", str(payments), "--journal", str(target)]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        f"{visits}: ignored 3 columns: 'Patient Name', 'Room', 'column 6'",
        f"{payments}: ignored 2 columns: 'Batch', 'Memo Line'",
    ]  # charges.csv read every column: not named
    _, summary = import_files(pl.Ledger.empty(), {"visits": visits})
    assert summary.ignored == ((str(visits), ("Patient Name", "Room", "column 6")),)


def test_a_column_left_for_a_mapped_one_is_named_ignored(tmp_path: Path) -> None:
    visits = write(tmp_path, "v.csv", "visit_id,Patient ID,MRN,date\nV1,P1,M1,2025-01-06\n")
    _, summary = import_files(
        pl.Ledger.empty(), {"visits": visits}, mapping={"visits": {"patient_id": "MRN"}}
    )
    assert summary.ignored_lines() == [f"{visits}: ignored 1 column: 'Patient ID'"]


def test_ignored_headers_are_escaped_for_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    visits = write(tmp_path, "v.csv", "visit_id,patient_id,date,\x1b[2J\u2028\nV1,P1,2025-01-06,\n")
    assert main(["import", "--visits", str(visits), "--journal", str(tmp_path / "j")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\u2028" not in out
    assert r"'\x1b[2J\u2028'" in out


def test_formats_built_directly_are_checked_too() -> None:
    with pytest.raises(ValueError, match="date"):
        Formats(date="%m/%d/%Y")
    with pytest.raises(ValueError, match="amounts"):
        Formats(amounts="eu")
