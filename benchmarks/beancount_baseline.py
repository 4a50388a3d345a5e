"""The beancount 3 baseline: the same money movements as postings, realized into balances.

Used by ``bench.py --beancount`` (the ``bench`` extra installs beancount). Each planned command
becomes one beancount ``Transaction`` whose postings move the same amounts between per-patient
accounts that our ledger moves between buckets and appointments (the allocation decisions are
taken from our own ledger's events, so beancount only has to add them up); ``realize`` then
computes every account's balance, from which each patient's paid, allocated and held money is
read.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from beancount.core import amount, data, realization  # type: ignore[import-untyped]

import patient_ledger as pl

ZERO_META: dict[str, Any] = {"filename": "<bench>", "lineno": 0}
DAY = datetime.date(2025, 1, 1)


def _posting(account: str, cents: int) -> Any:
    return data.Posting(account, amount.Amount(Decimal(cents) / 100, "USD"), None, None, None, None)


def entries_from(ledger: pl.Ledger) -> list[Any]:
    """One transaction per event that moves money, as postings between patient accounts."""
    owner: dict[str, str] = {}
    entry_owner: dict[str, tuple[str, str | None]] = {}
    out = []
    for event in ledger.events:
        postings = []
        if isinstance(event, pl.AppointmentAdded):
            owner[event.appointment.id] = event.appointment.patient_id
        elif isinstance(event, pl.ChargeAdded):
            pid = owner[event.charge.appointment_id]
            postings += [
                _posting(f"Assets:Receivable:{pid}", event.charge.minor_units),
                _posting("Income:Services", -event.charge.minor_units),
            ]
            postings += _applications(event.applied, owner, entry_owner)
        elif isinstance(event, pl.PaymentPosted):
            p = event.payment
            held = p.minor_units - event.allocated
            postings.append(_posting("Assets:Cash", p.minor_units))
            if event.allocated:
                postings.append(_posting(f"Assets:Receivable:{p.patient_id}", -event.allocated))
            if held:
                bucket = p.appointment_id or "general"
                entry_owner[str(event.entry_id)] = (p.patient_id, p.appointment_id)
                postings.append(_posting(f"Liabilities:Held:{p.patient_id}:{bucket}", -held))
        elif isinstance(event, pl.RefundPosted):
            p = event.payment
            entry_owner[event.entry_id] = (p.patient_id, p.appointment_id)
            bucket = p.appointment_id or "general"
            postings += [
                _posting("Assets:Cash", p.minor_units),
                _posting(f"Liabilities:Held:{p.patient_id}:{bucket}", -p.minor_units),
            ]
        elif isinstance(event, pl.UnallocatedApplied):
            postings += _applications(event.applied, owner, entry_owner)
        if postings:
            out.append(
                data.Transaction(ZERO_META, DAY, "*", None, "", frozenset(), frozenset(), postings)
            )
    return out


def _applications(
    applied: Any, owner: dict[str, str], entry_owner: dict[str, tuple[str, str | None]]
) -> list[Any]:
    postings = []
    for entry_id, appointment_id, cents in applied:
        pid, bucket = entry_owner[entry_id]
        postings += [
            _posting(f"Liabilities:Held:{pid}:{bucket or 'general'}", cents),
            _posting(f"Assets:Receivable:{owner[appointment_id]}", -cents),
        ]
    return postings


def realize(entries: list[Any]) -> dict[str, Decimal]:
    """Every account's balance in USD."""
    root = realization.realize(entries)
    return {
        real.account: real.balance.get_currency_units("USD").number
        for real in realization.iter_children(root)
        if not real.balance.is_empty()
    }
