"""SPEC §9: unapply, release_credit, adjust_charge, reverse_payment, transfer_credit,
auto_allocate, aging and ledger.at."""

from __future__ import annotations

import datetime

import pytest

import patient_ledger as pl
from patient_ledger.testing import assert_invariants
from tests.helpers import D, appointment, charge, dash, entries, feed, pay, refund, usd

ON = D(2025, 3, 1)


@pytest.fixture
def paid() -> pl.Ledger:
    """P1: A1 (1/22) $100 charge paid $60 by PAY1 then $40 by PAY2; A2 (2/5) no charges."""
    ledger = appointment(pl.Ledger.empty(), "A1", day=D(2025, 1, 22))
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = pay(ledger, "PAY1", "60.00", "A1", day=D(2025, 1, 22))
    ledger = pay(ledger, "PAY2", "40.00", "A1", day=D(2025, 1, 23))
    return appointment(ledger, "A2", day=D(2025, 2, 5))


def adjust(
    ledger: pl.Ledger,
    aid: str,
    cid: str,
    amount: str,
    kind: pl.AdjustmentType = pl.AdjustmentType.INSURANCE,
) -> pl.Ledger:
    return pl.adjust_charge(ledger, pl.Adjustment(aid, cid, usd(amount), ON, kind))


# -- unapply ----------------------------------------------------------------------------------


def test_unapply_takes_the_newest_allocations_first_into_the_general_bucket(
    paid: pl.Ledger,
) -> None:
    ledger = pl.unapply(paid, "A1", usd("50.00"), on=ON)
    assert feed(ledger)[0][1:4] == ("100.00", "50.00", "50.00")
    assert entries(ledger) == [("PAY1", None, "10.00"), ("PAY2", None, "40.00")]
    assert dash(ledger)["paid"] == "100.00"
    assert_invariants(ledger)


def test_unapply_none_takes_everything_and_is_unchanged_when_nothing_is_allocated(
    paid: pl.Ledger,
) -> None:
    ledger = pl.unapply(paid, "A1", on=ON)
    assert feed(ledger)[0][2] == "0.00"
    assert dash(ledger)["unallocated"] == "100.00"
    assert pl.unapply(ledger, "A1", on=ON) is ledger


def test_unapply_more_than_allocated_is_refused(paid: pl.Ledger) -> None:
    with pytest.raises(pl.InsufficientAllocatedError, match=r"100\.01 USD.*100\.00 USD"):
        pl.unapply(paid, "A1", usd("100.01"), on=ON)
    with pytest.raises(pl.UnknownIdError):
        pl.unapply(paid, "A9", on=ON)


def test_unapply_reapplies_the_appointments_own_held_money(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "25.00", "A1")  # A1 is fully paid: held in A1's bucket
    assert feed(ledger)[0][4] == "25.00"
    ledger = pl.unapply(ledger, "A1", usd("40.00"), on=ON)
    # The held $25 is applied at once: due rises by 15 only.
    assert feed(ledger)[0][1:5] == ("100.00", "85.00", "15.00", "0.00")
    assert entries(ledger) == [("PAY2", None, "40.00")]
    assert_invariants(ledger)


# -- release_credit ---------------------------------------------------------------------------


def test_release_credit_moves_appointment_money_to_the_general_bucket(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "30.00", "A2", day=D(2025, 1, 2))
    ledger = pl.release_credit(ledger, "A2", usd("10.00"), on=ON)
    assert entries(ledger) == [("PAY3", "A2", "20.00"), ("PAY3", None, "10.00")]
    ledger = pl.release_credit(ledger, "A2", on=ON)
    assert entries(ledger) == [("PAY3", None, "10.00"), ("PAY3", None, "20.00")]
    assert pl.release_credit(ledger, "A2", on=ON) is ledger
    with pytest.raises(pl.InsufficientUnallocatedError):
        pl.release_credit(ledger, "A2", usd("0.01"), on=ON)
    assert_invariants(ledger)


# -- adjust_charge ----------------------------------------------------------------------------


def test_adjustment_lowering_below_allocations_creates_an_appointment_credit(
    paid: pl.Ledger,
) -> None:
    ledger = adjust(paid, "ADJ1", "C1", "-60.00")
    assert feed(ledger)[0][1:5] == ("40.00", "40.00", "0.00", "60.00")
    # The newest allocations went back first: all of PAY2's 40 and 20 of PAY1's.
    assert sorted(entries(ledger)) == [("PAY1", "A1", "20.00"), ("PAY2", "A1", "40.00")]
    assert dash(ledger)["total"] == "-60.00"
    # A later charge on the appointment uses the credit at once.
    ledger = charge(ledger, "C2", "A1", "35.00")
    assert feed(ledger)[0][1:5] == ("75.00", "75.00", "0.00", "25.00")
    assert_invariants(ledger)


def test_adjustment_raising_the_balance_auto_applies_the_bucket(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "30.00", "A1")
    ledger = adjust(ledger, "ADJ1", "C1", "20.00")
    assert feed(ledger)[0][1:5] == ("120.00", "120.00", "0.00", "10.00")


def test_adjustment_limits(paid: pl.Ledger) -> None:
    with pytest.raises(pl.OverApplicationError, match="below zero"):
        adjust(paid, "ADJ1", "C1", "-100.01")
    zero = adjust(paid, "ADJ1", "C1", "-100.00")
    assert feed(zero)[0][1] == "0.00"
    ledger = charge(paid, "C2", "A2", "50.00")
    with pytest.raises(pl.OverApplicationError, match="write-off"):
        adjust(ledger, "W1", "C1", "-0.01", pl.AdjustmentType.WRITE_OFF)
    written = adjust(ledger, "W1", "C2", "-50.00", pl.AdjustmentType.WRITE_OFF)
    assert feed(written)[1][3] == "0.00"
    with pytest.raises(pl.UnknownIdError):
        adjust(paid, "ADJ1", "C9", "-1.00")
    same = adjust(paid, "ADJ1", "C1", "-10.00")
    assert adjust(same, "ADJ1", "C1", "-10.00") is same
    with pytest.raises(pl.DuplicateIdError):
        adjust(same, "ADJ1", "C1", "-11.00")


# -- reverse_payment --------------------------------------------------------------------------


def test_reversing_a_payment_reopens_its_balances(paid: pl.Ledger) -> None:
    ledger = pl.reverse_payment(paid, "PAY1", on=ON, reason="NSF")
    assert feed(ledger)[0][1:4] == ("100.00", "40.00", "60.00")
    assert dash(ledger)["paid"] == "40.00"
    with pytest.raises(pl.AlreadyReversedError):
        pl.reverse_payment(ledger, "PAY1", on=ON)
    with pytest.raises(pl.UnknownIdError):
        pl.reverse_payment(ledger, "PAY9", on=ON)
    assert_invariants(ledger)


def test_reversing_a_payment_whose_appointment_also_holds_other_credit(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "30.00", "A1")  # held in A1's bucket
    ledger = pl.reverse_payment(ledger, "PAY2", on=ON)
    # PAY2's $40 leaves; A1's held $30 is applied to the reopened balance at once.
    assert feed(ledger)[0][1:5] == ("100.00", "90.00", "10.00", "0.00")
    assert dash(ledger)["paid"] == "90.00"
    assert_invariants(ledger)


def test_reversing_held_money_and_a_refund_that_holds_it(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "50.00")
    held = refund(ledger, "R1", "-50.00")
    with pytest.raises(pl.InsufficientUnallocatedError, match="open refund"):
        pl.reverse_payment(held, "PAY3", on=ON)
    # Reversing the refund puts its money back; then the payment can go.
    back = pl.reverse_payment(held, "R1", on=ON)
    assert dash(back)["unallocated"] == "50.00"
    assert dash(back)["paid"] == "150.00"
    gone = pl.reverse_payment(back, "PAY3", on=ON)
    assert dash(gone)["paid"] == "100.00"
    assert entries(gone) == []
    assert_invariants(gone)


def test_reversal_refused_once_money_was_cancelled(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "50.00")
    ledger = refund(ledger, "R1", "-50.00")
    ledger = pl.cancel_offsetting(ledger, "P1", on=ON)
    with pytest.raises(pl.InsufficientUnallocatedError, match="already left"):
        pl.reverse_payment(ledger, "PAY3", on=ON)
    with pytest.raises(pl.InsufficientUnallocatedError, match="already left"):
        pl.reverse_payment(ledger, "R1", on=ON)


def test_reversing_transferred_money_lowers_the_receivers_total_paid(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "50.00")
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("30.00"), ON))
    ledger = pl.reverse_payment(ledger, "PAY3", on=ON)
    assert dash(ledger)["paid"] == "100.00"
    assert dash(ledger, "KID")["paid"] == "0.00"
    assert_invariants(ledger)


def test_reversing_money_transferred_to_two_patients_reaches_both(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "50.00")
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("30.00"), ON))
    ledger = pl.transfer_credit(ledger, pl.Transfer("T2", "P1", "SPOUSE", usd("15.00"), ON))
    ledger = pl.reverse_payment(ledger, "PAY3", on=ON)
    assert (dash(ledger)["paid"], dash(ledger, "KID")["paid"]) == ("100.00", "0.00")
    assert dash(ledger, "SPOUSE")["paid"] == "0.00"
    assert entries(ledger, "KID") == entries(ledger, "SPOUSE") == []
    assert_invariants(ledger)


# -- transfer_credit --------------------------------------------------------------------------


def test_transfer_moves_general_money_and_total_paid(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "50.00")
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("20.00"), ON))
    assert "KID" in pl.patients(ledger)
    assert dash(ledger)["paid"] == "130.00"
    assert dash(ledger, "KID")["paid"] == "20.00"
    assert entries(ledger, "KID") == [("PAY3", None, "20.00")]
    same = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("20.00"), ON))
    assert same is ledger
    with pytest.raises(pl.DuplicateIdError):
        pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("21.00"), ON))
    assert_invariants(ledger)


def test_transfer_cannot_move_money_an_open_refund_holds(paid: pl.Ledger) -> None:
    ledger = pay(paid, "PAY3", "50.00")
    ledger = refund(ledger, "R1", "-30.00")
    with pytest.raises(pl.InsufficientUnallocatedError, match=r"20\.00 USD available"):
        pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("20.01"), ON))
    with pytest.raises(pl.UnknownIdError):
        pl.transfer_credit(ledger, pl.Transfer("T1", "NOBODY", "KID", usd("1.00"), ON))
    ok = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("20.00"), ON))
    assert dash(ok)["unallocated"] == "0.00"
    assert_invariants(ok)


# -- auto_allocate ----------------------------------------------------------------------------


def test_auto_allocate_pays_oldest_appointments_first_never_future_ones() -> None:
    ledger = pl.Ledger.empty()
    for aid, day, amount in [
        ("V2", D(2025, 2, 14), "45.00"),
        ("V1", D(2025, 1, 10), "30.00"),
        ("V3", D(2025, 4, 2), "60.00"),
    ]:
        ledger = appointment(ledger, aid, "LEO", day)
        ledger = charge(ledger, f"C-{aid}", aid, amount)
    ledger = pay(ledger, "PAY1", "100.00", pid="LEO")
    ledger = pl.auto_allocate(ledger, "LEO", on=D(2025, 3, 31))
    assert [r[3] for r in feed(ledger, "LEO")] == ["0.00", "0.00", "60.00"]
    assert dash(ledger, "LEO")["unallocated"] == "25.00"
    assert pl.auto_allocate(ledger, "LEO", on=D(2025, 3, 31)) is ledger
    later = pl.auto_allocate(ledger, "LEO", on=D(2025, 4, 2))
    assert [r[3] for r in feed(later, "LEO")] == ["0.00", "0.00", "35.00"]
    with pytest.raises(pl.UnknownIdError):
        pl.auto_allocate(ledger, "NOBODY", on=ON)


# -- aging and at -----------------------------------------------------------------------------


def test_aging_splits_the_balance_due_by_age() -> None:
    ledger = pl.Ledger.empty()
    for n, (day, amount) in enumerate(
        [
            (D(2025, 3, 31), "1.00"),
            (D(2025, 3, 1), "2.00"),
            (D(2025, 2, 28), "4.00"),
            (D(2025, 1, 30), "8.00"),
            (D(2025, 1, 29), "16.00"),
            (D(2025, 1, 1), "32.00"),
            (D(2025, 5, 1), "64.00"),
        ]
    ):
        ledger = appointment(ledger, f"A{n}", day=day)
        ledger = charge(ledger, f"C{n}", f"A{n}", amount)
    ledger = pay(ledger, "PAY1", "500.00")  # a credit is not netted against aging
    a = pl.aging(ledger, "P1", on=D(2025, 3, 31))
    # ages: 0, 30, 31, 60, 61, 89, -31 days
    assert (a.current, a.days_31_60, a.days_61_90, a.over_90) == (
        usd("67.00"),
        usd("12.00"),
        usd("48.00"),
        usd("0.00"),
    )
    old = pl.aging(ledger, "P1", on=D(2025, 7, 1))
    assert old.over_90 == usd("63.00")


def test_at_gives_the_ledger_after_n_events(paid: pl.Ledger) -> None:
    assert paid.at(len(paid.events)) == paid
    assert paid.at(1) == pl.Ledger.empty()
    third = paid.at(3)
    assert feed(third)[0][1:4] == ("100.00", "0.00", "100.00")
    for bad in (0, -1, len(paid.events) + 1, "2", True):
        with pytest.raises(pl.InvalidInputError):
            paid.at(bad)  # type: ignore[arg-type]


def test_unapply_leaving_one_cent_of_an_older_allocation(paid: pl.Ledger) -> None:
    # Newest first: all of PAY2's 40.00, then exactly one cent of PAY1's.
    ledger = pl.unapply(paid, "A1", usd("40.01"), on=ON)
    assert entries(ledger) == [("PAY1", None, "0.01"), ("PAY2", None, "40.00")]
    assert feed(ledger)[0][2] == "59.99"


def test_adjustment_returning_one_cent_beyond_the_newest_allocation(paid: pl.Ledger) -> None:
    ledger = adjust(paid, "ADJ1", "C1", "-40.01")
    assert sorted(entries(ledger)) == [("PAY1", "A1", "0.01"), ("PAY2", "A1", "40.00")]


def test_aging_boundaries_at_90_and_91_days() -> None:
    ledger = pl.Ledger.empty()
    for n, days in enumerate([90, 91]):
        ledger = appointment(ledger, f"A{n}", day=D(2025, 6, 30) - datetime.timedelta(days=days))
        ledger = charge(ledger, f"C{n}", f"A{n}", f"{n + 1}.00")
    a = pl.aging(ledger, "P1", on=D(2025, 6, 30))
    assert (a.days_61_90, a.over_90) == (usd("1.00"), usd("2.00"))


def test_one_cent_limits_of_none_amounts() -> None:
    """`amount=None` acts on exactly one cent too (a boundary several commands share)."""
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "0.01")
    ledger = pay(ledger, "PAY1", "0.01", "A1")
    assert feed(ledger)[0][2] == "0.01"
    unapplied = pl.unapply(ledger, "A1", on=ON)
    assert feed(unapplied)[0][2] == "0.00"
    assert entries(unapplied) == [("PAY1", None, "0.01")]
    applied = pl.apply_unallocated(unapplied, "P1", "A1", on=ON)
    assert feed(applied)[0][2] == "0.01"
    held = pay(ledger, "PAY2", "0.01", "A1")
    assert feed(held)[0][4] == "0.01"
    released = pl.release_credit(held, "A1", on=ON)
    assert entries(released) == [("PAY2", None, "0.01")]


def test_unapply_reapplies_a_single_held_cent() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "10.00", "A1")
    ledger = pay(ledger, "PAY2", "0.01", "A1")  # held: A1 is paid
    ledger = pl.unapply(ledger, "A1", usd("5.00"), on=ON)
    assert feed(ledger)[0][1:5] == ("10.00", "5.01", "4.99", "0.00")
    assert_invariants(ledger)


def test_unapplying_twice_takes_each_allocation_once(paid: pl.Ledger) -> None:
    once = pl.unapply(paid, "A1", usd("40.00"), on=ON)  # all of PAY2
    twice = pl.unapply(once, "A1", usd("60.00"), on=ON)  # then all of PAY1
    assert sorted(entries(twice)) == [("PAY1", None, "60.00"), ("PAY2", None, "40.00")]
    reversed_ = pl.reverse_payment(pl.unapply(paid, "A1", usd("30.00"), on=ON), "PAY2", on=ON)
    # PAY2 had 30 unapplied (held) and 10 still allocated: both go.
    assert feed(reversed_)[0][2] == "60.00"
    assert entries(reversed_) == []
    assert_invariants(twice)
    assert_invariants(reversed_)


def test_a_replayed_ledger_goes_on_like_the_original(paid: pl.Ledger) -> None:
    ledger = adjust(paid, "ADJ1", "C1", "-10.00")
    ledger = pay(ledger, "PAY3", "50.00")
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "KID", usd("5.00"), ON))
    again = pl.replay(ledger.events)

    def more(base: pl.Ledger) -> pl.Ledger:
        base = adjust(base, "ADJ1", "C1", "-10.00")  # resubmitted: unchanged
        base = pl.transfer_credit(base, pl.Transfer("T1", "P1", "KID", usd("5.00"), ON))
        base = adjust(base, "ADJ2", "C1", "5.00")
        return pay(base, "PAY4", "7.00")

    assert more(again) == more(ledger)
    assert pl.unallocated_entries(more(again), "P1") == pl.unallocated_entries(more(ledger), "P1")
    with pytest.raises(pl.DuplicateIdError):
        pl.transfer_credit(again, pl.Transfer("T1", "P1", "KID", usd("6.00"), ON))
    with pytest.raises(pl.DuplicateIdError):
        adjust(again, "ADJ1", "C1", "-11.00")


def test_the_reason_of_a_reversal_is_kept(paid: pl.Ledger) -> None:
    ledger = pl.reverse_payment(paid, "PAY1", on=ON, reason="NSF")
    assert ledger.events[-1].reason == "NSF"  # type: ignore[union-attr]


def test_auto_allocate_pays_a_single_cent() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1", day=D(2025, 1, 1))
    ledger = charge(ledger, "C1", "A1", "0.01")
    ledger = pay(ledger, "PAY1", "0.01")
    ledger = pl.auto_allocate(ledger, "P1", on=ON)
    assert feed(ledger)[0][3] == "0.00"


def test_adjustments_add_up_on_one_charge(paid: pl.Ledger) -> None:
    ledger = adjust(paid, "ADJ1", "C1", "-60.00")
    with pytest.raises(pl.OverApplicationError, match=r"\(40\.00 USD\) below zero"):
        adjust(ledger, "ADJ2", "C1", "-40.01")
    ledger = adjust(ledger, "ADJ2", "C1", "-40.00")
    assert feed(ledger)[0][1] == "0.00"
