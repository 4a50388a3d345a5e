"""One description of each view — its fields, headings and formats — and every rendering of
it: text tables (rich), HTML tables, JSON and CSV values (cattrs), and Python values for
DataFrame rows (a shell module: nothing in the core uses it).

A view class (``Dashboard``, ``FeedRow``, ...) is an attrs class; its :class:`View` says, for
each field, the heading a person reads, how it is shown in a table, and what a missing value
(``None``) reads as. Nothing else in the library writes a heading or a field list of a view:

* :func:`unstructure` (cattrs) turns a view value into a dict of its fields in declaration
  order, amounts as exact decimal strings and dates as ``YYYY-MM-DD`` — JSON and CSV;
  :func:`values` does the same with amounts as ``Decimal`` and dates as ``date`` — DataFrame
  rows and records;
* :func:`records` gives a flat row (``patient_id`` first, say) for ``adapters.frames``
  and DataFrames, each column's :class:`Kind` telling amounts and dates apart for dtypes;
* :func:`text_table` renders rows as a rich table, ids and free text made safe for a terminal
  (:func:`printable`); :func:`html_cells` and :func:`html_table` render the same columns as
  escaped HTML, the seed's green and yellow boxes marked.

>>> import datetime
>>> from moneyed import Money
>>> from patient_ledger.views import Aging
>>> a = Aging(current=Money("15.00", "USD"), days_31_60=Money("0.00", "USD"),
...           days_61_90=Money("0.00", "USD"), over_90=Money("0.00", "USD"))
>>> unstructure(a)
{'current': '15.00', 'days_31_60': '0.00', 'days_61_90': '0.00', 'over_90': '0.00'}
>>> AGING.headings()
('0-30 days', '31-60', '61-90', 'over 90')
>>> print(text_table(AGING, [a]))
0-30 days  31-60  61-90  over 90
---------- ------ ------ -------
    15.00   0.00   0.00     0.00
"""

from __future__ import annotations

import datetime
import enum
import functools
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import cattrs
from moneyed import Money

from patient_ledger.report import _html


class Kind(enum.StrEnum):
    """How a column's value is shown: ``TEXT`` and ``DATE`` left-aligned, ``AMOUNT`` right."""

    TEXT = "text"
    DATE = "date"
    AMOUNT = "amount"


@attrs.frozen(kw_only=True)
class Column:
    """One field of a view as a column.

    ``highlight`` (``"green"`` or ``"yellow"``) marks a non-zero amount: a ``[G]``/``[Y]`` mark
    (and colour on a terminal) in text, a CSS class in HTML. ``missing`` is what ``None`` reads
    as in a table (JSON and CSV keep ``null`` and an empty cell). ``shown=False``: the field is
    in JSON, CSV and records but not in a table (its caption says it).
    """

    field: str
    heading: str
    kind: Kind = Kind.TEXT
    highlight: str | None = None
    missing: str = ""
    shown: bool = True


@attrs.frozen(kw_only=True)
class View:
    """A view class's one description: its caption and its columns, in the order shown."""

    name: str
    caption: str
    columns: tuple[Column, ...]

    def fields(self) -> tuple[str, ...]:
        """Every field, in the order shown."""
        return tuple(c.field for c in self.columns)

    def shown(self) -> tuple[Column, ...]:
        """The columns a table shows."""
        return tuple(c for c in self.columns if c.shown)

    def headings(self) -> tuple[str, ...]:
        """The headings a table shows."""
        return tuple(c.heading for c in self.shown())


_A = Kind.AMOUNT

DASHBOARD = View(
    name="dashboard",
    caption="Patient payments",
    columns=(
        Column(field="total_paid", heading="Total Paid", kind=_A),
        Column(field="allocated", heading="Allocated", kind=_A),
        Column(field="unallocated", heading="Unallocated", kind=_A),
        Column(field="patient_responsibility", heading="Responsibility", kind=_A),
        Column(field="statement_balance", heading="Statement Balance", kind=_A),
        Column(field="total_balance", heading="Total Balance", kind=_A),
    ),
)

CLAIMS_FEED = View(
    name="claims_feed",
    caption="Live claims feed",
    columns=(
        Column(field="appointment_id", heading="Appointment"),
        Column(field="date", heading="Date", kind=Kind.DATE),
        Column(field="patient_responsibility", heading="Pt. Resp.", kind=_A),
        Column(field="paid", heading="Paid", kind=_A),
        Column(field="balance_due", heading="Balance Due", kind=_A),
        Column(field="appointment_unallocated", heading="Appt Unallocated", kind=_A,
               highlight="yellow"),
        Column(field="patient_unallocated", heading="Pt Unallocated", kind=_A,
               highlight="green"),
    ),
)  # fmt: skip

LINE_ITEMS = View(
    name="line_items",
    caption="Line items",
    columns=(
        Column(field="charge_id", heading="Charge"),
        Column(field="appointment_id", heading="Appointment", shown=False),
        Column(field="code", heading="Code"),
        Column(field="description", heading="Description"),
        Column(field="responsibility", heading="Responsibility", kind=_A),
        Column(field="paid", heading="Paid", kind=_A),
        Column(field="balance_due", heading="Balance Due", kind=_A),
    ),
)

UNALLOCATED_ENTRIES = View(
    name="unallocated_entries",
    caption="Open unallocated entries",
    columns=(
        Column(field="id", heading="Entry"),
        Column(field="received_on", heading="Received", kind=Kind.DATE),
        Column(field="payment_id", heading="Payment"),
        Column(field="appointment_id", heading="Appointment", missing="(none: general)"),
        Column(field="amount", heading="Amount", kind=_A),
    ),
)

AGING = View(
    name="aging",
    caption="Balance due by age",
    columns=(
        Column(field="current", heading="0-30 days", kind=_A),
        Column(field="days_31_60", heading="31-60", kind=_A),
        Column(field="days_61_90", heading="61-90", kind=_A),
        Column(field="over_90", heading="over 90", kind=_A),
    ),
)

ALLOCATIONS = View(
    name="allocations",
    caption="Where the payment's money is now",
    columns=(
        Column(field="payment_id", heading="Payment", shown=False),
        Column(field="patient_id", heading="Patient"),
        Column(field="appointment_id", heading="Appointment", missing="(none: general)"),
        Column(field="charge_id", heading="Line", missing="(held)"),
        Column(field="amount", heading="Amount", kind=_A),
    ),
)

PLAN_STATUS = View(
    name="payment_plans",
    caption="Payment plans",
    columns=(
        Column(field="plan_id", heading="Plan"),
        Column(field="patient_id", heading="Patient"),
        Column(field="created_on", heading="Created", kind=Kind.DATE),
        Column(field="amount", heading="Amount", kind=_A),
        Column(field="paid", heading="Paid", kind=_A),
        Column(field="remaining", heading="Remaining", kind=_A),
        Column(field="installment_amount", heading="Installment", kind=_A),
        Column(field="next_due_on", heading="Next Due", kind=Kind.DATE, missing="-"),
        Column(field="next_due_amount", heading="Next Amount", kind=_A, missing="-"),
        Column(field="last_payment_on", heading="Last Payment", kind=Kind.DATE, missing="-"),
        Column(field="overdue", heading="Overdue", kind=_A),
        Column(field="status", heading="Status"),
    ),
)

INSTALLMENTS = View(
    name="installments",
    caption="Installments",
    columns=(
        Column(field="plan_id", heading="Plan", shown=False),
        Column(field="number", heading="#"),
        Column(field="due_on", heading="Due", kind=Kind.DATE),
        Column(field="amount", heading="Amount", kind=_A),
        Column(field="paid", heading="Paid", kind=_A),
        Column(field="status", heading="Status"),
    ),
)

STATEMENT_LINES = View(
    name="statement_lines",
    caption="Statement",
    columns=(
        Column(field="day", heading="Date", kind=Kind.DATE),
        Column(field="kind", heading="Kind"),
        Column(field="ref", heading="Ref"),
        Column(field="description", heading="Description"),
        Column(field="amount", heading="Amount", kind=_A),
        Column(field="balance", heading="Balance", kind=_A),
    ),
)

#: A statement's own figures, one row a statement (its lines and aging are views of their own:
#: :data:`STATEMENT_LINES`, :data:`AGING`). Not in :data:`VIEWS`: it is not every field of
#: ``Statement``.
STATEMENT_SUMMARY = View(
    name="statements",
    caption="Statements",
    columns=(
        Column(field="patient_id", heading="Patient"),
        Column(field="start", heading="From", kind=Kind.DATE),
        Column(field="end", heading="To", kind=Kind.DATE),
        Column(field="opening_balance", heading="Opening balance", kind=_A),
        Column(field="closing_balance", heading="Closing balance", kind=_A),
        Column(field="amount_due", heading="Amount due", kind=_A),
        Column(field="credit", heading="Credit on account", kind=_A),
        Column(field="plan_due", heading="Plan due", kind=_A),
    ),
)

DAY_SHEET_LINES = View(
    name="day_sheet_lines",
    caption="Day sheet",
    columns=(
        Column(field="day", heading="Date", kind=Kind.DATE),
        Column(field="payment_id", heading="Payment"),
        Column(field="patient_id", heading="Patient"),
        Column(field="method", heading="Method"),
        Column(field="type", heading="Type"),
        Column(field="reference", heading="Reference", missing="-"),
        Column(field="amount", heading="Amount", kind=_A),
    ),
)

METHOD_TOTALS = View(
    name="method_totals",
    caption="Totals by method",
    columns=(
        Column(field="method", heading="Method"),
        Column(field="count", heading="Count"),
        Column(field="received", heading="Received", kind=_A),
        Column(field="returned", heading="Returned", kind=_A),
        Column(field="net", heading="Net", kind=_A),
    ),
)

#: The column a table of every patient starts with (balances, aging of the whole practice).
PATIENT = Column(field="patient_id", heading="Patient")

VIEWS: tuple[View, ...] = (
    DASHBOARD,
    CLAIMS_FEED,
    LINE_ITEMS,
    UNALLOCATED_ENTRIES,
    AGING,
    ALLOCATIONS,
    PLAN_STATUS,
    INSTALLMENTS,
    STATEMENT_LINES,
    DAY_SHEET_LINES,
    METHOD_TOTALS,
)
#: Views of some fields of a class (a summary row of a nested value).
SUMMARIES: tuple[View, ...] = (STATEMENT_SUMMARY,)


# -- Values: cattrs -------------------------------------------------------------------------


def _converter(*, strings: bool) -> cattrs.Converter:
    converter = cattrs.Converter()
    if strings:
        converter.register_unstructure_hook(Money, lambda m: str(m.amount))
        converter.register_unstructure_hook(datetime.date, datetime.date.isoformat)
    else:
        converter.register_unstructure_hook(Money, lambda m: m.amount)
        converter.register_unstructure_hook(datetime.date, lambda d: d)
    return converter


_STRINGS = _converter(strings=True)
_VALUES = _converter(strings=False)


def unstructure(value: object) -> dict[str, Any]:
    """A view value as a dict of its fields (declaration order): amounts as exact decimal
    strings (``'200.00'``, never through float or locale), dates as ``YYYY-MM-DD``, ``None``
    kept. Ready for JSON and CSV."""
    return dict(_STRINGS.unstructure(value))


def values(value: object) -> dict[str, Any]:
    """A view value as a dict of Python values: amounts as exact ``Decimal``, dates as
    ``date``. Ready for records and DataFrame rows."""
    return dict(_VALUES.unstructure(value))


def amount_text(money: Money) -> str:
    """An amount as exact text: ``'200.00'``."""
    return str(money.amount)


def _text(value: object, column: Column) -> str:
    if value is None:
        return column.missing
    if isinstance(value, Money):
        return amount_text(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _nonzero(value: object) -> bool:
    return isinstance(value, Money) and value.amount != 0


# -- Text: rich -----------------------------------------------------------------------------


def _unsafe(char: str) -> bool:
    """A character that steers a terminal or breaks a line: a control, format, private-use or
    unassigned one (category ``C*``), or a line or paragraph separator (``Zl``, ``Zp``)."""
    category = unicodedata.category(char)
    return category[0] == "C" or category in {"Zl", "Zp"}


def printable(text: str) -> str:
    r"""Text that cannot steer a terminal: every control, format, private-use or unassigned
    character (escape sequences, newlines, bidirectional overrides) and every line or paragraph
    separator (U+2028, U+2029) is shown escaped, as ``repr`` would (``\x1b``, ``\u202e``), so
    an id stays distinguishable and on one line.

    >>> print(printable("A1\x1b[2J\u202e\u2028"))
    A1\x1b[2J\u202e\u2028
    """
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(repr(c)[1:-1] if _unsafe(c) else c for c in text)


def one_line(text: str) -> str:
    """Free text (a charge's code or description) on one line of a terminal: control
    characters (newlines, escape sequences) and line or paragraph separators become spaces."""
    if text.isprintable():
        return text
    return "".join(" " if _unsafe(c) else c for c in text)


_HIGHLIGHT = {"green": ("G", "black on green"), "yellow": ("Y", "black on yellow")}

#: A text cell: plain text, or text and a rich style.
TextCell = str | tuple[str, str]


def text_cells(view: View, value: object, *, first: Sequence[TextCell] = ()) -> list[TextCell]:
    """A view value's shown columns as text cells (after ``first``): ids made printable,
    highlighted amounts marked ``[G]``/``[Y]`` with their colour."""
    cells: list[TextCell] = list(first)
    for column in view.shown():
        raw = getattr(value, column.field)
        text = _text(raw, column)
        if column.kind is Kind.TEXT and raw is not None:
            text = printable(text)
        if column.highlight and _nonzero(raw):
            mark, style = _HIGHLIGHT[column.highlight]
            cells.append((f"{text} [{mark}]", style))
        else:
            cells.append(text)
    return cells


def text_table(
    view: View,
    rows: Iterable[object] = (),
    *,
    first: Sequence[Column] = (),
    cells: Iterable[Sequence[TextCell]] | None = None,
    colour: bool = False,
) -> str:
    """A view's rows as a text table (rich): a heading line, a rule, a row each; amounts
    right-aligned; ``(none)`` when there are no rows.

    ``first`` are columns put before the view's (e.g. :data:`PATIENT`); their cells come from
    ``cells``, which, when given, replaces the rows' own cells (each a full row).
    """
    columns = (*first, *view.shown())
    body = cells if cells is not None else (text_cells(view, row) for row in rows)
    if not colour:
        body = list(body)
        plain = _plain_table(columns, body)
        if plain is not None:
            return plain
    return _rich_table(columns, body, colour=colour)


def _plain_table(columns: Sequence[Column], body: Sequence[Sequence[TextCell]]) -> str | None:
    """:func:`text_table`'s text without rich, when every cell is plain printable ASCII (one
    character, one column of the terminal): what a practice's whole balances table is, where
    rich took a millisecond a row. None when a cell is not (rich measures it)."""
    texts = [[c if isinstance(c, str) else c[0] for c in row] for row in body]
    headings = [column.heading for column in columns]
    widths = [len(heading) for heading in headings]
    for row in (headings, *texts):
        for n, text in enumerate(row):
            if not (text.isascii() and text.isprintable()) or text != text.strip() or "  " in text:
                return None
            widths[n] = max(widths[n], len(text))
    right = [column.kind is _A for column in columns]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            text.rjust(width) if flush else text.ljust(width)
            for text, width, flush in zip(row, widths, right, strict=True)
        ).rstrip()

    rule = " ".join("-" * (width + 1) for width in widths)[:-1]
    lines = [line(headings), rule, *map(line, texts)]
    if not texts:
        lines.append("(none)")
    return "\n".join(lines)


def _rich_table(
    columns: Sequence[Column], body: Iterable[Sequence[TextCell]], *, colour: bool
) -> str:
    """:func:`text_table`'s text, laid out by rich (colours, and any character's width)."""
    from rich import box  # noqa: PLC0415 - rich is needed only when text is printed
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(
        box=_rule(box),
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold" if colour else "",
    )
    for column in columns:
        table.add_column(column.heading, justify="right" if column.kind is _A else "left")
    count = 0
    for row in body:
        table.add_row(
            *(Text(c) if isinstance(c, str) else Text(c[0], style=c[1] if colour else "")
              for c in row)
        )  # fmt: skip
        count += 1
    out = io.StringIO()
    console = Console(
        file=out,
        width=100_000,
        color_system="standard" if colour else None,
        force_terminal=colour,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(table)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    if not count:
        lines.append("(none)")
    return "\n".join(lines)


@functools.cache
def _rule(box: Any) -> Any:
    # Headings, a rule of '-' under them, and no other lines: copies and pastes as plain text.
    return box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


# -- HTML -----------------------------------------------------------------------------------


def html_cells(view: View, value: object, *, first: Sequence[_html.Cell] = ()) -> list[_html.Cell]:
    """A view value's shown columns as HTML cells (after ``first``): amounts classed
    ``amount``, non-zero highlighted ones ``green`` or ``yellow`` (the seed's boxes)."""
    cells: list[_html.Cell] = list(first)
    for column in view.shown():
        raw = getattr(value, column.field)
        css = "amount" if column.kind is _A else ""
        if column.highlight and _nonzero(raw):
            css += f" {column.highlight}"
        cells.append((_text(raw, column), css))
    return cells


def html_table(
    view: View,
    rows: Iterable[object] = (),
    *,
    caption: str | None = None,
    cells: Iterable[Sequence[_html.Cell]] | None = None,
    first: Sequence[Column] = (),
    style: bool = True,
) -> str:
    """A view's rows as an escaped HTML table, with its style sheet unless ``style=False`` (a
    page that has the sheet once). ``cells``, when given, replaces the rows' own cells
    (``first`` names extra columns)."""
    body = cells if cells is not None else (html_cells(view, row) for row in rows)
    headings = [c.heading for c in first] + list(view.headings())
    table = _html.table(headings, list(body), caption=view.caption if caption is None else caption)
    return _html.styled(table) if style else table


# -- CSV and JSON of many rows ----------------------------------------------------------------


def csv_header(view: View, *, first: Sequence[Column] = ()) -> list[str]:
    """The field names of a CSV of the view (``first`` columns before them)."""
    return [c.field for c in first] + list(view.fields())


#: What a spreadsheet reads as the start of a formula (OWASP's CSV injection rule): ``=``,
#: ``+``, ``-``, ``@``, a tab, a carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs: one starting with a
    :data:`FORMULA_STARTS` character gets a single quote before it (OWASP's rule).

    >>> print(spreadsheet_safe('=HYPERLINK("http://x", "P1")'), spreadsheet_safe("P1"))
    '=HYPERLINK("http://x", "P1") P1
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_row(view: View, value: object, *, first: Sequence[str] = ()) -> list[str]:
    """A view value as CSV cells, in :func:`csv_header`'s order (``None``: an empty cell).

    Every cell but an amount is text, made :func:`spreadsheet_safe` (an id ``=1+1`` or
    ``-5`` is written ``'=1+1``, ``'-5``); ``first`` cells (ids) are text too. An amount
    column's cells are exact decimals from the ledger (``-12.50``) and are written as they
    are, so a spreadsheet reads them as numbers: which cells are amounts is the view's
    description (:attr:`Column.kind`), never a guess from the text.
    """
    data = unstructure(value)
    cells = [spreadsheet_safe(cell) for cell in first]
    for column in view.columns:
        raw = data[column.field]
        text = "" if raw is None else str(raw)
        cells.append(text if column.kind is Kind.AMOUNT else spreadsheet_safe(text))
    return cells


def keyed(rows: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    """``{key: unstructure(value)}`` — e.g. every patient's dashboard as JSON-ready data."""
    return {key: unstructure(value) for key, value in rows.items()}


def records(view: View, value: object, **first: object) -> dict[str, Any]:
    """A flat record of a view value (``first`` fields before its own, in declaration order):
    exact ``Decimal`` amounts and ``date`` dates — a DataFrame row. ``view`` says which
    columns are amounts or dates (:attr:`Column.kind`) for a frame's dtypes and which heading
    each field shows under (:meth:`View.headings`, or ``{c.field: c.heading for c in
    view.columns}`` to rename a frame's columns for display)."""
    data = values(value)
    missing = set(view.fields()) - set(data)
    if missing:
        msg = f"{type(value).__name__} is not a row of {view.name}: no {sorted(missing)}"
        raise TypeError(msg)
    return first | data


__all__ = [
    "AGING",
    "ALLOCATIONS",
    "CLAIMS_FEED",
    "DASHBOARD",
    "DAY_SHEET_LINES",
    "FORMULA_STARTS",
    "INSTALLMENTS",
    "LINE_ITEMS",
    "METHOD_TOTALS",
    "PATIENT",
    "PLAN_STATUS",
    "STATEMENT_LINES",
    "STATEMENT_SUMMARY",
    "SUMMARIES",
    "UNALLOCATED_ENTRIES",
    "VIEWS",
    "Column",
    "Kind",
    "View",
    "amount_text",
    "csv_header",
    "csv_row",
    "html_cells",
    "html_table",
    "keyed",
    "one_line",
    "printable",
    "records",
    "spreadsheet_safe",
    "text_cells",
    "text_table",
    "unstructure",
    "values",
]
