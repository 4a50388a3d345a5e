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
bucket when neither) and, with ``on``, ``aging``, ``credit_aging``, ``payment_plans`` (one row
per plan with its ``PlanStatus`` fields on ``on``) and ``installments`` (one row per
installment of each plan). A patient's ``allocations`` rows add up to their ``total_paid``.

Statements and day sheets (SPEC §12): :func:`statement_records` and :func:`statement_frames`
(``statements``, one row per patient with the aging's four columns; ``statement_lines``),
:func:`day_sheet_records` and :func:`day_sheet_frames` (``day_sheet_lines``,
``method_totals``).
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, Literal

from moneyed import Money

from patient_ledger.adapters._order import Record, position
from patient_ledger.adapters.imports import FIELDS, header_name, parse_date
from patient_ledger.apply import apply_event
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    create_payment_plan,
    post_payment,
    refund,
)
from patient_ledger.errors import (
    DateOrderError,
    DuplicateIdError,
    InvalidAmountError,
    InvalidInputError,
    LedgerError,
    UnknownIdError,
)
from patient_ledger.events import (
    AppointmentAdded,
    PaymentPosted,
    PlanPaymentPosted,
    RefundPosted,
)
from patient_ledger.money import parse_amount
from patient_ledger.report import tables
from patient_ledger.state import Ledger
from patient_ledger.statements import DaySheet, Statement, day_sheet, statements
from patient_ledger.values import Appointment, Charge, Payment, PaymentPlan, PaymentType
from patient_ledger.views import (
    DASHBOARD_FIELDS,
    aging,
    allocations,
    claims_feed,
    credit_aging,
    dashboard,
    event_day,
    feed_row,
    installments,
    line_items,
    patients,
    payment_plans,
    unallocated_entries,
)


def records(ledger: Ledger, *, on: datetime.date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every patient's views as lists of flat rows: ``dashboards``, ``claims_feed``,
    ``line_items``, ``unallocated_entries``, ``allocations`` and, with ``on``, ``aging``,
    ``credit_aging``, ``payment_plans`` (one row per plan — every ``PlanStatus`` field, its
    figures and status on ``on`` — patients in order, each patient's plans by ``created_on``,
    then id) and ``installments`` (one row per installment of every plan: ``patient_id``,
    ``plan_id``, ``number``, ``due_on``, ``amount``, ``paid``, ``status`` on ``on``). Each row
    is its view's fields as :mod:`patient_ledger.report.tables` describes them, after
    ``patient_id``; amounts are ``Decimal``."""
    out: dict[str, list[dict[str, Any]]] = {
        "dashboards": [],
        "claims_feed": [],
        "line_items": [],
        "unallocated_entries": [],
        "allocations": [],
    }
    if on is not None:
        out["aging"] = []
        out["credit_aging"] = []
        out["payment_plans"] = []
        out["installments"] = []
    for pid in patients(ledger):
        out["dashboards"].append(_row(tables.DASHBOARD, dashboard(ledger, pid), pid))
        feed = claims_feed(ledger, pid)
        out["claims_feed"].extend(_row(tables.CLAIMS_FEED, r, pid) for r in feed)
        out["line_items"].extend(
            _row(tables.LINE_ITEMS, item, pid)
            for r in feed
            for item in line_items(ledger, r.appointment_id)
        )
        out["unallocated_entries"].extend(
            _row(tables.UNALLOCATED_ENTRIES, e, pid) for e in unallocated_entries(ledger, pid)
        )
        if on is not None:
            out["aging"].append(_row(tables.AGING, aging(ledger, pid, on=on), pid))
            out["credit_aging"].append(_row(tables.AGING, credit_aging(ledger, pid, on=on), pid))
            for plan in payment_plans(ledger, pid, on=on):
                out["payment_plans"].append(tables.records(tables.PLAN_STATUS, plan))
                out["installments"].extend(
                    _row(tables.INSTALLMENTS, i, pid)
                    for i in installments(ledger, plan.plan_id, on=on)
                )
    for event in ledger.events:
        if isinstance(event, PaymentPosted | PlanPaymentPosted | RefundPosted):
            out["allocations"].extend(
                tables.records(tables.ALLOCATIONS, place)
                for place in allocations(ledger, event.payment.id)
            )
    return out


def _row(view: tables.View, value: object, patient_id: str) -> dict[str, Any]:
    return tables.records(view, value, patient_id=patient_id)


def balance_history(
    ledger: Ledger, patient_id: str, *, freq: Literal["D", "M"] | None = None
) -> list[dict[str, Any]]:
    """The patient's dashboard after every event of the journal that changed it: one row per
    such event, with its index (``event``), type and ``date`` — the day the bookkeeping
    happened (a payment's received date, a command's ``on``, an appointment's date; a charge:
    its ``posted_on``, else its appointment's date). Rebuilt in one pass over the journal.

    ``freq="D"``: the last row of each day, as the books stood at its end; ``freq="M"``: the
    last row of each month, dated the month's last day (a month-end series). Days and months
    without a change have no row.

    Raises:
        UnknownIdError: the patient is not in the ledger (as every view).
        InvalidInputError: ``freq`` is not None, "D" or "M".
        DateOrderError: with ``freq``, a row dated before the one above it (posted late): the
            last row of a day or month would not be how the books stood then.
    """
    if freq not in (None, "D", "M"):
        raise InvalidInputError(f'freq is None, "D" or "M", got {freq!r}')
    rows = _history(ledger, patient_id)
    return rows if freq is None else _periodic(rows, freq)


def _periodic(rows: list[dict[str, Any]], freq: str) -> list[dict[str, Any]]:
    """The last of ``rows`` (in journal order) of each day or month (``freq``)."""
    last: dict[datetime.date, dict[str, Any]] = {}
    for n, row in enumerate(rows):
        day: datetime.date = row["date"]
        if n and day < rows[n - 1]["date"]:
            raise DateOrderError(
                f"event {row['event']} ({row['type']}, day {day}) was posted after event "
                f"{rows[n - 1]['event']} of day {rows[n - 1]['date']}: a balance as of a day "
                "would not be how the books stood then",
                index=row["event"],
                day=day,
            )
        if freq == "M":
            following = datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)
            day = following - datetime.timedelta(days=1)
        last[day] = row | {"date": day}
    return list(last.values())


def _history(ledger: Ledger, patient_id: str) -> list[dict[str, Any]]:
    dashboard(ledger, patient_id)  # the same refusal as every view for an unknown patient
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
            day = (
                event.appointment.date
                if isinstance(event, AppointmentAdded)
                else event_day(now, event)
            )
            rows.append({"event": index, "type": type(event).__name__, "date": day} | figures)
            last = figures
    return rows


def _pandas() -> Any:
    try:
        import pandas as pd  # noqa: PLC0415 - an optional dependency
    except ImportError as error:  # pragma: no cover - depends on the installation
        msg = 'DataFrames need pandas: pip install "patient-ledger[pandas]"'
        raise ImportError(msg) from error
    return pd


def to_pandas(ledger: Ledger, *, on: datetime.date | None = None) -> dict[str, Any]:
    """:func:`records` as pandas DataFrames (the ``pandas`` extra), as they are: ``Decimal``
    amounts, ``datetime.date`` dates, a plain index. :func:`dataframes` gives pandas-native
    ones."""
    pd = _pandas()
    return {name: pd.DataFrame(rows) for name, rows in records(ledger, on=on).items()}


#: The amount and date columns of every table (``records`` and ``balance_history``), as the
#: views' descriptions say.
_ALL_VIEWS = (*tables.VIEWS, *tables.SUMMARIES)
AMOUNT_COLUMNS = frozenset(
    c.field for view in _ALL_VIEWS for c in view.columns if c.kind is tables.Kind.AMOUNT
)
DATE_COLUMNS = frozenset(
    c.field for view in _ALL_VIEWS for c in view.columns if c.kind is tables.Kind.DATE
)
#: Each table's index: a column whose values are unique in it (``allocations`` keeps a plain
#: index: a payment has a row per place).
INDEXES = {
    "dashboards": "patient_id",
    "claims_feed": "appointment_id",
    "line_items": "charge_id",
    "unallocated_entries": "id",
    "aging": "patient_id",
    "credit_aging": "patient_id",
    "payment_plans": "plan_id",
    "balance_history": "event",
    "statements": "patient_id",
    "method_totals": "method",
}
Amounts = Literal["decimal", "float"]


def dataframes(
    ledger: Ledger, *, amounts: Amounts, on: datetime.date | None = None
) -> dict[str, Any]:
    """:func:`records` as pandas-native DataFrames: amounts as exact ``Decimal`` objects
    (``amounts="decimal"``, for sums) or ``float64`` (``amounts="float"``, for plots: chosen
    explicitly, never by default), dates as ``datetime64[ns]``, and each table indexed by its
    key (:data:`INDEXES`: ``patient_id``, ``appointment_id``, ``charge_id``, the entry ``id``).
    With ``on``: ``aging``, ``credit_aging``, ``payment_plans`` (indexed by ``plan_id``) and
    ``installments`` (a plain index: a plan has a row per installment) too."""
    return {
        name: frame(rows, amounts=amounts, index=INDEXES.get(name))
        for name, rows in records(ledger, on=on).items()
    }


def frame(rows: list[dict[str, Any]], *, amounts: Amounts, index: str | None = None) -> Any:
    """Rows of :func:`records` or :func:`balance_history` as a pandas-native DataFrame (see
    :func:`dataframes`)."""
    pd = _pandas()
    if amounts not in {"decimal", "float"}:
        raise InvalidInputError(f"amounts must be 'decimal' or 'float', got {amounts!r}")
    table = pd.DataFrame(rows)
    for column in table.columns:
        if column in AMOUNT_COLUMNS:
            table[column] = table[column].astype(float if amounts == "float" else object)
        elif column in DATE_COLUMNS:
            table[column] = pd.to_datetime(table[column]).astype("datetime64[ns]")
    if index is not None and index in table.columns:
        table = table.set_index(index)
    return table


# -- statements and day sheets (SPEC §12) ------------------------------------------------------


def statement_records(every: Iterable[Statement]) -> dict[str, list[dict[str, Any]]]:
    """Statements as flat rows: ``statements`` one per statement (its figures, then its
    aging's four columns) and ``statement_lines`` one per line (``patient_id`` first)."""
    summary, aged = tables.STATEMENT_SUMMARY.fields(), tables.AGING.fields()
    out: dict[str, list[dict[str, Any]]] = {"statements": [], "statement_lines": []}
    for s in every:
        data = tables.values(s)
        aging = data["aging"]
        out["statements"].append(
            {field: data[field] for field in summary} | {field: aging[field] for field in aged}
        )
        out["statement_lines"].extend(
            _row(tables.STATEMENT_LINES, line, s.patient_id) for line in s.lines
        )
    return out


def day_sheet_records(sheet: DaySheet) -> dict[str, list[dict[str, Any]]]:
    """A day sheet as flat rows: ``day_sheet_lines`` and ``method_totals`` (its net is the sum
    of either's amounts)."""
    return {
        "day_sheet_lines": [tables.records(tables.DAY_SHEET_LINES, line) for line in sheet.lines],
        "method_totals": [tables.records(tables.METHOD_TOTALS, t) for t in sheet.totals],
    }


def statement_frames(
    ledger: Ledger,
    *,
    start: datetime.date,
    end: datetime.date,
    patient_ids: Iterable[str] | None = None,
    amounts: Amounts = "decimal",
) -> dict[str, Any]:
    """:func:`~patient_ledger.statements.statements` for the period as pandas-native
    DataFrames (see :func:`dataframes`): ``statements`` indexed by ``patient_id`` and
    ``statement_lines``.

    Raises:
        UnknownIdError, InvalidInputError: as ``statements``.
    """
    every = statements(ledger, start=start, end=end, patient_ids=patient_ids)
    return {
        name: frame(rows, amounts=amounts, index=INDEXES.get(name))
        for name, rows in statement_records(every).items()
    }


def day_sheet_frames(
    ledger: Ledger,
    start: datetime.date,
    end: datetime.date | None = None,
    *,
    amounts: Amounts = "decimal",
) -> dict[str, Any]:
    """:func:`~patient_ledger.statements.day_sheet` as pandas-native DataFrames:
    ``day_sheet_lines`` and ``method_totals`` (indexed by ``method``).

    Raises:
        InvalidInputError: as ``day_sheet``.
    """
    sheet = day_sheet(ledger, start, end)
    return {
        name: frame(rows, amounts=amounts, index=INDEXES.get(name))
        for name, rows in day_sheet_records(sheet).items()
    }


# -- loading DataFrames ---------------------------------------------------------------------

_VISIT_FIELDS = ("provider",)
_CHARGE_FIELDS = ("code", "description")
_PAYMENT_FIELDS = (
    "method",
    "type",
    "appointment_id",
    "provider",
    "notes",
    "reference",
    "charge_id",
    "plan_id",
)
#: Each table's id column: the field the CSV importer calls ``id`` (:data:`FIELDS`).
_ID_COLUMNS = {
    "visits": "appointment_id",
    "charges": "charge_id",
    "plans": "plan_id",
    "payments": "payment_id",
}


def from_frames(
    visits: Any = None,
    charges: Any = None,
    payments: Any = None,
    *,
    plans: Any = None,
    currency: str = "USD",
    ledger: Ledger | None = None,
) -> Ledger:
    """A ledger from DataFrames of visits, charges, payments and payment plans, the way pandas
    reads them.

    Columns: visits ``appointment_id``, ``patient_id``, ``date`` (``provider``); charges
    ``charge_id``, ``appointment_id``, ``amount`` (``code``, ``description``, ``posted_on``:
    the day the charge was posted, SPEC §12); payments ``payment_id``, ``patient_id``,
    ``amount``, ``received_on`` (``method``, ``type``, ``appointment_id``, ``provider``,
    ``notes``, ``reference``, ``charge_id``, ``plan_id``); plans ``plan_id``, ``patient_id``,
    ``installments`` (a whole number), ``first_due``, ``created_on`` (``amount``: empty for the
    sum of its appointments' balances; ``appointment_ids``: a sequence of ids, or one text of
    ids separated by ``;`` or spaces, as the CSV importer reads them). Each is also found under
    every header name the CSV importer recognises for it — one table,
    :data:`patient_ledger.adapters.imports.FIELDS`, read by both (``visit_id`` or ``Visit ID`` for a
    visit's id, ``post_date`` for ``posted_on``, ``payment_date`` for ``received_on`` …) — and
    matched as the importer matches headers (:func:`~patient_ledger.adapters.imports.header_name`:
    case, spaces, hyphens and dots do not count). As in the importer, a column that may hold
    patients' names (``Patient``) is not taken for ``patient_id``. A payment of
    type ``REFUND`` (a negative amount) is a refund. Every row is read first (a refusal names
    the first bad cell, tables in that order), then posted in the one order of every importer
    (``adapters._order``): every visit; then by day — charges (on their ``posted_on``, else
    their visit's date), plans (on their ``created_on``), payments, refunds — each in frame
    order; a payment that names a
    charge no earlier than that charge's day. So the ledger can be cut at any day of the
    frames' history (``dashboards(ledger, on=day)``, SPEC §12).

    A table must say one thing: two columns of one name (``amount`` twice, or ``amount`` and
    ``Amount `` — one name up to case, spaces and hyphens), or two columns that are each a
    name for one field (``payment_id`` and ``id``), are refused naming the table and both
    columns; an id on two
    rows of one table (``payment_id`` ``T1`` twice, even on identical rows) is refused naming
    the table and both rows, as the CSV importer refuses it.

    Cells are read as pandas users write them: a ``pd.Timestamp`` at midnight (or a date
    string, ``YYYY-MM-DD`` and nothing else, read by the CSV importer's strict
    :func:`~patient_ledger.adapters.imports.parse_date`: no ``20250302``, no week date) is a date;
    ``NaN``, ``NaT``, ``pd.NA`` and ``None`` in an optional column mean the
    cell is absent (the value's default: ``method`` OTHER, ``type`` PAYMENT). Money is never
    guessed: an amount is a ``Money``, an int, or a ``Decimal`` or string in plain decimal
    notation, read by the one strict parser (:func:`~patient_ledger.money.parse_amount`: no
    exponent such as ``1.23457E+11``, no ``_``, space or non-ASCII digit); a float
    (``read_csv``'s default) or a bool is refused — read the column with
    ``dtype={"amount": str}``.

    With ``ledger``, the rows are added to that ledger (its currency is used) instead of a new
    ``Ledger.empty(currency)``.

    Raises:
        InvalidInputError: a table that is not a DataFrame or a ``ledger`` that is not a
            Ledger (naming what was given), a missing column or cell, a float or bool amount,
            a date with a time of day, a repeated or ambiguous column. Every refusal of a
            row — the commands' included, as the :class:`~patient_ledger.errors.LedgerError`
            they raise — names the table and the row (``payments row 11: ...``).
        DuplicateIdError: an id on two rows of one table (both rows named).
    """
    if ledger is not None and not isinstance(ledger, Ledger):
        msg = f"ledger must be a Ledger, got {type(ledger).__name__} {_shown(ledger)}"
        raise InvalidInputError(msg)
    built = Ledger.empty(currency) if ledger is None else ledger
    code = built.currency
    tables_ = {"visits": visits, "charges": charges, "plans": plans, "payments": payments}
    rows = {name: _rows(table, name) for name, table in tables_.items()}
    for name, key in _ID_COLUMNS.items():
        _once(rows[name], name, key)
    read: list[tuple[str, dict[str, Any], Record]] = []  # every row's value, in frame order
    for row in rows["visits"]:
        with _named(row, "visits"):
            appointment = Appointment(
                _cell(row, "appointment_id", "visits"),
                _cell(row, "patient_id", "visits"),
                _date(row, "date", "visits"),
                **_optional(row, _VISIT_FIELDS),
            )
            read.append(("visits", row, appointment))
    for row in rows["charges"]:
        with _named(row, "charges"):
            charge = Charge(
                _cell(row, "charge_id", "charges"),
                _cell(row, "appointment_id", "charges"),
                _amount(row, "charges", code),
                **_optional(row, _CHARGE_FIELDS),
                posted_on=_optional_date(row, "posted_on", "charges"),
            )
            read.append(("charges", row, charge))
    for row in rows["plans"]:
        with _named(row, "plans"):
            read.append(("plans", row, _plan(row, code)))
    for row in rows["payments"]:
        with _named(row, "payments"):
            payment = Payment(
                _cell(row, "payment_id", "payments"),
                _cell(row, "patient_id", "payments"),
                _amount(row, "payments", code),
                _date(row, "received_on", "payments"),
                **_optional(row, _PAYMENT_FIELDS),
            )
            read.append(("payments", row, payment))
    for table, row, value in _in_posting_order(built, read):
        with _named(row, table):
            match value:
                case Appointment():
                    built = add_appointment(built, value)
                case Charge():
                    built = add_charge(built, value)
                case PaymentPlan():
                    built = create_payment_plan(built, value)
                case Payment(type=PaymentType.REFUND):
                    built = refund(built, value)
                case Payment():
                    built = post_payment(built, value)
                case _:  # pragma: no cover - from_frames reads only these
                    raise AssertionError(value)
    return built


def _in_posting_order(
    ledger: Ledger, read: list[tuple[str, dict[str, Any], Record]]
) -> list[tuple[str, dict[str, Any], Record]]:
    """The rows of :func:`from_frames` in the one order of every importer (:mod:`._order`),
    rows of one stage and day in frame order; the days of the visits and charges they name
    from the frames, else (visits) from ``ledger``."""
    days: dict[tuple[str, str], int] = {}

    def day_of(kind: str, key: str) -> int | None:
        found = days.get((kind, key))
        if found is None and kind == "visits":
            with contextlib.suppress(UnknownIdError):  # unknown or cancelled: refused later
                return feed_row(ledger, key).date.toordinal()
        return found

    placed = []
    for number, (table, row, value) in enumerate(read):
        at = position(value, day_of)
        if isinstance(value, Appointment):
            days["visits", value.id] = value.date.toordinal()
        elif isinstance(value, Charge):
            days["charges", value.id] = at.day
        elif isinstance(value, PaymentPlan):
            days["plans", value.id] = at.day
        placed.append(((at, number), (table, row, value)))
    return [step for _, step in sorted(placed, key=lambda p: p[0])]


def _plan(row: dict[str, Any], code: str) -> PaymentPlan:
    """A plans row as a :class:`PaymentPlan` (its own fields checked by the value)."""
    amount = None if _missing(row.get("amount")) else _amount(row, "plans", code)
    count = _cell(row, "installments", "plans")
    if hasattr(count, "item") and not isinstance(count, str):  # a numpy scalar
        count = count.item()
    if isinstance(count, str) and count.isascii() and count.isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int):
        msg = f"{_where(row, 'installments', 'plans')}: {count!r} is not a whole number"
        raise InvalidInputError(msg)
    named: Any = row.get("appointment_ids")
    if _missing(named):
        appointment_ids: tuple[str, ...] = ()
    elif isinstance(named, str):
        appointment_ids = tuple(named.replace(";", " ").split())
    else:
        appointment_ids = tuple(named)
    return PaymentPlan(
        _cell(row, "plan_id", "plans"),
        _cell(row, "patient_id", "plans"),
        amount,
        count,
        _date(row, "first_due", "plans"),
        _date(row, "created_on", "plans"),
        appointment_ids,
    )


def _once(rows: list[dict[str, Any]], table: str, key: str) -> None:
    """Refuse an id on two rows of one table, naming the table, the column and both rows."""
    seen: dict[str, object] = {}
    for row in rows:
        value = row.get(key)
        if not isinstance(value, str):
            continue  # missing or not an id: refused as the row is read, naming it
        if value in seen:
            first, then = seen[value], row["_row"]
            column = row["_columns"][key]
            msg = (
                f"{table} rows {first!r} and {then!r} both have {column} {value!r}: an id may "
                "appear once in an import"
            )
            raise DuplicateIdError(msg, id=value, first=f"{table} row {first!r}", then=then)
        seen[value] = row["_row"]


def _columns(table: Any, name: str) -> dict[str, Any]:
    """Which column of the table holds each field (``{field: column}``), by the CSV
    importer's own names (:data:`~patient_ledger.adapters.imports.FIELDS`, matched by
    :func:`~patient_ledger.adapters.imports.header_name`): the one list of header names.

    Raises:
        InvalidInputError: two columns of one name, or two columns that are each a name for
            one field, naming the table and both columns.
    """
    seen: dict[object, Any] = {}
    for column in table.columns:
        normal = header_name(column) if isinstance(column, str) else column
        if normal in seen:
            first = seen[normal]
            msg = (
                f"{name} has two columns that are one name, {first!r} and {column!r}: "
                "rename or drop one"
            )
            raise InvalidInputError(msg, table=name, columns=[first, column])
        seen[normal] = column
    found: dict[str, Any] = {}
    for field in FIELDS[name]:
        key = _ID_COLUMNS[name] if field.name == "id" else field.name
        hits = [seen[n] for n in field.names if n in seen]
        if len(hits) > 1:
            msg = (
                f"{name} has both {hits[0]!r} and {hits[1]!r}, which are one column (each is a "
                f"name for {key!r}): drop one"
            )
            raise InvalidInputError(msg, table=name, columns=hits[:2])
        if hits:
            found[key] = hits[0]
    return found


def _shown(value: object) -> str:
    """A value for a message, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _rows(table: Any, name: str) -> list[dict[str, Any]]:
    """A DataFrame's rows as dicts with a ``_row`` key (its index label, for messages)."""
    if table is None:
        return []
    if not isinstance(table, _pandas().DataFrame):
        msg = f"{name} must be a pandas DataFrame, got {type(table).__name__} {_shown(table)}"
        raise InvalidInputError(msg)
    columns = _columns(table, name)
    records_ = table.to_dict("records")
    return [
        {"_row": label, "_columns": columns} | {key: row[c] for key, c in columns.items()}
        for label, row in zip(table.index, records_, strict=True)
    ]


@contextlib.contextmanager
def _named(row: dict[str, Any], table: str) -> Iterator[None]:
    """Name the table and row in any refusal raised while the row is read and applied."""
    where = f"{table} row {row['_row']!r}"
    try:
        yield
    except LedgerError as error:
        if str(error).startswith(where):
            raise
        raise type(error)(f"{where}: {error}", **error.details) from None


def _missing(value: object) -> bool:
    """Whether a cell is pandas' "nothing": None, NaN, NaT or pd.NA."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # noqa: PLR0124 - NaN is the one float unequal to itself
    return type(value).__name__ in {"NaTType", "NAType"}


def _where(row: dict[str, Any], column: str, table: str) -> str:
    """A cell for a message: the table, the row and the column as the table names it."""
    return f"{table} row {row['_row']!r}, column {row['_columns'].get(column, column)!r}"


def _cell(row: dict[str, Any], column: str, table: str) -> Any:
    """A required cell."""
    if column not in row:
        field = "id" if column == _ID_COLUMNS[table] else column
        names = next(f.names for f in FIELDS[table] if f.name == field)
        msg = f"{table} has no column {column!r} (recognised: {', '.join(names)})"
        raise InvalidInputError(msg)
    value = row[column]
    if _missing(value):
        raise InvalidInputError(f"{_where(row, column, table)} is empty")
    return value


def _optional(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """The optional cells that hold something: an empty one (None, NaN, NaT, pd.NA) is
    absent, so the value's default applies."""
    return {c: row[c] for c in columns if c in row and not _missing(row[c])}


def _optional_date(row: dict[str, Any], column: str, table: str) -> datetime.date | None:
    """An optional date cell, read as :func:`_date` reads one; None when it is empty."""
    if column not in row or _missing(row[column]):
        return None
    return _date(row, column, table)


def _date(row: dict[str, Any], column: str, table: str) -> datetime.date:
    value = _cell(row, column, table)
    if isinstance(value, str):
        return parse_date(value, f"{_where(row, column, table)}:")
    if hasattr(value, "to_pydatetime"):  # a pd.Timestamp
        value = value.to_pydatetime()
    if isinstance(value, datetime.datetime):
        if value.time() != datetime.time(0) or value.tzinfo is not None:
            msg = f"{_where(row, column, table)}: {value!r} has a time of day or a time zone"
            raise InvalidInputError(msg)
        return value.date()
    if isinstance(value, datetime.date):
        return value
    msg = f"{_where(row, column, table)}: expected a date, got {type(value).__name__} {value!r}"
    raise InvalidInputError(msg)


def _amount(row: dict[str, Any], table: str, currency: str) -> Money:
    """A cell's amount, read by the one strict parser (:func:`~patient_ledger.money.
    parse_amount`): a ``Money``, an int, or a ``Decimal`` or string in plain decimal notation
    (no exponent, ``_``, space or non-ASCII digit); never a float or a bool."""
    value = _cell(row, "amount", table)
    where = _where(row, "amount", table)
    if isinstance(value, Money):
        return value
    if hasattr(value, "item") and not isinstance(value, Decimal | str):  # a numpy scalar
        value = value.item()
    if isinstance(value, bool):
        msg = f"{where}: {value!r} is a bool, not an amount"
        raise InvalidAmountError(msg)
    if isinstance(value, float) or "float" in type(value).__name__:
        msg = (
            f"{where}: {value!r} is a float — money is never guessed from a float; read the "
            'column as text or Decimal (dtype={"amount": str} or converters={"amount": Decimal})'
        )
        raise InvalidInputError(msg)
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        msg = f"{where}: an integer of {value.bit_length()} bits is beyond any amount"
        raise InvalidAmountError(msg)
    if isinstance(value, int | Decimal):
        value = str(value)  # Decimal("1E+5") shows its exponent: refused, as the text is
    if isinstance(value, str):
        return parse_amount(value, currency, where)
    msg = f"{where}: expected Money, Decimal, int or str, got {type(value).__name__} {value!r}"
    raise InvalidInputError(msg)


#: Integers longer than this are beyond any amount (and are not turned into text).
_MAX_BITS = 256
