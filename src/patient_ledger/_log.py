"""EventLog: the journal as a persistent append-only sequence.

Appending never copies the journal: events go into a short tail tuple, and every full tail
becomes one chunk of an ``immutables.Map`` keyed by chunk number (a small persistent vector).
An appended log shares everything with its parent, so earlier ledgers keep their journal
untouched and any old ledger can be extended (branched) at the same cost.

A log can also start with a *base*: any read-only sequence of events standing for the journal's
first events — how a ledger restored from a snapshot holds a journal whose events are decoded
only when read (:mod:`patient_ledger.persist.snapshot`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import immutables

from patient_ledger.events import Event

_CHUNK = 32
_new_log = object.__new__


class Events(Sequence[Event]):
    """A read-only sequence of events indexed by position: ints (negative ones from the end)
    and slices (a tuple), as a list is; subclasses give :meth:`_at` an index in range."""

    __slots__ = ()

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Event, ...]: ...

    def __getitem__(self, index: int | slice) -> Event | tuple[Event, ...]:
        size = len(self)
        if isinstance(index, slice):
            return tuple(self._at(i) for i in range(*index.indices(size)))
        if not isinstance(index, int):
            kind = type(self).__name__
            raise TypeError(f"{kind} indices must be int or slice, not {type(index).__name__}")
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"event index {index} out of range for {size} events")
        return self._at(index)

    def _at(self, index: int) -> Event:
        raise NotImplementedError


class EventLog(Events):
    """An immutable sequence of events; ``appended`` returns a new log sharing this one."""

    __slots__ = ("__weakref__", "_base", "_chunks", "_len", "_tail")

    def __init__(
        self,
        chunks: immutables.Map[int, tuple[Event, ...]] | None = None,
        tail: tuple[Event, ...] = (),
        base: Sequence[Event] = (),
    ) -> None:
        self._chunks: immutables.Map[int, tuple[Event, ...]] = (
            immutables.Map() if chunks is None else chunks
        )
        self._tail = tail
        self._base = base
        self._len = len(base) + len(self._chunks) * _CHUNK + len(tail)

    def appended(self, event: Event) -> EventLog:
        """Return a log with ``event`` added at the end (O(1) amortized, no copy)."""
        log = _new_log(EventLog)  # every command makes one: skip __init__'s general case
        tail = (*self._tail, event)
        if len(tail) == _CHUNK:
            log._chunks, log._tail = self._chunks.set(len(self._chunks), tail), ()  # noqa: SLF001
        else:
            log._chunks, log._tail = self._chunks, tail  # noqa: SLF001 - the same class
        log._base = self._base  # noqa: SLF001 - the same class
        log._len = self._len + 1  # noqa: SLF001 - the same class
        return log

    def extended(self, events: Sequence[Event]) -> EventLog:
        """Return a log with ``events`` added at the end, filling whole chunks at once."""
        pending = (*self._tail, *events)
        whole = len(pending) - len(pending) % _CHUNK
        chunks = self._chunks.mutate()
        number = len(self._chunks)
        for start in range(0, whole, _CHUNK):
            chunks[number] = pending[start : start + _CHUNK]
            number += 1
        return EventLog(chunks.finish(), pending[whole:], self._base)

    def prefix(self, n: int) -> EventLog:
        """The log of this log's first ``n`` events (0 <= n <= its length), sharing them: O(1),
        nothing copied (how a dated view's ledger holds the journal up to its cut)."""
        if not 0 <= n <= self._len:
            raise IndexError(f"a prefix of {n} events of a log of {self._len}")
        return self if n == self._len else EventLog(base=_Prefix(self, n))

    def __len__(self) -> int:
        return self._len

    def _at(self, index: int) -> Event:
        if index < len(self._base):
            return self._base[index]
        chunk, offset = divmod(index - len(self._base), _CHUNK)
        if chunk == len(self._chunks):
            return self._tail[offset]
        return self._chunks[chunk][offset]

    def __iter__(self) -> Iterator[Event]:
        yield from self._base
        for number in range(len(self._chunks)):
            yield from self._chunks[number]
        yield from self._tail

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, EventLog):
            return NotImplemented
        if self._len != other._len:
            return False
        if self._base is not other._base:  # different origins: compare event by event
            return all(mine == theirs for mine, theirs in zip(self, other, strict=True))
        if self._tail != other._tail:
            return False
        # A shared prefix holds the very same chunk objects: their identity short-cuts ==.
        return all(
            self._chunks[n] == other._chunks[n]  # noqa: SLF001 - same class
            for n in range(len(self._chunks))
        )

    def starts_with(self, other: EventLog) -> bool:
        """Whether ``other``'s events are this log's first events.

        O(1) when this log was appended to ``other`` (or they share an ancestor that holds
        ``other``'s events): a chunk is made once and only shared by the logs appended to it,
        so the very same last full chunk means the same events up to it; the rest (at most a
        chunk's worth) is compared. Otherwise event by event.
        """
        if other._len > self._len:
            return False
        shared = self._base is other._base
        full = len(other._chunks)
        if shared and (not full or self._chunks.get(full - 1) is other._chunks[full - 1]):
            start = len(self._base) + full * _CHUNK
            # As tuples: their == takes the very same event for equal without comparing its
            # fields (a store checks a ledger appended to the one it saved at every save).
            return self[start : start + len(other._tail)] == other._tail
        return all(mine == theirs for mine, theirs in zip(self, other, strict=False))

    def __hash__(self) -> int:
        return hash((self._len, self[-1] if self._len else None))

    def __repr__(self) -> str:
        return f"<EventLog of {self._len} events>"

    @classmethod
    def of(cls, events: Iterable[Event]) -> EventLog:
        """Build a log from events."""
        return cls().extended(tuple(events))

    def __reduce__(self) -> tuple[Any, ...]:
        return (EventLog.of, (tuple(self),))


class _Prefix(Events):
    """The first events of a log, read through it (see :meth:`EventLog.prefix`)."""

    __slots__ = ("_len", "_log")

    def __init__(self, log: EventLog, n: int) -> None:
        self._log = log
        self._len = n

    def __len__(self) -> int:
        return self._len

    def _at(self, index: int) -> Event:
        return self._log._at(index)  # noqa: SLF001 - the same module's class

    def __iter__(self) -> Iterator[Event]:
        return itertools.islice(self._log, self._len)
