"""A persistent sorted set of keys: a B-tree of plain tuples, shared structurally.

A set is ``(root, height, size)``; a leaf is a sorted tuple of keys, an internal node is
``(firsts, children)`` with the first key of each child. Adding or removing a key copies only the
``height + 1`` nodes on its path (O(log n)), so every earlier set stays as it was and shares the
rest. Keys are tuples of strs, ints and dates: the whole tree is made of tuples of atomic values,
which CPython's cyclic collector stops tracking (a big ledger's buckets cost its full
collections nothing). Removing never merges nodes: a node that empties is dropped, and a root
with one child is replaced by it, so the height stays logarithmic in the most keys ever held.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

#: The most keys in a leaf or children in a node before it splits in two.
_MAX = 64

#: A sorted set: ``(root, height, size)``.
Keys = tuple[Any, int, int]

EMPTY: Keys = ((), 0, 0)


def add(keys: Keys, key: Any) -> Keys:
    """``keys`` with ``key`` (not already in it) added."""
    root, height, size = keys
    if not height and (not root or root[-1] < key) and len(root) < _MAX:
        return ((*root, key), 0, size + 1)  # the usual case: a small set, appended
    parts = _add(root, height, key)
    if len(parts) == 1:
        return (parts[0], height, size + 1)
    left, right = parts
    return (((_first(left, height), _first(right, height)), (left, right)), height + 1, size + 1)


def _first(node: Any, height: int) -> Any:
    return node[0] if not height else node[0][0]


def _add(node: Any, height: int, key: Any) -> tuple[Any, ...]:
    """The node with ``key`` added: one node, or two halves when it split."""
    if not height:
        i = bisect_right(node, key)
        new = node + (key,) if i == len(node) else node[:i] + (key,) + node[i:]
        if len(new) > _MAX:
            half = len(new) >> 1
            return (new[:half], new[half:])
        return (new,)
    firsts, children = node
    i = bisect_right(firsts, key) - 1
    if i < 0:  # a new smallest key: it becomes the first child's first
        i = 0
        firsts = (key, *firsts[1:])
    parts = _add(children[i], height - 1, key)
    if len(parts) == 1:
        return ((firsts, children[:i] + parts + children[i + 1 :]),)
    firsts = firsts[: i + 1] + (_first(parts[1], height - 1),) + firsts[i + 1 :]
    children = children[:i] + parts + children[i + 1 :]
    if len(children) > _MAX:
        half = len(children) >> 1
        return ((firsts[:half], children[:half]), (firsts[half:], children[half:]))
    return ((firsts, children),)


def remove(keys: Keys, key: Any) -> Keys:
    """``keys`` without ``key`` (which must be in it)."""
    root, height, size = keys
    node = _remove(root, height, key)
    if node is None:
        return EMPTY
    while height and len(node[1]) == 1:
        node = node[1][0]
        height -= 1
    return (node, height, size - 1)


def _remove(node: Any, height: int, key: Any) -> Any:
    """The node without ``key``, or None when it is left empty."""
    if not height:
        i = bisect_left(node, key)
        if i == len(node) or node[i] != key:
            raise KeyError(key)
        new = (*node[:i], *node[i + 1 :])
        return new or None
    firsts, children = node
    i = max(bisect_right(firsts, key) - 1, 0)
    child = _remove(children[i], height - 1, key)
    if child is None:
        if len(children) == 1:
            return None
        return ((*firsts[:i], *firsts[i + 1 :]), (*children[:i], *children[i + 1 :]))
    first = _first(child, height - 1)
    if first != firsts[i]:
        firsts = (*firsts[:i], first, *firsts[i + 1 :])
    return (firsts, (*children[:i], child, *children[i + 1 :]))


def iterate(keys: Keys) -> Iterator[Any]:
    """The keys in ascending order."""
    root, height, _ = keys
    if not height:
        return iter(root)
    return _walk(root, height)


def _walk(node: Any, height: int) -> Iterator[Any]:
    if height == 1:
        for leaf in node[1]:
            yield from leaf
    else:
        for child in node[1]:
            yield from _walk(child, height - 1)


def iterate_reversed(keys: Keys) -> Iterator[Any]:
    """The keys in descending order."""
    root, height, _ = keys
    if not height:
        return reversed(root)
    return _walk_reversed(root, height)


def _walk_reversed(node: Any, height: int) -> Iterator[Any]:
    if height == 1:
        for leaf in reversed(node[1]):
            yield from reversed(leaf)
    else:
        for child in reversed(node[1]):
            yield from _walk_reversed(child, height - 1)


def size(keys: Keys) -> int:
    """How many keys the set holds."""
    return keys[2]
