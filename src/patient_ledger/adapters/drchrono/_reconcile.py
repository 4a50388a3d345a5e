"""Reconciling: our figures against DrChrono's own, per line item and per appointment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from moneyed import Money

from patient_ledger.adapters.drchrono._record import _id_order, _unique
from patient_ledger.adapters.drchrono._summary import Discrepancy
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import Ledger
from patient_ledger.views import (
    FeedRow,
    claims_feed,
    line_items,
    patients,
)


def reconcile(
    ledger: Ledger,
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]] | None = None,
) -> tuple[Discrepancy, ...]:
    """Compare our figures with DrChrono's; empty when they agree.

    Per line item, our ``paid`` and ``balance_due`` against its ``pt_paid`` and
    ``balance_pt``. With the patient payments, also per appointment: the money on it (paid +
    held; theirs: the payments DrChrono placed on it, by line item first, then appointment)
    and its net balance (balance due − held; theirs: ``Σ balance_pt`` less what it holds beyond
    ``Σ pt_paid``). A line item's difference is a placement by a DrChrono rule — a deposit it
    keeps unapplied on a future appointment, an overpaid line's negative ``balance_pt`` — and
    not a discrepancy when the appointment's money and net balance agree, each line's total
    (paid + balance) agrees, and DrChrono's lines show no more paid than the appointment
    received. Without the payments every line item's difference is reported.

    Returns:
        The discrepancies, by appointment (numeric ids in numeric order): its line items'
        (``charge_id`` set), then its own (``charge_id`` None).
    """
    return _reconciled(ledger, list(line_items), patient_payments)[0]


#: Per line item: ``(paid, balance due)`` in minor units, by line item id.
_Lines = dict[str, tuple[int, int]]


def _ours(ledger: Ledger) -> dict[str, tuple[FeedRow, _Lines]]:
    """Every open appointment's feed row and line items, by id."""
    return {
        row.appointment_id: (
            row,
            {
                item.charge_id: (to_minor(item.paid, "paid"), to_minor(item.balance_due, "due"))
                for item in line_items(ledger, row.appointment_id)
            },
        )
        for pid in patients(ledger)
        for row in claims_feed(ledger, pid)
    }


def _reconciled(
    ledger: Ledger, line_records: list[Any], payment_records: Iterable[Any] | None
) -> tuple[tuple[Discrepancy, ...], tuple[Discrepancy, ...]]:
    """The discrepancies, and the line-item differences DrChrono's rules explain."""
    code = ledger.currency
    ours = _ours(ledger)
    theirs: dict[str, _Lines] = {}  # by appointment
    line_owner: dict[str, str] = {}
    for record in _unique("line_item", line_records):
        appointment_id = str(record.key("appointment"))
        line_owner[record.id] = appointment_id
        theirs.setdefault(appointment_id, {})[record.id] = (
            to_minor(Money(record.amount("pt_paid", code), code), "pt_paid"),
            to_minor(Money(record.amount("balance_pt", code), code), "balance_pt"),
        )
    money = None
    if payment_records is not None:
        money = _money_placed(payment_records, ours, line_owner, code)
    found: list[Discrepancy] = []
    explained: list[Discrepancy] = []
    for appointment_id in sorted(set(ours) | set(theirs), key=_id_order):
        row, mine = ours.get(appointment_id, (None, {}))
        other = theirs.get(appointment_id, {})
        lines = sorted(set(mine) | set(other), key=_id_order)
        per_line = _differences(
            appointment_id,
            code,
            [
                (line, field, a, b)
                for line in lines
                for field, a, b in zip(
                    ("paid", "balance_due"),
                    mine.get(line, (0, 0)),
                    other.get(line, (0, 0)),
                    strict=True,
                )
            ],
        )
        if money is None:
            found.extend(per_line)
            continue
        held = 0 if row is None else to_minor(row.appointment_unallocated, "held")
        their_money, their_paid = money.get(appointment_id, 0), sum(p for p, _ in other.values())
        whole = _differences(
            appointment_id,
            code,
            [
                (None, "money", sum(p for p, _ in mine.values()) + held, their_money),
                (
                    None,
                    "net_balance",
                    sum(d for _, d in mine.values()) - held,
                    sum(d for _, d in other.values()) - (their_money - their_paid),
                ),
            ],
        )
        # A DrChrono rule moves money between an appointment's lines and what it holds; it
        # never changes a line's total, nor shows lines paid with more than was received.
        ruled = not whole and their_paid <= their_money
        ruled = ruled and all(sum(mine.get(c, (0, 0))) == sum(other.get(c, (0, 0))) for c in lines)
        (explained if ruled else found).extend(per_line)
        found.extend(whole)
    return tuple(found), tuple(explained)


def _differences(
    appointment_id: str, code: str, pairs: Iterable[tuple[str | None, str, int, int]]
) -> list[Discrepancy]:
    """A discrepancy for each ``(line item or None, field, ours, theirs)`` that differs."""
    return [
        Discrepancy(
            appointment_id=appointment_id,
            charge_id=line,
            field=field,
            ours=to_money(a, code),
            theirs=to_money(b, code),
        )
        for line, field, a, b in pairs
        if a != b
    ]


def _money_placed(
    payment_records: Iterable[Any],
    ours: Mapping[str, object],
    line_owner: Mapping[str, str],
    code: str,
) -> dict[str, int]:
    """The signed sum of the payments DrChrono placed on each of our open appointments (by
    line item first, then appointment; a correction with no place of its own at its
    parent's)."""
    placed: dict[str, str | None] = {}
    amounts: dict[str, int] = {}
    parents: dict[str, str | None] = {}
    for record in _unique("patient_payment", payment_records):
        amounts[record.id] = to_minor(Money(record.amount("amount", code), code), "amount")
        line = record.key("line_item", required=False)
        where = (
            line_owner.get(line) if line is not None else record.key("appointment", required=False)
        )
        placed[record.id] = where if where in ours else None
        parents[record.id] = record.key("parent_id", required=False)
    money: dict[str, int] = {}
    for record_id, amount in amounts.items():
        where = placed[record_id]
        parent = parents[record_id]
        if where is None and amount < 0 and parent is not None:
            where = placed.get(parent)
        if where is not None:
            money[where] = money.get(where, 0) + amount
    return money
