"""The benchmark's workload is honest: every planned command is accepted, and its bare-loop
baseline does exactly the ledger's balance arithmetic (so the ratios compare like with like)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

import patient_ledger as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import workload


@pytest.fixture(scope="module")
def built() -> tuple[list[workload.Step], pl.Ledger]:
    steps = workload.plan(6_000, 400, seed=3)
    return steps, workload.run_ledger(workload.to_commands(steps))


def test_the_plan_has_every_kind_of_command(built: tuple[list[workload.Step], pl.Ledger]) -> None:
    steps, ledger = built
    kinds = Counter(kind for kind, _ in steps)
    assert set(kinds) == set(workload.KINDS)
    assert min(kinds.values()) >= 50, kinds
    # run_ledger raises on the first refused command, so every one was accepted.
    assert len(ledger.events) > len(steps) * 0.8


def test_the_bare_loop_does_the_same_arithmetic(
    built: tuple[list[workload.Step], pl.Ledger],
) -> None:
    steps, ledger = built
    bare = workload.bare_loop(steps)
    for pid in pl.patients(ledger):
        d = pl.dashboard(ledger, pid)
        aids = bare.appointments.get(pid, [])
        expected = (
            bare.paid[pid],
            sum(bare.allocated[a] for a in aids),
            bare.general[pid] + sum(bare.held[a] for a in aids),
            sum(bare.charged[a] - bare.allocated[a] for a in aids),
        )
        shown = (d.total_paid, d.allocated, d.unallocated, d.statement_balance)
        assert tuple(int(m.amount * 100) for m in shown) == expected, pid


def test_beancount_realizes_the_same_balances(
    built: tuple[list[workload.Step], pl.Ledger],
) -> None:
    import beancount_baseline as bb  # needs beancount: the bench extra, part of test

    _, ledger = built
    balances = bb.realize(bb.entries_from(ledger))
    held = bb.held_by_patient(balances)
    for pid in pl.patients(ledger):
        d = pl.dashboard(ledger, pid)
        assert held[pid] == d.unallocated.amount, pid
        assert balances.get(f"Assets:Receivable:{pid}", 0) == d.statement_balance.amount, pid
