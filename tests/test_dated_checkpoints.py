"""Dated views from checkpoints (issue 27, SPEC §12): the books as of a day are made from the
nearest checkpoint and a short replay, and must be exactly what a replay of the whole prefix
gives — or the same refusal — for every cut, whatever order the cuts are asked in."""

from __future__ import annotations

import contextlib
import datetime
import gc
import pickle
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger import _dated, testing
from patient_ledger.apply import replay
from patient_ledger.persist import _cache, journal
from patient_ledger.state import state_of
from patient_ledger.testing import generate
from patient_ledger.views import event_day
from tests.helpers import appointment, charge, pay, usd

D = datetime.date


@contextlib.contextmanager
def checkpoints_every(events: int) -> Iterator[None]:
    """Checkpoints every few events, so that small journals have many of them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_dated, "MIN_EVERY", events)
        yield


def reference(ledger: pl.Ledger, on: datetime.date) -> dict[str, pl.Dashboard] | None:
    """SPEC §12 worked out the slow way: the cut by a scan of the journal, the state by a
    replay of the whole prefix; None when an event past the cut is dated on or before ``on``."""
    events = list(ledger.events)
    days = [event_day(ledger, event) for event in events]
    cut = next((n for n, day in enumerate(days) if day is not None and day > on), len(events))
    if any(day is not None and day <= on for day in days[cut:]):
        return None
    prefix = replay(events[:cut])
    return {pid: pl.dashboard(prefix, pid) for pid in pl.patients(prefix)}


def days_of(ledger: pl.Ledger) -> list[datetime.date]:
    """Every day an event of the journal has, and the days just before and after them."""
    days = {event_day(ledger, event) for event in ledger.events} - {None}
    around = {d + datetime.timedelta(days=k) for d in days for k in (-1, 0, 1)}
    return sorted(around)  # type: ignore[type-var]


def answer(ledger: pl.Ledger, on: datetime.date) -> dict[str, pl.Dashboard] | None:
    try:
        return pl.dashboards(ledger, on=on)
    except pl.DateOrderError:
        return None


def check_every_cut(ledger: pl.Ledger, order: list[int]) -> None:
    days = days_of(ledger)
    asked = [days[n % len(days)] for n in order] + days if days else []
    for on in asked:
        assert answer(ledger, on) == reference(ledger, on), on


@settings(max_examples=40, deadline=None)
@given(testing.ledgers(max_steps=40), st.integers(1, 6), st.lists(st.integers(0, 500)))
def test_checkpointed_dashboards_equal_a_replay_of_the_whole_prefix(
    ledger: pl.Ledger, every: int, order: list[int]
) -> None:
    # Journals in any order of days: every cut is the prefix's replay, or refused as it is.
    with checkpoints_every(every):
        check_every_cut(ledger, order)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(40, 400), st.integers(0, 10**6), st.integers(1, 40), st.lists(st.integers(0, 999))
)
def test_checkpointed_dashboards_of_a_practice_in_day_order(
    events: int, seed: int, every: int, order: list[int]
) -> None:
    # A generated practice in day order (every command of the mix): no cut is refused.
    ledger = generate.practice(events, seed=seed, patients=5, in_day_order=True)
    with checkpoints_every(every):
        check_every_cut(ledger, order)
        for on in days_of(ledger):
            assert answer(ledger, on) is not None


def test_as_of_is_the_ledger_at_its_cut_and_changes_nothing() -> None:
    ledger = generate.practice(300, seed=3, patients=4, in_day_order=True)
    before = (list(ledger.events), repr(ledger), hash(ledger))
    with checkpoints_every(16):
        for on in days_of(ledger)[::-7]:  # latest first: checkpoints made in one go
            cut = pl.views.as_of(ledger, on)
            n = len(cut.events)
            assert cut == ledger.at(n)
            assert state_of(cut).differing(state_of(ledger.at(n))) == []
            assert pickle.loads(pickle.dumps(cut)) == cut
            assert list(cut.events) == list(ledger.events)[:n]
    assert (list(ledger.events), repr(ledger), hash(ledger)) == before


def test_a_ledger_opened_from_its_cache_cuts_as_the_loaded_one(tmp_path: object) -> None:
    # Its events are decoded only when read: the checkpoints replay them from the journal.
    from pathlib import Path

    ledger = generate.practice(6_000, seed=5, in_day_order=True)
    path = Path(str(tmp_path)) / "practice.jsonl"
    path.write_text(journal.dumps(ledger))
    _cache.load(path)  # writes the cache
    opened = _cache.load(path)  # from it
    for on in (D(2025, 1, 31), D(2025, 6, 30), D(2025, 3, 31), D(2025, 12, 31)):
        assert pl.dashboards(opened, on=on) == pl.dashboards(ledger, on=on) == reference(ledger, on)


def test_a_late_posting_is_named_not_an_appointment_booked_after_the_cut() -> None:
    # Past the cut: an appointment (no day), then a check received before the day asked.
    ledger = appointment(pl.Ledger.empty(), "A1", day=D(2025, 1, 10))
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = pay(ledger, "PAY1", "50.00", day=D(2025, 2, 1))
    ledger = appointment(ledger, "A2", day=D(2025, 3, 1))
    ledger = pay(ledger, "LATE", "10.00", day=D(2025, 1, 20))
    with pytest.raises(pl.DateOrderError) as raised:
        pl.dashboards(ledger, on=D(2025, 1, 25))
    assert raised.value.details["index"] == len(ledger.events) - 1
    assert "PaymentPosted" in str(raised.value)
    assert "AppointmentAdded" not in str(raised.value)
    assert pl.dashboard(ledger, "P1", on=D(2025, 1, 19)).total_balance == usd("100.00")


def test_the_side_table_is_bounded_and_lets_journals_go() -> None:
    # With checkpoints and a last cut kept: they hold no journal, so none is kept alive.
    ledgers = [generate.practice(60, seed=n, patients=3, in_day_order=True) for n in range(9)]
    with checkpoints_every(8):
        for ledger in ledgers:
            pl.dashboards(ledger, on=D(2025, 6, 30))
            assert _dated._TABLE[id(state_of(ledger).log)][1].states
    assert len(_dated._TABLE) <= _dated.KEEP
    kept = [state_of(ledger).log for ledger in ledgers[-_dated.KEEP :]]
    assert {id(log) for log in kept} == set(_dated._TABLE)
    del ledgers, kept, ledger
    gc.collect()
    assert not _dated._TABLE  # the journals gone, their indexes and checkpoints with them
