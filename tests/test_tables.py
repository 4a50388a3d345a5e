"""The views' one description (patient_ledger.report.tables) and what it drives."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.cli.demo import aging_report, allocations_report
from patient_ledger.report import render, tables

SRC = Path(pl.__file__).parent
D = datetime.date
CLASSES = {
    "dashboard": pl.Dashboard,
    "claims_feed": pl.FeedRow,
    "line_items": pl.LineItem,
    "unallocated_entries": pl.UnallocatedEntry,
    "aging": pl.Aging,
    "allocations": pl.Allocation,
    "payment_plans": pl.PlanStatus,
    "installments": pl.Installment,
    "statement_lines": pl.StatementLine,
    "day_sheet_lines": pl.DaySheetLine,
    "method_totals": pl.MethodTotal,
}


@pytest.mark.parametrize("view", tables.VIEWS, ids=lambda v: v.name)
def test_each_view_describes_every_field_of_its_class_once(view: tables.View) -> None:
    names = [f.name for f in attrs.fields(CLASSES[view.name])]
    assert sorted(view.fields()) == sorted(names)
    assert len(set(view.headings())) == len(view.headings())


def test_no_heading_is_written_twice() -> None:
    """Headings appear as literals only in tables.py (the one description)."""
    common = {"Paid", "Amount", "Patient", *pl.__all__}  # words, and class names in __all__
    views = (*tables.VIEWS, *tables.SUMMARIES)
    headings = {h for view in views for h in view.headings()} - common
    for path in SRC.glob("*.py"):
        if path.name == "tables.py":
            continue
        text = path.read_text(encoding="utf-8")
        for heading in headings:
            assert f'"{heading}"' not in text, (path.name, heading)
    assert tables.DASHBOARD.fields() == pl.views.DASHBOARD_FIELDS


def one_patient() -> pl.Ledger:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", Money("40.00", "USD")))
    return pl.post_payment(
        ledger, pl.Payment("PAY1", "P1", Money("100.00", "USD"), D(2025, 1, 2), appointment_id="A1")
    )


def test_one_description_gives_json_csv_records_text_and_html() -> None:
    ledger = one_patient()
    row = pl.claims_feed(ledger, "P1")[0]
    assert tables.unstructure(row) == {
        "appointment_id": "A1",
        "date": "2025-01-02",
        "patient_responsibility": "40.00",
        "paid": "40.00",
        "balance_due": "0.00",
        "appointment_unallocated": "60.00",
        "patient_unallocated": "60.00",
    }
    assert tables.records(tables.CLAIMS_FEED, row, patient_id="P1")["paid"] == Decimal("40.00")
    assert tables.values(row)["date"] == D(2025, 1, 2)
    assert tables.csv_header(tables.CLAIMS_FEED)[:2] == ["appointment_id", "date"]
    assert tables.csv_row(tables.CLAIMS_FEED, row)[-2:] == ["60.00", "60.00"]
    text = tables.text_table(tables.CLAIMS_FEED, [row])
    assert text.splitlines()[0].split("  ")[0] == "Appointment"
    assert "60.00 [Y]" in text
    assert "60.00 [G]" in text
    page = tables.html_table(tables.CLAIMS_FEED, [row])
    assert 'class="amount yellow">60.00<' in page
    assert "<th>Appt Unallocated</th>" in page
    held = pl.unallocated_entries(ledger, "P1")
    assert tables.text_cells(tables.UNALLOCATED_ENTRIES, held[0])[3] == "A1"
    d = pl.dashboard(ledger, "P1")
    assert d.as_dict() == tables.unstructure(d)
    assert pl.views.dashboards(ledger) == {"P1": d}


def test_ids_in_text_reports_cannot_steer_the_terminal() -> None:
    """Issue 15, item 10: an id holding escape sequences was printed raw. Issue 25, items 9
    and 11: such an id is now refused where it is made; text output still escapes every
    character that steers a terminal or breaks a line (private-use and unassigned ones can
    be in ids; U+2028 and U+2029 made a fake row)."""
    for evil in ("P\x1b]0;owned\x07", "A\x1b[2J\r\u202e1", "C\x1b[31m", "P1\u2028x"):
        with pytest.raises(pl.InvalidInputError, match="U\\+"):
            pl.Appointment(evil, "P1", D(2025, 1, 2))
        assert not re.search(r"[\x00-\x1f\x7f\u202e\u2028\u2029]", tables.printable(evil))
    assert tables.printable("A\u2028B\u2029") == r"A\u2028B\u2029"
    odd_patient, odd_visit = "P\ue000", "A\U0010fffd\u0378"  # private use, unassigned
    ledger = pl.add_appointment(
        pl.Ledger.empty(), pl.Appointment(odd_visit, odd_patient, D(2025, 1, 2))
    )
    ledger = pl.add_charge(ledger, pl.Charge("C\U000f0000", odd_visit, Money("40.00", "USD")))
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY\ue001", odd_patient, Money("50.00", "USD"), D(2025, 1, 2))
    )
    texts = [
        render.report_text(ledger, odd_patient, D(2025, 3, 1), colour=False),
        aging_report(ledger, D(2025, 3, 1)),
        allocations_report(ledger, "PAY\ue001"),
    ]
    for text in texts:
        assert not re.search("[\ue000-\uf8ff\u0378\U0010fffd\U000f0000]", text)
    report = texts[0]
    assert r"A\U0010fffd\u0378" in report
    assert r"P\ue000" in report
    assert r"  - C\U000f0000" in report
    assert r"P\ue000" in texts[1]
    assert r"Where PAY\ue001's money" in texts[2]
    assert tables.printable("Zoë ✓") == "Zoë ✓"  # printable text is left alone


def test_frames_rows_are_the_descriptions_records() -> None:
    """patient_ledger.adapters.frames gives each view's rows from its one description."""
    from patient_ledger.adapters import frames
    from patient_ledger.cli.demo import lines_and_policies, month_at_the_practice, play

    ledger = pl.Ledger.empty()
    for _, ledger in play(month_at_the_practice() + lines_and_policies()):  # noqa: B007
        pass
    on = D(2025, 4, 30)
    by_hand = frames.records(ledger, on=on)  # every table frames makes
    described: dict[str, list[dict[str, object]]] = {name: [] for name in by_hand}
    for pid in pl.patients(ledger):
        described["dashboards"].append(
            tables.records(tables.DASHBOARD, pl.dashboard(ledger, pid), patient_id=pid)
        )
        feed = pl.claims_feed(ledger, pid)
        for row in feed:
            described["claims_feed"].append(tables.records(tables.CLAIMS_FEED, row, patient_id=pid))
            described["line_items"].extend(
                tables.records(tables.LINE_ITEMS, item, patient_id=pid)
                for item in pl.line_items(ledger, row.appointment_id)
            )
        described["unallocated_entries"].extend(
            tables.records(tables.UNALLOCATED_ENTRIES, e, patient_id=pid)
            for e in pl.unallocated_entries(ledger, pid)
        )
        described["aging"].append(
            tables.records(tables.AGING, pl.aging(ledger, pid, on=on), patient_id=pid)
        )
        described["credit_aging"].append(
            tables.records(tables.AGING, pl.credit_aging(ledger, pid, on=on), patient_id=pid)
        )
    for event in ledger.events:
        if isinstance(event, pl.PaymentPosted | pl.RefundPosted):
            described["allocations"].extend(
                tables.records(tables.ALLOCATIONS, a)
                for a in pl.allocations(ledger, event.payment.id)
            )
    assert described == by_hand
    with pytest.raises(TypeError, match="not a row of aging"):
        tables.records(tables.AGING, pl.dashboard(ledger, "ANA"))


_ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
_CELL = st.one_of(
    _ASCII,
    st.text(max_size=4),  # any character: rich lays those out
    st.tuples(_ASCII, st.sampled_from(["black on green", "black on yellow"])),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2), st.lists(st.integers(0, 6), max_size=6), st.data())
def test_the_plain_text_table_is_rich_s_to_the_character(
    firsts: int, lengths: list[int], data: st.DataObject
) -> None:
    # Without colour, a table of plain ASCII is laid out without rich: the same text.
    first = [tables.PATIENT, tables.Column(field="x", heading="Id")][:firsts]
    view = tables.DASHBOARD
    width = len(first) + len(view.shown())
    rows = [data.draw(st.lists(_CELL, min_size=width, max_size=width)) for _ in lengths]
    expected = tables._rich_table((*first, *view.shown()), rows, colour=False)
    assert tables.text_table(view, first=first, cells=rows) == expected
