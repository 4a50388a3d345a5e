"""Tables for analysts: records (plain dicts) and pandas DataFrames (a shell module).

``records(ledger)`` needs nothing beyond the library; ``to_pandas(ledger)`` needs the
``pandas`` extra (``pip install "patient-ledger[pandas]"``). Amounts stay exact ``Decimal``
values (an object column): convert to float only where you plot, never where you add.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from patient_ledger.apply import apply_event
from patient_ledger.errors import UnknownIdError
from patient_ledger.state import Ledger
from patient_ledger.views import (
    DASHBOARD_FIELDS,
    aging,
    claims_feed,
    dashboard,
    patients,
    unallocated_entries,
)


def records(ledger: Ledger, *, on: datetime.date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every patient's views as lists of flat rows: ``dashboards``, ``claims_feed``,
    ``unallocated_entries`` and, with ``on``, ``aging``. Amounts are ``Decimal``."""
    out: dict[str, list[dict[str, Any]]] = {
        "dashboards": [],
        "claims_feed": [],
        "unallocated_entries": [],
    }
    if on is not None:
        out["aging"] = []
    for pid in patients(ledger):
        d = dashboard(ledger, pid)
        out["dashboards"].append(
            {"patient_id": pid} | {name: getattr(d, name).amount for name in DASHBOARD_FIELDS}
        )
        out["claims_feed"].extend(
            {
                "patient_id": pid,
                "appointment_id": r.appointment_id,
                "date": r.date,
                "patient_responsibility": r.patient_responsibility.amount,
                "paid": r.paid.amount,
                "balance_due": r.balance_due.amount,
                "appointment_unallocated": r.appointment_unallocated.amount,
                "patient_unallocated": r.patient_unallocated.amount,
            }
            for r in claims_feed(ledger, pid)
        )
        out["unallocated_entries"].extend(
            {
                "patient_id": pid,
                "id": e.id,
                "payment_id": e.payment_id,
                "appointment_id": e.appointment_id,
                "amount": e.amount.amount,
                "received_on": e.received_on,
            }
            for e in unallocated_entries(ledger, pid)
        )
        if on is not None:
            a = aging(ledger, pid, on=on)
            out["aging"].append(
                {
                    "patient_id": pid,
                    "current": a.current.amount,
                    "days_31_60": a.days_31_60.amount,
                    "days_61_90": a.days_61_90.amount,
                    "over_90": a.over_90.amount,
                }
            )
    return out


def balance_history(ledger: Ledger, patient_id: str) -> list[dict[str, Any]]:
    """The patient's dashboard after every event of the journal that changed it: one row per
    such event, with its index (``event``) and type. Rebuilt in one pass over the journal."""
    rows: list[dict[str, Any]] = []
    now = Ledger.empty(ledger.currency)
    last: dict[str, Decimal] | None = None
    for index, event in enumerate(ledger.events):
        if index:
            now = apply_event(now, event)
        try:
            d = dashboard(now, patient_id)
        except UnknownIdError:  # not known yet
            continue
        figures = {name: getattr(d, name).amount for name in DASHBOARD_FIELDS}
        if figures != last:
            rows.append({"event": index, "type": type(event).__name__} | figures)
            last = figures
    return rows


def to_pandas(ledger: Ledger, *, on: datetime.date | None = None) -> dict[str, Any]:
    """:func:`records` as pandas DataFrames (the ``pandas`` extra)."""
    try:
        import pandas as pd  # noqa: PLC0415 - an optional dependency
    except ImportError as error:  # pragma: no cover - depends on the installation
        msg = 'to_pandas needs pandas: pip install "patient-ledger[pandas]"'
        raise ImportError(msg) from error
    return {name: pd.DataFrame(rows) for name, rows in records(ledger, on=on).items()}
