"""Statements and the day sheet (SPEC §12): what a practice mails a patient for a period, and
what the front desk reconciles against the bank deposit.

Both read the ledger's journal once, by the day of each event (:func:`patient_ledger.views.
event_day`), never by its order of posting: a check posted late counts on the day it was
received, so a statement and a day sheet are the same whatever order the same events were
posted in. Every amount is a fresh ``Money`` in the ledger's currency.
"""

from __future__ import annotations

import datetime

import attrs
from moneyed import Money

from patient_ledger.values import PaymentMethod, PaymentType, _Choice
from patient_ledger.views import Aging


class StatementLineKind(_Choice):
    """What a statement line is: the event that moved the patient's Total Balance."""

    CHARGE = "CHARGE"
    ADJUSTMENT = "ADJUSTMENT"
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"
    REVERSAL = "REVERSAL"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_OUT = "TRANSFER_OUT"


@attrs.frozen(kw_only=True)
class StatementLine:
    """One line of a statement: an event of the period that moved the patient's Total Balance.

    ``amount`` is signed as it moves the Total Balance (a charge +, a payment −, a refund +, a
    reversed payment +, credit transferred out +); ``balance`` is the running Total Balance
    after the line; ``ref`` the id of the charge, payment (or refund), adjustment or transfer.
    """

    day: datetime.date
    kind: StatementLineKind
    ref: str
    description: str
    amount: Money
    balance: Money


@attrs.frozen(kw_only=True)
class Statement:
    """What a practice mails a patient for the period ``start`` to ``end`` (SPEC §12).

    ``opening_balance`` is the Total Balance as of the day before ``start``, ``closing_balance``
    as of ``end``; ``opening_balance`` + the lines' amounts = ``closing_balance``. ``credit`` =
    max(0, −closing); ``plan_due`` what is not covered of the installments due on or before
    ``end`` of the patient's plans as of ``end``; ``amount_due`` = max(0, closing − what those
    plans still cover) + ``plan_due``, never more than max(0, closing); ``aging`` the closing
    balance aged first in, first out.
    """

    patient_id: str
    start: datetime.date
    end: datetime.date
    opening_balance: Money
    lines: tuple[StatementLine, ...] = attrs.field(converter=tuple)
    closing_balance: Money
    amount_due: Money
    credit: Money
    plan_due: Money
    aging: Aging


@attrs.frozen(kw_only=True)
class DaySheetLine:
    """One payment, refund or reversal of the day sheet: ``amount`` is signed as it moves the
    practice's Total Paid (a payment +, a refund −, a reversed payment −, a reversed refund +);
    a reversal's line carries its payment's method, type and reference."""

    day: datetime.date
    payment_id: str
    patient_id: str
    method: PaymentMethod
    type: PaymentType
    reference: str | None
    amount: Money


@attrs.frozen(kw_only=True)
class MethodTotal:
    """A day sheet's lines of one payment method: how many, ``received`` (the lines above
    zero), ``returned`` (the lines below zero, ≤ 0) and ``net`` (their sum)."""

    method: PaymentMethod
    count: int
    received: Money
    returned: Money
    net: Money


@attrs.frozen(kw_only=True)
class DaySheet:
    """The payments, refunds and reversals with a day from ``start`` to ``end`` (SPEC §12), by
    day then journal order; ``totals`` one per method with a line, in ``PaymentMethod`` order;
    ``net`` the sum of all lines = the change in the practice's Total Paid over the range."""

    start: datetime.date
    end: datetime.date
    lines: tuple[DaySheetLine, ...] = attrs.field(converter=tuple)
    totals: tuple[MethodTotal, ...] = attrs.field(converter=tuple)
    net: Money
