"""Ledgers of one history share their persistent tables (patient_ledger.state): every one of them
must still read exactly as it was made, whatever order they are used in, from any thread."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger.errors import JournalError
from patient_ledger.events import UnallocatedApplied
from patient_ledger.persist import journal
from patient_ledger.testing import Operation, operations, run_operations
from tests.helpers import D, appointment, charge, pay, usd


def picture(ledger: pl.Ledger) -> Any:
    """Everything the views show of a ledger."""
    return tuple(
        (
            pid,
            pl.dashboard(ledger, pid),
            pl.claims_feed(ledger, pid),
            pl.unallocated_entries(ledger, pid),
        )
        for pid in pl.patients(ledger)
    )


@given(
    st.lists(st.tuples(st.integers(0, 10**6), operations()), max_size=40),
    st.randoms(use_true_random=False),
)
def test_every_ledger_of_a_tree_reads_as_it_was_made(
    steps: list[tuple[int, Operation]], rng: Any
) -> None:
    # Each command extends a ledger drawn from all those made so far: a tree of branches.
    made = [pl.Ledger.empty()]
    for pick, operation in steps:
        try:
            made.append(operation(made[pick % len(made)]))
        except pl.LedgerError:
            continue
    expected = {id(ledger): picture(pl.replay(ledger.events)) for ledger in made}
    for ledger in rng.sample(made, len(made)) * 2:  # any order, and back again
        assert picture(ledger) == expected[id(ledger)]


def test_old_ledgers_far_back_read_and_branch() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1")
    history = [ledger]
    for n in range(200):
        ledger = pay(ledger, f"PAY{n}", "1.00", aid="A1")  # held in the appointment's bucket
        history.append(ledger)
    first, middle, last = history[0], history[100], history[-1]
    assert pl.dashboard(first, "P1").total_paid == usd("0")
    assert pl.dashboard(last, "P1").total_paid == usd("200")
    branch = charge(middle, "C1", "A1", "30.00")  # held money auto-applies on the branch only
    assert pl.dashboard(branch, "P1").allocated == usd("30")
    assert pl.dashboard(middle, "P1").unallocated == usd("100")
    assert pl.dashboard(last, "P1").allocated == usd("0")
    assert pl.dashboard(branch, "P1").total_paid == usd("100")
    assert len(branch.events) == len(middle.events) + 1


def test_an_event_that_fails_to_apply_changes_nothing() -> None:
    ledger = pay(appointment(pl.Ledger.empty(), "A1"), "PAY1", "50.00", aid="A1")
    before = picture(ledger)
    # An application naming an appointment the ledger does not have fails half-way through.
    broken = UnallocatedApplied(
        patient_id="P1", applied=(("E1", "A1", 1000), ("E1", "A9", 1000)), on=D(2025, 2, 1)
    )
    with pytest.raises(
        pl.InvalidInputError, match="UnallocatedApplied does not fit the ledger before it"
    ):
        pl.apply_event(ledger, broken)
    assert picture(ledger) == before
    assert pl.replay(ledger.events) == ledger
    assert picture(charge(ledger, "C1", "A1", "20.00"))[0][1].allocated == usd("20")


def test_a_journal_that_fails_to_extend_leaves_its_base_as_it_was() -> None:
    base = appointment(pl.Ledger.empty(), "A1")
    longer = charge(pay(pay(base, "PAY1", "5.00"), "PAY2", "7.00", aid="A1"), "C1", "A1", "9.00")
    text = journal.dumps(longer)
    lines = text.splitlines(keepends=True)
    rest = "".join(lines[len(base.events) :])
    cut = rest.replace('"PAY2"', '"PAY3"')  # an edited line: the chain breaks after PAY1 applied
    before = picture(base)
    with pytest.raises(JournalError):
        journal.extend(base, cut, prev=journal.head("".join(lines[: len(base.events)])))
    assert picture(base) == before
    extended = journal.extend(base, rest, prev=journal.head("".join(lines[: len(base.events)])))
    assert extended == longer
    # Both stay readable, in either order.
    assert picture(base) == before
    assert picture(extended) == picture(longer)
    assert picture(charge(base, "C9", "A1", "1.00"))[0][1].patient_responsibility == usd("1")


def test_ledgers_of_one_lineage_are_safe_to_share_between_threads() -> None:
    start = appointment(pl.Ledger.empty(), "A1")
    results: dict[int, pl.Ledger] = {}
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            ledger = start
            for n in range(150):
                ledger = pay(ledger, f"T{number}-{n}", "1.00", aid="A1" if n % 2 else None)
                assert pl.dashboard(ledger, "P1").total_paid == usd(str(n + 1))
                assert pl.dashboard(start, "P1").total_paid == usd("0")
            results[number] = ledger
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for ledger in results.values():
        assert picture(ledger) == picture(pl.replay(ledger.events))


def test_a_ledger_pickles_as_its_journal() -> None:
    ops = [Operation(pl.add_appointment, (pl.Appointment("A1", "P1", D(2025, 1, 2)),))]
    ledger, refused = run_operations(ops)
    ledger = pay(ledger, "PAY1", "12.34", aid="A1")
    assert refused == []
    again = pickle.loads(pickle.dumps(ledger))
    assert again == ledger
    assert picture(again) == picture(ledger)
