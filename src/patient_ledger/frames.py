"""Tables for analysts: records (plain dicts) and pandas DataFrames (a shell module).

``records(ledger)`` needs nothing beyond the library; ``to_pandas(ledger)`` needs the
``pandas`` extra (``pip install "patient-ledger[pandas]"``). Amounts stay exact ``Decimal``
values (an object column): convert to float only where you plot, never where you add.

The tables: ``dashboards`` (one row per patient), ``claims_feed`` (one per appointment),
``line_items`` (one per line of each appointment in the feed, in line order: ``patient_id``,
``appointment_id``, ``charge_id``, ``code``, ``description``, ``responsibility``, ``paid``,
``balance_due``), ``unallocated_entries``, ``allocations`` (where each payment's and refund's
money is now, one row per place, payments in journal order: ``payment_id``, ``patient_id`` —
whoever holds it now —, ``appointment_id``, ``charge_id``, ``amount``; a line when
``charge_id`` is set, an appointment's bucket when only ``appointment_id`` is, the general
bucket when neither) and, with ``on``, ``aging``. A patient's ``allocations`` rows add up to
their ``total_paid``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from patient_ledger.apply import apply_event
from patient_ledger.errors import UnknownIdError
from patient_ledger.events import PaymentPosted, RefundPosted
from patient_ledger.state import Ledger
from patient_ledger.views import (
    DASHBOARD_FIELDS,
    aging,
    allocations,
    claims_feed,
    dashboard,
    line_items,
    patients,
    unallocated_entries,
)


def records(ledger: Ledger, *, on: datetime.date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every patient's views as lists of flat rows: ``dashboards``, ``claims_feed``,
    ``line_items``, ``unallocated_entries``, ``allocations`` and, with ``on``, ``aging``.
    Amounts are ``Decimal``."""
    out: dict[str, list[dict[str, Any]]] = {
        "dashboards": [],
        "claims_feed": [],
        "line_items": [],
        "unallocated_entries": [],
        "allocations": [],
    }
    if on is not None:
        out["aging"] = []
    for pid in patients(ledger):
        d = dashboard(ledger, pid)
        out["dashboards"].append(
            {"patient_id": pid} | {name: getattr(d, name).amount for name in DASHBOARD_FIELDS}
        )
        feed = claims_feed(ledger, pid)
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
            for r in feed
        )
        out["line_items"].extend(
            {
                "patient_id": pid,
                "appointment_id": item.appointment_id,
                "charge_id": item.charge_id,
                "code": item.code,
                "description": item.description,
                "responsibility": item.responsibility.amount,
                "paid": item.paid.amount,
                "balance_due": item.balance_due.amount,
            }
            for r in feed
            for item in line_items(ledger, r.appointment_id)
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
    for event in ledger.events:
        if isinstance(event, PaymentPosted | RefundPosted):
            out["allocations"].extend(
                {
                    "payment_id": place.payment_id,
                    "patient_id": place.patient_id,
                    "appointment_id": place.appointment_id,
                    "charge_id": place.charge_id,
                    "amount": place.amount.amount,
                }
                for place in allocations(ledger, event.payment.id)
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
