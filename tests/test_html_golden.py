"""The notebook views' HTML for the demo's patients (the claims feed with each appointment's
lines nested under it, and each appointment's lines alone), against a reviewed golden file.

Regenerate with ``UPDATE_GOLDEN=1 python -m pytest tests/test_html_golden.py`` and review it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import patient_ledger as pl
from patient_ledger.cli.demo import month_at_the_practice, play, seed_walkthrough
from patient_ledger.report import render

GOLDEN = Path(__file__).parent / "golden" / "views.html"


def pages() -> str:
    ledger = pl.Ledger.empty()
    for _, ledger in play(seed_walkthrough() + month_at_the_practice()):  # noqa: B007
        pass
    out = []
    for pid in pl.patients(ledger):
        feed = pl.claims_feed(ledger, pid)
        entries = pl.unallocated_entries(ledger, pid)
        out += [
            f"<!-- {pid} -->",
            pl.dashboard(ledger, pid)._repr_html_(),
            feed._repr_html_(),
            *(row._repr_html_() for row in feed),
            render.claims_feed_with_lines(ledger, pid)._repr_html_(),
            *(pl.line_items(ledger, row.appointment_id)._repr_html_() for row in feed),
            entries._repr_html_(),
            *(entry._repr_html_() for entry in entries),
            pl.aging(ledger, pid, on=datetime.date(2025, 3, 31))._repr_html_(),
        ]
    return "\n".join(out) + "\n"


def test_view_html_matches_the_golden_file() -> None:
    found = pages()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(found, encoding="utf-8")
    assert found == GOLDEN.read_text(encoding="utf-8")
