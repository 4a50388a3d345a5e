"""Snapshots (patient_ledger.persist.snapshot): a ledger's state as plain data and back.

A decoded snapshot must be the very ledger it was taken from — same tables, same views, equal
journal — and must go on exactly as the original would: every command after it gives the same
ledger as on the original. Anything that is not a snapshot of this format is refused with a
SnapshotError, never half-decoded.
"""

from __future__ import annotations

import datetime
import gc
from collections.abc import Sequence

import attrs
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger import _sorted
from patient_ledger._stored import value_of
from patient_ledger.errors import SnapshotError
from patient_ledger.invariants import check_invariants
from patient_ledger.persist import snapshot
from patient_ledger.state import state_of
from patient_ledger.testing import ledgers
from tests.helpers import appointment, charge, pay, tables

D = datetime.date


def _restored(ledger: pl.Ledger) -> pl.Ledger:
    return snapshot.decode(snapshot.encode(ledger), ledger.events)


class _Counted(Sequence[object]):
    """A journal that counts the events read (a store's lazy lines stand in this place)."""

    def __init__(self, events: Sequence[object]) -> None:
        self.events, self.reads = events, 0

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        self.reads += 1
        return self.events[index]


@settings(max_examples=60)
@given(ledgers(max_patients=3, max_steps=40))
def test_a_snapshot_decodes_to_the_same_tables_views_and_journal(ledger: pl.Ledger) -> None:
    restored = _restored(ledger)
    assert tables(restored) == tables(ledger)
    assert restored == ledger
    assert check_invariants(restored) == ()
    for patient_id in pl.patients(ledger):
        assert pl.dashboard(restored, patient_id) == pl.dashboard(ledger, patient_id)
        assert pl.claims_feed(restored, patient_id) == pl.claims_feed(ledger, patient_id)


@settings(max_examples=40)
@given(ledgers(max_patients=3, max_steps=30), st.data())
def test_a_restored_ledger_goes_on_as_the_original(ledger: pl.Ledger, data: st.DataObject) -> None:
    """Commands on the restored ledger give what they give on the original, refusals included."""
    restored = _restored(ledger)
    patients = sorted(pl.patients(ledger))
    patient = data.draw(st.sampled_from([*patients, "NEW"]))
    day = D(2025, 6, 1)
    steps = [
        lambda led: pl.add_appointment(led, pl.Appointment("SNAP-A", patient, day)),
        lambda led: pl.add_charge(led, pl.Charge("SNAP-C", "SNAP-A", Money("80.00", "USD"))),
        lambda led: pl.post_payment(
            led, pl.Payment("SNAP-P", patient, Money("95.00", "USD"), day, appointment_id="SNAP-A")
        ),
        lambda led: pl.post_payment(led, pl.Payment("SNAP-G", patient, Money("7.00", "USD"), day)),
    ]
    for step in steps:
        outcomes = []
        for start in (ledger, restored):
            try:
                outcomes.append(step(start))
            except pl.LedgerError as error:
                outcomes.append(type(error))
        assert outcomes[0] == outcomes[1]
        if isinstance(outcomes[0], pl.Ledger):
            ledger, restored = outcomes  # type: ignore[assignment]
            assert tables(restored) == tables(ledger)


def _one_patient(payments: int) -> pl.Ledger:
    ledger = pl.add_appointment(pl.Ledger.empty("USD"), pl.Appointment("A1", "P1", D(2025, 1, 2)))
    for i in range(payments):
        payment = pl.Payment(f"PAY{i}", "P1", Money("1.00", "USD"), D(2025, 1, 1 + i % 28))
        ledger = pl.post_payment(ledger, payment)
    return ledger


def test_big_sets_come_back_as_trees_that_keep_working() -> None:
    ledger = _one_patient(300)  # 300 open entries in one general bucket: a B-tree
    general = state_of(ledger).patients["P1"][1]
    assert _sorted.is_big(general)
    restored = _restored(ledger)
    assert _sorted.is_big(state_of(restored).patients["P1"][1])
    assert tables(restored) == tables(ledger)
    charged = pl.add_charge(restored, pl.Charge("C1", "A1", Money("250.00", "USD")))
    applied = pl.apply_unallocated(charged, "P1", "A1", on=D(2025, 2, 1))
    expected = pl.apply_unallocated(
        pl.add_charge(ledger, pl.Charge("C1", "A1", Money("250.00", "USD"))),
        "P1",
        "A1",
        on=D(2025, 2, 1),
    )
    assert tables(applied) == tables(expected)
    assert pl.dashboard(applied, "P1").unallocated == Money("50.00", "USD")


def test_the_journal_is_read_only_when_something_reads_it() -> None:
    ledger = _one_patient(50)
    events = _Counted(ledger.events)
    restored = snapshot.decode(snapshot.encode(ledger), events)  # type: ignore[arg-type]
    later = pl.post_payment(restored, pl.Payment("NEXT", "P1", Money("2.00", "USD"), D(2025, 3, 1)))
    assert pl.dashboard(later, "P1").total_paid == Money("52.00", "USD")
    assert events.reads == 0
    assert list(later.events)[:-1] == list(ledger.events)
    assert later.events[3] == ledger.events[3]
    assert len(later.events) == len(ledger.events) + 1


def test_value_objects_come_back_whole_and_frozen() -> None:
    """A restored table holds a record (fields only, never tracked by the collector); what
    hands a value out gives the value object, equal to the original, its Money frozen."""
    payment = pl.Payment(
        "P-X",
        "P1",
        Money("12.34", "USD"),
        D(2025, 1, 5),
        method=pl.PaymentMethod.CHECK,
        notes="n",
        reference="r",
    )
    restored_ledger = _restored(pl.post_payment(pl.Ledger.empty("USD"), payment))
    record = state_of(restored_ledger).payments["P-X"][0]
    assert not gc.is_tracked(record)
    assert record.minor_units == 1234
    assert record.method is pl.PaymentMethod.CHECK
    assert record.received_on == payment.received_on
    with pytest.raises(AttributeError):
        record.notes = "changed"  # type: ignore[misc]
    for value in (value_of(record, "USD"), pl.payment_status(restored_ledger, "P-X").payment):
        assert type(value) is pl.Payment
        assert value == payment
        assert value.minor_units == 1234
        with pytest.raises(AttributeError):
            value.amount.amount = 0  # type: ignore[misc] # a FrozenMoney, as the original's
    assert pl.post_payment(restored_ledger, payment) is restored_ledger  # a resubmission
    with pytest.raises(pl.DuplicateIdError, match=r"P-X.*Payment\(id='P-X'"):
        pl.post_payment(restored_ledger, attrs.evolve(payment, notes="other"))


def test_other_formats_and_damaged_data_are_refused() -> None:
    ledger = _one_patient(3)
    data = snapshot.encode(ledger)
    assert snapshot.events_of(data) == len(ledger.events)
    other = msgspec.msgpack.encode(("patient_ledger/state/0", msgspec.Raw(b"\x90")))
    bad = [b"", b"not msgpack", other, data[: len(data) // 2], data[:-1] + b"\x01"]
    for blob in bad:
        with pytest.raises(SnapshotError):
            snapshot.decode(blob, ledger.events)
    with pytest.raises(SnapshotError, match="stands for 5 events, not 4"):
        snapshot.decode(data, ledger.events[:4])
    tag, body = msgspec.msgpack.decode(data)
    body[0] = "XYZ"  # its currency
    with pytest.raises(SnapshotError, match="unknown currency 'XYZ'"):
        snapshot.decode(msgspec.msgpack.encode((tag, body)), ledger.events)


def test_a_set_that_grew_into_a_tree_and_shrank_equals_its_restored_tuple() -> None:
    """One patient owing on 70 appointments, all but four then paid: the set of those owing
    is still a B-tree in the ledger and a tuple once restored, and the two are equal."""
    ledger = pl.Ledger.empty("USD")
    for n in range(70):
        ledger = pl.add_appointment(ledger, pl.Appointment(f"A{n:02}", "P1", D(2025, 1, 2)))
        ledger = pl.add_charge(ledger, pl.Charge(f"C{n:02}", f"A{n:02}", Money("10", "USD")))
    for n in range(2, 68):
        payment = pl.Payment(f"PAY{n}", "P1", Money("10", "USD"), D(2025, 1, 3))
        ledger = pl.post_payment(ledger, attrs.evolve(payment, appointment_id=f"A{n:02}"))
    owing = state_of(ledger).patients["P1"][8]
    assert _sorted.is_big(owing)
    assert _sorted.size(owing) == 4
    restored = _restored(ledger)
    assert not _sorted.is_big(state_of(restored).patients["P1"][8])
    assert tables(restored) == tables(ledger)
    assert snapshot.holds(snapshot.encode(ledger), ledger)
    assert check_invariants(restored) == ()


def test_a_restored_ledger_leaves_the_collector_little_to_walk() -> None:
    """What a snapshot decodes to is mostly untracked (records, row tuples): a practice opened
    in a process holding much else does not make its full collections walk every value.
    (The ledger built by commands keeps its value objects and events: about 3 per event.)"""
    ledger = pl.Ledger.empty("USD")
    for n in range(400):
        aid = f"A{n}"
        ledger = appointment(ledger, aid, pid=f"P{n % 40}")
        ledger = charge(ledger, f"C{n}", aid, "80.00")
        ledger = pay(ledger, f"PAY{n}", "50.00", aid, pid=f"P{n % 40}")
        ledger = pay(ledger, f"G{n}", "5.00", pid=f"P{n % 40}")
    data = snapshot.encode(ledger)
    gc.collect()
    before = len(gc.get_objects())
    restored = snapshot.decode(data, ledger.events)
    gc.collect()  # untracks the row tuples that hold only untracked values (a row made
    gc.collect()  # before its parts: at the collection after)
    kept = len(gc.get_objects()) - before
    assert kept < 0.75 * len(ledger.events), kept  # the maps' nodes: 0.5 per event here
    assert pl.dashboard(restored, "P3") == pl.dashboard(ledger, "P3")


class _Day(datetime.date):
    """A date subclass, as test clocks make them."""


def test_a_date_subclass_is_snapshotted_as_its_day() -> None:
    ledger = pl.post_payment(
        pl.Ledger.empty("USD"), pl.Payment("P-1", "P1", Money("10.00", "USD"), _Day(2025, 1, 3))
    )
    restored = _restored(ledger)
    assert restored == ledger
    assert pl.payment_status(restored, "P-1").payment.received_on == D(2025, 1, 3)


def test_sums_beyond_what_a_snapshot_holds_are_refused_as_a_snapshot_error() -> None:
    most = Money("999999999999.999", "KWD")  # the maximum amount of a 3-decimal currency
    ledger = pl.Ledger.empty("KWD")
    for n in range(18_500):  # Total Paid past 2**64 minor units
        ledger = pl.post_payment(ledger, pl.Payment(f"P{n}", "P1", most, D(2025, 1, 3)))
    with pytest.raises(SnapshotError, match="cannot be snapshotted"):
        snapshot.encode(ledger)
