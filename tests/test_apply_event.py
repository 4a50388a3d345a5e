"""apply_event on an event that does not fit the ledger: a clear InvalidInputError naming it —
never a KeyError, never a second value or entry with one id, never money made or lost — and the
ledger left as it was."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger.events import (
    EntriesCancelled,
    PaymentPosted,
    UnallocatedApplied,
)
from patient_ledger.testing import ledgers
from tests.helpers import appointment, charge, pay, tables, usd

D = datetime.date


def _last(ledger: pl.Ledger) -> pl.Event:
    event: pl.Event = ledger.events[-1]
    return event


def _refused(ledger: pl.Ledger, event: object, match: str) -> None:
    before = tables(ledger)
    with pytest.raises(pl.InvalidInputError, match=match) as raised:
        pl.apply_event(ledger, event)  # type: ignore[arg-type]
    assert raised.value.details["index"] == len(ledger.events)
    assert tables(ledger) == before


def test_a_payment_applied_twice_is_refused_naming_it() -> None:
    ledger = pay(appointment(pl.Ledger.empty(), "A1"), "PAY1", "50.00")
    _refused(ledger, _last(ledger), r"PaymentPosted of 'PAY1'.*already in the ledger")


def test_an_event_decided_on_another_ledger_never_makes_two_entries_with_one_id() -> None:
    # PAY2 was decided on a ledger whose next entry was E1; here E1 is taken.
    elsewhere = pay(pl.Ledger.empty(), "PAY2", "5.00")
    here = pay(pl.Ledger.empty(), "PAY1", "5.00")
    _refused(here, _last(elsewhere), r"entry 'E1' is already in the ledger")
    # An entry numbered beyond the ledger's next one keeps its number, and the next entry a
    # command names comes after it.
    far = pay(pay(pay(pl.Ledger.empty(), "PAY0", "1.00"), "PAY1", "1.00"), "PAY2", "5.00")
    applied = pl.apply_event(pl.Ledger.empty(), _last(far))  # opens E3
    after = pay(pay(applied, "PAY3", "1.00"), "PAY4", "1.00")
    ids = [entry.id for entry in pl.unallocated_entries(after, "P1")]
    assert ids == ["E3", "E4", "E5"]
    pl.assert_invariants(after)


def test_an_event_that_fits_then_its_command_is_a_resubmission() -> None:
    source = pay(pl.Ledger.empty(), "PAY1", "5.00")
    applied = pl.apply_event(pl.Ledger.empty(), _last(source))
    again = pl.post_payment(applied, pl.Payment("PAY1", "P1", usd("5.00"), D(2025, 1, 22)))
    assert again is applied
    assert applied == source
    pl.assert_invariants(applied)


def test_unknown_ids_are_named_not_leaked_as_key_errors() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1")
    event = PaymentPosted(
        payment=pl.Payment("PAY1", "P1", usd("5.00"), D(2025, 1, 22), appointment_id="A9"),
        allocated=0,
        entry_id="E1",
    )
    _refused(ledger, event, r"'A9', which is not in the ledger")


def test_money_that_is_not_where_the_event_says_is_refused() -> None:
    ledger = pay(appointment(pl.Ledger.empty(), "A1"), "PAY1", "5.00")  # E1 holds 5.00
    too_much = UnallocatedApplied(patient_id="P1", applied=(("E1", "A1", 900),), on=D(2025, 2, 1))
    _refused(ledger, too_much, r"entry 'E1' holds 5.00 USD: 9.00 USD cannot be taken from it")
    charged = charge(appointment(pl.Ledger.empty(), "A1"), "C1", "A1", "10.00")
    overpaid = PaymentPosted(
        payment=pl.Payment("PAY1", "P1", usd("50.00"), D(2025, 1, 22), appointment_id="A1"),
        allocated=5000,
        entry_id=None,
    )
    _refused(charged, overpaid, r"'A1' owes 10.00 USD on its lines, not the 50.00 USD placed there")
    closed = EntriesCancelled(patient_id="P1", parts=(("E9", 100),), on=D(2025, 2, 1))
    _refused(ledger, closed, r"'E9', which is not in the ledger")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(max_patients=2, max_steps=12), ledgers(max_patients=2, max_steps=12), st.data())
def test_any_event_of_one_ledger_on_another_fits_or_is_refused(
    source: pl.Ledger, target: pl.Ledger, data: st.DataObject
) -> None:
    event = data.draw(st.sampled_from(source.events[1:])) if len(source.events) > 1 else None
    if event is None:
        return
    before = tables(target)
    try:
        after = pl.apply_event(target, event)
    except pl.InvalidInputError:
        assert tables(target) == before
        return
    # It fitted: the money it moves was where it said, every id it made is new.
    assert pl.check_invariants(after) == ()


def test_a_refund_of_money_the_bucket_does_not_hold_is_refused() -> None:
    source = pl.refund(
        pay(pl.Ledger.empty(), "PAY1", "5.00"),
        pl.Payment("R1", "P1", usd("-5.00"), D(2025, 1, 30), type=pl.PaymentType.REFUND),
    )
    target = pay(pl.Ledger.empty(), "PAY1", "1.00")
    _refused(
        target, _last(source), r"RefundPosted of 'R1'.*takes 5.00 USD, more than its bucket holds"
    )


def test_money_for_another_patients_appointment_is_refused() -> None:
    # Decided where A15 was P1's; here A15 is P0's: P1's payment may not land on it.
    source = pay(appointment(pl.Ledger.empty(), "A15", pid="P1"), "PAY2", "0.01", "A15", pid="P1")
    target = appointment(pl.Ledger.empty(), "A15", pid="P0")
    _refused(target, _last(source), r"appointment 'A15' is not patient 'P1''s")
    released = pl.release_credit(source, "A15", on=D(2025, 2, 1))
    moved = pay(appointment(pl.Ledger.empty(), "A15", pid="P1"), "PAY9", "0.01", pid="P1")
    _refused(moved, _last(released), r"entry 'E1' is not in patient 'P1''s appointment 'A15'")


def test_an_event_carrying_no_value_object_is_refused_on_construction() -> None:
    for build, field in (
        (lambda: PaymentPosted(payment=None, allocated=0, entry_id=None), "payment"),
        (lambda: pl.ChargeAdded(charge=object()), "charge"),
        (lambda: pl.ChargeAdjusted(adjustment=None), "adjustment"),
    ):
        with pytest.raises(pl.InvalidInputError, match=f"an event's {field} must be a "):
            build()  # type: ignore[no-untyped-call]
