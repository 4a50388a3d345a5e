"""A statement as a PDF to mail, through fpdf2 (the optional ``pdf`` extra: ``pip install
"patient-ledger[pdf]"``); a shell module, imported only when a PDF is asked for, so that
``import patient_ledger`` never imports fpdf2.

The PDF has the HTML statement's content and pages (:func:`patient_ledger.report._statement_layout.
pages`): the practice, the patient, the period, the summary and the aging on the first page;
the lines with their running balance, their headings repeated on every page and each later page
headed "continued"; the remittance slip to tear off at the bottom of the last page.

The PDF's own fonts (Helvetica) write Latin-1: without ``font`` (a TrueType file, DejaVu Sans
say), dashes and quotes beyond it print plain and other characters as :func:`latin_1` says
(``?`` where nothing is close). Control characters print escaped, as in the text
tables (:func:`patient_ledger.tables.printable`).
"""

from __future__ import annotations

import importlib.util
import os
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from patient_ledger.report import _statement_layout as layout
from patient_ledger.report import tables

if TYPE_CHECKING:
    from patient_ledger.report._statement_layout import Paper
    from patient_ledger.statements import Statement, StatementLine

#: What a user without the extra is told.
MISSING = (
    "PDF statements need fpdf2, which patient-ledger installs as its optional 'pdf' extra: "
    'pip install "patient-ledger[pdf]"'
)

_FORMAT: dict[str, str] = {"letter": "Letter", "a4": "A4"}
_MARGIN = 12.0  # mm, as the HTML page's
_ROW = 3.8  # mm: a line of type in a table at 8.5pt (a row: this and its padding, as in HTML)
#: Widths of the lines' columns (mm) but the description's, which takes the rest.
_WIDTHS = (20.0, 21.0, 15.0, None, 20.0, 20.0)
_SLIP_HEIGHT = 44.0  # mm from the dashed line to the end of the slip


def available() -> bool:
    """Whether fpdf2 (the ``pdf`` extra) is installed, without importing it."""
    return importlib.util.find_spec("fpdf") is not None


def _fpdf() -> Any:
    try:
        import fpdf  # noqa: PLC0415 - optional: imported only when a PDF is asked for
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError(MISSING, name="fpdf") from missing
    return fpdf


def statement_pdf(
    statement: Statement,
    *,
    practice: str = "",
    paper: Paper = "letter",
    font: str | os.PathLike[str] | None = None,
) -> bytes:
    """A statement as a PDF document (its bytes), on Letter or A4 paper.

    Args:
        statement: what :func:`patient_ledger.statement` returns.
        practice: the practice's name and address, one line each.
        paper: ``"letter"`` or ``"a4"``.
        font: a TrueType font file for text beyond Latin-1 (else as :func:`latin_1` prints it).

    Raises:
        ModuleNotFoundError: fpdf2 is not installed (the message says how to install it).
    """
    pdf, writer = _document(paper, font)
    pdf.set_title(f"Statement {statement.patient_id} {_period(statement)}")
    writer.statement(statement, practice)
    return bytes(pdf.output())


def statements_pdf(
    every: Sequence[Statement],
    *,
    practice: str = "",
    paper: Paper = "letter",
    font: str | os.PathLike[str] | None = None,
) -> bytes:
    """Statements as one PDF to print at once: each statement's pages as
    :func:`statement_pdf` writes them (none: one page saying so)."""
    pdf, writer = _document(paper, font)
    pdf.set_title("Statements")
    for statement in every:
        writer.statement(statement, practice)
    if not every:
        pdf.add_page()
        writer.text("No statements.")
    return bytes(pdf.output())


def statements_index_pdf(
    rows: Sequence[tuple[Statement, str]],
    *,
    practice: str = "",
    paper: Paper = "letter",
    font: str | os.PathLike[str] | None = None,
) -> bytes:
    """The index of a directory of statements as a PDF: one row a statement (the statements'
    view: patient, period, opening and closing balances, amount due, credit, plan due) with
    its file's name."""
    pdf, writer = _document(paper, font)
    pdf.set_title("Statements")
    pdf.add_page()
    name = (layout.practice_lines(practice) or [""])[0]
    writer.text(name, size=12, style="B")
    writer.text(f"Statements ({len(rows)})", size=12, style="B")
    pdf.ln(2)
    view = tables.STATEMENT_SUMMARY
    cells = [[*layout.texts(view, s), file] for s, file in rows]
    widths = [22.0, 18.0, 18.0, 19.0, 19.0, 19.0, 19.0, 17.0]
    widths.append(writer.width() - sum(widths))
    headings = [*layout.headings(view), "File"]
    writer.table(headings, cells, widths, [*layout.amounts(view), False], size=7.5)
    return bytes(pdf.output())


def _document(paper: str, font: str | os.PathLike[str] | None) -> tuple[Any, _Writer]:
    if paper not in _FORMAT:
        msg = f"paper must be one of {', '.join(layout.PAPERS)}, not {paper!r}"
        raise ValueError(msg)
    fpdf = _fpdf()
    pdf = fpdf.FPDF(format=_FORMAT[paper], unit="mm")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    family = "Helvetica"
    if font is not None:
        family = "statement"
        for style in ("", "B", "I"):
            pdf.add_font(family, style=style, fname=os.fspath(font))
    return pdf, _Writer(pdf, family, unicode=font is not None)


#: Typographic characters beyond Latin-1 and what a Latin-1 font prints for them.
_PLAIN = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'",
     "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u20ac": "EUR", "\u2022": "*"}
)  # fmt: skip


def latin_1(text: str) -> str:
    """Text a Latin-1 font can print: dashes, quotes and the like made plain, a letter with a
    mark beyond Latin-1 without the mark (``ő`` → ``o``), anything else ``?``.

    >>> latin_1("Zoë – “Łukasz” Nguyễn")
    'Zoë - "?ukasz" Nguyen'
    """
    out = []
    for char in text.translate(_PLAIN):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


def _period(statement: Statement) -> str:
    return layout.period(statement.start, statement.end)


class _Writer:
    """Writes the statement's parts on an ``FPDF`` document, top to bottom."""

    def __init__(self, pdf: Any, family: str, *, unicode: bool) -> None:
        self.pdf = pdf
        self.family = family
        self.unicode = unicode

    def statement(self, statement: Statement, practice: str) -> None:
        """A statement's pages, from a new page."""
        chunks = layout.pages(statement.lines, layout.line_rows)
        for number, chunk in enumerate(chunks, start=1):
            self.pdf.add_page()
            if number == 1:
                self.top(statement, practice)
                self.summary(statement)
            else:
                self.short(statement, practice, number, len(chunks))
            self.lines(statement, chunk, opening=number == 1)
            if number < len(chunks):
                self.text("Continued on the next page.", style="I", align="R")
        self.slip(statement, practice)

    def clean(self, text: str) -> str:
        shown = tables.printable(text)
        if self.unicode:
            return shown
        return latin_1(shown)

    def font(self, size: float, style: str = "") -> None:
        self.pdf.set_font(self.family, style=style, size=size)

    def text(self, text: str, *, size: float = 9, style: str = "", align: str = "L") -> None:
        self.font(size, style)
        self.pdf.multi_cell(
            0, size * 0.45, self.clean(text), align=align, new_x="LMARGIN", new_y="NEXT"
        )

    def width(self) -> float:
        return float(self.pdf.epw)

    def _practice(self, practice: str, x: float, y: float, w: float) -> float:
        """The practice's lines at (x, y) in a column ``w`` wide: returns the y below them."""
        pdf = self.pdf
        pdf.set_xy(x, y)
        for i, line in enumerate(layout.practice_lines(practice)):
            self.font(12 if i == 0 else 9, "B" if i == 0 else "")
            pdf.set_x(x)
            pdf.multi_cell(w, 5.2 if i == 0 else 4.0, self.clean(line), new_x="LEFT", new_y="NEXT")
        return float(pdf.get_y())

    def top(self, statement: Statement, practice: str) -> None:
        pdf = self.pdf
        x, y, w = pdf.l_margin, pdf.t_margin, self.width()
        below_practice = self._practice(practice, x, y, w * 0.55)
        right = x + w * 0.55
        pdf.set_xy(right, y)
        self.font(15, "B")
        pdf.cell(w * 0.45, 7, "Statement", align="R", new_x="LEFT", new_y="NEXT")
        pairs = [
            ("Patient", statement.patient_id),
            ("Period", _period(statement)),
            ("Amounts in", statement.closing_balance.currency.code),
        ]
        for label, value in pairs:
            pdf.set_x(right)
            self.font(9)
            pdf.set_text_color(68)
            pdf.cell(w * 0.45 - 48, 4.2, label, align="R")
            pdf.set_text_color(17)
            pdf.multi_cell(48, 4.2, self.clean(value), align="R", new_x="LEFT", new_y="NEXT")
            pdf.set_x(right)
        pdf.set_y(max(below_practice, float(pdf.get_y())) + 3)

    def table(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        amounts: Sequence[bool],
        *,
        side: str = "LEFT",
        bold_last: bool = False,
        size: float = 8.5,
    ) -> float:
        """A table with grey headings (repeated on a new page) at the page's left or right
        (``side``), from the current y; returns the y below it."""
        pdf = self.pdf
        fpdf = _fpdf()
        self.font(size)
        pdf.set_draw_color(190)
        align = tuple("RIGHT" if a else "LEFT" for a in amounts)
        heading_style = fpdf.FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
        with pdf.table(
            col_widths=tuple(widths),
            width=sum(widths),
            align=side,
            text_align=align,
            line_height=_ROW,
            headings_style=heading_style,
            repeat_headings=1,
            padding=(0.3, 1.5),  # mm: above and below, left and right
        ) as table:
            table.row([self.clean(h) for h in headings])
            for i, cells in enumerate(rows):
                style = None
                if bold_last and i == len(rows) - 1:
                    style = fpdf.FontFace(emphasis="BOLD", size_pt=10.5)
                table.row([self.clean(c) for c in cells], style=style)
        pdf.set_draw_color(0)
        return float(pdf.get_y())

    def summary(self, statement: Statement) -> None:
        pdf = self.pdf
        y = float(pdf.get_y())
        figures = layout.summary(statement)
        below = self.table(
            ["Summary", "Amount"],
            [list(pair) for pair in figures],
            [46.0, 24.0],
            [False, True],
            bold_last=True,
        )
        aging = layout.aging_cells(statement.aging)
        widths = [20.0, 17.0, 17.0, 20.0]
        left = pdf.l_margin + self.width() - sum(widths)
        pdf.set_xy(left, y)
        self.font(9)
        pdf.cell(sum(widths), 4.4, "Balance by age", align="C", new_x="LEFT", new_y="NEXT")
        self.table([h for h, _ in aging], [[a for _, a in aging]], widths, [True] * 4, side="RIGHT")
        pdf.set_xy(pdf.l_margin, below + 3)

    def lines(self, statement: Statement, chunk: Sequence[StatementLine], *, opening: bool) -> None:
        rest = self.width() - sum(w for w in _WIDTHS if w is not None)
        widths = [rest if w is None else w for w in _WIDTHS]
        view = tables.STATEMENT_LINES
        rows = [layout.texts(view, line) for line in chunk]
        if opening:
            opening_row = [""] * len(widths)
            opening_row[view.fields().index("description")] = layout.OPENING
            opening_row[view.fields().index("balance")] = layout.money(statement.opening_balance)
            rows.insert(0, opening_row)
        self.table(layout.headings(view), rows, widths, layout.amounts(view))
        self.pdf.ln(1.5)

    def short(self, statement: Statement, practice: str, number: int, count: int) -> None:
        pdf = self.pdf
        w = self.width()
        name = (layout.practice_lines(practice) or [""])[0]
        what = f"Statement of patient {statement.patient_id}, {_period(statement)} (continued)"
        self.font(9, "B")
        pdf.cell(w * 0.3, 5, self.clean(name))
        self.font(9)
        pdf.cell(w * 0.55, 5, self.clean(what), align="C")
        pdf.cell(w * 0.15, 5, f"Page {number} of {count}", align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(150)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + w, pdf.get_y() + 0.5)
        pdf.set_draw_color(0)
        pdf.ln(3)

    def slip(self, statement: Statement, practice: str) -> None:
        pdf = self.pdf
        bottom = pdf.h - pdf.b_margin
        if pdf.get_y() + _SLIP_HEIGHT > bottom:
            pdf.add_page()
        y = bottom - _SLIP_HEIGHT  # the slip sits at the foot of the page, to tear off
        x, w = pdf.l_margin, self.width()
        pdf.set_dash_pattern(dash=1.5, gap=1.0)
        pdf.line(x, y, x + w, y)
        pdf.set_dash_pattern()
        pdf.set_xy(x, y + 1.5)
        self.font(8)
        pdf.set_text_color(68)
        pdf.cell(w, 4, self.clean(layout.SLIP_NOTE), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(17)
        top = y + 7.5
        self._practice(practice, x, top, w * 0.5)
        widths = [38.0, 48.0]
        left = x + w - sum(widths)
        pdf.set_xy(left, top)
        rows = [
            ["Patient", statement.patient_id],
            ["Period", _period(statement)],
            [layout.AMOUNT_DUE, layout.money(statement.amount_due)],
        ]
        below = self.table(["Remittance", ""], rows, widths, [False, True], side="RIGHT")
        # The amount enclosed: a label and an empty box to write in.
        self.font(8.5)
        pdf.set_xy(left, below + 1.5)
        pdf.cell(widths[0], 9, layout.AMOUNT_ENCLOSED)
        pdf.set_line_width(0.6)
        pdf.rect(left + widths[0] + 6, below + 1.5, widths[1] - 6, 9)
        pdf.set_line_width(0.2)
