"""Every rule of SPEC §4, one example each."""

from __future__ import annotations

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.testing import assert_invariants
from tests.helpers import D, appointment, charge, dash, entries, feed, pay, refund, usd


@pytest.fixture
def booked() -> pl.Ledger:
    """P1 with A1 (1/22, $100 charge) and A2 (2/5, no charges); P2 with B1 (no charges)."""
    ledger = appointment(pl.Ledger.empty(), "A1", day=D(2025, 1, 22))
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = appointment(ledger, "A2", day=D(2025, 2, 5))
    return appointment(ledger, "B1", "P2", D(2025, 1, 10))


# -- Ledger.empty, purity, journal ------------------------------------------------------------


def test_empty_ledger_has_a_currency_and_one_event() -> None:
    ledger = pl.Ledger.empty("EUR")
    assert ledger.currency == "EUR"
    assert list(ledger.events) == [pl.LedgerOpened("EUR")]
    assert pl.patients(ledger) == ()
    assert pl.Ledger.empty() == pl.Ledger.empty("USD")


@pytest.mark.parametrize("bad", ["ZZZ", "usd", "", 5, None])
def test_empty_ledger_refuses_unknown_currency(bad: object) -> None:
    with pytest.raises(pl.InvalidInputError):
        pl.Ledger.empty(bad)  # type: ignore[arg-type]


def test_commands_are_pure(booked: pl.Ledger) -> None:
    before = list(booked.events)
    before_dash = dash(booked)
    after = pay(booked, "PAY1", "30.00", "A1")
    assert list(booked.events) == before
    assert dash(booked) == before_dash
    assert after is not booked
    assert after != booked
    assert len(after.events) == len(booked.events) + 1


def test_ledger_is_immutable(booked: pl.Ledger) -> None:
    with pytest.raises(AttributeError):
        booked.state = None  # type: ignore[misc,assignment]


def test_commands_can_branch_from_an_older_ledger(booked: pl.Ledger) -> None:
    one = pay(booked, "PAY1", "30.00", "A1")
    two = pay(booked, "PAY2", "70.00", "A1")
    assert dash(one)["allocated"] == "30.00"
    assert dash(two)["allocated"] == "70.00"
    assert pl.replay(one.events) == one
    assert pl.replay(two.events) == two


# -- add_appointment / add_charge ---------------------------------------------------------------


def test_add_appointment_makes_the_patient_known() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1", "P7")
    assert pl.patients(ledger) == ("P7",)
    assert feed(ledger, "P7") == [("A1", "0.00", "0.00", "0.00", "0.00", "0.00")]


def test_add_charge_needs_a_known_appointment(booked: pl.Ledger) -> None:
    with pytest.raises(pl.UnknownIdError, match="'A9'"):
        charge(booked, "C9", "A9", "10.00")


def test_add_charge_raises_patient_responsibility(booked: pl.Ledger) -> None:
    ledger = charge(booked, "C2", "A1", "25.50")
    assert feed(ledger)[0][1:4] == ("125.50", "0.00", "125.50")


def test_zero_charge_is_accepted(booked: pl.Ledger) -> None:
    ledger = charge(booked, "C0", "A2", "0.00")
    assert feed(ledger)[1][1] == "0.00"


def test_add_charge_auto_applies_oldest_entries_first_and_keeps_the_remainder(
    booked: pl.Ledger,
) -> None:
    ledger = pay(booked, "PAY2", "30.00", "A2", day=D(2025, 1, 20))
    ledger = pay(ledger, "PAY1", "50.00", "A2", day=D(2025, 1, 10))  # received earlier
    ledger = charge(ledger, "C2", "A2", "60.00")
    # PAY1 (1/10) is used whole, PAY2 (1/20) partly: its $20 remainder stays open.
    assert entries(ledger) == [("PAY2", "A2", "20.00")]
    assert feed(ledger)[1] == ("A2", "60.00", "60.00", "0.00", "20.00", "20.00")
    assert_invariants(ledger)


def test_add_charge_does_not_touch_the_general_bucket(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "500.00")
    ledger = charge(ledger, "C2", "A2", "60.00")
    assert feed(ledger)[1][3] == "60.00"
    assert dash(ledger)["unallocated"] == "500.00"


def test_same_date_entries_are_used_in_posting_order(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY-B", "10.00", "A2", day=D(2025, 1, 5))
    ledger = pay(ledger, "PAY-A", "10.00", "A2", day=D(2025, 1, 5))
    ledger = charge(ledger, "C2", "A2", "15.00")
    assert entries(ledger) == [("PAY-A", "A2", "5.00")]


# -- post_payment -----------------------------------------------------------------------------


def test_payment_without_appointment_is_held_in_the_general_bucket(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "40.00")
    assert entries(ledger) == [("PAY1", None, "40.00")]
    assert feed(ledger)[0][3] == "100.00"  # not applied by itself


def test_payment_to_an_appointment_allocates_up_to_the_balance_due(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "130.00", "A1")
    assert feed(ledger)[0] == ("A1", "100.00", "100.00", "0.00", "30.00", "30.00")
    assert entries(ledger) == [("PAY1", "A1", "30.00")]
    assert dash(ledger) == {
        "paid": "130.00",
        "allocated": "100.00",
        "unallocated": "30.00",
        "responsibility": "100.00",
        "statement": "0.00",
        "total": "-30.00",
    }


def test_payment_to_an_appointment_without_charges_is_held_there(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "20.00", "A2")
    assert feed(ledger)[1][4] == "20.00"


def test_payment_for_a_new_patient_makes_it_known(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "20.00", pid="P9")
    assert "P9" in pl.patients(ledger)
    assert dash(ledger, "P9")["unallocated"] == "20.00"
    assert feed(ledger, "P9") == []


def test_payment_to_another_patients_appointment_is_refused(booked: pl.Ledger) -> None:
    with pytest.raises(pl.PatientMismatchError, match="'B1'.*'P2'"):
        pay(booked, "PAY1", "20.00", "B1", pid="P1")


def test_payment_to_unknown_appointment_is_refused(booked: pl.Ledger) -> None:
    with pytest.raises(pl.UnknownIdError, match="'A9'"):
        pay(booked, "PAY1", "20.00", "A9")


def test_post_payment_refuses_a_refund(booked: pl.Ledger) -> None:
    r = pl.Payment("R1", "P1", usd("-5"), D(2025, 1, 1), type=pl.PaymentType.REFUND)
    with pytest.raises(pl.InvalidInputError, match="refund"):
        pl.post_payment(booked, r)


def test_post_payment_refuses_another_currency(booked: pl.Ledger) -> None:
    p = pl.Payment("PAY1", "P1", Money("5", "EUR"), D(2025, 1, 1))
    with pytest.raises(pl.CurrencyMismatchError, match="EUR.*USD"):
        pl.post_payment(booked, p)


@pytest.mark.parametrize("bad", [None, "PAY1", 5, pl.Charge("C1", "A1", usd("1"))])
def test_post_payment_refuses_what_is_not_a_payment(booked: pl.Ledger, bad: object) -> None:
    with pytest.raises(pl.InvalidInputError):
        pl.post_payment(booked, bad)  # type: ignore[arg-type]


def test_commands_refuse_what_is_not_a_ledger() -> None:
    with pytest.raises(pl.InvalidInputError):
        pl.post_payment(None, pl.Payment("P", "P1", usd("1"), D(2025, 1, 1)))  # type: ignore[arg-type]


# -- idempotency --------------------------------------------------------------------------------


def test_resubmitting_equal_content_returns_the_ledger_unchanged(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "20.00", "A1")
    assert pay(ledger, "PAY1", "20.00", "A1") is ledger
    assert (
        pl.post_payment(
            ledger, pl.Payment("PAY1", "P1", usd("20"), D(2025, 1, 22), appointment_id="A1")
        )
        is ledger
    )
    assert appointment(ledger, "A1", day=D(2025, 1, 22)) is ledger
    assert charge(ledger, "C1", "A1", "100.00") is ledger
    ledger = pay(ledger, "PAY2", "50.00")
    ledger = refund(ledger, "R1", "-10.00")
    assert refund(ledger, "R1", "-10.00") is ledger


@pytest.mark.parametrize(
    "resubmit",
    [
        lambda led: appointment(led, "A1", day=D(2025, 1, 23)),
        lambda led: appointment(led, "A1", "P2", D(2025, 1, 22)),
        lambda led: charge(led, "C1", "A1", "100.01"),
        lambda led: charge(led, "C1", "A2", "100.00"),
        lambda led: pay(led, "PAY1", "20.01", "A1"),
        lambda led: pay(led, "PAY1", "20.00"),
        lambda led: refund(led, "PAY1", "-20.00", "A1"),
    ],
)
def test_same_id_with_different_content_is_a_duplicate(booked: pl.Ledger, resubmit: object) -> None:
    ledger = pay(booked, "PAY1", "20.00", "A1")
    with pytest.raises(pl.DuplicateIdError):
        resubmit(ledger)  # type: ignore[operator]


def test_ids_are_unique_per_kind(booked: pl.Ledger) -> None:
    # An appointment, a charge and a payment may share an id string.
    ledger = appointment(booked, "X1")
    ledger = charge(ledger, "X1", "X1", "5.00")
    ledger = pay(ledger, "X1", "5.00", "X1")
    assert ("X1", "5.00", "5.00", "0.00", "0.00", "0.00") in feed(ledger)


# -- refund -----------------------------------------------------------------------------------


def test_refund_draws_on_the_general_bucket(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "200.00")
    ledger = refund(ledger, "R1", "-150.00")
    assert dash(ledger)["unallocated"] == "50.00"
    assert dash(ledger)["paid"] == "50.00"
    assert entries(ledger) == [("PAY1", None, "200.00"), ("R1", None, "-150.00")]


def test_refund_draws_on_an_appointment_bucket(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "20.00", "A2")
    ledger = refund(ledger, "R1", "-20.00", "A2")
    assert feed(ledger)[1][4] == "0.00"
    # An appointment's refunded money is not auto-applied when charges come.
    ledger = charge(ledger, "C2", "A2", "50.00")
    assert feed(ledger)[1][2:4] == ("0.00", "50.00")
    assert_invariants(ledger)


def test_refund_larger_than_the_bucket_is_refused(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "20.00")
    ledger = pay(ledger, "PAY2", "50.00", "A2")
    with pytest.raises(pl.InsufficientUnallocatedError, match=r"-20\.01 USD.*20\.00 USD"):
        refund(ledger, "R1", "-20.01")
    # The appointment bucket's money does not count for a general refund, nor the reverse.
    with pytest.raises(pl.InsufficientUnallocatedError):
        refund(ledger, "R1", "-50.01", "A2")


def test_an_open_refund_cannot_be_spent_twice(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "100.00")
    ledger = refund(ledger, "R1", "-100.00")
    with pytest.raises(pl.InsufficientUnallocatedError):
        refund(ledger, "R2", "-0.01")
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.apply_unallocated(ledger, "P1", "A1", usd("0.01"), on=D(2025, 2, 1))
    assert pl.apply_unallocated(ledger, "P1", "A1", on=D(2025, 2, 1)) is ledger


def test_refund_for_unknown_patient_or_appointment(booked: pl.Ledger) -> None:
    with pytest.raises(pl.UnknownIdError, match="'P9'"):
        refund(booked, "R1", "-1.00", pid="P9")
    with pytest.raises(pl.UnknownIdError, match="'A9'"):
        refund(booked, "R1", "-1.00", "A9")
    with pytest.raises(pl.PatientMismatchError):
        refund(booked, "R1", "-1.00", "B1")


def test_refund_needs_the_refund_type(booked: pl.Ledger) -> None:
    with pytest.raises(pl.InvalidInputError, match="REFUND"):
        pl.refund(booked, pl.Payment("R1", "P1", usd("5"), D(2025, 1, 1)))


# -- apply_unallocated ------------------------------------------------------------------------


def test_apply_unallocated_uses_the_oldest_entries_first(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY2", "60.00", day=D(2025, 1, 9))
    ledger = pay(ledger, "PAY1", "60.00", day=D(2025, 1, 8))
    ledger = pl.apply_unallocated(ledger, "P1", "A1", usd("80.00"), on=D(2025, 1, 30))
    assert entries(ledger) == [("PAY2", None, "40.00")]
    assert feed(ledger)[0][2:4] == ("80.00", "20.00")


def test_apply_unallocated_none_applies_as_much_as_both_allow(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "300.00")
    ledger = pl.apply_unallocated(ledger, "P1", "A1", on=D(2025, 1, 30))
    assert feed(ledger)[0][3] == "0.00"
    assert dash(ledger)["unallocated"] == "200.00"
    again = pl.apply_unallocated(ledger, "P1", "A1", on=D(2025, 1, 30))
    assert again is ledger


def test_apply_unallocated_limits(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "300.00")
    with pytest.raises(pl.OverApplicationError, match=r"100\.01 USD.*'A1'.*100\.00 USD"):
        pl.apply_unallocated(ledger, "P1", "A1", usd("100.01"), on=D(2025, 1, 30))
    small = pay(booked, "PAY1", "30.00")
    with pytest.raises(pl.InsufficientUnallocatedError, match=r"30\.00 USD"):
        pl.apply_unallocated(small, "P1", "A1", usd("30.01"), on=D(2025, 1, 30))
    with pytest.raises(pl.InvalidAmountError):
        pl.apply_unallocated(small, "P1", "A1", usd("0"), on=D(2025, 1, 30))
    with pytest.raises(pl.InvalidAmountError):
        pl.apply_unallocated(small, "P1", "A1", usd("-1"), on=D(2025, 1, 30))
    with pytest.raises(pl.PatientMismatchError):
        pl.apply_unallocated(small, "P1", "B1", on=D(2025, 1, 30))
    with pytest.raises(pl.UnknownIdError):
        pl.apply_unallocated(small, "P9", "A1", on=D(2025, 1, 30))
    with pytest.raises(pl.InvalidInputError):
        pl.apply_unallocated(small, "P1", "A1", on="2025-01-30")  # type: ignore[arg-type]


def test_apply_unallocated_ignores_the_appointment_buckets(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "50.00", "A2")
    assert pl.apply_unallocated(ledger, "P1", "A1", on=D(2025, 1, 30)) is ledger


# -- cancel_offsetting ------------------------------------------------------------------------


def test_cancel_offsetting_splits_the_last_positive_entry(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "50.00", day=D(2025, 1, 1))
    ledger = pay(ledger, "PAY2", "80.00", day=D(2025, 1, 2))
    ledger = refund(ledger, "R1", "-70.00")
    before = dash(ledger)
    ledger = pl.cancel_offsetting(ledger, "P1", on=D(2025, 2, 1))
    assert entries(ledger) == [("PAY2", None, "60.00")]
    assert dash(ledger) == before


def test_cancel_offsetting_works_per_bucket(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "50.00")
    ledger = pay(ledger, "PAY2", "30.00", "A2")
    ledger = refund(ledger, "R1", "-30.00", "A2")
    ledger = pl.cancel_offsetting(ledger, "P1", on=D(2025, 2, 1))
    assert entries(ledger) == [("PAY1", None, "50.00")]


def test_cancel_offsetting_with_nothing_to_cancel_is_unchanged(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "50.00")
    assert pl.cancel_offsetting(ledger, "P1", on=D(2025, 2, 1)) is ledger


def test_cancel_offsetting_by_ids(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "50.00")
    ledger = pay(ledger, "PAY2", "20.00")
    ledger = refund(ledger, "R1", "-20.00")
    e1, e2, r1 = (e.id for e in pl.unallocated_entries(ledger, "P1"))
    with pytest.raises(pl.NotOffsettingError, match="-20.00 USD|30.00 USD"):
        pl.cancel_offsetting(ledger, "P1", [e1, r1], on=D(2025, 2, 1))
    done = pl.cancel_offsetting(ledger, "P1", (e2, r1), on=D(2025, 2, 1))
    assert entries(done) == [("PAY1", None, "50.00")]
    with pytest.raises(pl.NotOffsettingError, match="not open"):
        pl.cancel_offsetting(done, "P1", [e2, r1], on=D(2025, 2, 1))


def test_cancel_offsetting_by_ids_refusals(booked: pl.Ledger) -> None:
    ledger = pay(booked, "PAY1", "20.00")
    ledger = pay(ledger, "PAY2", "20.00", "A2")
    ledger = refund(ledger, "R1", "-20.00")
    ledger = pay(ledger, "PAY3", "20.00", "B1", pid="P2")
    ledger = refund(ledger, "R3", "-20.00", "B1", pid="P2")
    general, appt, refund_entry = (e.id for e in pl.unallocated_entries(ledger, "P1"))
    other, _ = (e.id for e in pl.unallocated_entries(ledger, "P2"))
    on = D(2025, 2, 1)
    with pytest.raises(pl.NotOffsettingError, match="buckets"):
        pl.cancel_offsetting(ledger, "P1", [appt, refund_entry], on=on)
    with pytest.raises(pl.NotOffsettingError, match="'P2'"):
        pl.cancel_offsetting(ledger, "P1", [other, refund_entry], on=on)
    with pytest.raises(pl.UnknownIdError, match="'E999'"):
        pl.cancel_offsetting(ledger, "P1", [general, "E999"], on=on)
    with pytest.raises(pl.InvalidInputError):
        pl.cancel_offsetting(ledger, "P1", general, on=on)
    with pytest.raises(pl.InvalidInputError):
        pl.cancel_offsetting(ledger, "P1", [], on=on)
    with pytest.raises(pl.InvalidInputError):
        pl.cancel_offsetting(ledger, "P1", [general, general], on=on)
    with pytest.raises(pl.UnknownIdError):
        pl.cancel_offsetting(ledger, "P9", on=on)


def test_an_application_that_ends_inside_the_first_of_three_entries(booked: pl.Ledger) -> None:
    ledger = booked
    for n in range(3):
        ledger = pay(ledger, f"PAY{n}", "40.00", day=D(2025, 1, 1 + n))
    ledger = pl.apply_unallocated(ledger, "P1", "A1", usd("30.00"), on=D(2025, 2, 1))
    [event] = ledger.events[-1:]
    assert event.applied == (("E1", "A1", 3000),)  # type: ignore[union-attr]
    assert entries(ledger) == [
        ("PAY0", None, "10.00"),
        ("PAY1", None, "40.00"),
        ("PAY2", None, "40.00"),
    ]
    assert_invariants(ledger)


def test_same_day_entries_stay_in_posting_order_past_nine(booked: pl.Ledger) -> None:
    ledger = booked
    for n in range(12):
        ledger = pay(ledger, f"PAY{n:02d}", "1.00", day=D(2025, 1, 5))
    assert [e[0] for e in entries(ledger)] == [f"PAY{n:02d}" for n in range(12)]
    ledger = pl.apply_unallocated(ledger, "P1", "A1", usd("11.00"), on=D(2025, 1, 6))
    assert entries(ledger) == [("PAY11", None, "1.00")]


def test_apply_event_applies_an_event_and_refuses_a_second_opening() -> None:
    empty = pl.Ledger.empty("USD")
    visit = pl.Appointment("A1", "P1", D(2025, 1, 2))
    assert pl.apply_event(empty, pl.AppointmentAdded(visit)) == pl.add_appointment(empty, visit)
    with pytest.raises(pl.InvalidInputError, match="other than LedgerOpened, got LedgerOpened$"):
        pl.apply_event(empty, pl.LedgerOpened("EUR"))
    with pytest.raises(pl.InvalidInputError, match="other than LedgerOpened, got Appointment$"):
        pl.apply_event(empty, visit)  # type: ignore[arg-type] # a value, not an event
    with pytest.raises(pl.InvalidInputError, match="expected a Ledger"):
        pl.apply_event(None, pl.AppointmentAdded(visit))  # type: ignore[arg-type]
