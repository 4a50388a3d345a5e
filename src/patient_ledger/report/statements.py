"""Statements and day sheets as text, JSON and CSV (a shell module: nothing in the core uses
it), each rendering driven by the views' one description in :mod:`patient_ledger.tables`.

A format is an entry of :data:`STATEMENT_FORMATS` or :data:`DAY_SHEET_FORMATS`: the command
line offers exactly their names, so a new format (the printable HTML statement, a PDF) plugs
in by adding an entry — its renderers receive :class:`Options` (the practice's header).

>>> import datetime; from moneyed import Money
>>> from patient_ledger import (Ledger, Payment, PaymentMethod, post_payment, statement,
...                             day_sheet)
>>> day = datetime.date(2025, 2, 3)
>>> ledger = post_payment(Ledger.empty(), Payment("PAY1", "P1", Money("40.00", "USD"), day,
...                                               method=PaymentMethod.CHECK))
>>> print(STATEMENT_FORMATS["csv"].every([statement(ledger, "P1", start=day, end=day)],
...                                      Options()), end="")
patient_id,day,kind,ref,description,amount,balance
P1,2025-02-03,PAYMENT,PAY1,check payment,-40.00,-40.00
>>> print(DAY_SHEET_FORMATS["text"].render(day_sheet(ledger, day), Options()), end="")
Day sheet 2025-02-03
<BLANKLINE>
Date        Payment  Patient  Method  Type     Reference  Amount
----------- -------- -------- ------- -------- ---------- ------
2025-02-03  PAY1     P1       CHECK   PAYMENT  -           40.00
<BLANKLINE>
Method  Count  Received  Returned    Net
------- ------ --------- --------- -----
CHECK   1         40.00      0.00  40.00
<BLANKLINE>
Net: 40.00
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypedDict

import attrs

from patient_ledger.report import render, tables
from patient_ledger.report.render import Paper
from patient_ledger.statements import DaySheet, Statement

#: What a renderer returns: text, or bytes (a PDF).
Rendered = str | bytes


@attrs.frozen(kw_only=True)
class Options:
    """What the caller adds to a rendering: ``practice``, the practice's header (name,
    address) that a printable statement shows; the plain formats leave it out. ``paper``:
    the printed formats' paper, ``"letter"`` or ``"a4"``."""

    practice: str | None = None
    paper: Paper = "letter"


@attrs.frozen(kw_only=True)
class StatementFormat:
    """How statements are written in one format: ``every`` renders all of them (standard
    output), ``one`` a patient's own file of ``--out DIR`` (named with ``suffix``), ``index``
    the index file of that directory — one row per statement with the file it is in."""

    name: str
    suffix: str
    every: Callable[[Sequence[Statement], Options], Rendered]
    one: Callable[[Statement, Options], Rendered]
    index: Callable[[Sequence[tuple[Statement, str]], Options], Rendered]


@attrs.frozen(kw_only=True)
class DaySheetFormat:
    """How a day sheet is written in one format."""

    name: str
    render: Callable[[DaySheet, Options], Rendered]


# -- Text ---------------------------------------------------------------------------------------


def statement_text(s: Statement, options: Options) -> str:
    """A statement as text: its figures, its lines with the running balance, its aging."""
    parts = [tables.text_table(tables.STATEMENT_SUMMARY, [s])]
    if options.practice:
        parts.insert(0, tables.printable(options.practice))
    parts += [tables.text_table(tables.STATEMENT_LINES, s.lines)]
    parts += [tables.text_table(tables.AGING, [s.aging])]
    return "\n\n".join(parts) + "\n"


def _statements_text(every: Sequence[Statement], options: Options) -> str:
    if not every:
        return "(no statements: no patient has a line in the period or a balance at its end)\n"
    return ("\n" + "=" * 40 + "\n\n").join(statement_text(s, options) for s in every)


def _index_text(rows: Sequence[tuple[Statement, str]], options: Options) -> str:  # noqa: ARG001 - a format's signature
    view = tables.STATEMENT_SUMMARY
    file = tables.Column(field="file", heading="File")
    cells = [[*tables.text_cells(view, s), tables.printable(name)] for s, name in rows]
    return tables.text_table(_with(view, file), cells=cells) + "\n"


def _with(view: tables.View, *columns: tables.Column) -> tables.View:
    """``view`` with ``columns`` after its own."""
    return attrs.evolve(view, columns=(*view.columns, *columns))


def day_sheet_text(sheet: DaySheet, options: Options) -> str:
    """A day sheet as text: its lines, its totals by method, its net."""
    period = sheet.start.isoformat()
    if sheet.end != sheet.start:
        period += f" to {sheet.end.isoformat()}"
    parts = [f"Day sheet {period}"]
    if options.practice:
        parts.insert(0, tables.printable(options.practice))
    parts += [tables.text_table(tables.DAY_SHEET_LINES, sheet.lines)]
    parts += [tables.text_table(tables.METHOD_TOTALS, sheet.totals)]
    parts += [f"Net: {tables.amount_text(sheet.net)}"]
    return "\n\n".join(parts) + "\n"


# -- JSON ---------------------------------------------------------------------------------------


def statement_data(s: Statement) -> dict[str, Any]:
    """A statement as JSON-ready data: its fields, amounts as exact decimal strings, dates
    ISO, lines and aging nested."""
    return tables.unstructure(s)


def _json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _statements_json(every: Sequence[Statement], options: Options) -> str:  # noqa: ARG001
    return _json({s.patient_id: statement_data(s) for s in every})


def _index_data(rows: Sequence[tuple[Statement, str]]) -> list[dict[str, Any]]:
    fields = tables.STATEMENT_SUMMARY.fields()
    return [
        {field: value for field, value in statement_data(s).items() if field in fields}
        | {"file": name}
        for s, name in rows
    ]


# -- CSV ----------------------------------------------------------------------------------------


def _csv(header: list[str], rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _statements_csv(every: Sequence[Statement], options: Options) -> str:  # noqa: ARG001
    """Every statement's lines, one row each, the patient first (opening and closing
    balances are in the index and in JSON)."""
    view = tables.STATEMENT_LINES
    return _csv(
        tables.csv_header(view, first=[tables.PATIENT]),
        (tables.csv_row(view, line, first=[s.patient_id]) for s in every for line in s.lines),
    )


def _index_csv(rows: Sequence[tuple[Statement, str]], options: Options) -> str:  # noqa: ARG001
    view = tables.STATEMENT_SUMMARY
    return _csv(
        [*tables.csv_header(view), "file"],
        ([*tables.csv_row(view, s), tables.spreadsheet_safe(name)] for s, name in rows),
    )


def _day_sheet_csv(sheet: DaySheet, options: Options) -> str:  # noqa: ARG001
    """A day sheet's lines, one row each (the totals are in text and JSON)."""
    view = tables.DAY_SHEET_LINES
    return _csv(tables.csv_header(view), (tables.csv_row(view, line) for line in sheet.lines))


class _Printed(TypedDict):
    practice: str
    paper: Paper


def _printed(options: Options) -> _Printed:
    """The printed formats' options: the practice's header and the paper."""
    return {"practice": options.practice or "", "paper": options.paper}


#: The formats of ``patient-ledger statements`` by name.
STATEMENT_FORMATS: dict[str, StatementFormat] = {
    "text": StatementFormat(
        name="text",
        suffix=".txt",
        every=_statements_text,
        one=statement_text,
        index=_index_text,
    ),
    "json": StatementFormat(
        name="json",
        suffix=".json",
        every=_statements_json,
        one=lambda s, _: _json(statement_data(s)),
        index=lambda rows, _: _json(_index_data(rows)),
    ),
    "csv": StatementFormat(
        name="csv",
        suffix=".csv",
        every=_statements_csv,
        one=lambda s, options: _statements_csv([s], options),
        index=_index_csv,
    ),
    # Printed: HTML pages to print, PDF to mail (the optional pdf extra).
    "html": StatementFormat(
        name="html",
        suffix=".html",
        every=lambda every, o: render.statements_html(every, **_printed(o)),
        one=lambda s, o: render.statement_html(s, **_printed(o)),
        index=lambda rows, o: render.statements_index_html(rows, **_printed(o)),
    ),
    "pdf": StatementFormat(
        name="pdf",
        suffix=".pdf",
        every=lambda every, o: render.statements_pdf(every, **_printed(o)),
        one=lambda s, o: render.statement_pdf(s, **_printed(o)),
        index=lambda rows, o: render.statements_index_pdf(rows, **_printed(o)),
    ),
}
#: Formats whose output is bytes, never written to a terminal.
BINARY_FORMATS = frozenset({"pdf"})

#: The formats of ``patient-ledger daysheet`` by name.
DAY_SHEET_FORMATS: dict[str, DaySheetFormat] = {
    "text": DaySheetFormat(name="text", render=day_sheet_text),
    "json": DaySheetFormat(name="json", render=lambda sheet, _: _json(tables.unstructure(sheet))),
    "csv": DaySheetFormat(name="csv", render=_day_sheet_csv),
    "html": DaySheetFormat(
        name="html", render=lambda sheet, o: render.day_sheet_html(sheet, **_printed(o))
    ),
}


# -- Files of --out DIR -------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: The index file's name (without suffix): no patient's file takes it.
INDEX = "index"


def file_names(patient_ids: Iterable[str], suffix: str) -> Mapping[str, str]:
    """A file name for each patient's statement: the id with every character but letters,
    digits, ``_`` and ``-`` made ``_`` (no path, no dot file), made unique — ignoring case, as
    some file systems do — with ``-2``, ``-3``…, never the index's name.

    >>> dict(file_names(["P1", "../etc", "p1", "index"], ".txt"))
    {'P1': 'P1.txt', '../etc': '___etc.txt', 'p1': 'p1-2.txt', 'index': 'index-2.txt'}
    """
    taken = {INDEX}
    names = {}
    for patient_id in patient_ids:
        stem = _UNSAFE.sub("_", patient_id)[:100] or "_"
        name, n = stem, 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.lower())
        names[patient_id] = name + suffix
    return names
