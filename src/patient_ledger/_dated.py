"""What dated views know of a journal: its day index, and the ledger's state at checkpoints.

The books as of a day (SPEC §12) are the journal up to a cut. :func:`index` finds the cut
without reading the journal again: the day index of a journal (the highest day of the events
up to each place, the lowest from each place on) is built once, in one pass, then every date is
a bisection. :func:`state_at` gives the ledger at a cut from the nearest *checkpoint* — the
state after every ``every``-th event, replayed once and kept — and a short replay of the events
between (at most ``every`` of them), instead of a replay of the whole prefix.

Checkpoints are plain ledger states: persistent values sharing their rows with each other, made
lazily (only as far as the cuts asked for reach) by the same replay as :func:`replay`, so a
checkpointed state and a replayed one are the same value. A ledger whose dated views nobody
reads costs nothing. Nothing observable changes on a ledger: the index and checkpoints live in
a side table keyed by the journal object (weakly: they go with it), kept for the few journals
asked most recently (:data:`KEEP`), each with at most :data:`MARKS` checkpoints, so that the
memory they hold stays bounded. Safe from many threads: a journal's checkpoints are made under
its own lock, and a state once made is never changed.
"""

from __future__ import annotations

import array
import functools
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any, Final

from patient_ledger._log import EventLog
from patient_ledger.events import Event
from patient_ledger.state import Ledger, State, ledger_of, state_of

__all__ = ["KEEP", "MARKS", "MIN_EVERY", "Dated", "index", "state_at"]

#: How many journals' indexes and checkpoints are kept (the most recently asked).
KEEP: Final = 4
#: The most checkpoints kept for one journal.
MARKS: Final = 8
#: The fewest events between two checkpoints (a short journal is replayed from its start).
MIN_EVERY: Final = 4096
NO_DAY_LOW, NO_DAY_HIGH = 0, 10**7  # below and above every date's ordinal


class Dated:
    """The day index and checkpoints of one journal."""

    __slots__ = ("every", "highest", "last", "lock", "lowest", "states")

    def __init__(self, highest: array.array[int], lowest: array.array[int]) -> None:
        #: For each place in the journal, the highest day (ordinal) of the events up to it
        #: (included), and the lowest day of the events from it on.
        self.highest = highest
        self.lowest = lowest
        #: Events between checkpoints: checkpoint ``k`` is the state after ``(k + 1) * every``
        #: (held without its journal).
        self.every = max(MIN_EVERY, -(-len(highest) // MARKS))
        self.states: list[State] = []
        #: The state at the last cut asked, and the cut (the next, later one replays from it).
        self.last: tuple[int, State] | None = None
        self.lock = threading.Lock()


_TABLE: dict[int, tuple[weakref.ref[EventLog], Dated]] = {}
_TABLE_LOCK = threading.Lock()


def _forget(
    key: int, ref: weakref.ref[EventLog], table: dict[int, tuple[Any, Dated]] = _TABLE
) -> None:
    """A journal is gone: its entry goes (the collector calls this at any allocation, maybe
    while this thread holds the table's lock: it takes no lock, and each step is atomic; the
    table is bound here, for a journal that goes while the interpreter shuts down)."""
    found = table.get(key)
    if found is not None and found[0] is ref:
        table.pop(key, None)  # at worst a newer entry under a reused id goes: a cache miss


def index(ledger: Ledger, ordinal: Callable[[Event], int]) -> Dated:
    """The day index (and checkpoints) of the ledger's journal, built on first use from
    ``ordinal`` (an event's day as an ordinal, :data:`NO_DAY_LOW` for none) and kept."""
    log = state_of(ledger).log
    key = id(log)
    with _TABLE_LOCK:
        found = _TABLE.pop(key, None)
        if found is not None and found[0]() is log:
            _TABLE[key] = found  # the most recently asked last
            return found[1]
    ordinals = [ordinal(event) for event in log]
    highest = array.array("q", itertools.accumulate(ordinals, max))
    lowest = array.array(
        "q",
        reversed(
            list(
                itertools.accumulate(
                    (NO_DAY_HIGH if d == NO_DAY_LOW else d for d in reversed(ordinals)), min
                )
            )
        ),
    )
    dated = Dated(highest, lowest)
    ref = weakref.ref(log, functools.partial(_forget, key))
    with _TABLE_LOCK:  # views are read from many threads at once
        found = _TABLE.get(key)
        if found is not None and found[0]() is log:
            return found[1]  # another thread indexed it meanwhile
        while len(_TABLE) >= KEEP and (oldest := next(iter(_TABLE), None)) is not None:
            _TABLE.pop(oldest, None)
        _TABLE[key] = (ref, dated)
    return dated


def state_at(ledger: Ledger, dated: Dated, cut: int) -> Ledger:
    """The ledger after the first ``cut`` events of its journal (1 <= cut <= its length),
    ``ledger.at(cut)`` as a value, from the nearest state known at or before the cut — a
    checkpoint, or the last cut asked — and a replay of the events between, which keeps the
    checkpoints it passes: the month-ends of a year asked in order replay the journal once;
    asked again, at most ``dated.every`` events each. Its journal shares the ledger's events.

    The states kept hold no journal (one is attached to what is handed out): the side table
    never keeps a journal alive, so its weak key goes with the ledger.
    """
    from patient_ledger.apply import replay  # noqa: PLC0415 - apply imports the views

    log = state_of(ledger).log
    every = dated.every
    with dated.lock:
        states = dated.states
        known = min(cut // every, len(states))
        n, base = (known * every, states[known - 1]) if known else (0, None)
        if dated.last is not None and n <= dated.last[0] <= cut:
            n, base = dated.last
        while n < cut:
            end = min(cut, (n // every + 1) * every)
            if base is None:
                replayed = replay(log[:end])
            else:
                replayed = replay(log[n:end], onto=ledger_of(_attached(base, log, n)))
            base = _attached(state_of(replayed), _NO_LOG, 0)
            if end == (len(states) + 1) * every and len(states) < MARKS:
                states.append(base)  # the next checkpoint
            n = end
        if base is None:  # pragma: no cover - the views never cut before the first event
            raise IndexError(f"a cut of {cut} events")
        dated.last = (n, base)
    return ledger_of(_attached(base, log, cut))


_NO_LOG: Final = EventLog()


def _attached(state: State, log: EventLog, n: int) -> State:
    """``state`` holding the first ``n`` events of ``log`` as its journal."""
    return state._replace(log=log.prefix(n) if n else log)
