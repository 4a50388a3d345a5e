"""Events that say where their money went: the ``lines`` a command's event records, applied as
recorded (never decided again), refused when they do not fit; journals written before the
records load, verify, show the same figures and are written back byte for byte; and every
event field checked on construction."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger import journal
from patient_ledger.events import (
    RECORDING,
    AllocationUnapplied,
    AppointmentCancelled,
    ChargeAdded,
    EntriesCancelled,
    InstallmentSkipped,
    PaymentPosted,
    PaymentReversed,
    UnallocatedApplied,
)
from patient_ledger.testing import ledgers
from tests.helpers import tables, usd

D = datetime.date
DATA = Path(__file__).parent / "data"


def _two_lines() -> pl.Ledger:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 2)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd("30.00")))
    return pl.add_charge(ledger, pl.Charge("C2", "A1", usd("20.00")))


def _payment(amount: str, **named: Any) -> pl.Payment:
    return pl.Payment("PAY1", "P1", usd(amount), D(2025, 1, 3), **named)


# -- journals written before the records --------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_a_journal_written_before_the_records_loads_and_is_written_back_byte_for_byte(
    version: int,
) -> None:
    # Written by the engine before line records (git 1b50d12): generate.practice(400, seed=11)
    # and then every shape of SPEC §10, §11 and §12 (lines named, a cancelled visit holding
    # money, an adjustment moving freed money to another line, plans, posted_on), with the
    # views it showed. Each version's lines: the journal up to the last of them.
    text = (DATA / "journal_before_records.jsonl").read_text(encoding="utf-8")
    rows = text.splitlines()
    last = max(n for n, row in enumerate(rows) if json.loads(row)["v"] == version)
    part = "".join(row + "\n" for row in rows[: last + 1])
    journal.verify(part)
    ledger = journal.loads(part)
    assert journal.dumps(ledger) == part
    assert all(getattr(event, "lines", None) is None for event in ledger.events)
    assert pl.check_invariants(ledger) == ()


def test_a_journal_written_before_the_records_shows_the_figures_it_showed() -> None:
    text = (DATA / "journal_before_records.jsonl").read_text(encoding="utf-8")
    shown = json.loads((DATA / "journal_before_records.views.json").read_text(encoding="utf-8"))
    assert {json.loads(row)["v"] for row in text.splitlines()} == {1, 2, 3, 4}
    ledger = journal.loads(text, head=shown["head"])
    for pid, views in shown["patients"].items():
        d = pl.dashboard(ledger, pid)
        assert {k: str(getattr(d, k).amount) for k in views["dashboard"]} == views["dashboard"]
        feed = [
            [
                r.appointment_id,
                str(r.paid.amount),
                str(r.balance_due.amount),
                str(r.appointment_unallocated.amount),
            ]
            for r in pl.claims_feed(ledger, pid)
        ]
        assert feed == views["feed"], pid
        entries = [
            [e.id, e.payment_id, e.appointment_id, str(e.amount.amount)]
            for e in pl.unallocated_entries(ledger, pid)
        ]
        assert entries == views["entries"], pid
    for payment_id, allocations in shown["payments"].items():
        got = [
            [a.appointment_id, a.charge_id, str(a.amount.amount)]
            for a in pl.allocations(ledger, payment_id)
        ]
        assert got == allocations, payment_id


def test_the_old_journal_replayed_with_the_records_it_lacked_makes_the_same_ledger() -> None:
    # Completed by the rules as it is applied, each old event gets the record a command would
    # give it today; a journal of the completed events (version 5 where they moved money on
    # lines) builds the same tables.
    old = journal.loads((DATA / "journal_before_records.jsonl").read_text(encoding="utf-8"))
    completed = pl.Ledger.empty(old.currency)
    for event in old.events[1:]:
        before = len(completed.events)
        completed = pl.apply_event(completed, event)
        assert len(completed.events) == before + 1
    relaid = _recorded_journal(old)
    assert any(getattr(event, "lines", None) for event in relaid.events)
    assert tables(relaid) == tables(old)
    again = journal.loads(journal.dumps(relaid))
    assert again == relaid
    assert tables(again) == tables(old)


def _recorded_journal(ledger: pl.Ledger) -> pl.Ledger:
    """``ledger``'s events, each with the record applying it decides (built one event at a time:
    the record of an event is what :func:`patient_ledger.apply.advance` makes of it)."""
    from patient_ledger.apply import advance
    from patient_ledger.state import ledger_of, state_of

    built = pl.Ledger.empty(ledger.currency)
    for event in ledger.events[1:]:
        built = ledger_of(advance(state_of(built), event))
    return built


# -- what a command's event records -------------------------------------------------------------


def test_a_payment_records_every_line_it_paid_and_replays_from_the_record() -> None:
    after = pl.post_payment(_two_lines(), _payment("45.00", appointment_id="A1", charge_id="C2"))
    event = after.events[-1]
    assert isinstance(event, PaymentPosted)
    assert event.lines == (("PAY1", "A1", "C2", 2000), ("PAY1", "A1", "C1", 2500))
    assert pl.replay(after.events) == after
    line = journal.dumps(after).splitlines()[-1]
    assert '"lines":[["PAY1","A1","C2",{"amount":"20.00","currency":"USD"}],' in line
    assert line.endswith('"v":5}')


def test_an_event_is_applied_as_its_record_says_not_as_the_rules_would_place_it() -> None:
    # The rules pay C1 first (line order); the record says C2: apply_event follows the record.
    event = PaymentPosted(
        payment=_payment("10.00", appointment_id="A1"),
        allocated=1000,
        entry_id=None,
        lines=(("PAY1", "A1", "C2", 1000),),
    )
    after = pl.apply_event(_two_lines(), event)
    paid = {line.charge_id: line.paid for line in pl.line_items(after, "A1")}
    assert paid == {"C1": usd("0.00"), "C2": usd("10.00")}
    assert pl.check_invariants(after) == ()
    without = pl.apply_event(_two_lines(), attrs.evolve(event, lines=None))
    paid = {line.charge_id: line.paid for line in pl.line_items(without, "A1")}
    assert paid == {"C1": usd("10.00"), "C2": usd("0.00")}  # completed by the rules


def _refused(ledger: pl.Ledger, event: Any, match: str) -> None:
    before = tables(ledger)
    with pytest.raises(pl.InvalidInputError, match=match):
        pl.apply_event(ledger, event)
    assert tables(ledger) == before


def test_a_record_that_does_not_fit_is_refused() -> None:
    ledger = _two_lines()
    payment = _payment("25.00", appointment_id="A1")

    def posted(*lines: tuple[str, str, str, int]) -> PaymentPosted:
        return PaymentPosted(payment=payment, allocated=2500, entry_id=None, lines=lines)

    _refused(ledger, posted(("PAY1", "A1", "C2", 2500)), r"line 'C2' .* owes 20.00 USD, not")
    _refused(ledger, posted(("PAY1", "A1", "C1", 2000)), r"place 20.00 USD of payment 'PAY1'")
    _refused(
        ledger,
        posted(("PAY1", "A1", "C1", 2500), ("PAY1", "A1", "C2", 100)),
        "record holds 1 parts it did not move",
    )
    _refused(ledger, posted(("PAY9", "A1", "C1", 2500)), r"is not the next 25.00 USD of")
    _refused(ledger, posted(("PAY1", "A1", "C9", 2500)), r"'C9', which is not in the ledger")


def test_an_unapply_records_what_it_took_off_and_what_held_money_paid() -> None:
    ledger = pl.post_payment(_two_lines(), _payment("60.00", appointment_id="A1"))
    after = pl.unapply(ledger, "A1", usd("25.00"), on=D(2025, 2, 1))
    event = after.events[-1]
    assert isinstance(event, AllocationUnapplied)
    # Newest first (C2's 20.00, then 5.00 of C1), then the bucket's 10.00 (oldest line first).
    assert event.lines == (
        ("PAY1", "A1", "C2", -2000),
        ("PAY1", "A1", "C1", -500),
        ("PAY1", "A1", "C1", 500),
        ("PAY1", "A1", "C2", 500),
    )
    assert pl.replay(after.events) == after
    taken_wrong = attrs.evolve(event, lines=(("PAY1", "A1", "C1", -2500), *event.lines[2:]))
    _refused(ledger, taken_wrong, r"line 'C2' of appointment 'A1' owes 0.00 USD")


def test_a_cancelled_visit_records_the_entries_it_moved() -> None:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 2)))
    ledger = pl.post_payment(ledger, _payment("5.00", appointment_id="A1"))
    after = pl.cancel_appointment(ledger, "A1", on=D(2025, 1, 9))
    event = after.events[-1]
    assert isinstance(event, AppointmentCancelled)
    assert event.moved == ("E1",)
    assert journal.dumps(after).splitlines()[-1].endswith('"v":5}')
    assert pl.replay(after.events) == after
    _refused(ledger, attrs.evolve(event, moved=("E7",)), r"'E7', which is not in the ledger")
    other = pl.post_payment(ledger, attrs.evolve(_payment("1.00"), id="PAY2"))  # E2, general
    _refused(other, attrs.evolve(event, moved=("E1", "E2")), r"entry 'E2' is not open in")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(max_patients=3, max_steps=25))
def test_every_command_event_replays_from_its_record_alone(ledger: pl.Ledger) -> None:
    # A journal of recorded events: applying it takes every placement from the records (the
    # rules are not asked); the same event without its record is completed to the same state.
    assert pl.replay(ledger.events) == ledger
    assert journal.loads(journal.dumps(ledger)) == ledger
    unrecorded = [
        attrs.evolve(event, lines=None) if type(event) in RECORDING else event
        for event in ledger.events
    ]
    assert tables(pl.replay(unrecorded)) == tables(ledger)


# -- every field checked on construction -------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: UnallocatedApplied(patient_id="P1", applied=(), on="2025-01-02"),
            "on must be a datetime.date, got str",
        ),
        (
            lambda: PaymentPosted(payment=_payment("1.00"), allocated=1.5, entry_id="E1"),
            "allocated must be an amount in minor units",
        ),
        (
            lambda: PaymentPosted(payment=_payment("1.00"), allocated=-1, entry_id="E1"),
            "allocated must be at least 0",
        ),
        (
            lambda: PaymentPosted(payment=_payment("1.00"), allocated=True, entry_id="E1"),
            "allocated must be an amount in minor units",
        ),
        (
            lambda: PaymentPosted(payment=_payment("1.00"), allocated=0, entry_id=7),
            "entry_id must be an id",
        ),
        (
            lambda: UnallocatedApplied(patient_id="", applied=(), on=D(2025, 1, 2)),
            "patient_id must be an id",
        ),
        (
            lambda: UnallocatedApplied(
                patient_id="P1", applied=(("E1", "A1", -5),), on=D(2025, 1, 2)
            ),
            "applied must be parts whose amounts are positive",
        ),
        (
            lambda: UnallocatedApplied(patient_id="P1", applied=(("E1", 5),), on=D(2025, 1, 2)),
            "applied must be parts of 3 items",
        ),
        (
            lambda: UnallocatedApplied(patient_id="P1", applied="E1", on=D(2025, 1, 2)),
            "applied must be a tuple of parts",
        ),
        (
            lambda: EntriesCancelled(patient_id="P1", parts=(("E1", 0),), on=D(2025, 1, 2)),
            "parts must be parts whose amounts are non-zero",
        ),
        (
            lambda: ChargeAdded(
                pl.Charge("C1", "A1", usd("1.00")), lines=(("PAY1", "A1", "C1", 0.5),)
            ),
            "lines must be an amount in minor units",
        ),
        (
            lambda: PaymentReversed(
                payment_id="PAY1",
                allocations=(),
                entries=(),
                applied=(),
                on=D(2025, 1, 2),
                reason=3,
            ),
            "reason must be a str or None",
        ),
        (
            lambda: InstallmentSkipped(
                plan_id="PL1", number=0, added=5, amount=100, on=D(2025, 1, 2)
            ),
            "number must be an int of at least 1",
        ),
        (
            lambda: AppointmentCancelled(
                appointment_id="A1", on=D(2025, 1, 2), reason=None, moved="E1"
            ),
            "moved must be a tuple of entry ids",
        ),
        (lambda: pl.LedgerOpened("usd"), "currency must be a currency code"),
    ],
)
def test_a_field_of_the_wrong_type_or_sign_is_refused_on_construction(
    build: Any, match: str
) -> None:
    with pytest.raises(pl.InvalidInputError, match=match):
        build()


def test_amounts_given_as_money_are_converted_and_parts_become_tuples() -> None:
    event = UnallocatedApplied(
        patient_id="P1", applied=[["E1", "A1", usd("1.25")]], on=D(2025, 1, 2)
    )
    assert event.applied == (("E1", "A1", 125),)
    assert eval(repr(event), {**vars(pl), **globals()}) == event  # noqa: S307 - its own repr


# -- a reader of the lines alone: docs/where.jq --------------------------------------------------

_JQ = shutil.which("jq")
_WHERE = Path(__file__).parents[1] / "docs" / "where.jq"


@pytest.mark.skipif(_JQ is None, reason="jq is not installed")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(max_patients=3, max_steps=25), st.data())
def test_the_jq_reader_of_docs_journal_md_finds_each_payment_where_allocations_does(
    ledger: pl.Ledger, data: st.DataObject
) -> None:
    paid = [
        (n, event.payment.id)
        for n, event in enumerate(ledger.events, 1)
        if isinstance(event, PaymentPosted | pl.PlanPaymentPosted | pl.RefundPosted)
    ]
    assume(paid)
    first, payment_id = data.draw(st.sampled_from(paid))
    n = data.draw(st.integers(first, len(ledger.events)))
    at = ledger.at(n)
    command = [_JQ or "jq", "-c", "-n", "--arg", "p", payment_id, "--argjson", "n", str(n)]
    done = subprocess.run(
        [*command, "-f", str(_WHERE), "/dev/stdin"],
        input=journal.dumps(ledger),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    places: dict[tuple[str | None, str | None, str | None], int] = {}
    for row in found["on_lines"]:
        key = (None, row["appointment"], row["line"])
        places[key] = places.get(key, 0) + row["minor"]
    for row in found["held"]:
        key = (row["patient"], row["bucket"], None)
        places[key] = places.get(key, 0) + row["minor"]
    expected: dict[tuple[str | None, str | None, str | None], int] = {}
    for a in pl.allocations(at, payment_id):
        key = (
            (None, a.appointment_id, a.charge_id)
            if a.charge_id
            else (a.patient_id, a.appointment_id, None)
        )
        expected[key] = expected.get(key, 0) + int(a.amount.amount * 100)
    assert {k: v for k, v in places.items() if v} == expected


def test_a_record_that_takes_money_off_lines_amiss_is_refused() -> None:
    ledger = pl.post_payment(_two_lines(), _payment("60.00", appointment_id="A1"))
    event = pl.unapply(ledger, "A1", usd("25.00"), on=D(2025, 2, 1)).events[-1]
    assert isinstance(event, AllocationUnapplied)
    assert event.lines is not None
    other, short = event.lines[1:], ((event.lines[0][0], "A1", "C2", -1000), *event.lines[2:])
    swapped = (("PAY9", *event.lines[0][1:]), *event.lines[1:])
    _refused(
        ledger,
        attrs.evolve(event, lines=other),
        r"is not the next -\d+\.\d\d USD of payment 'PAY1' taken off",
    )
    _refused(ledger, attrs.evolve(event, lines=swapped), r"taken off appointment 'A1'")
    _refused(ledger, attrs.evolve(event, lines=short), r"of payment 'PAY1' .*A1")
