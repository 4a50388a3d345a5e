"""The printed statement (SPEC §12): its pages, as HTML and as a PDF through fpdf2 (the optional
``pdf`` extra), read back with pypdf. The browser's look at the HTML is in test_html_browser."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from patient_ledger.report import _statement_layout as layout
from patient_ledger.report import render
from tests.helpers import printed_statement

PRACTICE = "Riverside Family Clinic\n12 Main Street\nSpringfield, IL 62701"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def pdf_pages(data: bytes) -> list[str]:
    pypdf = pytest.importorskip("pypdf")
    assert data.startswith(b"%PDF-")
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


@pytest.mark.parametrize("lines", [0, 1, 25, 26, 34, 35, 60, 61, 200])
def test_the_pages_hold_every_line_once_in_order(lines: int) -> None:
    pages = layout.pages(list(range(lines)))
    assert [n for page in pages for n in page] == list(range(lines))
    assert all(pages) or lines == 0
    assert len(pages[0]) <= (layout.ONE_PAGE if len(pages) == 1 else layout.FIRST_PAGE)
    assert all(len(page) <= layout.LATER_PAGE for page in pages[1:-1])
    if len(pages) > 1:
        assert len(pages[-1]) <= layout.LATER_PAGE - layout.SLIP
    assert (len(pages) == 1) == (lines <= layout.ONE_PAGE)


@pytest.mark.parametrize("rows", [1, 2, 3])
@pytest.mark.parametrize("lines", [1, 10, 25, 26, 60, 61, 99, 200])
def test_each_page_holds_the_rows_it_has_room_for(lines: int, rows: int) -> None:
    pages = layout.pages(list(range(lines)), rows=lambda n: rows if n % 3 == 0 else 1)
    heights = [sum(rows if n % 3 == 0 else 1 for n in page) for page in pages]
    assert [n for page in pages for n in page] == list(range(lines))
    if len(pages) == 1:
        assert heights[0] <= layout.ONE_PAGE
    else:
        assert heights[0] <= layout.FIRST_PAGE
        assert all(h <= layout.LATER_PAGE for h in heights[1:])
        assert heights[-1] <= layout.LATER_PAGE - layout.SLIP
        assert len(pages[-1]) > 1  # never one line and the slip alone


def test_a_line_that_wraps_takes_more_rows() -> None:
    line = printed_statement(1).lines[0]
    assert layout.line_rows(line) == 2  # a charge's 58 characters wrap on A4
    assert layout.line_rows(attrs.evolve(line, description="Cash")) == 1
    assert layout.line_rows(attrs.evolve(line, description="x " * 100)) == 4
    assert layout.line_rows(attrs.evolve(line, description="", ref="R" * 30)) == 5


@pytest.mark.parametrize("paper", ["letter", "a4"])
@pytest.mark.parametrize(("lines", "count"), [(1, 1), (25, 1), (26, 2), (60, 2), (200, 6)])
def test_a_pdf_statement_has_its_pages_and_amounts(paper: str, lines: int, count: int) -> None:
    pytest.importorskip("fpdf")
    statement = printed_statement(lines)
    pages = pdf_pages(render.statement_pdf(statement, practice=PRACTICE, paper=paper))  # type: ignore[arg-type]
    assert len(pages) == count == len(layout.pages(statement.lines, layout.line_rows))
    first, last = pages[0], pages[-1]
    for shown in ["Riverside Family Clinic", "12 Main Street", "Statement", "Patient", "P1"]:
        assert shown in first
    assert "2025-03-01 to 2025-03-31" in first
    assert "Opening balance (2025-02-28) 120.00" in first
    assert f"Amount due {statement.amount_due.amount}" in first
    assert "Opening balance 120.00" in first
    assert "0-30 days 31-60 61-90 over 90" in first
    for number, text in enumerate(pages, start=1):
        assert "Date Kind Ref Description Amount Balance" in text  # headings on every page
        assert ("(continued)" in text) == (number > 1)
        assert (f"Page {number} of {count}" in text) == (number > 1)
        assert ("Continued on the next page." in text) == (number < count)
        assert ("Amount enclosed" in text) == (number == count)
    assert "Please detach and return this part with your payment." in last
    assert f"Amount due {statement.amount_due.amount}" in last
    every = "\n".join(pages)
    for line in statement.lines:  # each line once, on one row, with its running balance
        assert f" {line.ref} " in every
        assert f"{line.amount.amount} {line.balance.amount}" in every
    assert sum(every.count(f" {line.ref} ") for line in statement.lines) == lines


@pytest.mark.parametrize("paper", ["letter", "a4"])
@pytest.mark.parametrize(("lines", "count"), [(30, 1), (31, 2), (130, 3)])
def test_pages_full_to_the_plan_s_rows_fit_the_paper(paper: str, lines: int, count: int) -> None:
    """Lines of one row each, as many as the plan puts on a page (30 with the summary and the
    slip; 40, 50 and 40 of 130), print on the plan's pages and no more."""
    pytest.importorskip("fpdf")
    statement = printed_statement(lines, short=True)
    plan = layout.pages(statement.lines, layout.line_rows)
    assert len(plan) == count
    pages = pdf_pages(render.statement_pdf(statement, paper=paper))  # type: ignore[arg-type]
    assert len(pages) == count
    assert "Amount enclosed" in pages[-1]


def test_a_pdf_writes_beyond_latin_1_with_a_font_else_a_question_mark() -> None:
    pytest.importorskip("fpdf")
    statement = printed_statement(2, patient_id="Łukasz\x1b[2J")
    plain = pdf_pages(render.statement_pdf(statement, practice="Zoë's Clinic"))[0]
    assert "?ukasz\\x1b[2J" in plain  # never the escape sequence itself
    assert "Zoë's Clinic" in plain
    if not DEJAVU.exists():
        pytest.skip("DejaVu Sans is not installed")
    fonted = pdf_pages(render.statement_pdf(statement, practice="Zoë", font=DEJAVU))[0]
    assert "Łukasz\\x1b[2J" in fonted


def test_a_paper_is_letter_or_a4() -> None:
    with pytest.raises(ValueError, match="paper must be one of letter, a4, not 'legal'"):
        render.statement_html(printed_statement(1), paper="legal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="paper must be one of letter, a4"):
        render.statement_pdf(printed_statement(1), paper="legal")  # type: ignore[arg-type]


def test_without_fpdf2_the_message_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fpdf", None)  # what an install without the extra sees
    with pytest.raises(ModuleNotFoundError, match=r'pip install "patient-ledger\[pdf\]"'):
        render.statement_pdf(printed_statement(1))


def test_importing_patient_ledger_does_not_import_fpdf2() -> None:
    code = (
        "import sys, patient_ledger, patient_ledger.report.render, patient_ledger.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'fpdf'))"
    )
    src = str(Path(__file__).parent.parent / "src")
    env = os.environ | {"PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_html_statement_escapes_everything_from_the_data() -> None:
    statement = printed_statement(1, patient_id="<b>P&1</b>")
    page = render.statement_html(statement, practice="<script>alert(1)</script>\nA & B")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;P&amp;1&lt;/b&gt;" in page
    assert "<b>P&" not in page
    assert "A &amp; B" in page
    assert "@page{size:Letter" in page
    assert "@page{size:A4" in render.statement_html(statement, paper="a4")
