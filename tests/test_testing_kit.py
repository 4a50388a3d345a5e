"""patient_ledger.testing, used as a user's test suite would use it."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger.events import PaymentPosted
from patient_ledger.testing import (
    InvariantError,
    appointments,
    assert_invariants,
    charges,
    check_invariants,
    ledgers,
    payments,
    refunds,
)
from tests.helpers import D, appointment, charge, pay

SEEN: Counter[str] = Counter()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_generated_ledgers_keep_every_invariant(ledger: pl.Ledger) -> None:
    assert check_invariants(ledger) == ()
    rows = [r for p in pl.patients(ledger) for r in pl.claims_feed(ledger, p)]
    entries = [e for p in pl.patients(ledger) for e in pl.unallocated_entries(ledger, p)]
    SEEN["ledgers"] += 1
    SEEN["several patients"] += len(pl.patients(ledger)) > 1
    SEEN["appointment without charges"] += any(not r.patient_responsibility.amount for r in rows)
    SEEN["partly paid"] += any(0 < r.paid.amount < r.patient_responsibility.amount for r in rows)
    SEEN["held in general"] += any(
        e.appointment_id is None and e.amount.amount > 0 for e in entries
    )
    SEEN["held on appointment"] += any(e.appointment_id and e.amount.amount > 0 for e in entries)
    SEEN["open refund"] += any(e.amount.amount < 0 for e in entries)
    SEEN["cancelled"] += any(isinstance(e, pl.EntriesCancelled) for e in ledger.events)


def test_generated_ledgers_are_not_trivial() -> None:
    """Runs after the test above (same module, in order): what its 200 ledgers covered."""
    if SEEN["ledgers"] < 200:
        pytest.skip("run together with test_generated_ledgers_keep_every_invariant")
    for feature in (
        "several patients",
        "appointment without charges",
        "partly paid",
        "held in general",
        "held on appointment",
        "open refund",
        "cancelled",
    ):
        assert SEEN[feature] >= 10, (feature, SEEN)


def corrupted() -> pl.Ledger:
    """A journal edited by hand: a payment 'allocated' beyond its appointment's charges."""
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1")
    events = list(ledger.events)
    posted = events[-1]
    assert isinstance(posted, PaymentPosted)
    events[-1] = PaymentPosted(payment=posted.payment, allocated=3000, entry_id=None)
    return pl.replay(events)


def test_check_invariants_finds_a_broken_ledger() -> None:
    violations = check_invariants(corrupted())
    assert {v.invariant for v in violations} >= {3}
    assert all(v.patient_id == "P1" for v in violations if v.invariant == 3)
    with pytest.raises(InvariantError) as caught:
        assert_invariants(corrupted())
    assert caught.value.violations == violations
    assert "invariant 3 (P1)" in str(caught.value)


def test_check_invariants_finds_money_created() -> None:
    ledger = pay(pl.Ledger.empty(), "PAY1", "30.00")
    [entry] = pl.unallocated_entries(ledger, "P1")
    # A hand-made "cancellation" that grows an open entry: $10 out of nothing.
    forged = pl.EntriesCancelled(patient_id="P1", parts=((entry.id, -1000),), on=D(2025, 2, 1))
    violations = check_invariants(pl.replay([*ledger.events, forged]))
    assert {v.invariant for v in violations} >= {1}
    assert any("unallocated 4000" in v.message for v in violations)


def test_assert_invariants_passes_quietly_on_a_good_ledger() -> None:
    ledger = pay(appointment(pl.Ledger.empty(), "A1", day=datetime.date(2025, 1, 1)), "X", "1.00")
    assert_invariants(ledger)


@given(appointments(), charges(appointment_ids=st.just("A0")), payments(), refunds())
def test_value_strategies_give_valid_values(
    appointment_: pl.Appointment, charge_: pl.Charge, payment: pl.Payment, refund_: pl.Payment
) -> None:
    assert payment.type is not pl.PaymentType.REFUND
    assert payment.amount.amount > 0 > refund_.amount.amount
    assert charge_.amount.amount >= 0
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A0", "P0", appointment_.date))
    ledger = pl.add_charge(ledger, charge_)
    general = pl.Payment(payment.id, payment.patient_id, payment.amount, payment.received_on)
    ledger = pl.post_payment(ledger, general)
    assert pl.dashboard(ledger, payment.patient_id).total_paid == payment.amount
    assert_invariants(ledger)
