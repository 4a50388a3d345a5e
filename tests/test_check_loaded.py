"""The invariant check every journal load runs (``check_loaded``, from the rows) finds a broken
ledger exactly when the full check through the views does (``check_invariants``)."""

from __future__ import annotations

import datetime
from typing import Any

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.invariants import check_invariants, check_loaded
from patient_ledger.testing import ledgers

D = datetime.date(2025, 1, 2)


def _amounts(event: Any) -> list[tuple[str, int | None]]:
    """Where an event holds an amount: an int field, or the int of a part of a tuple field."""
    found: list[tuple[str, int | None]] = []
    for name, value in attrs.asdict(event, recurse=False).items():
        if isinstance(value, int) and not isinstance(value, bool):
            found.append((name, None))
        elif isinstance(value, tuple):
            found.extend((name, i) for i, part in enumerate(value) if isinstance(part, tuple))
    return found


def _forged(event: Any, where: tuple[str, int | None], delta: int) -> Any:
    """``event`` with one of its amounts changed by ``delta`` (a rehashed, forged journal)."""
    name, index = where
    value = getattr(event, name)
    if index is None:
        return attrs.evolve(event, **{name: value + delta})
    part = value[index]
    at = next(i for i, item in enumerate(part) if isinstance(item, int))
    changed = (*part[:at], part[at] + delta, *part[at + 1 :])
    return attrs.evolve(event, **{name: (*value[:index], changed, *value[index + 1 :])})


@settings(max_examples=150, deadline=None)
@given(ledgers(max_patients=3, max_steps=25), st.data())
def test_the_load_check_finds_what_the_full_check_finds(
    ledger: pl.Ledger, data: st.DataObject
) -> None:
    events = list(ledger.events)
    places = [(i, where) for i, event in enumerate(events) for where in _amounts(event)]
    assume(places)
    at, where = data.draw(st.sampled_from(places))
    delta = data.draw(st.sampled_from([-100, -1, 1, 7, 100]))
    try:
        events[at] = _forged(events[at], where, delta)  # (an amount of the wrong sign: refused)
        forged = pl.replay(events)
    except pl.LedgerError:
        return  # refused outright: nothing to check
    assert bool(check_loaded(forged)) == bool(check_invariants(forged))


def test_a_reversal_forged_to_take_back_a_negative_amount_is_refused() -> None:
    """Found by the test above: a reversal of -0.99 over-filled a line while its appointment's
    sums still held; the journal is refused, and a line over-filled is found from the rows."""
    ledger = pl.add_appointment(pl.Ledger.empty("USD"), pl.Appointment("A1", "P0", D))
    for charge_id in ("C7", "C10"):
        ledger = pl.add_charge(ledger, pl.Charge(charge_id, "A1", Money("0.01", "USD")))
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY9", "P0", Money("0.01", "USD"), D, charge_id="C7")
    )
    ledger = pl.reverse_payment(ledger, "PAY9", on=D)
    ledger = pl.add_charge(ledger, pl.Charge("C16", "A1", Money("0.98", "USD")))
    events = list(ledger.events)
    reversal = events[-2]
    with pytest.raises(pl.InvalidInputError, match="allocations must be parts whose amounts are"):
        events[-2] = attrs.evolve(reversal, allocations=(("A1", -99),))


@pytest.mark.parametrize("steps", [5, 25])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_sound_ledgers_pass_the_load_check(steps: int, data: st.DataObject) -> None:
    ledger = data.draw(ledgers(max_patients=3, max_steps=steps))
    assert check_loaded(ledger) == ()


def test_the_check_from_a_snapshot_finds_a_zero_move_after_it() -> None:
    """A forged tail event moving a zero amount: refused whether the journal is loaded whole or
    continued from a ledger before it (a store's snapshot) — now on construction, as a part of
    an event whose amount is not positive (a rehashed journal line holding one is refused at
    its line by both readers)."""
    ledger = pl.Ledger.empty("USD")
    ledger = pl.add_appointment(ledger, pl.Appointment("A1", "P1", D))
    ledger = pl.post_payment(ledger, pl.Payment("PAY1", "P1", Money("50", "USD"), D))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", Money("30", "USD")))
    ledger = pl.apply_unallocated(ledger, "P1", "A1", on=D)
    applied = ledger.events[-1]
    with pytest.raises(pl.InvalidInputError, match="applied must be parts whose amounts are"):
        attrs.evolve(applied, applied=((*applied.applied[0][:2], 0), *applied.applied))
