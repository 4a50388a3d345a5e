"""What the ledger shows (SPEC §5)."""

from __future__ import annotations

import pytest
from moneyed import Money

import patient_ledger as pl
from tests.helpers import D, appointment, charge, pay


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
    from patient_ledger.demo import play, seed_walkthrough

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
