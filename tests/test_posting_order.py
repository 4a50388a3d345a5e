"""One posting order for every importer (issue 24, SPEC §12): the CSV exports, DrChrono and
``from_frames`` post visits first, then by day — charges, plans, payments, adjustments, refunds
(and DrChrono's cancellations last in their day) — so the books can be cut at any day of an
import's history: ``dashboards(ledger, on=day)`` gives the figures of that day, never a
``DateOrderError``."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patient_ledger as pl
from patient_ledger.adapters import drchrono, frames
from patient_ledger.adapters.imports import import_files
from patient_ledger.testing import assert_invariants
from patient_ledger.views import as_of, event_day

D = datetime.date

# -- one small history, three ways in ----------------------------------------------------------

#: (patient, Total Paid, Patient Responsibility) as of each day, added up by hand from the
#: records below.
BY_HAND = {
    D(2025, 1, 5): {"P1": ("0", "0"), "P2": ("0", "0")},
    D(2025, 1, 15): {"P1": ("80", "100"), "P2": ("0", "0")},
    D(2025, 1, 31): {"P1": ("130", "100"), "P2": ("60", "60")},
    D(2025, 2, 10): {"P1": ("170", "100"), "P2": ("60", "60")},
    D(2025, 2, 20): {"P1": ("170", "220"), "P2": ("60", "60")},
    D(2025, 3, 10): {"P1": ("170", "220"), "P2": ("85", "60")},
    D(2025, 3, 31): {"P1": ("160", "220"), "P2": ("85", "60")},
}

VISITS: list[tuple[str, ...]] = [  # appointment_id, patient_id, date
    ("V1", "P1", "2025-01-10"),
    ("V2", "P1", "2025-02-14"),
    ("V3", "P2", "2025-01-20"),
]
CHARGES: list[
    tuple[str, ...]
] = [  # charge_id, appointment_id, amount, posted_on (rows out of day order)
    ("C2", "V2", "120.00", ""),
    ("C3", "V3", "60.00", "2025-01-25"),
    ("C1", "V1", "100.00", ""),
]
PAYMENTS: list[
    tuple[str, ...]
] = [  # payment_id, patient_id, amount, received_on, type, appointment_id, charge_id
    ("T4", "P1", "-10.00", "2025-03-25", "REFUND", "", ""),
    ("T2", "P1", "50.00", "2025-01-30", "PAYMENT", "V2", ""),  # a deposit before its visit
    ("T6", "P2", "25.00", "2025-03-03", "PAYMENT", "", ""),
    ("T5", "P2", "60.00", "2025-01-25", "PAYMENT", "V3", ""),
    ("T1", "P1", "80.00", "2025-01-10", "PAYMENT", "V1", "C1"),
    ("T3", "P1", "40.00", "2025-02-01", "PAYMENT", "", ""),
]


def check_every_day(ledger: pl.Ledger, by_hand: dict[D, dict[str, tuple[str, str]]]) -> None:
    for day, expected in by_hand.items():
        found = {
            pid: (str(d.total_paid.amount), str(d.patient_responsibility.amount))
            for pid, d in pl.dashboards(ledger, on=day).items()
        }
        wanted = {
            pid: (
                str(Decimal(paid).quantize(Decimal("0.01"))),
                str(Decimal(owed).quantize(Decimal("0.01"))),
            )
            for pid, (paid, owed) in expected.items()
        }
        assert found == wanted, day
        for pid, (paid, owed) in wanted.items():
            d = pl.dashboard(ledger, pid, on=day)
            assert d.total_balance.amount == Decimal(owed) - Decimal(paid)
    assert_invariants(ledger)


def csv_files(folder: Path) -> dict[str, Path]:
    tables: dict[str, tuple[str, list[tuple[str, ...]]]] = {
        "visits": ("visit_id,patient_id,date", VISITS),
        "charges": ("charge_id,visit_id,amount,posted_on", CHARGES),
        "payments": (
            "payment_id,patient_id,amount,received_on,type,visit_id,charge_id",
            PAYMENTS,
        ),
    }
    out = {}
    for kind, (header, rows) in tables.items():
        path = folder / f"{kind}.csv"
        path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
        out[kind] = path
    return out


def test_a_csv_import_can_be_cut_at_any_day(tmp_path: Path) -> None:
    ledger, _ = import_files(pl.Ledger.empty(), csv_files(tmp_path))
    check_every_day(ledger, BY_HAND)


def frames_of_the_history() -> dict[str, Any]:
    pd = pytest.importorskip("pandas")

    def cell(text: str) -> str | None:
        return text or None

    return {
        "visits": pd.DataFrame(VISITS, columns=["appointment_id", "patient_id", "date"]),
        "charges": pd.DataFrame(
            [(c, a, amount, cell(on)) for c, a, amount, on in CHARGES],
            columns=["charge_id", "appointment_id", "amount", "posted_on"],
        ),
        "payments": pd.DataFrame(
            [(*row[:5], cell(row[5]), cell(row[6])) for row in PAYMENTS],
            columns=[
                "payment_id",
                "patient_id",
                "amount",
                "received_on",
                "type",
                "appointment_id",
                "charge_id",
            ],
        ),
    }


def test_from_frames_can_be_cut_at_any_day() -> None:
    ledger = frames.from_frames(**frames_of_the_history())
    check_every_day(ledger, BY_HAND)


def test_csv_and_frames_post_one_history_in_one_order(tmp_path: Path) -> None:
    by_csv, _ = import_files(pl.Ledger.empty(), csv_files(tmp_path))
    assert frames.from_frames(**frames_of_the_history()) == by_csv  # the very same journal


def test_from_frames_posts_onto_a_ledger_in_day_order() -> None:
    tables = frames_of_the_history()
    visits = tables.pop("visits")
    known = frames.from_frames(visits)  # the visits are in the ledger already
    ledger = frames.from_frames(**tables, ledger=known)
    check_every_day(ledger, BY_HAND)


# -- DrChrono ----------------------------------------------------------------------------------


def drchrono_history() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    appointments = [
        {"id": 101, "patient": "P1", "scheduled_time": "2025-01-10T09:00:00"},
        {"id": 102, "patient": "P1", "scheduled_time": "2025-02-14T09:00:00"},
        {"id": 103, "patient": "P2", "scheduled_time": "2025-01-20T09:00:00"},
        {
            "id": 104,
            "patient": "P1",
            "scheduled_time": "2025-03-20T09:00:00",
            "status": "Cancelled",
        },
    ]
    items = [
        {"id": 202, "appointment": 102, "pt_paid": Decimal(50), "balance_pt": Decimal(70)},
        {
            "id": 203,
            "appointment": 103,
            "pt_paid": Decimal(60),
            "balance_pt": Decimal(0),
            "posted_date": "2025-01-25T10:00:00",
        },
        {"id": 201, "appointment": 101, "pt_paid": Decimal(80), "balance_pt": Decimal(20)},
    ]

    def paid(pid: int, patient: str, amount: int, day: str, **more: object) -> dict[str, Any]:
        return {
            "id": pid,
            "patient": patient,
            "amount": Decimal(amount),
            "received_date": day,
        } | more

    payments = [
        paid(305, "P1", -10, "2025-03-25", payment_transaction_type="REF"),
        paid(302, "P1", 50, "2025-01-30", appointment=102),  # a deposit before its visit
        paid(307, "P2", 25, "2025-03-03"),
        paid(309, "P2", -5, "2025-03-28", payment_transaction_type="COR", parent_id=307),
        paid(306, "P2", 60, "2025-01-25", appointment=103),
        paid(301, "P1", 80, "2025-01-10", appointment=101, line_item=201),
        paid(303, "P1", 40, "2025-02-01"),
        paid(308, "P1", 30, "2025-03-01", appointment=104),  # on the visit cancelled later
    ]
    return appointments, items, payments


DRCHRONO_BY_HAND = BY_HAND | {
    D(2025, 3, 10): {"P1": ("200", "220"), "P2": ("85", "60")},
    D(2025, 3, 21): {"P1": ("200", "220"), "P2": ("85", "60")},
    D(2025, 3, 31): {"P1": ("190", "220"), "P2": ("80", "60")},
}


def test_a_drchrono_import_can_be_cut_at_any_day() -> None:
    ledger, summary = drchrono.import_records(*drchrono_history())
    check_every_day(ledger, DRCHRONO_BY_HAND)
    # The cancelled visit's deposit waits in the general bucket from the day it was cancelled.
    for day, where in ((D(2025, 3, 19), "104"), (D(2025, 3, 20), None)):
        entries = pl.unallocated_entries(as_of(ledger, day), "P1")
        assert [e.appointment_id for e in entries if e.payment_id == "308"] == [where]
    assert summary.reconciled


def test_a_drchrono_cancellation_is_posted_on_its_day_after_that_days_money() -> None:
    ledger = drchrono.load(*drchrono_history())
    kinds = [type(e).__name__ for e in ledger.events]
    cancelled = kinds.index("AppointmentCancelled")
    days = [event_day(ledger, e) for e in ledger.events]
    assert days[cancelled] == D(2025, 3, 20)
    later = [day for day in days[cancelled + 1 :] if day is not None]
    assert later
    assert min(later) > D(2025, 3, 20)  # the refund and correction of late March


# -- any DrChrono history whose records allow day order ----------------------------------------

START = D(2025, 1, 1)


Moves = dict[str, list[tuple[D, int, int]]]  # per patient: (day, paid, owed), in cents


def visits_and_lines(
    draw: st.DrawFn, moves: Moves
) -> tuple[list[Any], list[Any], dict[int, tuple[str, D]], dict[int, tuple[int, D]]]:
    """Appointments (a cancelled one has no lines) and their line items, each line's cents
    owed from its day (its ``posted_date``, else its visit's date)."""
    appointments: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    visits: dict[int, tuple[str, D]] = {}
    lines: dict[int, tuple[int, D]] = {}  # line id -> (appointment id, its day)
    for aid in range(1, draw(st.integers(1, 4)) + 1):
        patient = draw(st.sampled_from(["1", "2"]))
        date = START + datetime.timedelta(days=draw(st.integers(0, 90)))
        visits[aid] = (patient, date)
        record: dict[str, Any] = {"id": aid, "patient": patient, "scheduled_time": f"{date}"}
        count = draw(st.integers(0, 2))
        if not count and draw(st.booleans()):
            record["status"] = "Cancelled"
        appointments.append(record)
        for n in range(count):
            line = aid * 10 + n
            cents = draw(st.integers(100, 20_000))
            item: dict[str, Any] = {
                "id": line,
                "appointment": aid,
                "pt_paid": 0,
                "balance_pt": Decimal(cents) / 100,
            }
            day = date
            if draw(st.booleans()):
                day = date + datetime.timedelta(days=draw(st.integers(-10, 30)))
                item["posted_date"] = f"{day}T08:00:00"
            lines[line] = (aid, day)
            items.append(item)
            moves[patient].append((day, 0, cents))
    return appointments, items, visits, lines


def money_out(
    draw: st.DrawFn,
    moves: Moves,
    general: dict[str, list[tuple[D, int]]],
    placed: list[tuple[int, str, D, int]],
) -> list[dict[str, Any]]:
    """A refund of part of a patient's general bucket, and a correction of a payment on a
    visit, no earlier than the money they take back."""
    out: list[dict[str, Any]] = []
    for patient, entries in general.items():
        refunded: bool = draw(st.booleans())
        if entries and refunded:
            day, cents = max(entries)
            refund = max(1, cents // 3)
            on = day + datetime.timedelta(days=draw(st.integers(0, 5)))
            out.append(
                {
                    "id": 900 + int(patient),
                    "patient": patient,
                    "amount": -Decimal(refund) / 100,
                    "received_date": f"{on}",
                    "payment_transaction_type": "REF",
                }
            )
            moves[patient].append((on, -refund, 0))
    corrected: bool = draw(st.booleans())
    if placed and corrected:
        parent, patient, day, cents = draw(st.sampled_from(placed))
        taken = max(1, cents // 4)
        on = day + datetime.timedelta(days=draw(st.integers(0, 10)))
        out.append(
            {
                "id": 950,
                "patient": patient,
                "amount": -Decimal(taken) / 100,
                "received_date": f"{on}",
                "payment_transaction_type": "COR",
                "parent_id": parent,
            }
        )
        moves[patient].append((on, -taken, 0))
    return out


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Any], list[Any], list[Any], Moves]:
    """DrChrono records whose dates allow day order (no payment before the line it names), in
    any order, and what each day adds to each patient's Total Paid and responsibility."""
    moves: Moves = {"1": [], "2": []}
    appointments, items, visits, lines = visits_and_lines(draw, moves)
    payments: list[dict[str, Any]] = []
    general: dict[str, list[tuple[D, int]]] = {"1": [], "2": []}
    placed: list[tuple[int, str, D, int]] = []  # payments on a visit: id, patient, day, cents
    for pid in range(101, 101 + draw(st.integers(0, 8))):
        cents = draw(st.integers(100, 10_000))
        day = START + datetime.timedelta(days=draw(st.integers(0, 120)))
        where = draw(st.sampled_from(["general", "visit", "line"]))
        row: dict[str, Any] = {"id": pid, "amount": Decimal(cents) / 100}
        if where == "line" and lines:
            line = draw(st.sampled_from(sorted(lines)))
            aid, line_day = lines[line]
            day = max(day, line_day)  # what the records allow: never before its line
            row |= {"line_item": line, "appointment": aid, "patient": visits[aid][0]}
        elif where in ("visit", "line"):
            aid = draw(st.sampled_from(sorted(visits)))
            row |= {"appointment": aid, "patient": visits[aid][0]}
        else:
            row["patient"] = draw(st.sampled_from(["1", "2"]))
            general[row["patient"]].append((day, cents))
        if "appointment" in row:
            placed.append((pid, row["patient"], day, cents))
        row["received_date"] = f"{day}"
        payments.append(row)
        moves[row["patient"]].append((day, cents, 0))
    payments += money_out(draw, moves, general, placed)
    return appointments, items, draw(st.permutations(payments)), moves


@settings(max_examples=40, deadline=None)
@given(histories())
def test_any_drchrono_history_can_be_cut_at_any_day(
    history: tuple[list[Any], list[Any], list[Any], Moves],
) -> None:
    appointments, items, payments, moves = history
    ledger = drchrono.load(appointments, items, payments)
    days = sorted({day for entries in moves.values() for day, _, _ in entries})
    for day in [START, *days, *(d + datetime.timedelta(days=1) for d in days)]:
        found = pl.dashboards(ledger, on=day)
        for patient, d in found.items():
            paid = sum(c for when, c, _ in moves[patient] if when <= day)
            owed = sum(c for when, _, c in moves[patient] if when <= day)
            assert (d.total_paid.amount, d.patient_responsibility.amount) == (
                Decimal(paid) / 100,
                Decimal(owed) / 100,
            ), (day, patient)
    assert_invariants(ledger)


def test_a_correction_finds_a_deposit_applied_to_a_line_posted_after_it() -> None:
    appointments = [{"id": 1, "patient": 9, "scheduled_time": "2025-03-03T09:00:00"}]
    items = [{"id": 11, "appointment": 1, "pt_paid": Decimal(30), "balance_pt": Decimal(10)}]
    payments = [
        {
            "id": 1,
            "patient": 9,
            "appointment": 1,
            "amount": Decimal(40),
            "received_date": "2025-03-01",
        },
        {
            "id": 2,
            "patient": 9,
            "line_item": 11,
            "amount": Decimal(-10),
            "received_date": "2025-03-05",
            "payment_transaction_type": "COR",
        },
    ]
    ledger, summary = drchrono.import_records(appointments, items, payments)
    # The deposit was held until its line was posted on the visit's day, then applied to it.
    assert pl.payment_status(ledger, "1").reversed.amount == 10
    assert "reversed 10 of payment 1 (the newest payment with money on line item 11)" in (
        summary.changed[0].reason
    )
    assert summary.reconciled
