"""A patient's report as text tables, JSON-ready data or a printable HTML page (a shell module:
nothing in the core uses it). Every table, heading and field comes from the views' one
description in :mod:`.tables`; ids are escaped so that none can steer a terminal.

Amounts are shown exactly as ``str(Decimal)`` gives them (never through float or locale
formatting). The seed's highlights are marked: the patient's unallocated amount on each
claims-feed row (green) and an appointment's own unallocated payment (yellow) — in colour
when ``colour=True``, and always with a ``[G]``/``[Y]`` mark so they survive copy and paste.

Under each appointment of the claims feed are its lines (``line_items``, in line order), indented
and marked ``-``: the charge id, its code and description, then its responsibility, paid and
balance due in the appointment's columns (the appointment's figures are their sums). An
appointment without charges has none. The HTML report nests them the same way, and
:func:`claims_feed_with_lines` and :class:`LineItems` show them in a notebook.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence

from moneyed import Money

from patient_ledger.report import _html, tables
from patient_ledger.report._statement_html import (
    day_sheet_html,
    statement_html,
    statements_html,
    statements_index_html,
)
from patient_ledger.report._statement_layout import PAPERS, Paper
from patient_ledger.report._statement_pdf import MISSING as PDF_MISSING
from patient_ledger.report._statement_pdf import available as pdf_available
from patient_ledger.report._statement_pdf import (
    statement_pdf,
    statements_index_pdf,
    statements_pdf,
)
from patient_ledger.state import Ledger
from patient_ledger.views import (
    FeedRow,
    LineItems,
    aging,
    claims_feed,
    dashboard,
    line_items,
    unallocated_entries,
)

__all__ = [
    "PAPERS",
    "PDF_MISSING",
    "FeedWithLines",
    "LineItems",
    "Paper",
    "amount",
    "claims_feed_with_lines",
    "day_sheet_html",
    "patient_report",
    "pdf_available",
    "report_data",
    "report_html",
    "report_text",
    "statement_html",
    "statement_pdf",
    "statements_html",
    "statements_index_html",
    "statements_index_pdf",
    "statements_pdf",
]


def amount(money: Money) -> str:
    """An amount as exact text: ``'200.00'``."""
    return tables.amount_text(money)


class FeedWithLines(tuple[tuple[FeedRow, LineItems], ...]):
    """The claims feed with each appointment's lines: ``(row, lines)`` pairs, by date then id,
    that show themselves in a notebook as the feed with the lines nested under their rows."""

    __slots__ = ()

    def html_cells(self) -> list[list[_html.Cell]]:
        """Each row's HTML cells, its lines' cells under it."""
        rows: list[list[_html.Cell]] = []
        for row, items in self:
            rows.append(tables.html_cells(tables.CLAIMS_FEED, row))
            rows.extend(_html.feed_line_cells(item) for item in items)
        return rows

    def text_cells(self) -> list[list[tables.TextCell]]:
        """Each row's text cells (ids printable, boxes marked), its lines' cells under it:
        ``  - charge``, code and description on one line, then the line's amounts."""
        rows: list[list[tables.TextCell]] = []
        for row, items in self:
            rows.append(tables.text_cells(tables.CLAIMS_FEED, row))
            for item in items:
                charge, words, *amounts = (text for text, _ in _html.feed_line_cells(item))
                rows.append([f"  - {tables.printable(charge)}", tables.one_line(words), *amounts])
        return rows

    def _repr_html_(self) -> str:
        return tables.html_table(tables.CLAIMS_FEED, cells=self.html_cells())

    def as_dicts(self) -> list[dict[str, object]]:
        """JSON-ready data: each row's fields (the claims feed's one description), with its
        appointment's ``line_items`` (in line order), amounts as exact decimal strings."""
        return [
            tables.unstructure(row) | {"line_items": [tables.unstructure(i) for i in items]}
            for row, items in self
        ]


def claims_feed_with_lines(ledger: Ledger, patient_id: str) -> FeedWithLines:
    """The patient's claims feed, each row with its appointment's lines (in line order);
    ``.as_dicts()`` is its JSON form (no aging date needed)."""
    return FeedWithLines(
        (row, line_items(ledger, row.appointment_id)) for row in claims_feed(ledger, patient_id)
    )


_LEGEND = "[G] green: patient's unallocated  [Y] yellow: appt's unallocated"


def patient_report(ledger: Ledger, patient_id: str, *, colour: bool = False) -> str:
    """The dashboard, the claims feed (each appointment's lines under it) and the open
    unallocated entries of one patient (ids escaped: nothing in them can steer a terminal)."""
    dash = tables.text_table(tables.DASHBOARD, [dashboard(ledger, patient_id)], colour=colour)
    feed = tables.text_table(
        tables.CLAIMS_FEED,
        cells=claims_feed_with_lines(ledger, patient_id).text_cells(),
        colour=colour,
    )
    entries = tables.text_table(
        tables.UNALLOCATED_ENTRIES, unallocated_entries(ledger, patient_id), colour=colour
    )
    return (
        f"Dashboard of patient {tables.printable(patient_id)}\n{dash}\n\n"
        f"{tables.CLAIMS_FEED.caption}  ({_LEGEND})\n"
        f"(- an appointment's lines under it: charge, code and description, amounts)\n"
        f"{feed}\n\n{tables.UNALLOCATED_ENTRIES.caption}\n{entries}"
    )


def report_data(ledger: Ledger, patient_id: str, on: datetime.date) -> dict[str, object]:
    """One patient's views as JSON-ready data: every amount an exact decimal string; each
    claims-feed row has its appointment's ``line_items`` (in line order)."""
    return {
        "patient_id": patient_id,
        "currency": ledger.currency,
        "dashboard": dashboard(ledger, patient_id).as_dict(),
        "claims_feed": claims_feed_with_lines(ledger, patient_id).as_dicts(),
        "unallocated_entries": [
            tables.unstructure(e) for e in unallocated_entries(ledger, patient_id)
        ],
        "aging": {"on": on.isoformat()} | tables.unstructure(aging(ledger, patient_id, on=on)),
    }


def report_text(ledger: Ledger, patient_id: str, on: datetime.date, *, colour: bool) -> str:
    """The patient report as text tables."""
    ages = tables.text_table(tables.AGING, [aging(ledger, patient_id, on=on)], colour=colour)
    return f"{patient_report(ledger, patient_id, colour=colour)}\n\nAging on {on}\n{ages}"


#: The printed page: the tables' sheet, a page margin, and the seed's colours kept on paper.
_PAGE_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;color:#111}"
    "h1{font-size:1.4em;margin:0 0 .2em}p.meta,p.legend{margin:.2em 0 1em;color:#333}"
    "table.pl caption{text-align:left;font-weight:bold;font-size:1.1em;padding:.6em 0 .3em}"
    "span.green{background:#b7e4b0;padding:0 .3em}span.yellow{background:#fff3a6;padding:0 .3em}"
    "@media print{@page{margin:1.5cm}body{margin:0}"
    "table.pl{page-break-inside:avoid}"
    "td.green,td.yellow,span.green,span.yellow"
    "{-webkit-print-color-adjust:exact;print-color-adjust:exact}}"
)


_LEGEND_HTML = (
    '<p class="legend"><span class="green">green</span> the patient\'s unallocated money '
    '(on every row while it is not zero); <span class="yellow">yellow</span> money held '
    "on an appointment; indented rows are the appointment's lines.</p>"
)


def report_html(ledger: Ledger, patient_id: str, on: datetime.date) -> str:
    """The patient report as a standalone HTML page to print: the patient, the date and the
    currency on top, then the dashboard, the claims feed (each appointment's lines nested
    under its row, the seed's green and yellow boxes kept on paper), the open unallocated
    entries and the aging on ``on``."""
    pid = html.escape(patient_id)
    feed = claims_feed_with_lines(ledger, patient_id)
    parts = [
        f"<h1>Patient {pid}</h1>",
        f'<p class="meta">Amounts in {html.escape(ledger.currency)}; aging on {on}.</p>',
        _section(tables.DASHBOARD, [dashboard(ledger, patient_id)]),
        _section(tables.CLAIMS_FEED, cells=feed.html_cells()),
        _LEGEND_HTML,
        _section(tables.UNALLOCATED_ENTRIES, unallocated_entries(ledger, patient_id)),
        _section(
            tables.AGING,
            [aging(ledger, patient_id, on=on)],
            caption=f"{tables.AGING.caption} on {on}",
        ),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Patient {pid}</title>"
        f"<style>{_html.STYLE}{_PAGE_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>"
    )


def _section(
    view: tables.View,
    rows: Sequence[object] = (),
    *,
    cells: Sequence[Sequence[_html.Cell]] | None = None,
    caption: str | None = None,
) -> str:
    table = tables.html_table(view, rows, cells=cells, caption=caption, style=False)
    return f"<section>{table}</section>"
