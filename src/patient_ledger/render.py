"""Plain-text tables of the views, for the terminal (a shell module: nothing in the core uses it).

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
import unicodedata
from collections.abc import Sequence

from moneyed import Money

from patient_ledger import _html
from patient_ledger._html import LineItems
from patient_ledger.state import Ledger
from patient_ledger.views import (
    DASHBOARD_FIELDS,
    FeedRow,
    aging,
    claims_feed,
    dashboard,
    line_items,
    unallocated_entries,
)

_GREEN = "\x1b[42;30m"
_YELLOW = "\x1b[43;30m"
_RESET = "\x1b[0m"


def amount(money: Money) -> str:
    """An amount as exact text: ``'200.00'``."""
    return str(money.amount)


def _mark(text: str, mark: str, code: str, colour: bool) -> str:
    marked = f"{text} [{mark}]"
    return f"{code}{marked}{_RESET}" if colour else marked


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 2) -> str:
    """A text table: the first ``left`` columns are left-aligned, the amounts after them right."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))
    lines = [_line(headers, widths, left), "  ".join("-" * w for w in widths)]
    lines.extend(_line(row, widths, left) for row in rows)
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def _width(cell: str) -> int:
    # ANSI colour codes take no room on screen.
    for code in (_GREEN, _YELLOW, _RESET):
        cell = cell.replace(code, "")
    return len(cell)


def _line(cells: Sequence[str], widths: Sequence[int], left: int) -> str:
    out = []
    for i, cell in enumerate(cells):
        pad = " " * (widths[i] - _width(cell))
        out.append(cell + pad if i < left else pad + cell)
    return "  ".join(out).rstrip()


def _plain(text: str) -> str:
    """Free text (a charge's code or description) on one line of a terminal: control
    characters (newlines, escape sequences) become spaces."""
    return "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)


class FeedWithLines(tuple[tuple[FeedRow, LineItems], ...]):
    """The claims feed with each appointment's lines: ``(row, lines)`` pairs, by date then id,
    that show themselves in a notebook as the feed with the lines nested under their rows."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        rows: list[list[_html.Cell]] = []
        for row, items in self:
            rows.append(row.cells())
            rows.extend(_html.feed_line_cells(item) for item in items)
        return _html.styled(_html.table(_html.FEED_HEADERS, rows, caption="Live claims feed"))


def claims_feed_with_lines(ledger: Ledger, patient_id: str) -> FeedWithLines:
    """The patient's claims feed, each row with its appointment's lines (in line order)."""
    return FeedWithLines(
        (row, line_items(ledger, row.appointment_id)) for row in claims_feed(ledger, patient_id)
    )


def patient_report(ledger: Ledger, patient_id: str, *, colour: bool = False) -> str:
    """The dashboard, the claims feed (each appointment's lines under it) and the open
    unallocated entries of one patient."""
    d = dashboard(ledger, patient_id)
    dash = table(
        [
            "Total Paid",
            "Allocated",
            "Unallocated",
            "Responsibility",
            "Statement Bal.",
            "Total Bal.",
        ],
        [
            [
                amount(d.total_paid),
                amount(d.allocated),
                amount(d.unallocated),
                amount(d.patient_responsibility),
                amount(d.statement_balance),
                amount(d.total_balance),
            ]
        ],
        left=0,
    )
    feed_rows = []
    for row, items in claims_feed_with_lines(ledger, patient_id):
        appointment_unallocated = amount(row.appointment_unallocated)
        if row.appointment_unallocated.amount:
            appointment_unallocated = _mark(appointment_unallocated, "Y", _YELLOW, colour)
        patient_unallocated = amount(row.patient_unallocated)
        if row.patient_unallocated.amount:
            patient_unallocated = _mark(patient_unallocated, "G", _GREEN, colour)
        feed_rows.append(
            [
                row.appointment_id,
                row.date.isoformat(),
                amount(row.patient_responsibility),
                amount(row.paid),
                amount(row.balance_due),
                appointment_unallocated,
                patient_unallocated,
            ]
        )
        feed_rows.extend(
            [
                f"  - {item.charge_id}",
                _plain(_html.code_and_description(item)),
                amount(item.responsibility),
                amount(item.paid),
                amount(item.balance_due),
                "",
                "",
            ]
            for item in items
        )
    feed = table(
        ["Appointment", "Date", "Pt. Resp.", "Paid", "Balance Due", "Appt Unalloc.", "Pt Unalloc."],
        feed_rows,
    )
    entries = table(
        ["Entry", "Received", "Payment", "Appointment", "Amount"],
        [
            [
                e.id,
                e.received_on.isoformat(),
                e.payment_id,
                e.appointment_id or "(none: general)",
                amount(e.amount),
            ]
            for e in unallocated_entries(ledger, patient_id)
        ],
        left=4,
    )
    return (
        f"Dashboard of patient {patient_id}\n{dash}\n\n"
        f"Live claims feed  ([G] green: patient's unallocated  [Y] yellow: appt's unallocated)\n"
        f"(- an appointment's lines under it: charge, code and description, amounts)\n"
        f"{feed}\n\nOpen unallocated entries\n{entries}"
    )


def report_data(ledger: Ledger, patient_id: str, on: datetime.date) -> dict[str, object]:
    """One patient's views as JSON-ready data: every amount an exact decimal string; each
    claims-feed row has its appointment's ``line_items`` (in line order)."""
    d = dashboard(ledger, patient_id)
    a = aging(ledger, patient_id, on=on)
    return {
        "patient_id": patient_id,
        "currency": ledger.currency,
        "dashboard": {name: amount(getattr(d, name)) for name in DASHBOARD_FIELDS},
        "claims_feed": [
            {
                "appointment_id": r.appointment_id,
                "date": r.date.isoformat(),
                "patient_responsibility": amount(r.patient_responsibility),
                "paid": amount(r.paid),
                "balance_due": amount(r.balance_due),
                "appointment_unallocated": amount(r.appointment_unallocated),
                "patient_unallocated": amount(r.patient_unallocated),
                "line_items": [
                    {
                        "charge_id": item.charge_id,
                        "code": item.code,
                        "description": item.description,
                        "responsibility": amount(item.responsibility),
                        "paid": amount(item.paid),
                        "balance_due": amount(item.balance_due),
                    }
                    for item in items
                ],
            }
            for r, items in claims_feed_with_lines(ledger, patient_id)
        ],
        "unallocated_entries": [
            {
                "id": e.id,
                "payment_id": e.payment_id,
                "appointment_id": e.appointment_id,
                "amount": amount(e.amount),
                "received_on": e.received_on.isoformat(),
            }
            for e in unallocated_entries(ledger, patient_id)
        ],
        "aging": {
            "on": on.isoformat(),
            "current": amount(a.current),
            "days_31_60": amount(a.days_31_60),
            "days_61_90": amount(a.days_61_90),
            "over_90": amount(a.over_90),
        },
    }


def report_text(ledger: Ledger, patient_id: str, on: datetime.date, *, colour: bool) -> str:
    """The patient report as text tables."""
    a = aging(ledger, patient_id, on=on)
    ages = table(
        ["0-30 days", "31-60", "61-90", "over 90"],
        [[amount(a.current), amount(a.days_31_60), amount(a.days_61_90), amount(a.over_90)]],
        left=0,
    )
    return f"{patient_report(ledger, patient_id, colour=colour)}\n\nAging on {on}\n{ages}"


def report_html(ledger: Ledger, patient_id: str, on: datetime.date) -> str:
    """The patient report as a standalone HTML page, with the seed's green and yellow boxes and
    each appointment's lines nested under its row of the claims feed."""
    parts = [
        f"<h2>Patient {html.escape(patient_id)}</h2>",
        dashboard(ledger, patient_id)._repr_html_(),
        claims_feed_with_lines(ledger, patient_id)._repr_html_(),
        unallocated_entries(ledger, patient_id)._repr_html_(),
        f"<h3>Aging on {on.isoformat()}</h3>",
        aging(ledger, patient_id, on=on)._repr_html_(),
    ]
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>Patient {html.escape(patient_id)}</title></head>"
        f"<body>{''.join(parts)}</body></html>"
    )
