"""patient_ledger.testing, used as a user's test suite would use it."""

from __future__ import annotations

import contextlib
import datetime
import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger import testing
from patient_ledger.events import AppointmentAdded, PaymentPosted
from patient_ledger.state import ledger_of, state_of
from patient_ledger.testing import (
    InvariantError,
    Operation,
    _steps,
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


def measuring(examples: int) -> settings:
    """Settings for a measurement: that many examples, no deadline, nothing saved, the same
    examples every run (a count of what was drawn must not depend on the seed)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


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
    real = _steps.auto_allocate

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

    with mock.patch.object(_steps, "auto_allocate", spy):
        yield smallest_first, filtered


@functools.cache
def generated_ledgers() -> Counter[str]:
    """400 generated ledgers, each checked against every invariant: what they covered."""
    seen: Counter[str] = Counter()

    @measuring(400)
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


@functools.cache
def sequence_mix() -> tuple[Counter[str], Counter[str], Counter[str]]:
    """300 drawn ``command_sequences()``, run: how many commands were accepted, refused or
    accepted with nothing to do; how many accepted commands of each kind; in how many
    sequences each kind (and each line-level kind) was accepted."""
    outcomes: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    sequences: Counter[str] = Counter()

    @measuring(300)
    @given(command_sequences())
    def check(ops: list[Operation]) -> None:
        ledger, names = pl.Ledger.empty(), set()
        for op in ops:
            try:
                after = op(ledger)
            except pl.LedgerError:
                outcomes["refused"] += 1
                continue
            outcomes["accepted"] += 1
            outcomes["unchanged"] += after is ledger
            accepted[op.command.__name__] += 1
            names |= {op.command.__name__} | kinds(op)
            ledger = after
        assert check_invariants(ledger) == ()
        sequences["sequences"] += 1
        sequences.update(names)

    check()
    return outcomes, accepted, sequences


def test_command_sequences_are_mostly_accepted() -> None:
    """docs/testing.md gives the figures (93 % accepted, 16 commands a sequence)."""
    outcomes, _, sequences = sequence_mix()
    assert sequences["sequences"] == 300
    total = outcomes["accepted"] + outcomes["refused"]
    assert total >= 300 * 10, outcomes
    assert outcomes["accepted"] >= 0.85 * total, outcomes
    assert outcomes["refused"] >= 0.02 * total, outcomes  # some refused on purpose


#: Every command of SPEC §4, §9 and §10, by name (the kinds of steps, less their variants).
COMMANDS = tuple(dict.fromkeys(kind.split(":")[0] for kind in testing.KINDS))


@pytest.mark.parametrize("kind", COMMANDS + SEQUENCE_KINDS)
def test_command_sequences_accept_every_kind_of_command(kind: str) -> None:
    """Every command of SPEC §4, §9 and §10 (and each line-level variant) is accepted in at
    least 15 of 300 sequences (docs/testing.md has the measured figures)."""
    _, _, sequences = sequence_mix()
    assert sequences[kind] >= 15, (kind, dict(sequences))


def tampered(ledger: pl.Ledger, table: str, key: str, position: int, delta: int) -> pl.Ledger:
    """A ledger whose row was edited behind the engine's back, as a forged snapshot's would be
    (a forged journal no longer gets this far: replay refuses an event that does not fit)."""
    state = state_of(ledger)
    rows = getattr(state, table)
    row = rows[key]
    row = (*row[:position], row[position] + delta, *row[position + 1 :])
    return ledger_of(state._replace(**{table: rows.set(key, row)}))


def corrupted() -> pl.Ledger:
    """A payment 'allocated' beyond its appointment's charges."""
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "10.00")
    ledger = pay(ledger, "PAY1", "30.00", "A1")
    return tampered(ledger, "accounts", "A1", 3, 2000)


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
    # An open entry grown by $10 out of nothing.
    violations = check_invariants(tampered(ledger, "entries", entry.id, 5, 1000))
    assert {v.invariant for v in violations} >= {1}
    assert any("open entries sum to 4000" in v.message for v in violations)


def test_a_forged_journal_is_refused_at_the_event_that_does_not_fit() -> None:
    ledger = pay(pl.Ledger.empty(), "PAY1", "30.00")
    [entry] = pl.unallocated_entries(ledger, "P1")
    # A hand-made "cancellation" that grows an open entry: $10 out of nothing.
    forged = pl.EntriesCancelled(patient_id="P1", parts=((entry.id, -1000),), on=D(2025, 2, 1))
    with pytest.raises(pl.InvalidInputError, match="-10.00 USD cannot be taken from it"):
        pl.replay([*ledger.events, forged])


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


# -- one more command, ledgers as code, failure output ----------------------------------------


@functools.cache
def drawn_steps() -> Counter[str]:
    """400 ledgers and three commands drawn for each by ``valid_operations`` (three, so that the
    count of a kind hangs less on how Hypothesis's examples resemble each other): every
    command accepted, and every patient's dashboard moved exactly as the step said."""
    seen: Counter[str] = Counter()

    @measuring(400)
    @given(ledgers(), st.data())
    def check(ledger: pl.Ledger, data: st.DataObject) -> None:
        for _ in range(3):
            step = data.draw(testing.valid_operations(ledger))
            after = step(ledger)  # never refused
            assert testing.changes(ledger, after) == step.expected, step
            assert check_invariants(after) == ()
            seen[step.kind] += 1

    check()
    return seen


@pytest.mark.parametrize("kind", testing.KINDS)
def test_valid_operations_draw_every_kind_and_predict_its_change(kind: str) -> None:
    seen = drawn_steps()
    assert sum(seen.values()) >= 1200
    assert seen[kind] >= 5, (kind, dict(seen))


@settings(max_examples=10, database=None)
@given(st.data())
def test_a_step_prints_as_its_call(data: st.DataObject) -> None:
    ledger = pay(pl.Ledger.empty(), "PAY1", "30.00")
    step = data.draw(testing.valid_operations(ledger))
    assert repr(step) == repr(step.operation)
    assert repr(step).endswith(")")
    assert repr(step).startswith(step.operation.command.__name__ + "(ledger")


def run_code(text: str) -> pl.Ledger:
    namespace: dict[str, Any] = {}
    exec(text, namespace)  # noqa: S102 - the point: printed code runs
    ledger = namespace["ledger"]
    assert isinstance(ledger, pl.Ledger)
    return ledger


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_as_code_builds_an_equal_ledger(ledger: pl.Ledger) -> None:
    text = testing.as_code(ledger)
    assert "apply_event" not in text  # every event found its command
    assert run_code(text) == ledger


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_sequences(max_operations=15))
def test_as_code_of_operations_runs_them_as_run_operations_does(ops: list[Operation]) -> None:
    built, _ = testing.run_operations(ops)
    assert run_code(testing.as_code(ops)) == built


def test_as_code_falls_back_to_the_event_for_a_hand_made_journal() -> None:
    ledger = pay(pl.Ledger.empty(), "PAY1", "30.00")
    [entry] = pl.unallocated_entries(ledger, "P1")
    forged = pl.EntriesCancelled(patient_id="P1", parts=((entry.id, 100),), on=D(2025, 2, 1))
    hand_made = pl.replay([*ledger.events, forged])
    text = testing.as_code(hand_made)
    assert "ledger = apply_event(ledger, EntriesCancelled(" in text
    assert run_code(text) == hand_made


def failure_output(test: Any) -> str:
    """What Hypothesis shows of a failing test after shrinking (the notes it adds to the
    error: the falsifying example, then the kit's code)."""
    with pytest.raises(AssertionError) as caught:
        test()
    return "\n".join(getattr(caught.value, "__notes__", []))


def code_in(output: str) -> str:
    """The kit's note: the code after its ``# ..., as code:`` line, up to the next note."""
    start = output.index("import datetime", output.index(", as code:"))
    end = output.find("\nFailing test case:", start)
    return output[start:] if end < 0 else output[start:end]


def test_a_shrunk_ledger_prints_as_code_that_rebuilds_it() -> None:
    """A failing property over ``ledgers()``: the output holds the ledger as code, pasted and
    run it is the shrunk ledger, and it is short — no unused booking, no $0 charge."""
    last: list[pl.Ledger] = []

    @settings(max_examples=300, database=None, deadline=None)
    @given(ledgers())
    def no_open_refund(ledger: pl.Ledger) -> None:
        last.append(ledger)
        rows = [e for p in pl.patients(ledger) for e in pl.unallocated_entries(ledger, p)]
        assert all(e.amount.amount >= 0 for e in rows)

    text = code_in(failure_output(no_open_refund))
    shrunk = last[-1]
    assert run_code(text) == shrunk
    calls = [line for line in text.splitlines() if line.startswith("ledger = ")]
    assert "ledger = refund(" in text
    assert len(calls) == 3, text  # the empty ledger, a payment and its refund: nothing more
    events = [repr(e) for e in shrunk.events if not isinstance(e, AppointmentAdded)]
    for event in shrunk.events:  # every appointment booked is used
        if isinstance(event, AppointmentAdded):
            assert any(repr(event.appointment.id) in e for e in events), text
    assert "Money('0.00'" not in text


def test_a_shrunk_command_sequence_prints_as_a_script() -> None:
    last: list[list[Operation]] = []

    @settings(max_examples=300, database=None, deadline=None)
    @given(command_sequences(max_operations=20))
    def never_a_transfer(ops: list[Operation]) -> None:
        last.append(ops)
        ledger, _ = testing.run_operations(ops)
        assert not any(isinstance(e, pl.CreditTransferred) for e in ledger.events)

    output = failure_output(never_a_transfer)
    assert "_op(" not in output  # the helpers that drew operations never show
    text = code_in(output)
    assert run_code(text) == testing.run_operations(last[-1])[0]
    assert "transfer_credit(ledger, Transfer(" in text
    calls = [line for line in text.splitlines() if line.startswith("ledger = ")]
    assert len(calls) == 3, text  # the empty ledger, a payment and its transfer


def test_operations_print_as_calls_not_as_the_helpers_that_drew_them() -> None:
    @settings(max_examples=200, database=None, deadline=None)
    @given(st.lists(operations(), min_size=1))
    def no_payment_to_a0(ops: list[Operation]) -> None:
        assert not any(op.command is pl.post_payment and op.args[0].appointment_id for op in ops)

    output = failure_output(no_payment_to_a0)
    assert "post_payment(ledger, Payment(" in output
    assert "payment_op(" not in output


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_ledgers_in_another_currency(data: st.DataObject) -> None:
    ledger = data.draw(ledgers(currency="JPY"))
    assert ledger.currency == "JPY"
    assert check_invariants(ledger) == ()
    step = data.draw(testing.valid_operations(ledger))
    assert testing.changes(ledger, step(ledger)) == step.expected
    ops = data.draw(command_sequences(currency="EUR", max_operations=5))
    assert testing.run_operations(ops, pl.Ledger.empty("EUR"))[0].currency == "EUR"


def test_register_profiles_registers_the_kits_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "deep")
    assert testing.register_profiles(load=False) == "deep"
    assert settings.get_profile("deep").max_examples == 20_000
    assert settings.get_profile("ci").derandomize
    monkeypatch.delenv("HYPOTHESIS_PROFILE")
    monkeypatch.setenv("CI", "1")
    assert testing.register_profiles(load=False) == "ci"


def test_events_that_carry_a_value_show_their_amounts_as_money() -> None:
    """An event's repr is valid Python that makes an equal event; where the event carries a
    value (and so a currency), its amounts in minor units show as ``Money``."""
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = pay(ledger, "PAY1", "20.00", "A1")
    ledger = charge(ledger, "C1", "A1", "35.00")
    ledger = pay(ledger, "PAY2", "50.00")
    ledger = pl.transfer_credit(
        ledger, pl.Transfer("T1", "P1", "P2", Money("10.00", "USD"), D(2025, 2, 1))
    )
    ledger = pl.adjust_charge(
        ledger, pl.Adjustment("ADJ1", "C1", Money("-30.00", "USD"), D(2025, 2, 2))
    )
    namespace = vars(pl) | {"Money": Money, "datetime": datetime}
    for event in ledger.events:
        assert eval(repr(event), namespace) == event  # noqa: S307 - the point: reprs are code
    posted, added, transferred, adjusted = (ledger.events[i] for i in (2, 3, 5, 6))
    assert "allocated=Money('0.00', 'USD')" in repr(posted)
    assert "applied=(('E1', 'A1', Money('20.00', 'USD')),)" in repr(added)
    assert "moves=(('E2', 'E3', Money('10.00', 'USD')),)" in repr(transferred)
    assert "returned=(('PAY1', Money('15.00', 'USD'), 'E4'),)" in repr(adjusted)


def test_every_public_name_of_the_kit_is_in_its_page() -> None:
    page = (Path(__file__).parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    missing = [name for name in testing.__all__ if f"`{name}" not in page]
    assert not missing, missing


# -- one planner: shrunk examples minimal, failing examples printed as code -------------------


def failing_line(output: str) -> str:
    """Hypothesis's "Failing test case" lines: the call of the test with its example."""
    start = output.index("Failing test case: ") + len("Failing test case: ")
    return output[start : output.index("\n)", start) + 2]  # up to the call's closing line


def run_failing_line(output: str) -> dict[str, Any]:
    """The failing-example line, run: the arguments it calls the test with."""
    called: dict[str, Any] = {}
    line = failing_line(output)
    name = line[: line.index("(")]
    namespace = vars(pl) | {
        "datetime": datetime,
        "Money": Money,
        "Operation": Operation,
        "Step": testing.Step,
        "Change": testing.Change,
        name: lambda **kwargs: called.update(kwargs),
    }
    exec(line, namespace)  # noqa: S102 - the point: the printed line runs
    return called


@pytest.mark.parametrize(
    "strategy",
    [ledgers(), testing.one_more_command(), command_sequences(max_operations=20)],
    ids=["ledgers", "one_more_command", "command_sequences"],
)
def test_the_failing_example_line_is_code_that_makes_the_example(strategy: Any) -> None:
    """Each strategy's failing example prints, on Hypothesis's own line, as code that makes an
    equal example — a ledger as its commands, a step as ``Step(...)``, operations as
    ``Operation(...)`` — and it is shrunk to the two commands an open refund needs."""
    last: list[Any] = []

    def ledger_of(example: Any) -> pl.Ledger:
        if isinstance(example, pl.Ledger):
            return example
        if isinstance(example, tuple):
            return example[1](example[0])
        return testing.run_operations(example)[0]

    @settings(max_examples=300, database=None, deadline=None)
    @given(strategy)
    def no_open_refund(example: Any) -> None:
        last.append(example)
        ledger = ledger_of(example)
        rows = [e for p in pl.patients(ledger) for e in pl.unallocated_entries(ledger, p)]
        assert all(e.amount.amount >= 0 for e in rows)

    output = failure_output(no_open_refund)
    assert "build(" not in failing_line(output)
    pasted = run_failing_line(output)["example"]
    assert pasted == last[-1]
    if isinstance(pasted, tuple):
        assert pasted[1].expected == last[-1][1].expected
    assert len(ledger_of(pasted).events) == 3, failing_line(output)  # opened, paid, refunded


def test_every_kind_falls_back_to_one_a_ledger_is_ready_for() -> None:
    """On an empty ledger, every kind of step gives a command the ledger accepts (the kinds
    with nothing to work on make what they need instead)."""
    empty = pl.Ledger.empty()
    for kind in range(len(_steps._TABLE)):
        step = _steps.planned_step(empty, (kind, 0, 0, 0, 1, 0, 0, 0, 0, 0), patients=3)
        assert step.kind in {"post_payment", "add_appointment"}, (kind, step)
        assert testing.changes(empty, step(empty)) == step.expected


def test_a_new_id_is_its_steps_drawn_label_and_survives_deleting_a_step() -> None:
    """A step's new id is its own drawn number, and what a step picks is found by its label:
    deleting an earlier step renames nothing and changes no later step's choice."""
    table = _steps._TABLE
    book, deposit, general = (
        table.index(k) for k in ("add_appointment", "post_payment:appointment", "post_payment")
    )
    plan = [
        (book, 2, 0, 0, 1, 0, 0, 0, 0, 0),  # A2 (P0)
        (book, 5, 1, 0, 1, 0, 0, 0, 0, 0),  # A5 (P1)
        (general, 3, 0, 0, 700, 0, 0, 0, 0, 0),  # PAY3
        (deposit, 7, 5, 0, 2500, 0, 0, 0, 0, 0),  # PAY7 to the appointment labelled 5: A5
    ]
    _, done = _steps.fold(plan, pl.Ledger.empty(), patients=3)
    assert [op.args[0].id for op in done] == ["A2", "A5", "PAY3", "PAY7"]
    assert done[3].args[0].appointment_id == "A5"
    for gone in (0, 2):
        _, fewer = _steps.fold(plan[:gone] + plan[gone + 1 :], pl.Ledger.empty(), patients=3)
        assert fewer == [op for n, op in enumerate(done) if n != gone]
