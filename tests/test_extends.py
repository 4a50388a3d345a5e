"""Ledger.extends: whether a ledger's journal begins with another's (stores rely on it)."""

from __future__ import annotations

import pytest

import patient_ledger as pl
from tests.helpers import appointment, pay


def test_a_ledger_extends_exactly_its_own_past() -> None:
    chain = [appointment(pl.Ledger.empty(), "A1")]
    for i in range(80):  # past two chunks of the journal
        chain.append(pay(chain[-1], f"PAY{i}", "1.00", None))
    branch = pay(chain[40], "OTHER", "2.00", None)
    replayed = pl.replay(chain[-1].events)
    for k, earlier in enumerate(chain):
        assert chain[-1].extends(earlier)
        assert replayed.extends(earlier)
        assert earlier.extends(chain[-1]) == (k == len(chain) - 1)
        assert branch.extends(earlier) == (k <= 40)
        assert earlier.extends(branch) is False
    assert not chain[-1].extends(branch)
    with pytest.raises(pl.LedgerError):
        chain[0].extends("not a ledger")  # type: ignore[arg-type]
