"""What a printed statement and a printed day sheet say, once, for every printed form (a
shell module: the HTML page and the PDF both read it, nothing in the core does).

A statement prints as pages: the first carries the practice, the patient, the period and the
summary (opening balance, closing balance, credit, plan due, amount due and the aging); the
lines follow with their running balance, their headings repeated on every page and each page
after the first marked "continued"; the remittance slip to tear off closes the last page.
:func:`pages` splits the lines the same way for HTML and PDF, so the two have the same pages.

>>> [len(page) for page in pages(list(range(30)))]
[30]
>>> [len(page) for page in pages(list(range(100)))]
[40, 30, 30]
>>> [len(page) for page in pages(list(range(40)))]
[20, 20]
>>> [len(page) for page in pages(list(range(25)), rows=lambda line: 2)]  # each wraps once
[12, 13]
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from moneyed import Money

from patient_ledger.report import tables

if TYPE_CHECKING:
    from patient_ledger.statements import (
        DaySheet,
        Statement,
        StatementLine,
    )
    from patient_ledger.views import Aging

#: Paper sizes a statement prints on.
Paper = Literal["letter", "a4"]
PAPERS: tuple[Paper, ...] = ("letter", "a4")

#: Printed rows (a line of 8.5pt type, lines that wrap taking more: :func:`line_rows`) on a
#: page that also holds the summary and the slip: a statement of up to 25 lines, a few of them
#: wrapping, is one page on Letter and on A4 (measured in headless Chromium and in the PDF).
ONE_PAGE = 30
#: Rows on the first page of a longer statement (the summary, no slip).
FIRST_PAGE = 40
#: Rows on every later page (a short heading).
LATER_PAGE = 50
#: How many rows the remittance slip takes the room of.
SLIP = FIRST_PAGE - ONE_PAGE

T = TypeVar("T")


def _one(_: object) -> int:
    return 1


def pages(lines: Sequence[T], rows: Callable[[T], int] = _one) -> list[Sequence[T]]:
    """The lines of each printed page, in order (always at least one page), ``rows`` telling
    how many printed rows each line takes (:func:`line_rows`): every line on one page when
    the summary and the slip fit with them; else as many as fit on each page, the last page
    keeping room for the slip (and at least one line, so that the slip never stands alone
    under a "continued" heading); the last two pages share what is left about equally."""
    heights = [rows(line) for line in lines]
    if sum(heights) <= ONE_PAGE:
        return [lines]
    chunks: list[Sequence[T]] = []
    start, room, last = 0, FIRST_PAGE, len(lines) - 1
    while start < last and (rest := sum(heights[start:])) > room - SLIP:
        # When two pages end the statement, they share the rest about equally (the last one
        # keeping room for the slip), rather than one line and the slip alone on the last.
        final = LATER_PAGE - SLIP
        limit = min(room, max(rest - final, -(-rest // 2))) if rest <= room + final else room
        end, used = start, 0
        while end < last and used + heights[end] <= limit:
            used, end = used + heights[end], end + 1
        end = max(end, start + 1)  # a line taller than a page has a page of its own
        chunks.append(lines[start:end])
        start, room = end, LATER_PAGE
    chunks.append(lines[start:])
    return chunks


#: How many characters of a description, and of a ref, one printed row holds (their columns'
#: widths on A4, the narrower paper, with room for word wrapping).
DESCRIPTION_ROW = 52
REF_ROW = 7


def line_rows(line: StatementLine) -> int:
    """How many printed rows a statement line takes: one, or more when its description or ref
    wraps.

    >>> import datetime; from moneyed import Money
    >>> from patient_ledger.statements import StatementLine, StatementLineKind
    >>> line = StatementLine(day=datetime.date(2025, 3, 1), kind=StatementLineKind.CHARGE,
    ...     ref="C1", description="x" * 60, amount=Money(5, "USD"), balance=Money(5, "USD"))
    >>> line_rows(line)
    2
    """
    return max(-(-len(line.description) // DESCRIPTION_ROW), -(-len(line.ref) // REF_ROW), 1)


def headings(view: tables.View) -> list[str]:
    """The headings of a view's shown columns (the view's one description)."""
    return list(view.headings())


def amounts(view: tables.View) -> list[bool]:
    """Which of a view's shown columns hold amounts (printed right-aligned)."""
    return [column.kind is tables.Kind.AMOUNT for column in view.shown()]


def heading(view: tables.View, field: str) -> str:
    """The heading a view gives one of its fields."""
    return next(column.heading for column in view.columns if column.field == field)


def texts(view: tables.View, value: object) -> list[str]:
    """A view value's shown columns as printed text: as the tables show them (exact amounts,
    ISO dates, a missing value as the view says), a kind, method or type in words."""
    return [
        words(raw) if isinstance(raw := getattr(value, column.field), enum.Enum) else text
        for column, (text, _) in zip(view.shown(), tables.html_cells(view, value), strict=True)
    ]


#: The headings of the opening balance (its row above the lines) and of the amount due (on
#: the slip): the statements' view's.
OPENING = heading(tables.STATEMENT_SUMMARY, "opening_balance")
AMOUNT_DUE = heading(tables.STATEMENT_SUMMARY, "amount_due")

#: The slip's request.
SLIP_NOTE = "Please detach and return this part with your payment."
AMOUNT_ENCLOSED = "Amount enclosed"


def words(choice: enum.Enum) -> str:
    """A kind, method or type as a person reads it: ``TRANSFER_IN`` → ``'Transfer in'``."""
    return choice.name.replace("_", " ").capitalize()


def money(amount: Money) -> str:
    """An amount as exact text (the tables' one format)."""
    return tables.amount_text(amount)


def period(start: datetime.date, end: datetime.date) -> str:
    """A statement's period: ``'2025-03-01 to 2025-03-31'``."""
    return f"{start.isoformat()} to {end.isoformat()}"


#: The statement's figures printed in its summary, in order (the last is the amount due).
SUMMARY_FIELDS = ("opening_balance", "closing_balance", "credit", "plan_due", "amount_due")


def summary(statement: Statement) -> list[tuple[str, str]]:
    """The statement's figures, as (heading, amount) pairs in :data:`SUMMARY_FIELDS` order,
    headed as the statements' view heads them, each balance with its day."""
    day = {
        "opening_balance": statement.start - datetime.timedelta(days=1),
        "closing_balance": statement.end,
    }
    return [
        (
            f"{label} ({day[field]})" if field in day else label,
            money(getattr(statement, field)),
        )
        for field in SUMMARY_FIELDS
        for label in [heading(tables.STATEMENT_SUMMARY, field)]
    ]


def aging_cells(aging: Aging) -> list[tuple[str, str]]:
    """The aging as (heading, amount) pairs: the aging view's one set of headings."""
    return [
        (column.heading, money(getattr(aging, column.field))) for column in tables.AGING.shown()
    ]


def practice_lines(practice: str) -> list[str]:
    """The practice's header as the caller gave it, one entry a line (blank lines dropped):
    the first is its name."""
    return [line.strip() for line in practice.splitlines() if line.strip()]


def day_sheet_range(sheet: DaySheet) -> str:
    """The day sheet's day (``'2025-03-03'``) or days (``'2025-03-01 to 2025-03-31'``)."""
    if sheet.start == sheet.end:
        return sheet.start.isoformat()
    return period(sheet.start, sheet.end)
