"""The notebook views' HTML for the demo's patients (the claims feed with each appointment's
lines nested under it, and each appointment's lines alone), against a reviewed golden file.

Regenerate with ``UPDATE_GOLDEN=1 python -m pytest tests/test_html_golden.py`` and review it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from moneyed import Money

import patient_ledger as pl
from patient_ledger.cli.demo import month_at_the_practice, play, seed_walkthrough
from patient_ledger.report import render

GOLDEN = Path(__file__).parent / "golden" / "views.html"
#: The printable report of a patient with payment plans (SPEC §11): their plans and each
#: plan's installments under the rest of the report.
PLANS_GOLDEN = Path(__file__).parent / "golden" / "report_with_plans.html"


def demo() -> pl.Ledger:
    ledger = pl.Ledger.empty()
    for _, ledger in play(seed_walkthrough() + month_at_the_practice()):  # noqa: B007
        pass
    return ledger


def pages() -> str:
    ledger = demo()
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


def plans_page() -> str:
    """TOM owes $80.00 on V20: a plan on V20 in three installments (26.66, 26.66, 26.68), the
    first paid, the second skipped; and a cancelled plan on his balance before it."""
    day = datetime.date
    ledger = pl.create_payment_plan(
        demo(),
        pl.PaymentPlan("PL1", "TOM", Money("10.00", "USD"), 1, day(2025, 3, 6), day(2025, 3, 6)),
    )
    ledger = pl.cancel_payment_plan(ledger, "PL1", on=day(2025, 3, 9), reason="replaced")
    plan = pl.PaymentPlan("PL2", "TOM", None, 3, day(2025, 3, 15), day(2025, 3, 10), ("V20",))
    ledger = pl.create_payment_plan(ledger, plan)
    paid = pl.Payment("PP1", "TOM", Money("26.66", "USD"), day(2025, 3, 15), plan_id="PL2")
    ledger = pl.post_payment(ledger, paid)
    ledger = pl.skip_installment(ledger, "PL2", 2, on=day(2025, 4, 10))
    return render.report_html(ledger, "TOM", day(2025, 4, 20)) + "\n"


def test_the_report_of_a_patient_with_plans_matches_the_golden_file() -> None:
    found = plans_page()
    if os.environ.get("UPDATE_GOLDEN"):
        PLANS_GOLDEN.write_text(found, encoding="utf-8")
    assert found == PLANS_GOLDEN.read_text(encoding="utf-8")
