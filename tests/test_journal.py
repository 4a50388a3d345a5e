"""The journal: an append-only Sequence of events, and replay."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import patient_ledger as pl
from patient_ledger._log import EventLog
from patient_ledger.persist import journal
from tests.helpers import D, appointment, charge, entries, pay, usd


def build(n: int) -> pl.Ledger:
    ledger = pl.Ledger.empty()
    for i in range(n):
        ledger = pay(ledger, f"PAY{i}", "1.00", pid=f"P{i % 7}")
    return ledger


@pytest.mark.parametrize("n", [0, 1, 30, 31, 32, 33, 100])
def test_events_are_a_sequence(n: int) -> None:
    ledger = build(n)
    events = ledger.events
    items = list(events)
    assert len(events) == n + 1 == len(items)
    assert events[0] == pl.LedgerOpened("USD")
    assert events[-1] == items[-1]
    assert [events[i] for i in range(len(events))] == items
    assert list(events[1:5]) == items[1:5]
    assert list(events[::-3]) == items[::-3]
    with pytest.raises(IndexError):
        events[n + 1]
    with pytest.raises(TypeError):
        events["x"]  # type: ignore[call-overload]
    assert events.index(items[-1]) == n
    assert items[-1] in events


def test_earlier_journals_never_change() -> None:
    ledger = build(40)
    snapshot = list(ledger.events)
    longer = pay(ledger, "X", "1.00")
    branch = pay(ledger, "Y", "2.00")
    assert list(ledger.events) == snapshot
    assert list(longer.events)[:-1] == snapshot
    assert list(branch.events)[:-1] == snapshot
    assert longer != branch


def test_replay_rebuilds_an_equal_ledger() -> None:
    ledger = appointment(build(50), "A1")
    ledger = charge(ledger, "C1", "A1", "3.00")
    again = pl.replay(ledger.events)
    assert again == ledger
    assert hash(again) == hash(ledger)
    assert pl.replay(list(ledger.events)) == ledger
    assert pl.dashboard(again, "P1") == pl.dashboard(ledger, "P1")
    assert pl.replay(iter(ledger.events)) == ledger


def test_replay_refuses_a_malformed_journal() -> None:
    events = list(build(3).events)
    with pytest.raises(pl.InvalidInputError, match="empty"):
        pl.replay([])
    with pytest.raises(pl.InvalidInputError, match="LedgerOpened"):
        pl.replay(events[1:])
    with pytest.raises(pl.InvalidInputError, match="LedgerOpened"):
        pl.replay([*events, pl.LedgerOpened("USD")])
    with pytest.raises(pl.InvalidInputError, match="not an event"):
        pl.replay([events[0], "payment"])


def test_ledgers_pickle_through_their_journal() -> None:
    ledger = build(40)
    assert pickle.loads(pickle.dumps(ledger.events)) == ledger.events
    assert EventLog.of(ledger.events) == ledger.events
    assert EventLog.of(ledger.events) != build(39).events
    assert (ledger.events == "x") is False


def test_event_repr_and_ledger_repr() -> None:
    ledger = pay(pl.Ledger.empty(), "PAY1", "1.00", day=D(2025, 1, 1))
    assert "PaymentPosted(payment=Payment(id='PAY1'" in repr(ledger.events[1])
    assert repr(ledger) == "<Ledger USD: 2 events, 1 patients, 0 appointments, 1 payments>"
    assert repr(ledger.events) == "<EventLog of 2 events>"


def test_different_journals_hash_apart() -> None:
    ledgers = [build(n) for n in (0, 1, 2, 31, 32, 33)]
    assert len({hash(ledger) for ledger in ledgers}) == len(ledgers)
    assert len({hash(ledger.events) for ledger in ledgers}) == len(ledgers)
    assert hash(pl.replay(ledgers[-1].events)) == hash(ledgers[-1])


def test_events_index_at_the_end_of_a_full_chunk() -> None:
    events = build(31).events  # 32 events: exactly one full chunk, empty tail
    assert len(events) == 32
    assert events[31] == list(events)[31]
    with pytest.raises(IndexError):
        events[32]
    with pytest.raises(IndexError):
        events[-33]


def test_same_length_journals_hash_apart_and_a_journal_equals_itself() -> None:
    one = pay(pl.Ledger.empty(), "A", "1.00")
    two = pay(pl.Ledger.empty(), "B", "1.00")
    assert hash(one.events) != hash(two.events)
    assert one.events == one.events
    assert one.events != two.events


def test_an_empty_event_log_hashes_and_compares() -> None:
    empty = EventLog()
    assert len(empty) == 0
    assert hash(empty) == hash(EventLog.of([]))
    assert empty == EventLog.of([])
    assert list(empty) == []


def test_extending_a_log_by_many_events_at_once() -> None:
    events = list(build(200).events)
    for cut in (0, 1, 31, 32, 33, 100):
        log = EventLog.of(events[:cut]).extended(events[cut:])
        assert list(log) == events
        assert len(log) == len(events)
        assert log[-1] == events[-1]
        assert log == build(200).events


def test_a_journal_written_before_line_items_loads_verifies_and_shows_the_same_figures() -> None:
    # Written by the release before SPEC §10 (git 17f47b9) from benchmarks/workload.py (527
    # events, every kind, charges and adjustments on shared appointments), with the views it
    # showed for every patient.
    data = Path(__file__).parent / "data"
    text = (data / "journal_before_lines.jsonl").read_text(encoding="utf-8")
    shown = json.loads((data / "journal_before_lines.views.json").read_text(encoding="utf-8"))
    journal.verify(text, head=shown["head"])
    ledger = journal.loads(text, head=shown["head"])
    assert journal.dumps(ledger) == text  # byte-identical: every line stays version 1
    assert {json.loads(line)["v"] for line in text.splitlines()} == {1}
    assert pl.check_invariants(ledger) == ()
    for pid, views in shown["views"].items():
        d = pl.dashboard(ledger, pid)
        assert {k: str(getattr(d, k).amount) for k in views["dashboard"]} == views["dashboard"]
        feed = [
            [
                r.appointment_id,
                r.date.isoformat(),
                str(r.patient_responsibility.amount),
                str(r.paid.amount),
                str(r.balance_due.amount),
                str(r.appointment_unallocated.amount),
                str(r.patient_unallocated.amount),
            ]
            for r in pl.claims_feed(ledger, pid)
        ]
        assert feed == views["feed"], pid
        entries = [
            [e.id, e.payment_id, e.appointment_id, str(e.amount.amount), e.received_on.isoformat()]
            for e in pl.unallocated_entries(ledger, pid)
        ]
        assert entries == views["entries"], pid
        for row in pl.claims_feed(ledger, pid):  # each appointment's lines add up to its row
            lines = pl.line_items(ledger, row.appointment_id)
            assert sum(line.paid.amount for line in lines) == row.paid.amount
            assert sum(line.balance_due.amount for line in lines) == row.balance_due.amount


def test_lines_with_a_shape_of_spec_10_are_version_2_and_the_others_stay_version_1() -> None:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd("10.00")))
    ledger = pl.add_charge(ledger, pl.Charge("C2", "A1", usd("10.00")))
    ledger = pl.post_payment(
        ledger, pl.Payment("P-LINE", "P1", usd("5.00"), D(2025, 1, 3), charge_id="C2")
    )
    ledger = pl.post_payment(ledger, pl.Payment("P-PLAIN", "P1", usd("5.00"), D(2025, 1, 3)))
    ledger = pl.add_appointment(ledger, pl.Appointment("A2", "P1", D(2025, 1, 9)))
    ledger = pl.cancel_appointment(ledger, "A2", on=D(2025, 1, 4))
    text = journal.dumps(ledger)
    records = [json.loads(line) for line in text.splitlines()]
    versions = {r["event"].get("payment", {}).get("id") or r["type"]: r["v"] for r in records}
    assert versions["P-LINE"] == 2
    assert versions["P-PLAIN"] == 1
    assert versions["AppointmentCancelled"] == 2
    assert versions["ChargeAdded"] == 1
    again = journal.loads(text)
    assert again == ledger
    assert journal.dumps(again) == text
    assert pl.line_items(again, "A1")[1].paid == usd("5.00")


def test_an_adjustment_written_before_line_items_moves_what_its_line_still_holds() -> None:
    # Before SPEC §10 an adjustment gave back the appointment's newest allocations (here 3.00
    # of PAY2, which sits on C2), not the adjusted line's. Replayed, they are taken from the
    # line first (PAY2's 5.00 on C1), and what C1 still holds beyond its new responsibility
    # (2.00 of PAY2, then 3.00 of PAY1, newest first) moves to C2, which has a balance due.
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "10.00")
    ledger = charge(ledger, "C2", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "5.00", "A1")  # all on C1
    ledger = pay(ledger, "PAY2", "10.00", "A1")  # 5.00 on C1, 5.00 on C2
    adjustment = pl.Adjustment("ADJ1", "C1", usd("-8.00"), D(2025, 1, 23))
    old = pl.ChargeAdjusted(adjustment=adjustment, returned=(("PAY2", 300, "E1"),))
    for after in (pl.apply_event(ledger, old), pl.replay((*ledger.events, old))):
        lines = {
            x.charge_id: (str(x.paid.amount), str(x.balance_due.amount))
            for x in pl.line_items(after, "A1")
        }
        assert lines == {"C1": ("2.00", "0.00"), "C2": ("10.00", "0.00")}
        placed = {
            p: [(a.charge_id, str(a.amount.amount)) for a in pl.allocations(after, p)]
            for p in ("PAY1", "PAY2")
        }
        assert placed == {
            "PAY1": [("C1", "2.00"), ("C2", "3.00")],
            "PAY2": [("C2", "7.00"), (None, "3.00")],
        }
        assert entries(after) == [("PAY2", "A1", "3.00")]
        assert pl.check_invariants(after) == ()
        # PAY1's 2.00 left on C1 is its oldest part: unapplying 5.00 takes the newest (PAY1's
        # 3.00 and PAY2's 2.00, both on C2), then the bucket's 3.00 pays C2 again.
        later = pl.unapply(after, "A1", usd("5.00"), on=D(2025, 1, 24))
        lines = {x.charge_id: str(x.paid.amount) for x in pl.line_items(later, "A1")}
        assert lines == {"C1": "2.00", "C2": "8.00"}
        assert entries(later) == [("PAY1", None, "3.00"), ("PAY2", None, "2.00")]
