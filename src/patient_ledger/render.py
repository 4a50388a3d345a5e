"""Plain-text tables of the views, for the terminal (a shell module: nothing in the core uses it).

Amounts are shown exactly as ``str(Decimal)`` gives them (never through float or locale
formatting). The seed's highlights are marked: the patient's unallocated amount on each
claims-feed row (green) and an appointment's own unallocated payment (yellow) — in colour
when ``colour=True``, and always with a ``[G]``/``[Y]`` mark so they survive copy and paste.
"""

from __future__ import annotations

from collections.abc import Sequence

from moneyed import Money

from patient_ledger.state import Ledger
from patient_ledger.views import claims_feed, dashboard, unallocated_entries

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


def patient_report(ledger: Ledger, patient_id: str, *, colour: bool = False) -> str:
    """The dashboard, the claims feed and the open unallocated entries of one patient."""
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
    for row in claims_feed(ledger, patient_id):
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
        f"{feed}\n\nOpen unallocated entries\n{entries}"
    )
