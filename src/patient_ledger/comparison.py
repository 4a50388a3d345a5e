"""Two ledgers side by side: every dashboard and claims-feed figure that differs (a shell).

``compare(a, b)`` reads both ledgers through the public views only, patient by patient and
appointment by appointment, and keeps the figures that differ: a what-if (another allocation
policy, a write-off, a refund) against the ledger as it is, or two imports of the same data.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Literal

import attrs
from moneyed import Money

from patient_ledger.errors import InvalidInputError
from patient_ledger.state import Ledger
from patient_ledger.views import DASHBOARD_FIELDS, claims_feed, dashboard, patients

#: The claims-feed figures compared per appointment (``patient_unallocated`` is the
#: dashboard's ``unallocated``, compared once per patient).
FEED_FIELDS = ("patient_responsibility", "paid", "balance_due", "appointment_unallocated")


@attrs.frozen(kw_only=True)
class Difference:
    """One figure that differs: of a patient's dashboard (``appointment_id`` None) or of an
    appointment's claims-feed row. ``a`` or ``b`` is None where that ledger does not know the
    patient or shows no such row (a new appointment, a cancelled one); ``change`` is ``b − a``,
    a missing figure counted as zero (so a figure that is zero on one side and missing on the
    other is no difference)."""

    patient_id: str
    appointment_id: str | None
    figure: str
    a: Money | None
    b: Money | None
    change: Money


#: The columns of :meth:`Comparison.records` and :meth:`Comparison.to_pandas` beside the two
#: ledgers' own: a ledger may not be named after one of them.
RESERVED_NAMES = ("patient_id", "appointment_id", "figure", "change")


def _check_names(_: object, __: object, names: object) -> None:
    """Two distinct str names, neither a :data:`RESERVED_NAMES` column (each would overwrite
    a column of the records and the DataFrame)."""
    if not (
        isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) for n in names)
    ):
        raise InvalidInputError(f"names must be a tuple of two str, got {names!r}", names=names)
    clash = [n for n in names if n in RESERVED_NAMES]
    if clash:
        raise InvalidInputError(
            f"names {names!r}: {', '.join(map(repr, clash))} would overwrite a column of the "
            f"comparison ({', '.join(RESERVED_NAMES)}); name the ledgers otherwise",
            names=names,
        )
    if names[0] == names[1]:
        raise InvalidInputError(
            f"names {names!r}: both ledgers are named {names[0]!r}, so one column would "
            "overwrite the other; give two different names",
            names=names,
        )


@attrs.frozen
class Comparison:
    """The differences between two ledgers (``rows``), patients sorted, each patient's dashboard
    figures first and then its appointments' (by date, then id); ``names`` label the two
    ledgers. It iterates over its rows and is false when the ledgers show the same figures. In a
    notebook it shows itself as a table of what differs."""

    rows: tuple[Difference, ...]
    names: tuple[str, str] = attrs.field(default=("a", "b"), validator=_check_names)

    def __iter__(self) -> Iterator[Difference]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def records(self, *, amounts: Literal["decimal", "float"] = "decimal") -> list[dict[str, Any]]:
        """The differences as flat rows: ``patient_id``, ``appointment_id``, ``figure``, the two
        ledgers' values (named as given to :func:`compare`) and ``change``."""
        a, b = self.names

        def number(money: Money | None) -> Decimal | float | None:
            if money is None:
                return None
            return float(money.amount) if amounts == "float" else money.amount

        return [
            {
                "patient_id": d.patient_id,
                "appointment_id": d.appointment_id,
                "figure": d.figure,
                a: number(d.a),
                b: number(d.b),
                "change": number(d.change),
            }
            for d in self
        ]

    def to_pandas(self, *, amounts: Literal["decimal", "float"] = "decimal") -> Any:
        """The differences as a DataFrame indexed by ``(patient_id, appointment_id, figure)``,
        ``appointment_id`` ``""`` for a dashboard figure (amounts exact ``Decimal`` objects, or
        ``float64`` with ``amounts="float"``)."""
        import pandas as pd  # noqa: PLC0415 - an optional dependency

        a, b = self.names
        columns = ["patient_id", "appointment_id", "figure", a, b, "change"]
        rows = self.records(amounts=amounts)
        for row in rows:  # an index level reads better without NaN: "" is the dashboard
            row["appointment_id"] = row["appointment_id"] or ""
        table = pd.DataFrame(rows, columns=columns)
        return table.set_index(["patient_id", "appointment_id", "figure"])

    def _repr_html_(self) -> str:
        a, b = self.names
        if not self:
            return '<p class="patient-ledger-comparison">No figure differs.</p>'
        head = "".join(
            f"<th>{html.escape(h)}</th>"
            for h in ("Patient", "Appointment", "Figure", a, b, "Change")
        )

        def cell(value: object, amount: bool = False) -> str:
            text = "" if value is None else str(value.amount if amount else value)  # type: ignore[attr-defined]
            align = ' style="text-align:right"' if amount else ""
            return f"<td{align}>{html.escape(text)}</td>"

        body = "".join(
            "<tr>"
            + cell(d.patient_id)
            + cell(d.appointment_id or "(dashboard)")
            + cell(d.figure)
            + cell(d.a, amount=True)
            + cell(d.b, amount=True)
            + cell(d.change, amount=True)
            + "</tr>"
            for d in self
        )
        caption = f"{len(self)} figures differ between {a} and {b}"
        return (
            f'<table class="patient-ledger-comparison"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def compare(
    a: Ledger, b: Ledger, *, names: tuple[str, str] = ("a", "b"), unchanged: bool = False
) -> Comparison:
    """Every dashboard and claims-feed figure that differs between ledgers ``a`` and ``b`` —
    or, with ``unchanged=True``, every figure side by side, those that did not change
    included (their ``change`` zero).

    Per patient (of either ledger) its six dashboard figures, and per appointment (of either
    ledger's claims feed) its responsibility, paid, balance due and appointment unallocated.
    ``names`` label the two ledgers in the table and the DataFrame.

    >>> import datetime
    >>> from moneyed import Money
    >>> import patient_ledger as pl
    >>> before = pl.post_payment(pl.Ledger.empty(), pl.Payment(
    ...     "PAY1", "P1", Money("50.00", "USD"), datetime.date(2025, 1, 2)))
    >>> after = pl.refund(before, pl.Payment(
    ...     "R1", "P1", Money("-20.00", "USD"), datetime.date(2025, 1, 3), type="REFUND"))
    >>> [(d.figure, str(d.change.amount)) for d in compare(before, after)]
    [('total_paid', '-20.00'), ('unallocated', '-20.00'), ('total_balance', '20.00')]
    >>> bool(compare(before, before))
    False
    >>> len(compare(before, before, unchanged=True))  # six figures side by side
    6

    Raises:
        InvalidInputError: the ledgers are in different currencies, or ``names`` are not two
            different str or name a column of the comparison (:data:`RESERVED_NAMES`).
    """
    _check_names(None, None, names)
    if a.currency != b.currency:
        raise InvalidInputError(f"cannot compare a {a.currency} ledger with a {b.currency} one")
    return Comparison(tuple(_differences(a, b, a.currency, unchanged=unchanged)), names)


def _differences(a: Ledger, b: Ledger, currency: str, *, unchanged: bool) -> Iterator[Difference]:
    zero = Money(0, currency)
    known_a, known_b = set(patients(a)), set(patients(b))
    for pid in sorted(known_a | known_b):
        dash_a = dashboard(a, pid) if pid in known_a else None
        dash_b = dashboard(b, pid) if pid in known_b else None
        for name in DASHBOARD_FIELDS:
            yield from _differ(pid, None, name, dash_a, dash_b, zero, unchanged)
        rows_a = {r.appointment_id: r for r in claims_feed(a, pid)} if pid in known_a else {}
        rows_b = {r.appointment_id: r for r in claims_feed(b, pid)} if pid in known_b else {}
        order = sorted({**rows_b, **rows_a}.items(), key=lambda item: (item[1].date, item[0]))
        for aid, _ in order:
            for name in FEED_FIELDS:
                yield from _differ(
                    pid, aid, name, rows_a.get(aid), rows_b.get(aid), zero, unchanged
                )


def _differ(  # noqa: PLR0917 - where the figure is, its name, the two rows, zero, and which
    pid: str,
    aid: str | None,
    name: str,
    row_a: object,
    row_b: object,
    zero: Money,
    unchanged: bool,
) -> Iterator[Difference]:
    value_a: Money | None = None if row_a is None else getattr(row_a, name)
    value_b: Money | None = None if row_b is None else getattr(row_b, name)
    change = (value_b or zero) - (value_a or zero)
    if change.amount or unchanged:
        yield Difference(
            patient_id=pid, appointment_id=aid, figure=name, a=value_a, b=value_b, change=change
        )
