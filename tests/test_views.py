"""What the ledger shows (SPEC §5), and the lines of each appointment in its reports (§10)."""

from __future__ import annotations

import re

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.report import render
from tests.helpers import D, appointment, charge, pay, usd


@pytest.fixture
def ledger() -> pl.Ledger:
    ledger = appointment(pl.Ledger.empty(), "A2", day=D(2025, 2, 1))
    ledger = appointment(ledger, "A1", day=D(2025, 2, 1))
    ledger = appointment(ledger, "A0", day=D(2025, 3, 1))
    ledger = charge(ledger, "C1", "A1", "80.00")
    return pay(ledger, "PAY1", "30.00", "A1")


def test_every_amount_is_money_in_the_ledger_currency_zero_included(ledger: pl.Ledger) -> None:
    d = pl.dashboard(ledger, "P1")
    amounts = [
        getattr(d, f)
        for f in (
            "total_paid",
            "allocated",
            "unallocated",
            "patient_responsibility",
            "statement_balance",
            "total_balance",
        )
    ]
    for row in pl.claims_feed(ledger, "P1"):
        amounts += [
            row.patient_responsibility,
            row.paid,
            row.balance_due,
            row.appointment_unallocated,
            row.patient_unallocated,
        ]
    assert all(isinstance(a, Money) and a.currency.code == "USD" for a in amounts)
    assert d.unallocated == Money("0", "USD")


def test_claims_feed_is_by_date_then_id(ledger: pl.Ledger) -> None:
    assert [r.appointment_id for r in pl.claims_feed(ledger, "P1")] == ["A1", "A2", "A0"]
    assert pl.claims_feed(ledger, "P1")[0].date == D(2025, 2, 1)


def test_unallocated_entry_fields(ledger: pl.Ledger) -> None:
    ledger = pay(ledger, "PAY2", "12.34", "A2", day=D(2025, 1, 3))
    [entry] = pl.unallocated_entries(ledger, "P1")
    assert entry.payment_id == "PAY2"
    assert entry.appointment_id == "A2"
    assert entry.amount == Money("12.34", "USD")
    assert entry.received_on == D(2025, 1, 3)
    assert isinstance(entry.id, str)
    assert entry.id
    # The same id after replay.
    assert pl.unallocated_entries(pl.replay(ledger.events), "P1")[0].id == entry.id


def test_entry_ids_are_unique_in_the_ledger(ledger: pl.Ledger) -> None:
    for n in range(5):
        ledger = pay(ledger, f"G{n}", "1.00", pid=f"Q{n}")
    ids = [e.id for p in pl.patients(ledger) for e in pl.unallocated_entries(ledger, p)]
    assert len(ids) == len(set(ids)) == 5


def test_patients_are_sorted() -> None:
    ledger = pl.Ledger.empty()
    for pid in ["b", "a", "C"]:
        ledger = pay(ledger, f"PAY-{pid}", "1.00", pid=pid)
    assert pl.patients(ledger) == ("C", "a", "b")


@pytest.mark.parametrize(
    "query",
    [
        lambda led, p: pl.dashboard(led, p),
        lambda led, p: pl.claims_feed(led, p),
        lambda led, p: pl.unallocated_entries(led, p),
        lambda led, p: pl.aging(led, p, on=D(2025, 1, 1)),
    ],
)
def test_unknown_patient_is_an_unknown_id_error(ledger: pl.Ledger, query: object) -> None:
    with pytest.raises(pl.UnknownIdError, match="'NOPE'"):
        query(ledger, "NOPE")  # type: ignore[operator]
    with pytest.raises(pl.InvalidInputError):
        query(ledger, "")  # type: ignore[operator]
    with pytest.raises(pl.InvalidInputError):
        query("not a ledger", "P1")  # type: ignore[operator]


def test_views_are_value_objects(ledger: pl.Ledger) -> None:
    assert pl.dashboard(ledger, "P1") == pl.dashboard(pl.replay(ledger.events), "P1")
    assert pl.claims_feed(ledger, "P1") == pl.claims_feed(pl.replay(ledger.events), "P1")


def test_views_in_a_currency_without_minor_units() -> None:
    ledger = pl.Ledger.empty("JPY")
    ledger = pl.post_payment(ledger, pl.Payment("PAY1", "P1", Money("1500", "JPY"), D(2025, 1, 1)))
    assert pl.dashboard(ledger, "P1").unallocated == Money("1500", "JPY")
    with pytest.raises(pl.CurrencyMismatchError):
        pl.post_payment(ledger, pl.Payment("PAY2", "P1", Money("1", "USD"), D(2025, 1, 1)))


def test_views_show_themselves_as_html_with_the_seed_colours() -> None:
    from patient_ledger.cli.demo import play, seed_walkthrough

    ledger = None
    for n, (_, ledger) in enumerate(play(seed_walkthrough())):  # noqa: B007
        if n == 2:  # $200 held in general, $20 on A2 (no charges yet)
            break
    assert ledger is not None
    feed = pl.claims_feed(ledger, "P1")
    page = feed._repr_html_()
    assert page.count('class="amount green">220.00<') == 2
    assert page.count('class="amount yellow">20.00<') == 1
    assert "<caption>Live claims feed</caption>" in page
    assert feed[1]._repr_html_().count('yellow">20.00') == 1
    assert feed == tuple(feed)  # still the tuple SPEC names
    assert "Total Paid" in pl.dashboard(ledger, "P1")._repr_html_()
    entries = pl.unallocated_entries(ledger, "P1")
    assert "(none: general)" in entries._repr_html_()
    assert "(none: general)" in entries[0]._repr_html_()
    assert "over 90" in pl.aging(ledger, "P1", on=D(2025, 3, 1))._repr_html_()


def test_html_escapes_ids() -> None:
    ledger = appointment(pl.Ledger.empty(), "<A&1>", "<b>")
    page = pl.claims_feed(ledger, "<b>")._repr_html_()
    assert "&lt;A&amp;1&gt;" in page
    assert "<A&1>" not in page


# -- Line items wherever the views are shown (issue 13) ---------------------------------------


def two_line_visit() -> pl.Ledger:
    """V1 has two lines, C1 ($100) and C2 ($40); PAY1 ($50) names C2: C2 is paid in full, the
    $10 left goes to C1. V0 has no charges; PAY2 ($30) is held in the general bucket."""
    ledger = appointment(pl.Ledger.empty(), "V0", day=D(2025, 1, 10))
    ledger = appointment(ledger, "V1", day=D(2025, 1, 22))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "V1", usd("100.00"), "99213", "Office visit"))
    ledger = pl.add_charge(ledger, pl.Charge("C2", "V1", usd("40.00"), "80053", "Lab panel"))
    ledger = pl.post_payment(
        ledger,
        pl.Payment("PAY1", "P1", usd("50.00"), D(2025, 1, 22), appointment_id="V1", charge_id="C2"),
    )
    return pay(ledger, "PAY2", "30.00")


def test_text_report_shows_each_appointments_lines_under_it() -> None:
    text = render.report_text(two_line_visit(), "P1", D(2025, 3, 31), colour=False)
    feed = text.split("Live claims feed")[1].split("\n\n")[0].splitlines()
    rows = [line.split() for line in feed[4:]]  # after the legends, headers and rule
    assert rows == [
        ["V0", "2025-01-10", "0.00", "0.00", "0.00", "0.00", "30.00", "[G]"],  # no lines
        ["V1", "2025-01-22", "140.00", "50.00", "90.00", "0.00", "30.00", "[G]"],
        ["-", "C1", "99213", "Office", "visit", "100.00", "10.00", "90.00"],
        ["-", "C2", "80053", "Lab", "panel", "40.00", "40.00", "0.00"],
    ]
    # The lines are indented, and their amounts stand under the appointment's.
    v1, c1, c2 = feed[5:8]
    assert c1.startswith("  - C1 ")
    assert c2.startswith("  - C2 ")

    def ends(line: str) -> list[int]:
        return [m.end() for m in re.finditer(r"\S+", line)]

    assert ends(c1)[-3:] == ends(c2)[-3:] == ends(v1)[2:5]


def test_text_report_keeps_a_line_on_one_line_of_the_terminal() -> None:
    ledger = appointment(pl.Ledger.empty(), "V1")
    ledger = pl.add_charge(ledger, pl.Charge("C1", "V1", usd("5.00"), "X\n1", "a\x1b[31mred"))
    text = render.patient_report(ledger, "P1")
    assert "\x1b" not in text
    [line] = [line for line in text.splitlines() if "C1" in line]
    assert "X 1 a [31mred" in line


def html_rows(page: str) -> list[list[str]]:
    """The cells of every body row of the page's claims feed."""
    feed = page.split("<caption>Live claims feed</caption>")[1]
    body = feed.split("</table>", maxsplit=1)[0].split("<tbody>")[1]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in body.split("</tr>")[:-1]]


def test_html_report_nests_each_appointments_lines_under_it() -> None:
    page = render.report_html(two_line_visit(), "P1", D(2025, 3, 31))
    assert html_rows(page) == [
        ["V0", "2025-01-10", "0.00", "0.00", "0.00", "0.00", "30.00"],
        ["V1", "2025-01-22", "140.00", "50.00", "90.00", "0.00", "30.00"],
        ["C1", "99213 Office visit", "100.00", "10.00", "90.00", "", ""],
        ["C2", "80053 Lab panel", "40.00", "40.00", "0.00", "", ""],
    ]
    assert page.count('<td class="line indent">') == 2
    assert "td.indent{padding-left" in page


def test_report_data_has_each_appointments_line_items() -> None:
    data = render.report_data(two_line_visit(), "P1", D(2025, 3, 31))
    v0, v1 = data["claims_feed"]  # type: ignore[misc]
    assert v0["line_items"] == []
    assert v1["line_items"] == [
        {
            "charge_id": "C1",
            "appointment_id": "V1",
            "code": "99213",
            "description": "Office visit",
            "responsibility": "100.00",
            "paid": "10.00",
            "balance_due": "90.00",
        },
        {
            "charge_id": "C2",
            "appointment_id": "V1",
            "code": "80053",
            "description": "Lab panel",
            "responsibility": "40.00",
            "paid": "40.00",
            "balance_due": "0.00",
        },
    ]


def test_line_items_show_themselves_in_a_notebook() -> None:
    ledger = two_line_visit()
    items = pl.line_items(ledger, "V1")
    assert items == pl.line_items(ledger, "V1")  # still the tuple of LineItems
    page = items._repr_html_()
    assert "<caption>Lines of appointment V1</caption>" in page
    assert re.findall(r"<tr><td>([^<]*)</td>", page) == ["C1", "C2"]
    assert '<td class="amount">10.00</td><td class="amount">90.00</td>' in page
    assert "<tbody></tbody>" in pl.line_items(ledger, "V0")._repr_html_()
    feed = render.claims_feed_with_lines(ledger, "P1")
    assert [row for row, _ in feed] == list(pl.claims_feed(ledger, "P1"))
    assert [len(lines) for _, lines in feed] == [0, 2]
    assert html_rows(feed._repr_html_()) == html_rows(
        render.report_html(ledger, "P1", D(2025, 1, 1))
    )


def test_line_html_escapes_codes_and_descriptions() -> None:
    ledger = appointment(pl.Ledger.empty(), "V1")
    ledger = pl.add_charge(ledger, pl.Charge("<C>", "V1", usd("5.00"), "<b>", "a&b"))
    for page in (
        pl.line_items(ledger, "V1")._repr_html_(),
        render.claims_feed_with_lines(ledger, "P1")._repr_html_(),
    ):
        assert "&lt;C&gt;" in page
        assert "&lt;b&gt;" in page
        assert "a&amp;b" in page
        assert "<b>" not in page


def test_payment_status_says_what_is_left_and_what_reversals_took() -> None:
    ledger = charge(appointment(pl.Ledger.empty(), "A1"), "C1", "A1", "40.00")
    ledger = pay(ledger, "PAY1", "100.00", "A1")  # 40 on C1, 60 held on A1
    whole = pl.payment_status(ledger, "PAY1")
    assert (whole.left, whole.reversed, whole.reversed_on) == (usd("100.00"), usd("0"), None)
    ledger = pl.reverse_payment(ledger, "PAY1", usd("70.00"), on=D(2025, 2, 1))
    partly = pl.payment_status(ledger, "PAY1")
    assert (partly.left, partly.reversed, partly.reversed_on) == (
        usd("30.00"),
        usd("70.00"),
        D(2025, 2, 1),
    )
    assert partly.payment.amount == usd("100.00")
    with pytest.raises(pl.UnknownIdError):
        pl.payment_status(ledger, "NOPE")
