"""Small builders that keep the scenario tests readable."""

from __future__ import annotations

import datetime
from decimal import Decimal

from moneyed import Money

import patient_ledger as pl
from patient_ledger._stored import value_of
from patient_ledger.state import state_of

D = datetime.date


def usd(text: str) -> Money:
    return Money(text, "USD")


def appointment(
    ledger: pl.Ledger, aid: str, pid: str = "P1", day: datetime.date = D(2025, 1, 22)
) -> pl.Ledger:
    return pl.add_appointment(ledger, pl.Appointment(aid, pid, day))


def charge(ledger: pl.Ledger, cid: str, aid: str, amount: str) -> pl.Ledger:
    return pl.add_charge(ledger, pl.Charge(cid, aid, usd(amount)))


def pay(
    ledger: pl.Ledger,
    pay_id: str,
    amount: str,
    aid: str | None = None,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 22),
) -> pl.Ledger:
    return pl.post_payment(ledger, pl.Payment(pay_id, pid, usd(amount), day, appointment_id=aid))


def refund(
    ledger: pl.Ledger,
    rid: str,
    amount: str,
    aid: str | None = None,
    pid: str = "P1",
    day: datetime.date = D(2025, 1, 30),
) -> pl.Ledger:
    return pl.refund(
        ledger,
        pl.Payment(rid, pid, usd(amount), day, type=pl.PaymentType.REFUND, appointment_id=aid),
    )


def dash(ledger: pl.Ledger, pid: str = "P1") -> dict[str, str]:
    """The dashboard as plain strings: easy to compare and to read in a failure."""
    d = pl.dashboard(ledger, pid)
    return {
        "paid": str(d.total_paid.amount),
        "allocated": str(d.allocated.amount),
        "unallocated": str(d.unallocated.amount),
        "responsibility": str(d.patient_responsibility.amount),
        "statement": str(d.statement_balance.amount),
        "total": str(d.total_balance.amount),
    }


def feed(ledger: pl.Ledger, pid: str = "P1") -> list[tuple[str, str, str, str, str, str]]:
    """Claims feed rows as (id, responsibility, paid, due, appt unallocated, pt unallocated)."""
    return [
        (
            r.appointment_id,
            str(r.patient_responsibility.amount),
            str(r.paid.amount),
            str(r.balance_due.amount),
            str(r.appointment_unallocated.amount),
            str(r.patient_unallocated.amount),
        )
        for r in pl.claims_feed(ledger, pid)
    ]


def entries(ledger: pl.Ledger, pid: str = "P1") -> list[tuple[str, str | None, str]]:
    """Open entries as (payment id, appointment id, amount)."""
    return [
        (e.payment_id, e.appointment_id, str(e.amount.amount))
        for e in pl.unallocated_entries(ledger, pid)
    ]


def tables(ledger: pl.Ledger) -> dict[str, object]:
    """The state's tables, value objects as themselves (a restored ledger holds records)."""
    s = state_of(ledger)
    tables: dict[str, object] = {
        name: value for name, value in zip(s._fields, s, strict=True) if name != "log"
    }
    for name in ("charges", "appointments", "adjustments", "transfers"):
        tables[name] = {k: value_of(v, s.currency) for k, v in getattr(s, name).items()}
    tables["payments"] = {
        k: (value_of(row[0], s.currency), *row[1:]) for k, row in s.payments.items()
    }
    return tables


#: A statement line of each kind, as a practice prints them (day offset, kind, ref, text, amount).
_PRINTED_LINES = [
    (
        pl.StatementLineKind.CHARGE,
        "C",
        "99213 Office visit, established patient (visit {day})",
        "185.00",
    ),
    (pl.StatementLineKind.PAYMENT, "PAY", "CREDIT_CARD COPAY ref 4417-{n}", "-60.00"),
    (pl.StatementLineKind.ADJUSTMENT, "ADJ", "Contractual adjustment", "-25.50"),
    (pl.StatementLineKind.REFUND, "R", "CHECK REFUND", "10.00"),
    (pl.StatementLineKind.TRANSFER_OUT, "T", "Credit moved to the family account", "5.25"),
]


def printed_statement(
    lines: int, patient_id: str = "P1", opening: str = "120.00", *, short: bool = False
) -> pl.Statement:
    """A March statement of ``lines`` lines (charges, payments, adjustments, refunds and
    transfers in turn) whose running balance adds up, for the printed forms; ``short``: every
    description a word (no line wraps)."""
    start, end = D(2025, 3, 1), D(2025, 3, 31)
    balance = Decimal(opening)
    rows = []
    for n in range(1, lines + 1):
        kind, prefix, text, amount = _PRINTED_LINES[(n - 1) % len(_PRINTED_LINES)]
        day = start + datetime.timedelta(days=(n - 1) * 30 // max(lines, 1))
        balance += Decimal(amount)
        rows.append(
            pl.StatementLine(
                day=day,
                kind=kind,
                ref=f"{prefix}{n}",
                description=kind.name.lower() if short else text.format(day=day, n=n),
                amount=usd(amount),
                balance=Money(balance, "USD"),
            )
        )
    closing = Money(balance, "USD")
    zero = usd("0.00")
    return pl.Statement(
        patient_id=patient_id,
        start=start,
        end=end,
        opening_balance=usd(opening),
        lines=rows,
        closing_balance=closing,
        amount_due=closing if balance > 0 else zero,
        credit=zero if balance > 0 else Money(-balance, "USD"),
        plan_due=zero,
        aging=pl.Aging(
            current=closing if balance > 0 else zero,
            days_31_60=zero,
            days_61_90=zero,
            over_90=zero,
        ),
    )
