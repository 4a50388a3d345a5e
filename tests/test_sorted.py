"""The persistent sorted set under buckets, allocations and a patient's appointments: every set
ever made keeps its keys, in order, whatever is added to or removed from its successors."""

from __future__ import annotations

import random

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
        with pytest.raises(KeyError) as raised:
            _sorted.remove(keys, 1000)
        assert raised.value.args == (1000,)  # names the key (replay's message shows it)


def _assert_holds(keys: _sorted.Keys, expected: list[int]) -> None:
    """``keys`` holds exactly ``expected`` (sorted), read every way, and bounded from above
    at, between, below and beyond its keys."""
    assert list(_sorted.iterate(keys)) == expected
    assert list(_sorted.iterate_reversed(keys)) == expected[::-1]
    assert _sorted.size(keys) == len(expected)
    step = max(len(expected) // 40, 1)
    bounds = {-1, 0, 1, 2 * 10_000 + 1, *expected[::step], *(key + 1 for key in expected[::step])}
    for bound in bounds:
        below = [key for key in reversed(expected) if key < bound]
        assert list(_sorted.iterate_reversed_below(keys, bound)) == below


def test_a_tree_built_and_emptied_in_random_order_keeps_every_set_it_made() -> None:
    """Deterministic, whatever the Hypothesis profile: thousands of keys in shuffled order make
    a B-tree of height 2 whose leaves and inner nodes split, take new smallest keys and lose
    their first keys and whole children; every set made along the way is checked at the end."""
    rng = random.Random(20261128)  # noqa: S311 - a fixed shuffle, not a secret
    keys_to_add = [2 * n for n in range(10_000)]  # even keys: odd bounds fall between them
    rng.shuffle(keys_to_add)
    keys, model = _sorted.EMPTY, set()
    kept: list[tuple[_sorted.Keys, list[int]]] = []
    for n, key in enumerate(keys_to_add):
        keys = _sorted.add(keys, key)
        model.add(key)
        if n % 499 == 0 or n < 200:
            kept.append((keys, sorted(model)))
    assert keys.height == 2  # type: ignore[union-attr]
    to_remove = sorted(model)
    rng.shuffle(to_remove)
    for n, key in enumerate(to_remove):
        keys = _sorted.remove(keys, key)
        model.remove(key)
        if n % 499 == 0 or len(model) < 200:
            kept.append((keys, sorted(model)))
    assert keys == _sorted.EMPTY
    for made, expected in kept:
        _assert_holds(made, expected)


def test_big_sets_compare_by_their_keys() -> None:
    ascending, descending = _sorted.EMPTY, _sorted.EMPTY
    for key in range(300):
        ascending = _sorted.add(ascending, key)
        descending = _sorted.add(descending, 299 - key)
    assert ascending == descending  # different shapes, the same keys
    assert ascending != _sorted.add(_sorted.remove(ascending, 150), 1000)
    assert ascending == tuple(range(300))  # a set is its keys, tuple or tree
    assert ascending != _sorted.remove(ascending, 299)
