"""The one order every importer posts in: CSV exports (:mod:`~patient_ledger.adapters.imports`),
DrChrono (:mod:`~patient_ledger.adapters.drchrono`) and DataFrames
(:func:`~patient_ledger.adapters.frames.from_frames`), so that an import can be cut at any day
of its history (SPEC §12: ``dashboards(ledger, on=day)``).

1. Every visit first (a visit moves no money, and a payment received before its visit must
   find it).
2. Then by day, and within a day by stage (:data:`STAGES`): charges (on their ``posted_on``,
   else their visit's date), payment plans (their ``created_on``: a plan's balance is the
   day's charges'), payments, adjustments, refunds (money out: a DrChrono correction too), and
   cancellations (a DrChrono visit cancelled on its day, once the money it concerns is in);
   within a stage, in the importer's own order (files and lines, frame rows, record ids).

A record that names another is posted no earlier than it: a payment, refund or adjustment that
names a line no earlier than that line's day, a payment that names a plan no earlier than the
plan's ``created_on``, a correction no earlier than the payment it corrects (``after``). So an
import is in day order as far as its records allow: only a record dated before what it names
(a payment received before its line was created) is posted late — on the day of what it names,
keeping its own date — and a dated view across it raises
:class:`~patient_ledger.errors.DateOrderError` rather than show other figures.

>>> import datetime
>>> from moneyed import Money
>>> from patient_ledger.values import Payment
>>> early = Payment("T1", "P1", Money("20.00", "USD"), datetime.date(2025, 1, 2), charge_id="C1")
>>> charge_day = datetime.date(2025, 1, 5).toordinal()
>>> at = position(early, lambda kind, key: charge_day if kind == "charges" else None)
>>> datetime.date.fromordinal(at.day), STAGES[at.rank]
(datetime.date(2025, 1, 5), 'payments')
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import NamedTuple

from patient_ledger.values import (
    Adjustment,
    Appointment,
    Charge,
    Payment,
    PaymentPlan,
    PaymentType,
)

#: The stages of a day, in the order they are posted (every visit before every day).
STAGES = ("visits", "charges", "plans", "payments", "adjustments", "refunds", "cancellations")
#: Each stage's place in :data:`STAGES`.
RANK = {stage: rank for rank, stage in enumerate(STAGES)}
#: The day every visit is posted on: before every date.
VISITS_DAY = 0

#: What an importer posts, as values.
Record = Appointment | Charge | PaymentPlan | Payment | Adjustment
#: The day (an ordinal) a record the importer knows is posted on — ``("visits", id)`` a visit's
#: date, ``("charges", id)`` a charge's day, ``("plans", id)`` a plan's ``created_on`` — or
#: ``None`` when it knows none.
DayOf = Callable[[str, str], int | None]


class Position(NamedTuple):
    """Where a record is posted: its day (an ordinal; :data:`VISITS_DAY` for a visit), then its
    stage's rank. Importers sort by it, then by their own order within a stage (the CSV
    importer's spool sorts by these columns, by name)."""

    day: int
    rank: int


def position(
    value: Record,
    day_of: DayOf,
    *,
    stage: str | None = None,
    after: Iterable[int | None] = (),
) -> Position:
    """Where ``value`` is posted: on its own day, or the day of what it names if that is later
    (``day_of`` says the days of lines and plans; ``after``: more days it may not precede, a
    corrected payment's), in ``stage`` (by default its own: a payment of type ``REFUND`` is a
    refund).

    A charge whose visit ``day_of`` does not know is posted first of its stage's (day
    :data:`VISITS_DAY`), where its command refuses it.
    """
    if isinstance(value, Payment):
        day = value.received_on.toordinal()
        if value.charge_id is not None:
            day = max(day, day_of("charges", value.charge_id) or day)
        if value.plan_id is not None:
            day = max(day, day_of("plans", value.plan_id) or day)
        kind = "refunds" if value.type is PaymentType.REFUND else "payments"
    elif isinstance(value, Charge):
        posted_on = value.posted_on
        if posted_on is not None:
            day = posted_on.toordinal()
        else:
            day = day_of("visits", value.appointment_id) or VISITS_DAY
        kind = "charges"
    elif isinstance(value, Appointment):
        day, kind = VISITS_DAY, "visits"
    elif isinstance(value, PaymentPlan):
        day, kind = value.created_on.toordinal(), "plans"
    else:
        day = max(value.on.toordinal(), day_of("charges", value.charge_id) or VISITS_DAY)
        kind = "adjustments"
    for later in after:
        if later is not None and later > day:
            day = later
    return Position(day, RANK[stage or kind])


def cancellation(date: datetime.date, money: Iterable[int]) -> Position:
    """Where a visit's cancellation is posted: on the later of its date and the days of the
    money posted on it (``money``: their days), after that day's money."""
    return Position(max((date.toordinal(), *money)), RANK["cancellations"])
