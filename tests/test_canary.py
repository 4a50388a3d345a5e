"""Canaries: plant a known bug in a rule and check that the state machine catches it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from patient_ledger import _sorted, commands
from patient_ledger.state import State
from tests.test_stateful import LedgerMachine

# No shrinking: the canary only needs to know that a failure is found.
FIND = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)


def newest_first(
    state: State, keys: _sorted.Keys, amount: int, taken: Mapping[str, int] = MappingProxyType({})
) -> Iterator[tuple[str, int]]:
    """The bug: draws the newest entries first instead of the oldest."""
    for _, _, entry_id in _sorted.iterate_reversed(keys):
        if amount <= 0:
            return
        remaining = state.entry(entry_id).remaining - taken.get(entry_id, 0)
        if remaining > 0:
            take = min(remaining, amount)
            amount -= take
            yield entry_id, take


@pytest.mark.parametrize(
    ("name", "bug"),
    [
        ("_auto_applied", lambda *args, **kwargs: ()),  # held money never auto-applied
        ("_draw", newest_first),  # newest entries used first
    ],
)
def test_the_state_machine_catches_a_planted_bug(
    monkeypatch: pytest.MonkeyPatch, name: str, bug: object
) -> None:
    # The commands bind the shared helper in each module of the package that uses it.
    modules = [commands._checks, commands._seed, commands._workflow, commands._plans]
    for module in modules:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, bug)
    # Caught by the state machine's checks, or (held money never auto-applied) by the engine's
    # own check that an event leaves no money held beside a balance due: an AssertionError.
    with pytest.raises(AssertionError):
        run_state_machine_as_test(LedgerMachine, settings=FIND)
