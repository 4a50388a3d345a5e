"""A printable HTML statement and day sheet: standalone pages a browser prints on Letter or A4
(a shell module: nothing in the core uses it).

Everything from the data (the practice's header, ids, descriptions) is escaped: the tables go
through :func:`patient_ledger.report._html.table`, every other text through :func:`html.escape`.
The statement's pages are :func:`patient_ledger.report._statement_layout.pages`: one page for up to
25 lines (the summary, the lines and the slip), else the lines continue on later pages with
their headings repeated and "continued" on top, the slip closing the last page.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from patient_ledger.report import _html, tables
from patient_ledger.report import _statement_layout as layout

if TYPE_CHECKING:
    from patient_ledger.report._statement_layout import Paper
    from patient_ledger.statements import DaySheet, Statement, StatementLine

#: Each paper's size for ``@page`` and the width and height inside its margins (for the page
#: on screen, which shows what prints).
_PAPER = {"letter": ("Letter", "191.9mm", "255.4mm"), "a4": ("A4", "186mm", "273mm")}
_MARGIN = "12mm"

#: What a statement and a day sheet share: the type, the practice and title on top, tables.
_PRINTED = (
    "html{font:9pt/1.25 'Liberation Sans',Arial,Helvetica,sans-serif;color:#111}body{margin:0}"
    "h1{font-size:15pt;margin:0 0 1mm}"
    ".top{display:flex;justify-content:space-between;gap:8mm;margin-bottom:3mm}"
    ".practice{overflow-wrap:anywhere;max-width:55%}.practice b{font-size:12pt}"
    ".title{text-align:right;max-width:45%;overflow-wrap:anywhere}"
    "dl.meta{display:grid;grid-template-columns:auto auto;gap:0 3mm;margin:0;justify-content:end}"
    "dl.meta dt{color:#444}dl.meta dd{margin:0;text-align:right}"
    "table.pl th,table.pl td{font-family:inherit;padding:.2mm 1.5mm;vertical-align:top}"
    "table.pl th{background:#eee;text-align:left;-webkit-print-color-adjust:exact;"
    "print-color-adjust:exact}table.pl th.amount{text-align:right}"
    "table.pl td.amount{white-space:nowrap;font-variant-numeric:tabular-nums}"
    ".lines td{overflow-wrap:anywhere}.lines tr{break-inside:avoid}"
    "@media screen{body{background:#ddd}"
    f".page,.sheet{{background:#fff;margin:4mm auto;padding:{_MARGIN};box-shadow:0 0 2mm #999}}}}"
)

_STYLE = (
    ".page{break-after:page}section.page:last-of-type{break-after:auto}"
    ".summary{display:flex;justify-content:space-between;align-items:flex-start;gap:6mm;"
    "margin-bottom:3mm}"
    ".summary table.pl{margin:0}"
    ".due{white-space:nowrap}table.pl td.due{font-weight:bold;font-size:10.5pt}"
    ".lines table.pl{width:100%;table-layout:fixed;margin:0;font-size:8.5pt}"
    ".lines th:nth-child(1){width:20mm}.lines th:nth-child(2){width:21mm}"
    ".lines th:nth-child(3){width:15mm}"
    ".lines th:nth-child(5),.lines th:nth-child(6){width:20mm}"
    ".lines td.forward{font-style:italic;color:#333}"
    ".short{display:flex;justify-content:space-between;gap:6mm;margin-bottom:3mm;"
    "border-bottom:1px solid #999;padding-bottom:1mm;overflow-wrap:anywhere}"
    ".more{text-align:right;font-style:italic;margin:1.5mm 0 0}"
    ".slip{margin-top:6mm;border-top:1.5px dashed #555;padding-top:1.5mm;break-inside:avoid}"
    ".slip .cut{margin:0 0 2mm;color:#444;font-size:8pt}"
    ".slip-body{display:flex;justify-content:space-between;gap:8mm}"
    ".slip .practice{max-width:50%}"
    ".slip table.pl{margin:0;min-width:85mm}.slip td{white-space:nowrap}"
    ".slip td.box{height:9mm;width:34mm;border:2px solid #111}"
)


def _page_style(paper: Paper) -> str:
    size, width, height = _PAPER[paper]
    # The last page is a column as tall as the paper (a little less, so that rounding never
    # adds a blank page): the slip sits at its foot, to tear off.
    return (
        f"@page{{size:{size};margin:{_MARGIN}}}"
        f"@media screen{{.page{{width:{width};min-height:{height}}}.sheet{{width:{width}}}}}"
        f".page.last{{display:flex;flex-direction:column;"
        f"min-height:calc({height} - 6mm)}}.page.last .slip{{margin-top:auto}}"
        ".page.last .lines{margin-bottom:6mm}"
    )


def statement_html(statement: Statement, *, practice: str = "", paper: Paper = "letter") -> str:
    """A statement as a standalone HTML page to print (``paper``: ``"letter"`` or ``"a4"``):
    the ``practice``'s header as given (its first line is its name), the patient, the period,
    the summary and the aging, the lines with their running balance, and a remittance slip to
    tear off at the end of the last page.

    Args:
        statement: what :func:`patient_ledger.statement` returns.
        practice: the practice's name and address, one line each (shown escaped).
        paper: the paper size of the printed pages.
    """
    _check_paper(paper)
    title = f"Statement {statement.patient_id} {layout.period(statement.start, statement.end)}"
    return _document(title, _pages(statement, practice), paper)


def statements_html(
    every: Sequence[Statement], *, practice: str = "", paper: Paper = "letter"
) -> str:
    """Statements as one HTML document to print at once: each statement's pages as
    :func:`statement_html` prints them, each statement starting on a new page."""
    _check_paper(paper)
    if not every:
        body = '<section class="page last"><p>No statements.</p></section>'
        return _document("Statements", body, paper)
    start, end = every[0].start, every[0].end
    return _document(
        f"Statements {layout.period(start, end)}",
        "".join(_pages(s, practice) for s in every),
        paper,
    )


def statements_index_html(
    rows: Sequence[tuple[Statement, str]], *, practice: str = "", paper: Paper = "letter"
) -> str:
    """The index of a directory of statements: one row a statement (the statements' view:
    patient, period, opening and closing balances, amount due, credit, plan due) with a link
    to its file."""
    _check_paper(paper)
    view = tables.STATEMENT_SUMMARY
    css = [*_css(view), ""]
    cells = [list(zip([*layout.texts(view, s), name], css, strict=True)) for s, name in rows]
    table = _html.table([*layout.headings(view), "File"], cells, heading_css=css)
    # Each file name becomes a link to its file (names are the command line's own: letters,
    # digits, "_", "-", ".", escaped all the same).
    for _, name in rows:
        cell = f"<td>{html.escape(name)}</td>"
        link = f'<td><a href="{html.escape(name, quote=True)}">{html.escape(name)}</a></td>'
        table = table.replace(cell, link, 1)
    top = (
        f'<header class="top">{_practice(practice)}'
        f'<div class="title"><h1>Statements</h1>'
        f"{_meta([('Statements', str(len(rows)))])}</div></header>"
    )
    body = f'<main class="sheet">{top}<div class="lines">{table}</div></main>'
    return _document("Statements", body, paper, _SHEET_STYLE)


def _check_paper(paper: str) -> None:
    if paper not in _PAPER:
        msg = f"paper must be one of {', '.join(layout.PAPERS)}, not {paper!r}"
        raise ValueError(msg)


def _document(title: str, body: str, paper: Paper, style: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{_html.STYLE}{_PRINTED}{style or _STYLE}{_page_style(paper)}</style></head>"
        f"<body>{body}</body></html>"
    )


def _pages(statement: Statement, practice: str) -> str:
    """A statement's pages: ``<section class="page">`` each, the last one ``last``."""
    chunks = layout.pages(statement.lines, layout.line_rows)
    body = []
    for number, chunk in enumerate(chunks, start=1):
        last = number == len(chunks)
        parts = (
            [_top(statement, practice), _summary(statement)]
            if number == 1
            else [_short(statement, practice, number, len(chunks))]
        )
        parts.append(_lines(statement, chunk, opening=number == 1))
        parts.append(
            _slip(statement, practice)
            if last
            else '<p class="more">Continued on the next page.</p>'
        )
        css = "page last" if last else "page"
        body.append(f'<section class="{css}">{"".join(parts)}</section>')
    return "".join(body)


def _practice(practice: str, css: str = "practice") -> str:
    lines = [html.escape(line) for line in layout.practice_lines(practice)]
    if not lines:
        return f'<div class="{css}"></div>'
    name, *rest = lines
    return f'<div class="{css}"><b>{name}</b>{"".join(f"<br>{line}" for line in rest)}</div>'


def _meta(pairs: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in pairs)
    return f'<dl class="meta">{items}</dl>'


def _top(statement: Statement, practice: str) -> str:
    meta = _meta(
        [
            ("Patient", statement.patient_id),
            ("Period", layout.period(statement.start, statement.end)),
            ("Amounts in", statement.closing_balance.currency.code),
        ]
    )
    return (
        f'<header class="top">{_practice(practice)}'
        f'<div class="title"><h1>Statement</h1>{meta}</div></header>'
    )


def _summary(statement: Statement) -> str:
    figures = _html.table(
        ["Summary", "Amount"],
        [
            [(label, "due" if due else ""), (amount, "amount due" if due else "amount")]
            for (label, amount), due in _with_last(layout.summary(statement))
        ],
        heading_css=["", "amount"],
    )
    aging = layout.aging_cells(statement.aging)
    ages = _html.table(
        [heading for heading, _ in aging],
        [[(amount, "amount") for _, amount in aging]],
        heading_css=["amount"] * len(aging),
        caption="Balance by age",
    )
    return f'<div class="summary">{figures}{ages}</div>'


def _css(view: tables.View) -> list[str]:
    return ["amount" if amount else "" for amount in layout.amounts(view)]


def _rows(view: tables.View, values: Sequence[object]) -> list[list[_html.Cell]]:
    css = _css(view)
    return [list(zip(layout.texts(view, value), css, strict=True)) for value in values]


def _lines(statement: Statement, chunk: Sequence[StatementLine], *, opening: bool) -> str:
    view = tables.STATEMENT_LINES
    css = _css(view)
    rows = _rows(view, chunk)
    if opening:
        texts = [""] * len(css)
        texts[view.fields().index("description")] = layout.OPENING
        texts[view.fields().index("balance")] = layout.money(statement.opening_balance)
        rows.insert(0, [(text, f"{c} forward") for text, c in zip(texts, css, strict=True)])
    table = _html.table(layout.headings(view), rows, heading_css=css)
    return f'<div class="lines">{table}</div>'


def _with_last(items: Sequence[tuple[str, str]]) -> list[tuple[tuple[str, str], bool]]:
    return [(item, i == len(items) - 1) for i, item in enumerate(items)]


def _short(statement: Statement, practice: str, number: int, count: int) -> str:
    name = (layout.practice_lines(practice) or [""])[0]
    what = (
        f"Statement of patient {statement.patient_id}, "
        f"{layout.period(statement.start, statement.end)} (continued)"
    )
    return (
        f'<header class="short"><b>{html.escape(name)}</b><span>{html.escape(what)}</span>'
        f"<span>Page {number} of {count}</span></header>"
    )


def _slip(statement: Statement, practice: str) -> str:
    rows = [
        [("Patient", ""), (statement.patient_id, "")],
        [("Period", ""), (layout.period(statement.start, statement.end), "")],
        [(layout.AMOUNT_DUE, ""), (layout.money(statement.amount_due), "amount")],
        [(layout.AMOUNT_ENCLOSED, ""), ("", "box")],
    ]
    fields = _html.table(["Remittance", ""], rows)
    return (
        f'<div class="slip"><p class="cut">\u2702 {html.escape(layout.SLIP_NOTE)}</p>'
        f'<div class="slip-body">{_practice(practice)}{fields}</div></div>'
    )


_SHEET_STYLE = (
    "table.pl{margin:0 0 4mm}table.pl caption{text-align:left;font-weight:bold;padding:0 0 1mm}"
    "table.pl td.net{font-weight:bold}.lines table.pl{width:100%;font-size:8.5pt}"
    "thead{display:table-header-group}"
)


def day_sheet_html(sheet: DaySheet, *, practice: str = "", paper: Paper = "letter") -> str:
    """A day sheet as a standalone HTML page to print: the practice, the day or days, the
    totals per method and the net first (what the deposit is checked against), then every
    line; the lines' headings repeat on every printed page.

    Args:
        sheet: what :func:`patient_ledger.day_sheet` returns.
        practice: the practice's name and address, one line each (shown escaped).
        paper: ``"letter"`` or ``"a4"``.
    """
    _check_paper(paper)
    days = layout.day_sheet_range(sheet)
    meta = _meta(
        [
            ("Days" if sheet.start != sheet.end else "Day", days),
            ("Amounts in", sheet.net.currency.code),
        ]
    )
    top = (
        f'<header class="top">{_practice(practice)}'
        f'<div class="title"><h1>Day sheet</h1>{meta}</div></header>'
    )
    totals_view = tables.METHOD_TOTALS
    total_rows = _rows(totals_view, sheet.totals)
    net = [""] * len(total_rows[0]) if total_rows else [""] * len(totals_view.shown())
    net[0], net[-1] = layout.heading(totals_view, "net"), layout.money(sheet.net)
    total_rows.append([(text, f"{c} net") for text, c in zip(net, _css(totals_view), strict=True)])
    totals = _html.table(
        layout.headings(totals_view),
        total_rows,
        caption=totals_view.caption,
        heading_css=_css(totals_view),
    )
    lines_view = tables.DAY_SHEET_LINES
    lines = _html.table(
        layout.headings(lines_view),
        _rows(lines_view, sheet.lines),
        caption=f"Payments, refunds and reversals ({len(sheet.lines)})",
        heading_css=_css(lines_view),
    )
    body = f'<main class="sheet">{top}{totals}<div class="lines">{lines}</div></main>'
    return _document(f"Day sheet {days}", body, paper, _SHEET_STYLE)
