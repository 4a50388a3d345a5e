"""Small HTML tables for notebooks and reports (escaped, no I/O), with the seed's colours."""

from __future__ import annotations

import html
from collections.abc import Sequence

#: The seed's highlights: the patient's unallocated amount (green), an appointment's (yellow).
STYLE = (
    "table.pl{border-collapse:collapse;margin:.3em 0 1em}"
    "table.pl th,table.pl td{border:1px solid #ccc;padding:.2em .6em;font-family:sans-serif}"
    "table.pl td.amount{text-align:right;font-variant-numeric:tabular-nums}"
    "table.pl td.green{background:#b7e4b0}table.pl td.yellow{background:#fff3a6}"
)

Cell = tuple[str, str]  # (text, css classes)


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, caption: str = "") -> str:
    """An HTML table; every cell's text is escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
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
