"""Property tests of SPEC §6 over generated command sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger.testing import (
    Operation,
    check_invariants,
    command_sequences,
    ledgers,
    money,
)


@given(command_sequences())
def test_invariants_hold_after_every_command(ops: list[Operation]) -> None:
    ledger = pl.Ledger.empty()
    history = [ledger]
    for op in ops:
        before = list(ledger.events)
        try:
            ledger = op(ledger)
        except pl.LedgerError as error:
            # A refusal names its rule and leaves the ledger as it was.
            assert isinstance(error.code, pl.ErrorCode)
            assert str(error)
            assert list(ledger.events) == before
            continue
        assert check_invariants(ledger) == ()
        history.append(ledger)
    # An earlier ledger value is never changed by a later command, and every prefix replays.
    for earlier in history:
        assert pl.replay(earlier.events) == earlier
        assert ledger.at(len(earlier.events)) == earlier


@given(ledgers())
def test_replay_of_any_ledger_is_equal(ledger: pl.Ledger) -> None:
    assert pl.replay(ledger.events) == ledger
    for pid in pl.patients(ledger):
        assert pl.dashboard(pl.replay(ledger.events), pid) == pl.dashboard(ledger, pid)


@given(ledgers(), st.data())
def test_resubmitting_any_journal_item_changes_nothing(
    ledger: pl.Ledger, data: st.DataObject
) -> None:
    submitted = [
        (command, value)
        for event in ledger.events
        for command, value in [
            (pl.add_appointment, getattr(event, "appointment", None)),
            (pl.add_charge, getattr(event, "charge", None)),
            (pl.post_payment, getattr(event, "payment", None)),
            (pl.refund, getattr(event, "payment", None)),
            (pl.adjust_charge, getattr(event, "adjustment", None)),
            (pl.transfer_credit, getattr(event, "transfer", None)),
        ]
        if value is not None
        and not (command is pl.post_payment and value.type is pl.PaymentType.REFUND)
        and not (command is pl.refund and value.type is not pl.PaymentType.REFUND)
    ]
    if submitted:
        command, value = data.draw(st.sampled_from(submitted))
        assert command(ledger, value) is ledger


@settings(max_examples=50)
@given(money(1, 10**6), money(1, 10**6))
def test_a_payment_and_its_refund_cancel_to_nothing(paid: object, back: object) -> None:
    import datetime

    from moneyed import Money

    assert isinstance(paid, Money)
    assert isinstance(back, Money)
    on = datetime.date(2025, 1, 1)
    ledger = pl.post_payment(pl.Ledger.empty(), pl.Payment("PAY1", "P1", paid, on))
    refund = pl.Payment("R1", "P1", -back, on, type=pl.PaymentType.REFUND)
    if back > paid:
        try:
            pl.refund(ledger, refund)
        except pl.InsufficientUnallocatedError:
            return
        raise AssertionError("a refund beyond the bucket was accepted")
    ledger = pl.cancel_offsetting(pl.refund(ledger, refund), "P1", on=on)
    dash = pl.dashboard(ledger, "P1")
    assert dash.total_paid == dash.unallocated == paid - back
    assert len(pl.unallocated_entries(ledger, "P1")) == (0 if paid == back else 1)
