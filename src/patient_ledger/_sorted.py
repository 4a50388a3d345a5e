"""A persistent sorted set of keys: a plain sorted tuple while small, a B-tree of tuples when big.

A set of at most ``_MAX`` keys is just their sorted tuple (the usual case: a patient's or an
appointment's entries). A bigger one is a :class:`_Tree`: a B-tree whose leaves are sorted tuples
of keys and whose inner nodes are ``(firsts, children)`` with the first key of each child. Adding
or removing a key copies only the ``height + 1`` nodes on its path (O(log n)), so every earlier
set stays as it was and shares the rest. Keys are tuples of strs, ints and dates: the tuples are
made of atomic values, which CPython's cyclic collector stops tracking. Removing never merges
nodes: a node that empties is dropped, and a root with one child is replaced by it, so the height
stays logarithmic in the most keys ever held.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any, Final

#: The most keys in a leaf (and in a small set) or children in a node before it splits.
_MAX: Final = 64


class _Tree:
    """A big set: the B-tree's root, its height (≥ 1) and how many keys it holds."""

    __slots__ = ("height", "root", "size")

    def __init__(self, root: Any, height: int, size: int) -> None:
        self.root = root
        self.height = height
        self.size = size

    def __eq__(self, other: object) -> bool:
        # A set is its keys, whatever its shape: a tree that shrank to a few keys equals the
        # tuple of the same keys (a snapshot restores that tuple).
        if isinstance(other, _Tree):
            return self.size == other.size and list(_walk(self)) == list(_walk(other))
        if type(other) is tuple:
            return self.size == len(other) and tuple(_walk(self)) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment] # compared by content, never hashed


#: A sorted set: a sorted tuple of keys, or a :class:`_Tree`.
Keys = tuple[Any, ...] | _Tree

EMPTY: Keys = ()


def add(keys: Keys, key: Any) -> Keys:
    """``keys`` with ``key`` (not already in it) added."""
    if type(keys) is tuple:
        if not keys or keys[-1] < key:
            new = keys + (key,)
        else:
            i = bisect_right(keys, key)
            new = keys[:i] + (key,) + keys[i:]
        if len(new) <= _MAX:
            return new
        half = len(new) >> 1
        return _Tree(((new[0], new[half]), (new[:half], new[half:])), 1, len(new))
    assert isinstance(keys, _Tree)  # noqa: S101 - narrowing only
    parts = _add(keys.root, keys.height, key)
    if len(parts) == 1:
        return _Tree(parts[0], keys.height, keys.size + 1)
    left, right = parts
    root = ((_first(left, keys.height), _first(right, keys.height)), (left, right))
    return _Tree(root, keys.height + 1, keys.size + 1)


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
    """``keys`` without ``key`` (KeyError if it is not in it)."""
    if type(keys) is tuple:
        i = bisect_left(keys, key)
        if i == len(keys) or keys[i] != key:
            raise KeyError(key)
        return keys[:i] + keys[i + 1 :]
    assert isinstance(keys, _Tree)  # noqa: S101 - narrowing only
    node, height = _remove(keys.root, keys.height, key), keys.height
    if node is None:
        return EMPTY
    while height and len(node[1]) == 1:
        node = node[1][0]
        height -= 1
    if not height:
        return node  # type: ignore[no-any-return] # a leaf: a small set again
    return _Tree(node, height, keys.size - 1)


def _remove(node: Any, height: int, key: Any) -> Any:
    """The node without ``key``, or None when it is left empty."""
    if not height:
        i = bisect_left(node, key)
        if i == len(node) or node[i] != key:
            raise KeyError(key)
        return node[:i] + node[i + 1 :] or None
    firsts, children = node
    i = max(bisect_right(firsts, key) - 1, 0)
    child = _remove(children[i], height - 1, key)
    if child is None:
        if len(children) == 1:
            return None
        return (firsts[:i] + firsts[i + 1 :], children[:i] + children[i + 1 :])
    first = _first(child, height - 1)
    if first != firsts[i]:
        firsts = firsts[:i] + (first,) + firsts[i + 1 :]
    return (firsts, children[:i] + (child,) + children[i + 1 :])


def iterate(keys: Keys) -> Iterator[Any]:
    """The keys in ascending order."""
    if type(keys) is tuple:
        return iter(keys)
    return _walk(keys)  # type: ignore[arg-type] # a _Tree


def _walk(tree: _Tree) -> Iterator[Any]:
    def walk(node: Any, height: int) -> Iterator[Any]:
        if height == 1:
            for leaf in node[1]:
                yield from leaf
        else:
            for child in node[1]:
                yield from walk(child, height - 1)

    return walk(tree.root, tree.height)


def iterate_reversed(keys: Keys) -> Iterator[Any]:
    """The keys in descending order."""
    if type(keys) is tuple:
        return reversed(keys)

    def walk(node: Any, height: int) -> Iterator[Any]:
        if height == 1:
            for leaf in reversed(node[1]):
                yield from reversed(leaf)
        else:
            for child in reversed(node[1]):
                yield from walk(child, height - 1)

    return walk(keys.root, keys.height)  # type: ignore[union-attr] # a _Tree


def size(keys: Keys) -> int:
    """How many keys the set holds."""
    return len(keys) if type(keys) is tuple else keys.size  # type: ignore[union-attr]


def iterate_reversed_below(keys: Keys, bound: Any) -> Iterator[Any]:
    """The keys smaller than ``bound``, in descending order."""
    if type(keys) is tuple:
        return (keys[i] for i in range(bisect_left(keys, bound) - 1, -1, -1))

    def walk(node: Any, height: int) -> Iterator[Any]:
        if not height:
            for i in range(bisect_left(node, bound) - 1, -1, -1):
                yield node[i]
            return
        firsts, children = node
        for i in range(bisect_left(firsts, bound) - 1, -1, -1):
            yield from walk(children[i], height - 1)

    return walk(keys.root, keys.height)  # type: ignore[union-attr] # a _Tree


def from_sorted(keys: tuple[Any, ...]) -> Keys:
    """The set of ``keys``, given in ascending order without repeats, built in one pass
    (how a snapshot restores a big set): a tuple while small, else a B-tree whose nodes are
    three-quarters full, so that the next adds split few of them."""
    if len(keys) <= _MAX:
        return keys
    fill = _MAX * 3 // 4
    level: list[Any] = [keys[i : i + fill] for i in range(0, len(keys), fill)]
    height = 0
    while len(level) > 1 or not height:
        firsts = [_first(node, height) for node in level]
        level = [
            (tuple(firsts[i : i + fill]), tuple(level[i : i + fill]))
            for i in range(0, len(level), fill)
        ]
        height += 1
    return _Tree(level[0], height, len(keys))


def is_big(keys: Keys) -> bool:
    """Whether the set is a B-tree (a snapshot writes it flat and rebuilds it)."""
    return type(keys) is not tuple
