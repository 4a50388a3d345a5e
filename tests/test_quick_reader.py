"""The journal's quick reader (``_shapes``) against its full reader: the quick one takes every
line ``dumps`` writes, and a journal reads the same with it as without it — the same events,
or the same error on the same line — whatever was edited in it."""

from __future__ import annotations

import contextlib
import datetime
import enum
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.errors import JournalError
from patient_ledger.events import (
    AllocationUnapplied,
    AppointmentAdded,
    AppointmentCancelled,
    ChargeAdded,
    LedgerOpened,
    UnallocatedApplied,
)
from patient_ledger.money import exponent, minor_text, to_minor
from patient_ledger.persist import journal
from patient_ledger.persist._shapes import QuickWriter
from patient_ledger.testing import ledgers
from tests.test_fuzz import LINES, edited_records, forged_amounts, mangled_text, rehash


@contextlib.contextmanager
def _counting() -> Iterator[dict[str, int]]:
    """How many lines the quick reader takes, and how many it sends to the full reader."""
    taken = {"quick": 0, "full": 0}
    quickly = journal._Reader._quickly

    def counting(*args: object) -> object:
        found = quickly(*args)  # type: ignore[arg-type]
        taken["quick" if found is not None else "full"] += 1
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journal._Reader, "_quickly", staticmethod(counting))
        yield taken


def _read(data: str | bytes, *, quick: bool) -> object:
    """The events a journal reads as, or the error it is refused with (message and line)."""
    with pytest.MonkeyPatch.context() as patch:
        if not quick:
            patch.setattr(journal._Reader, "_quickly", staticmethod(lambda *_: None))
        try:
            return list(journal.loads(data).events)
        except JournalError as error:
            return (str(error), error.line)


@settings(max_examples=60)
@given(ledgers(max_patients=3, max_steps=40))
def test_every_line_dumps_writes_is_read_quickly_as_the_full_reader_reads_it(
    ledger: pl.Ledger,
) -> None:
    text = journal.dumps(ledger)
    with _counting() as taken:
        events = _read(text, quick=True)
    assert taken == {"quick": len(ledger.events) - 1, "full": 0}  # all but LedgerOpened
    assert events == list(ledger.events) == _read(text, quick=False)


@settings(max_examples=300)
@given(edited_records() | forged_amounts())
def test_an_edited_and_rehashed_journal_reads_the_same_with_or_without_the_quick_reader(
    text: str,
) -> None:
    assert _read(text, quick=True) == _read(text, quick=False)


@settings(max_examples=200)
@given(mangled_text())
def test_a_mangled_journal_reads_the_same_with_or_without_the_quick_reader(data: bytes) -> None:
    assert _read(data, quick=True) == _read(data, quick=False)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("payment", "amount", "amount"), "50.0"),  # not the canonical text of the amount
        (("payment", "amount", "amount"), "050.00"),
        (("allocated", "amount"), "-0.00"),
        (("payment", "amount", "currency"), "EUR"),  # another currency
        (("payment", "extra"), 1),  # an unknown key
        (("payment", "provider"), 7),  # a wrong type
        (("payment", "charge_id"), None),  # a version-2 field written as null
        (("payment", "method"), "BARTER"),  # refused by the value object itself
        (("payment", "received_on"), "20250102"),  # a date not in its ISO form
    ],
)
def test_a_line_not_as_dumps_writes_it_goes_to_the_full_reader(
    path: tuple[str, ...], value: object
) -> None:
    ledger = pl.post_payment(
        pl.Ledger.empty("USD"),
        pl.Payment("PAY1", "P1", Money("50.00", "USD"), datetime.date(2025, 1, 2)),
    )
    records = [json.loads(line) for line in journal.dumps(ledger).splitlines()]
    node = records[1]["event"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    edited = rehash(records)
    with _counting() as taken:
        read = _read(edited, quick=True)
    assert taken == {"quick": 0, "full": 1}
    assert isinstance(read, tuple)  # refused, saying why
    assert read == _read(edited, quick=False)


def _line(record: dict[str, Any], event: str, prev: str) -> tuple[str, str]:
    """A line holding ``event`` as spelled, hashed as the forger chooses to (over the line as
    spelled), and its hash."""
    rest = f'"prev":"{prev}","seq":{record["seq"]},"type":"{record["type"]}","v":{record["v"]}'
    content = f'{{"event":{event},{rest}}}'
    line_hash = hashlib.sha256(content.encode()).hexdigest()
    return f'{{"event":{event},"hash":"{line_hash}",{rest}}}', line_hash


def _reordered(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _reordered(node[key]) for key in sorted(node, reverse=True)}
    if isinstance(node, list):
        return [_reordered(item) for item in node]
    return node


@st.composite
def respelled(draw: st.DrawFn) -> str:
    """A journal cut after a line whose event is spelled otherwise than ``dumps`` spells it —
    spaces, another key order, an escaped letter — and hashed as spelled: the full reader
    refuses it, so the quick reader must not take it."""
    records = [json.loads(line) for line in LINES]
    n = draw(st.integers(1, len(records) - 1))
    event = records[n]["event"]
    spelling = draw(st.sampled_from(["spaces", "order", "escape", "version"]))
    record = dict(records[n])
    if spelling == "spaces":
        text = json.dumps(event, sort_keys=True, separators=(", ", ": "))
    elif spelling == "order":
        text = json.dumps(_reordered(event), separators=(",", ":"))
    elif spelling == "escape":
        text = json.dumps(event, sort_keys=True, separators=(",", ":")).replace("P1", "\\u00501")
    else:
        text = json.dumps(event, sort_keys=True, separators=(",", ":"))
        record["v"] = 3 - record["v"]
    line, _ = _line(record, text, records[n]["prev"])
    assume(line != LINES[n])
    return "".join(f"{row}\n" for row in [*LINES[:n], line])


@settings(max_examples=200)
@given(respelled())
def test_a_respelled_line_reads_the_same_with_or_without_the_quick_reader(text: str) -> None:
    read = _read(text, quick=True)
    assert isinstance(read, tuple)  # refused, saying why
    assert read == _read(text, quick=False)


#: What may name a line (SPEC §10): a version-2 field, left out of a line while None.
_NAMING_A_LINE = (pl.Payment, UnallocatedApplied, AllocationUnapplied)


#: The int fields that count something rather than hold an amount.
_COUNTS: dict[type, tuple[str, ...]] = {
    pl.PaymentPlan: ("installments",),
    pl.InstallmentSkipped: ("number", "added"),
}


def _plain(value: Any, currency: str) -> Any:  # noqa: PLR0911 - one return per kind of value
    """An event's JSON as the format describes it, built independently of the library's writer
    (attrs fields, amounts as exact text with their currency, ISO days, version-2 fields left
    out while None)."""
    if isinstance(value, Money):
        code = value.currency.code
        return {"amount": minor_text(to_minor(value, "amount"), exponent(code)), "currency": code}
    if attrs.has(type(value)):
        fields = {
            f.name: _plain(getattr(value, f.name), currency)
            for f in attrs.fields(type(value))
            if f.init
        }
        if (
            type(value) in (pl.Payment, UnallocatedApplied, AllocationUnapplied)
            and fields["charge_id"] is None
        ):
            del fields["charge_id"]
        if type(value) is pl.Payment and fields["plan_id"] is None:  # version 3 (SPEC §11)
            del fields["plan_id"]
        if type(value) is pl.Charge and fields["posted_on"] is None:  # version 4 (SPEC §12)
            del fields["posted_on"]
        if type(value) is pl.PaymentReversed and not value.uncounted:
            del fields["uncounted"]
        for counter in _COUNTS.get(type(value), ()):  # ints that are not amounts
            fields[counter] = getattr(value, counter)
        return fields
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.date):
        return datetime.date.isoformat(value)
    if isinstance(value, tuple):
        return [_plain(item, currency) for item in value]
    if type(value) is int:  # in an event, a bare int is an amount in the ledger's currency
        return {"amount": minor_text(value, exponent(currency)), "currency": currency}
    return value


@settings(max_examples=60)
@given(st.sampled_from(["USD", "JPY", "KWD"]).flatmap(lambda code: ledgers(currency=code)))
def test_the_writer_writes_each_event_as_the_format_describes_it(ledger: pl.Ledger) -> None:
    """What ``dumps`` writes (and the full reader checks a line against) is the event's JSON as
    the format describes it, canonical — in any currency, for every kind of event."""
    writer = QuickWriter(ledger.currency)
    for event in ledger.events:
        plain = _plain(event, ledger.currency)
        expected = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert writer.text(event) == expected


class _Day(datetime.date):
    """A date subclass, as test clocks (freezegun) and date libraries make them."""


def test_days_of_a_date_subclass_or_a_datetime_are_written_as_days() -> None:
    ledger = pl.replay(
        [
            LedgerOpened("USD"),
            AppointmentAdded(pl.Appointment("A1", "P1", _Day(2025, 1, 2))),
            AppointmentCancelled(
                appointment_id="A1", on=datetime.datetime(2025, 1, 5, 10, 30), reason=None
            ),
        ]
    )
    text = journal.dumps(ledger)
    assert '"date":"2025-01-02"' in text
    assert '"on":"2025-01-05"' in text
    assert journal.dumps(journal.loads(text)) == text


def test_an_event_carrying_another_currency_is_refused_by_replay() -> None:
    charge = pl.Charge("C1", "A1", Money("10.00", "EUR"))
    events = [
        LedgerOpened("USD"),
        AppointmentAdded(pl.Appointment("A1", "P1", datetime.date(2025, 1, 2))),
        ChargeAdded(charge),
    ]
    with pytest.raises(
        pl.InvalidInputError, match="ChargeAdded of 'C1' is in EUR, not the ledger's USD"
    ):
        pl.replay(events)


def test_a_lone_surrogate_is_refused_alike_by_both_readers() -> None:
    lines = journal.dumps(
        pl.add_appointment(
            pl.Ledger.empty("USD"), pl.Appointment("A1", "P1", datetime.date(2025, 1, 2))
        )
    ).splitlines()
    text = lines[0] + "\n" + lines[1].replace('"P1"', '"P\ud8001"') + "\n"
    assert _read(text, quick=True) == _read(text, quick=False)


class _Id(str):
    """A str subclass, as some callers' id types are."""

    __slots__ = ()


def test_ids_of_a_str_subclass_are_written_as_plain_text() -> None:
    payment = pl.Payment(_Id("Y1"), "P1", Money("10.00", "USD"), datetime.date(2025, 1, 3))
    ledger = pl.post_payment(pl.Ledger.empty("USD"), payment)
    text = journal.dumps(ledger)
    assert '"id":"Y1"' in text
    assert journal.loads(text) == ledger


def test_plan_lines_are_read_quickly_as_the_full_reader_reads_them() -> None:
    """SPEC §11's lines (version 3): a plan, a plan payment, a skip, a reversal that uncounts,
    a cancellation — the quick reader takes each, and the full reader reads the same events."""
    from tests.test_plans import whole_story

    ledger = whole_story()
    text = journal.dumps(ledger)
    with _counting() as taken:
        events = _read(text, quick=True)
    assert taken == {"quick": len(ledger.events) - 1, "full": 0}
    assert events == list(ledger.events) == _read(text, quick=False)
    kinds = {type(event).__name__ for event in ledger.events}
    assert {"PlanPaymentPosted", "InstallmentSkipped", "PaymentPlanCancelled"} <= kinds
    assert any(getattr(event, "uncounted", 0) for event in ledger.events)
