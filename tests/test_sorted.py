"""The persistent sorted set under buckets, allocations and a patient's appointments: every set
ever made keeps its keys, in order, whatever is added to or removed from its successors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patient_ledger import _sorted

# Small key ranges make removals hit; long runs cross the small-tuple / B-tree boundary (64).
steps = st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=600)


@given(steps)
def test_every_set_made_keeps_its_keys_in_order(ops: list[tuple[bool, int]]) -> None:
    keys, model = _sorted.EMPTY, set()
    history = [(keys, set())]
    for adding, key in ops:
        if adding and key not in model:
            keys = _sorted.add(keys, key)
            model.add(key)
        elif not adding and key in model:
            keys = _sorted.remove(keys, key)
            model.remove(key)
        history.append((keys, set(model)))
    for made, expected in history:
        assert list(_sorted.iterate(made)) == sorted(expected)
        assert list(_sorted.iterate_reversed(made)) == sorted(expected, reverse=True)
        assert _sorted.size(made) == len(expected)


def test_a_big_set_stays_shallow_and_shrinks_back_to_a_tuple() -> None:
    keys = _sorted.EMPTY
    for key in range(100_000):
        keys = _sorted.add(keys, (key, "E"))
    assert keys.height <= 3  # type: ignore[union-attr] # a B-tree of 64-wide nodes
    for key in range(100_000 - 10):
        keys = _sorted.remove(keys, (key, "E"))
    assert type(keys) is tuple
    assert keys == tuple((key, "E") for key in range(100_000 - 10, 100_000))


def test_removing_a_missing_key_is_a_key_error() -> None:
    small = _sorted.add(_sorted.EMPTY, 1)
    big = small
    for key in range(2, 200):
        big = _sorted.add(big, key)
    for keys in (_sorted.EMPTY, small, big):
        with pytest.raises(KeyError):
            _sorted.remove(keys, 1000)
