"""Statements and day sheets as records and DataFrames (patient_ledger.frames)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

import patient_ledger as pl
from patient_ledger.adapters import frames
from tests.test_statements import february

D = datetime.date
FEB = {"start": D(2025, 2, 1), "end": D(2025, 2, 28)}


def test_statement_records_are_flat_and_exact() -> None:
    every = pl.statements(february(), **FEB)
    rows = frames.statement_records(every)
    assert rows["statements"][0] == {
        "patient_id": "P1", "start": D(2025, 2, 1), "end": D(2025, 2, 28),
        "opening_balance": Decimal("50.00"), "closing_balance": Decimal("145.00"),
        "amount_due": Decimal("145.00"), "credit": Decimal("0.00"), "plan_due": Decimal("0.00"),
        "current": Decimal("145.00"), "days_31_60": Decimal("0.00"),
        "days_61_90": Decimal("0.00"), "over_90": Decimal("0.00"),
    }  # fmt: skip
    lines = rows["statement_lines"]
    assert len(lines) == 9
    assert lines[-1] == {"patient_id": "P2", "day": D(2025, 2, 15), "kind": "TRANSFER_IN",
                         "ref": "T1", "description": "credit from P1",
                         "amount": Decimal("-30.00"), "balance": Decimal("-30.00")}  # fmt: skip


def test_statement_and_day_sheet_frames() -> None:
    pytest.importorskip("pandas")
    f = frames.statement_frames(february(), **FEB)
    assert list(f["statements"].index) == ["P1", "P2"]
    assert f["statements"].loc["P2", "credit"] == Decimal("30.00")
    lines = f["statement_lines"]
    assert str(lines["day"].dtype) == "datetime64[ns]"
    # Opening + the lines = closing, per patient, in exact decimals.
    by_patient = lines.groupby("patient_id")["amount"].sum()
    summary = f["statements"]
    assert (summary["opening_balance"] + by_patient == summary["closing_balance"]).all()
    sheet = frames.day_sheet_frames(february(), D(2025, 2, 1), D(2025, 2, 28), amounts="float")
    totals = sheet["method_totals"]
    assert list(totals.index) == ["CASH", "CHECK", "CREDIT_CARD"]
    assert totals.loc["CASH", "net"] == pytest.approx(80.0)
    assert sheet["day_sheet_lines"]["amount"].sum() == pytest.approx(105.0)
    one = frames.day_sheet_frames(february(), D(2025, 3, 1))
    assert len(one["day_sheet_lines"]) == 0
