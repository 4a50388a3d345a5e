"""patient_ledger.testing, used as a user's test suite would use it."""

from __future__ import annotations

import contextlib
import datetime
import functools
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger import testing
from patient_ledger.events import AppointmentAdded, PaymentPosted
from patient_ledger.testing import (
    InvariantError,
    Operation,
    appointments,
    assert_invariants,
    charges,
    check_invariants,
    command_sequences,
    ledgers,
    operations,
    payments,
    refunds,
)
from tests.helpers import D, appointment, charge, pay


def minor(money: Money) -> int:
    return int(money.amount * 100)


def reversed_amount(event: pl.PaymentReversed) -> int:
    return sum(a for _, a in event.allocations) + sum(a for _, a in event.entries)


def features(ledger: pl.Ledger, smallest_first: set[int], filtered: set[int]) -> set[str]:
    """What one ledger shows of the workflow (``smallest_first`` and ``filtered``: the ids of
    the events that smallest-first and provider-filtered ``auto_allocate`` calls recorded)."""
    rows = [r for p in pl.patients(ledger) for r in pl.claims_feed(ledger, p)]
    entries = [e for p in pl.patients(ledger) for e in pl.unallocated_entries(ledger, p)]
    events = list(ledger.events)
    posted = {e.payment.id: e.payment for e in events if isinstance(e, PaymentPosted)}
    owner = {
        e.appointment.id: e.appointment.patient_id
        for e in events
        if isinstance(e, AppointmentAdded)
    }
    lines = [i for r in rows for i in pl.line_items(ledger, r.appointment_id)]
    found = {
        "several patients": len(pl.patients(ledger)) > 1,
        "appointment without charges": any(not r.patient_responsibility.amount for r in rows),
        "partly paid": any(0 < r.paid.amount < r.patient_responsibility.amount for r in rows),
        "held in general": any(e.appointment_id is None and e.amount.amount > 0 for e in entries),
        "held on appointment": any(e.appointment_id and e.amount.amount > 0 for e in entries),
        "open refund": any(e.amount.amount < 0 for e in entries),
        "cancelled": any(isinstance(e, pl.EntriesCancelled) for e in events),
        # SPEC §10
        "appointment with a provider": any(
            isinstance(e, AppointmentAdded) and e.appointment.provider for e in events
        ),
        "appointment of two lines": any(
            len(pl.line_items(ledger, r.appointment_id)) > 1 for r in rows
        ),
        "line paid by a payment naming it": any(
            a.charge_id == payment.charge_id
            for payment in posted.values()
            if payment.charge_id
            for a in pl.allocations(ledger, payment.id)
        ),
        "payment naming a line but no appointment": any(
            p.charge_id and p.appointment_id is None for p in posted.values()
        ),
        "apply_unallocated naming a line": any(
            isinstance(e, pl.UnallocatedApplied) and e.charge_id for e in events
        ),
        "unapply naming a line": any(
            isinstance(e, pl.AllocationUnapplied) and e.charge_id for e in events
        ),
        "partial reversal": any(
            isinstance(e, pl.PaymentReversed)
            and e.payment_id in posted
            and reversed_amount(e) < minor(posted[e.payment_id].amount)
            for e in events
        ),
        "payment partly reversed, the rest still placed": any(
            isinstance(e, pl.PaymentReversed)
            and e.payment_id in posted
            and pl.allocations(ledger, e.payment_id)
            for e in events
        ),
        "cancelled appointment": any(isinstance(e, pl.AppointmentCancelled) for e in events),
        "cancelled appointment that held a deposit": any(
            isinstance(e, pl.AppointmentCancelled)
            and any(
                r.appointment_id == e.appointment_id and r.appointment_unallocated.amount > 0
                for r in pl.claims_feed(ledger.at(n), owner[e.appointment_id])
            )
            for n, e in enumerate(events)
        ),
        "smallest-first allocation": any(id(e) in smallest_first for e in events),
        "provider-filtered allocation": any(id(e) in filtered for e in events),
        "line with a balance due": any(i.balance_due.amount for i in lines),
    }
    return {name for name, seen in found.items() if seen}


@contextlib.contextmanager
def spying_on_auto_allocate() -> Iterator[tuple[set[int], set[int]]]:
    """Record the events of the kit's ``auto_allocate`` calls that placed money, by policy.

    Events carry no policy, so the calls are watched: the ids of the events that
    smallest-first calls and provider-filtered calls recorded (kept alive while watched, so an
    id is never reused)."""
    smallest_first: set[int] = set()
    filtered: set[int] = set()
    kept: list[object] = []
    real = testing.auto_allocate

    def spy(ledger: pl.Ledger, patient_id: str, **kwargs: Any) -> pl.Ledger:
        after = real(ledger, patient_id, **kwargs)
        if after is not ledger:
            event = after.events[-1]
            kept.append(event)
            if kwargs.get("order") is pl.AllocationOrder.SMALLEST_FIRST:
                smallest_first.add(id(event))
            if kwargs.get("provider") is not None:
                filtered.add(id(event))
        return after

    with mock.patch.object(testing, "auto_allocate", spy):
        yield smallest_first, filtered


@functools.cache
def generated_ledgers() -> Counter[str]:
    """400 generated ledgers, each checked against every invariant: what they covered."""
    seen: Counter[str] = Counter()

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ledgers())
    def check(ledger: pl.Ledger) -> None:
        assert check_invariants(ledger) == ()
        seen["ledgers"] += 1
        seen.update(features(ledger, smallest_first, filtered))

    with spying_on_auto_allocate() as (smallest_first, filtered):
        check()
    return seen


def test_generated_ledgers_keep_every_invariant() -> None:
    assert generated_ledgers()["ledgers"] == 400


LEDGER_FEATURES = (
    "several patients",
    "appointment without charges",
    "partly paid",
    "held in general",
    "held on appointment",
    "open refund",
    "cancelled",
    "appointment with a provider",
    "appointment of two lines",
    "line paid by a payment naming it",
    "payment naming a line but no appointment",
    "apply_unallocated naming a line",
    "unapply naming a line",
    "partial reversal",
    "payment partly reversed, the rest still placed",
    "cancelled appointment",
    "cancelled appointment that held a deposit",
    "smallest-first allocation",
    "provider-filtered allocation",
)


@pytest.mark.parametrize("feature", LEDGER_FEATURES)
def test_generated_ledgers_are_not_trivial(feature: str) -> None:
    """Of the 400 generated ledgers, at least 10 show each feature (8 random runs of this
    measure found 27 or more of each)."""
    seen = generated_ledgers()
    assert seen[feature] >= 10, (feature, dict(seen))


def kinds(op: Operation) -> set[str]:
    """The line-level kinds of command an operation is (SPEC §10)."""
    kw, first = dict(op.kwargs), op.args[0] if op.args else None
    found = {
        "payment naming a line": op.command is pl.post_payment and first.charge_id is not None,
        "payment naming a line but no appointment": op.command is pl.post_payment
        and first.charge_id is not None
        and first.appointment_id is None,
        "appointment with a provider": op.command is pl.add_appointment
        and first.provider is not None,
        "apply_unallocated naming a line": op.command is pl.apply_unallocated and "charge_id" in kw,
        "unapply naming a line": op.command is pl.unapply and "charge_id" in kw,
        "smallest-first allocation": op.command is pl.auto_allocate
        and kw["order"] is pl.AllocationOrder.SMALLEST_FIRST,
        "oldest-first allocation": op.command is pl.auto_allocate
        and kw["order"] is pl.AllocationOrder.OLDEST_FIRST,
        "provider-filtered allocation": op.command is pl.auto_allocate and "provider" in kw,
        "partial reversal": op.command is pl.reverse_payment and len(op.args) == 2,
        "cancelled appointment": op.command is pl.cancel_appointment,
    }
    return {kind for kind, hit in found.items() if hit}


def drawn_and_done(ops: list[Operation]) -> tuple[set[str], set[str]]:
    """Run a command sequence: the line-level kinds of command drawn, and those accepted with
    an effect (a command that returns its ledger unchanged did nothing)."""
    ledger, drawn, done = pl.Ledger.empty(), set(), set()
    for op in ops:
        drawn |= kinds(op)
        try:
            after = op(ledger)
        except pl.LedgerError:
            continue
        if after is not ledger:
            done |= kinds(op)
        ledger = after
    assert check_invariants(ledger) == ()
    return drawn, done


@functools.cache
def generated_operations() -> tuple[Counter[str], Counter[str]]:
    """200 examples of appointments booked (and billed) by ``command_sequences``, then 30 drawn
    ``operations()``: in how many each kind of command was drawn, and in how many it was
    accepted and changed the ledger."""
    drawn: Counter[str] = Counter()
    done: Counter[str] = Counter()

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(command_sequences(max_operations=0), st.lists(operations(), min_size=30, max_size=30))
    def check(booked: list[Operation], ops: list[Operation]) -> None:
        drawn["sequences"] += 1
        these, accepted = drawn_and_done(booked + ops)
        drawn.update(these)
        done.update(accepted)

    check()
    return drawn, done


SEQUENCE_KINDS = (
    "payment naming a line",
    "payment naming a line but no appointment",
    "appointment with a provider",
    "apply_unallocated naming a line",
    "unapply naming a line",
    "smallest-first allocation",
    "oldest-first allocation",
    "provider-filtered allocation",
    "partial reversal",
    "cancelled appointment",
)


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_operations_draw_line_level_commands(kind: str) -> None:
    drawn, _ = generated_operations()
    assert drawn["sequences"] == 200
    assert drawn[kind] >= 20, (kind, dict(drawn))


@pytest.mark.parametrize(
    "kind", ["payment naming a line", "appointment with a provider", "cancelled appointment"]
)
def test_operations_are_accepted_at_the_line_level(kind: str) -> None:
    """Random commands rarely line up a whole workflow (money held, then a line named: that is
    what ``ledgers()`` is for); these kinds need none, and are accepted in at least 10 of the
    200 examples."""
    _, done = generated_operations()
    assert done[kind] >= 10, (kind, dict(done))


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


def test_value_strategies_draw_providers_and_named_lines() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=200, database=None)
    @given(appointments(), payments())
    def check(appointment_: pl.Appointment, payment: pl.Payment) -> None:
        assert appointment_.provider in {None, "DR1", "DR2"}
        seen["provider"] += appointment_.provider is not None
        seen["named line"] += payment.charge_id is not None
        seen["no line"] += payment.charge_id is None

    check()
    assert min(seen["provider"], seen["named line"], seen["no line"]) >= 20, seen
