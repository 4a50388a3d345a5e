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
from collections import Counter
from decimal import Decimal
from typing import Any

from beancount.core import amount, data, realization  # type: ignore[import-untyped]

import patient_ledger as pl

ZERO_META: dict[str, Any] = {"filename": "<bench>", "lineno": 0}
DAY = datetime.date(2025, 1, 1)


def _posting(account: str, cents: int) -> Any:
    return data.Posting(account, amount.Amount(Decimal(cents) / 100, "USD"), None, None, None, None)


def entries_from(ledger: pl.Ledger) -> list[Any]:  # noqa: PLR0915 - one case per event
    """One transaction per event that moves money, as postings between patient accounts."""
    owner: dict[str, str] = {}  # appointment -> patient
    charge_of: dict[str, str] = {}  # charge -> appointment
    where: dict[str, str] = {}  # open entry -> its held account
    out = []

    def held(pid: str, aid: str | None) -> str:
        return f"Liabilities:Held:{pid}:{aid or 'general'}"

    def applications(applied: Any) -> list[Any]:
        return [
            posting
            for entry_id, aid, cents in applied
            for posting in (
                _posting(where[entry_id], cents),
                _posting(f"Assets:Receivable:{owner[aid]}", -cents),
            )
        ]

    def returns(aid: str, returned: Any, account: str) -> list[Any]:
        postings = []
        for _, cents, entry_id in returned:
            where[entry_id] = account
            postings += [
                _posting(f"Assets:Receivable:{owner[aid]}", cents),
                _posting(account, -cents),
            ]
        return postings

    def moves(moved: Any, to_pid: str) -> list[Any]:
        postings = []
        for from_entry_id, entry_id, cents in moved:
            where[entry_id] = held(to_pid, None)
            postings += [_posting(where[from_entry_id], cents), _posting(where[entry_id], -cents)]
        return postings

    for event in ledger.events:
        postings = []
        if isinstance(event, pl.AppointmentAdded):
            owner[event.appointment.id] = event.appointment.patient_id
        elif isinstance(event, pl.ChargeAdded):
            charge_of[event.charge.id] = event.charge.appointment_id
            pid = owner[event.charge.appointment_id]
            postings += [
                _posting(f"Assets:Receivable:{pid}", event.charge.minor_units),
                _posting("Income:Services", -event.charge.minor_units),
                *applications(event.applied),
            ]
        elif isinstance(event, pl.PaymentPosted | pl.RefundPosted):
            p = event.payment
            allocated = event.allocated if isinstance(event, pl.PaymentPosted) else 0
            postings.append(_posting("Assets:Cash", p.minor_units))
            if allocated:
                postings.append(_posting(f"Assets:Receivable:{p.patient_id}", -allocated))
            if event.entry_id is not None:
                where[event.entry_id] = held(p.patient_id, p.appointment_id)
                postings.append(_posting(where[event.entry_id], allocated - p.minor_units))
        elif isinstance(event, pl.UnallocatedApplied):
            postings += applications(event.applied)
        elif isinstance(event, pl.ChargeAdjusted):
            aid = charge_of[event.adjustment.charge_id]
            cents = event.adjustment.minor_units
            postings += [
                _posting(f"Assets:Receivable:{owner[aid]}", cents),
                _posting("Income:Services", -cents),
                *returns(aid, event.returned, held(owner[aid], aid)),
                *applications(event.applied),
            ]
        elif isinstance(event, pl.AllocationUnapplied):
            aid = event.appointment_id
            postings += returns(aid, event.returned, held(owner[aid], None))
            postings += applications(event.applied)
        elif isinstance(event, pl.CreditReleased):
            postings += moves(event.moves, owner[event.appointment_id])
        elif isinstance(event, pl.CreditTransferred):
            postings += moves(event.moves, event.transfer.to_patient_id)
        elif isinstance(event, pl.PaymentReversed):
            for aid, cents in event.allocations:
                postings += [
                    _posting(f"Assets:Receivable:{owner[aid]}", cents),
                    _posting("Assets:Cash", -cents),
                ]
            for entry_id, cents in event.entries:
                postings += [_posting(where[entry_id], cents), _posting("Assets:Cash", -cents)]
            postings += applications(event.applied)
        if postings:  # (EntriesCancelled closes entries against each other: no money moves)
            out.append(
                data.Transaction(ZERO_META, DAY, "*", None, "", frozenset(), frozenset(), postings)
            )
    return out


def realize(entries: list[Any]) -> dict[str, Decimal]:
    """Every account's balance in USD."""
    root = realization.realize(entries)
    return {
        real.account: real.balance.get_currency_units("USD").number
        for real in realization.iter_children(root)
        if not real.balance.is_empty()
    }


def held_by_patient(balances: dict[str, Decimal]) -> Counter[str]:
    """Each patient's money held in their buckets (accounts ``Liabilities:Held:{patient}:…``)."""
    held: Counter[str] = Counter()
    for account, balance in balances.items():
        if account.startswith("Liabilities:Held:"):
            held[account.split(":")[2]] -= balance
    return held
