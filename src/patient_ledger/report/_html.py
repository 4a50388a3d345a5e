"""Small HTML tables for notebooks and reports (escaped, no I/O), with the seed's colours."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # views imports this module: its names are for the type checker only
    from patient_ledger.views import LineItem

#: The seed's highlights: the patient's unallocated amount (green), an appointment's (yellow);
#: an appointment's lines are indented under it (``line``, ``indent``).
STYLE = (
    "table.pl{border-collapse:collapse;margin:.3em 0 1em}"
    "table.pl th,table.pl td{border:1px solid #ccc;padding:.2em .6em;font-family:sans-serif}"
    "table.pl td.amount{text-align:right;font-variant-numeric:tabular-nums}"
    "table.pl td.green{background:#b7e4b0}table.pl td.yellow{background:#fff3a6}"
    "table.pl td.line{color:#444;font-size:.92em}table.pl td.indent{padding-left:1.8em}"
)

Cell = tuple[str, str]  # (text, css classes)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    caption: str = "",
    heading_css: Sequence[str] = (),
) -> str:
    """An HTML table; every cell's text is escaped. ``heading_css``: each heading's css classes
    (``"amount"`` aligns it over its amounts), when given."""
    head = "".join(
        f'<th class="{css}">{html.escape(h)}</th>' if css else f"<th>{html.escape(h)}</th>"
        for h, css in zip(headers, heading_css or [""] * len(headers), strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{css}">{html.escape(text)}</td>'
            if css
            else f"<td>{html.escape(text)}</td>"
            for text, css in row
        )
        + "</tr>"
        for row in rows
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="pl">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def styled(fragment: str) -> str:
    """A fragment with the style sheet it needs (for a notebook cell)."""
    return f"<style>{STYLE}</style>{fragment}"


def code_and_description(item: LineItem) -> str:
    """A line's procedure code and description as one text: ``'80053 Lab panel'`` (either may
    be missing; both missing: ``''``)."""
    return " ".join(part for part in (item.code, item.description) if part)


def feed_line_cells(item: LineItem) -> list[Cell]:
    """A line as cells under its appointment's claims-feed row: its charge id (indented), code
    and description, then responsibility, paid and balance due under the appointment's."""
    return [
        (item.charge_id, "line indent"),
        (code_and_description(item), "line"),
        (str(item.responsibility.amount), "amount line"),
        (str(item.paid.amount), "amount line"),
        (str(item.balance_due.amount), "amount line"),
        ("", "line"),
        ("", "line"),
    ]
