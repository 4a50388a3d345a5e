"""``patient-ledger statements --format html|pdf`` and ``daysheet --format html`` (SPEC §12,
issue 29): the printed statements an office manager mails, from the command line only."""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

import pytest

import patient_ledger as pl
from patient_ledger import journal
from patient_ledger.cli import main
from tests.helpers import usd

MARCH = ["--from", "2025-03-01", "--to", "2025-03-31"]
PRACTICE = ["--practice", "Riverside Family Clinic", "--practice", "12 Main Street"]
ODD = "<i>X&1</i>"  # a patient id that is markup


def march() -> pl.Ledger:
    """P1: 20 visits in March, each charged 100.00 and paid 40.00 by card (40 lines: two
    printed pages); ODD: one visit, paid in full; P3: an old balance and nothing in March."""
    ledger = pl.Ledger.empty()
    for n in range(1, 21):
        day = datetime.date(2025, 3, n)
        ledger = pl.add_appointment(ledger, pl.Appointment(f"A{n}", "P1", day))
        ledger = pl.add_charge(ledger, pl.Charge(f"C{n}", f"A{n}", usd("100.00"), code="99213"))
        ledger = pl.post_payment(
            ledger,
            pl.Payment(f"PAY{n}", "P1", usd("40.00"), day, method=pl.PaymentMethod.CREDIT_CARD),
        )
    ledger = pl.add_appointment(ledger, pl.Appointment("B1", ODD, datetime.date(2025, 3, 3)))
    ledger = pl.add_charge(ledger, pl.Charge("D1", "B1", usd("25.00")))
    ledger = pl.post_payment(
        ledger, pl.Payment("Q1", ODD, usd("25.00"), datetime.date(2025, 3, 3), reference="<b>")
    )
    ledger = pl.add_appointment(ledger, pl.Appointment("E1", "P3", datetime.date(2025, 1, 9)))
    return pl.add_charge(ledger, pl.Charge("F1", "E1", usd("70.00")))


@pytest.fixture
def march_journal(tmp_path: Path) -> str:
    path = tmp_path / "march.jsonl"
    path.write_text(journal.dumps(march()), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_html_statements_to_a_directory(
    march_journal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, said, _ = run(
        capsys, "statements", march_journal, *MARCH, "--format", "html", "--out", str(out),
        *PRACTICE, "--paper", "a4",
    )  # fmt: skip
    assert code == 0
    assert "3 statements for 2025-03-01 to 2025-03-31 written to" in said
    assert sorted(p.name for p in out.iterdir()) == [
        "P1.html", "P3.html", "_i_X_1__i_.html", "index.html",
    ]  # fmt: skip
    p1 = (out / "P1.html").read_text(encoding="utf-8")
    assert "<b>Riverside Family Clinic</b><br>12 Main Street" in p1
    assert "@page{size:A4" in p1
    assert p1.count('<section class="page') == 2  # 40 lines: the first page and a continued one
    assert "Page 2 of 2" in p1
    assert '<td class="amount due">1200.00</td>' in p1  # 20 × (100 − 40)
    odd = (out / "_i_X_1__i_.html").read_text(encoding="utf-8")
    assert "&lt;i&gt;X&amp;1&lt;/i&gt;" in odd
    assert "<i>" not in odd
    assert "ref &lt;b&gt;" in odd
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="P1.html">P1.html</a>' in index
    assert '<a href="_i_X_1__i_.html">_i_X_1__i_.html</a>' in index
    assert "<td>P3</td><td>2025-03-01</td><td>2025-03-31</td>" in index
    assert '<td class="amount">70.00</td><td class="amount">70.00</td>' in index


def test_html_statements_to_standard_output_print_at_once(
    march_journal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, page, _ = run(capsys, "statements", march_journal, *MARCH, "--format", "html")
    assert code == 0
    assert page.startswith("<!doctype html>")
    assert page.count("<h1>Statement</h1>") == 3  # one document, each statement from a new page
    assert page.count('<section class="page') == 4
    assert "@page{size:Letter" in page


def test_pdf_statements_to_a_directory(
    march_journal: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pypdf = pytest.importorskip("pypdf")
    pytest.importorskip("fpdf")
    out = tmp_path / "out"
    code, said, _ = run(
        capsys, "statements", march_journal, *MARCH, "--format", "pdf", "--out", str(out),
        *PRACTICE,
    )  # fmt: skip
    assert code == 0
    assert "(index: index.pdf)" in said
    assert sorted(p.name for p in out.iterdir()) == [
        "P1.pdf", "P3.pdf", "_i_X_1__i_.pdf", "index.pdf",
    ]  # fmt: skip

    def pages(name: str) -> list[str]:
        reader = pypdf.PdfReader(io.BytesIO((out / name).read_bytes()))
        return [page.extract_text() for page in reader.pages]

    p1 = pages("P1.pdf")
    assert len(p1) == 2
    assert "Riverside Family Clinic" in p1[0]
    assert "Amount due 1200.00" in p1[0]
    assert "(continued)" in p1[1]
    assert "Amount enclosed" in p1[1]
    assert "2025-03-20 Payment PAY20 credit card payment -40.00 1200.00" in p1[1]
    assert len(pages("P3.pdf")) == 1
    assert "Opening balance 70.00" in pages("P3.pdf")[0]
    index = pages("index.pdf")[0]
    assert "P1 2025-03-01 2025-03-31 0.00 1200.00 1200.00 0.00 0.00 P1.pdf" in index


def test_pdf_needs_a_directory(march_journal: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "statements", march_journal, *MARCH, "--format", "pdf")
    assert code == 2
    assert out == ""
    assert "--format pdf writes one file per patient: give --out DIR" in err


def test_pdf_without_the_extra_says_how_to_install_it(
    march_journal: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fpdf", None)  # as if fpdf2 were not installed
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "statements", march_journal, *MARCH, "--format", "pdf", "--out", str(out)
    )
    assert code == 2
    assert 'pip install "patient-ledger[pdf]"' in err
    assert not out.exists()  # nothing written


def test_a_printable_day_sheet(march_journal: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, page, _ = run(
        capsys, "daysheet", march_journal, "--on", "2025-03-03", "--format", "html", *PRACTICE
    )
    assert code == 0
    assert "<h1>Day sheet</h1>" in page
    assert "<dt>Day</dt><dd>2025-03-03</dd>" in page
    assert "<td>Credit card</td><td>1</td>" in page
    assert '<td class="amount net">65.00</td>' in page
    assert "&lt;i&gt;X&amp;1&lt;/i&gt;" in page
    assert "<i>" not in page
