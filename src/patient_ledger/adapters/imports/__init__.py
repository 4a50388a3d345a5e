"""A practice's own CSV exports into a ledger: visits, charges, payments and refunds,
adjustments (a shell module: nothing in the core uses it).

Each file has a header row. Its columns are found by name: a mapping (:func:`load_mapping`, a
small TOML file, or ``{kind: {field: header}}``) says which header holds which field, and where
it says nothing the common names of :data:`FIELDS` are recognised (case, spaces and hyphens
do not matter: ``Visit ID``, ``visit-id`` and ``visit_id`` are one name). Other columns are
ignored, and the summary names them. A header row must say one thing: two headers that are
one name (``Amount`` and ``amount``), or two headers recognised for one field (``Patient ID``
and ``MRN``), are refused naming both; a mapping says which is meant. A header that may hold
patients' names (``Patient``, ``Patient Name``, ``Name``) is never taken for ``patient_id``
unless it is mapped: patients keyed by name merge namesakes and split a patient who changes
name.

Values are read strictly: cells are trimmed of ASCII spaces and nothing else (a tab, a
no-break space or any other whitespace at either end stays, and an id holding it is refused by
:func:`~patient_ledger.values.check_id`: a tab before ``=1`` does not make the id ``=1``); ids
may not be empty where required; dates are ISO ``YYYY-MM-DD``; amounts are plain ASCII
decimals (``-12.50``: no currency sign, no thousands separator, no exponent, no ``_``), exact
to the currency's minor unit. A file given twice in one import (under one kind or two, by one
path or another) is refused naming it: its rows would be read twice. A payment
with no type is a ``REFUND`` when its amount is negative and a ``PAYMENT`` otherwise; methods
and types are the library's names, any case, spaces or hyphens for ``_`` (``credit card``).

Exports as practice systems write them are read when their user says how (:class:`Formats`:
``--date-format``, ``--amounts``, or a columns TOML's ``[format]`` and ``[values]``): dates
``MM/DD/YYYY`` or ``DD/MM/YYYY`` (``1/6/2025``), ``us`` amounts (``$1,234.56``, ``-$20.00``,
``($20.00)``, read exactly by :func:`~patient_ledger.money.parse_amount`: never rounded), and
an export's words for methods and types (``"Patient Payment" = "PAYMENT"``). Nothing is
guessed: under the defaults a cell in another form is refused with the declaration that would
read it, and a cell the declaration does not fit (``13/01/2025`` under ``MM/DD/YYYY``) is
refused naming it. The summary names each file's columns that no field read.

The package, by seam: ``_columns`` holds each kind's fields, the headers recognised for them
and what a user declares (mappings, :class:`Formats`); ``_cells`` reads a row's cells into the
value it makes (:func:`parse_record` for a JSON body); ``_spool`` is the strict CSV reader and
the spool that sorts the rows; this module reads the files and posts. Every public name is
this module's, as before the split (``patient_ledger.imports`` is this module).

**The order events are posted in** is the one order of every importer (``adapters/_order.py``:
it makes every refund follow the money it returns, and lets the ledger be cut at any day):

1. every visit, in file order (a visit moves no money; a payment received before its visit
   must find it);
2. then by day, and within a day: charges (dated by their ``posted_on``, else their visit),
   payment plans (dated by their ``created_on``), payments, adjustments, refunds; within
   each, in file order (files in the order given, rows top to bottom).

A payment or adjustment that names a line is posted no earlier than that line's day (the
line does not exist before), and a payment that names a plan (``plan_id``) no earlier than the
plan's ``created_on``. A plans file has a plan a row: id, patient, amount (empty: its
appointments' balances due), installments, first due, created, and its appointments (ids
separated by ``;`` or spaces; none: the plan is on the patient's balance).
An id appears once in an import: a second row of a kind with the
same id, in the same file or another, is refused naming both lines (a row whose id is already
in the journal with the same content adds nothing: an import can be run again). All or nothing:
the first bad row stops the import, and its error names the file and the line (the physical
line of the file, quoted multi-line fields counted). Rows are spooled to a temporary SQLite
database to be sorted (SQLite's own temporary file, unlinked as soon as it is opened: it cannot
outlive the process, even one killed with SIGKILL), and read back sharing equal amounts, dates
and ids, so the memory an import needs is little more than the ledger's own:
``python benchmarks/import_bench.py`` (1,041,666 rows: 250,000 visits, 333,333 charges,
458,333 payments and refunds) peaked at 695 MB resident and took 283 s on a shared 2-core
machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import attrs

from patient_ledger.adapters._order import Position, Record, position
from patient_ledger.adapters.imports._cells import (
    _BUILD,
    _Cells,
    parse_date,
    parse_record,
)
from patient_ledger.adapters.imports._cells import _payment as _payment  # one parser: a test
from patient_ledger.adapters.imports._columns import (
    AMOUNT_STYLES,
    CHOICES,
    DATE_FORMATS,
    FIELDS,
    KINDS,
    Field,
    Formats,
    _columns,
    check_formats,
    check_mapping,
    load_formats,
    load_mapping,
)
from patient_ledger.adapters.imports._spool import _records, _Spool
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    create_payment_plan,
    post_payment,
    refund,
)
from patient_ledger.errors import InvalidInputError, LedgerError, UnknownIdError
from patient_ledger.state import Ledger, state_of
from patient_ledger.values import Adjustment, Appointment, Charge, Payment, PaymentPlan, PaymentType


class Progress(Protocol):
    """What an import reports as it goes (a progress bar, say): a phase starts with its
    total number of rows (``None``: not known yet), then advances a row at a time."""

    def start(self, phase: str, total: int | None) -> None:
        """A phase begins."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows are done."""


@attrs.frozen(kw_only=True)
class Summary:
    """What an import did: events added by kind, rows already in the journal with equal
    content (an import run twice adds nothing), rows read, the patients the ledger knows, and
    the columns no field read, by file (``(file, (header, ...))``, files with none left out; an
    unnamed column is ``column N``)."""

    visits: int = 0
    charges: int = 0
    payments: int = 0
    refunds: int = 0
    adjustments: int = 0
    plans: int = 0
    unchanged: int = 0
    rows: int = 0
    patients: int = 0
    ignored: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def text(self) -> str:
        """One line for a person: ``imported 12 visits, 30 charges, ...``."""
        counts = {
            "visit": self.visits,
            "charge": self.charges,
            "payment": self.payments,
            "refund": self.refunds,
            "adjustment": self.adjustments,
        }
        if self.plans:  # (a summary without plans reads as it always did)
            counts["payment plan"] = self.plans
        parts = [f"{n} {word}{'' if n == 1 else 's'}" for word, n in counts.items()]
        text = f"imported {', '.join(parts)} from {self.rows} rows"
        if self.unchanged:
            text += f" ({self.unchanged} already in the journal)"
        return f"{text}; the ledger knows {self.patients} patients"

    def ignored_lines(self) -> list[str]:
        """A line for each file with columns no field read: ``visits.csv: ignored 1 column:
        'Room'`` (headers quoted and escaped, as they come from the file)."""
        return [
            f"{file}: ignored {len(headers)} column{'' if len(headers) == 1 else 's'}: "
            + ", ".join(map(repr, headers))
            for file, headers in self.ignored
        ]


def import_files(
    ledger: Ledger,
    files: Mapping[str, str | Path | Sequence[str | Path]],
    *,
    mapping: Mapping[str, Mapping[str, str]] | None = None,
    formats: Formats | None = None,
    progress: Progress | None = None,
) -> tuple[Ledger, Summary]:
    """Post a practice's exports to the ledger, all or nothing, in the order of the module's
    docstring; return the new ledger and what was imported.

    Args:
        ledger: the ledger to post to (its currency is the amounts').
        files: CSV files by kind (``"visits"``, ``"charges"``, ``"payments"`` — payments and
            refunds —, ``"adjustments"``): a path or a sequence of paths each.
        mapping: ``{kind: {field: header}}`` for headers that are not the common names.
        formats: how the files write dates, amounts, methods and types (:func:`check_formats`,
            :func:`load_formats`); by default ``YYYY-MM-DD``, plain decimals and the library's
            names, and a cell in another form is refused naming the declaration that reads it.
        progress: told of each phase (reading, posting) and each row.

    Raises:
        LedgerError: the first bad row or refused command, its message starting with the file
            and line (``details`` has ``file`` and ``line``); the ledger is left as it was.
    """
    mapping = check_mapping(mapping or {})
    unknown = sorted(set(files) - set(KINDS))
    if unknown:
        raise InvalidInputError(f"unknown kinds of export: {', '.join(unknown)}")
    _once(files)
    spool = _Spool(ledger)
    names = spool.names
    try:
        if progress:
            progress.start("reading", None)
        for kind in KINDS:
            given = files.get(kind, ())
            for path in [given] if isinstance(given, str | Path) else given:
                names.append(str(path))
                _read(
                    spool,
                    kind,
                    Path(path),
                    len(names) - 1,
                    mapping=mapping.get(kind, {}),
                    cells=_Cells(spool.state.currency, formats),
                    progress=progress,
                )
        if progress:
            progress.start("posting", spool.count)
        return _post(ledger, spool, names, progress)
    finally:
        spool.db.close()


def _once(files: Mapping[str, str | Path | Sequence[str | Path]]) -> None:
    """Refuse a file given twice (under one kind or two; the same file by another path
    included), naming it: its rows would be read twice."""
    seen: dict[object, tuple[str, str]] = {}
    for kind in KINDS:
        given = files.get(kind, ())
        for path in [given] if isinstance(given, str | Path) else given:
            try:
                stat = Path(path).stat()
                key: object = (stat.st_dev, stat.st_ino)
            except OSError:
                key = str(path)  # refused as it is read, naming it
            if key in seen:
                first, first_kind = seen[key]
                msg = (
                    f"{path} is given twice in one import (as {first_kind} {first} and as "
                    f"{kind} {path}): give each file once"
                )
                raise InvalidInputError(msg, file=str(path))
            seen[key] = (str(path), kind)


def _read(
    spool: _Spool,
    kind: str,
    path: Path,
    file: int,
    *,
    mapping: Mapping[str, str],
    cells: _Cells,
    progress: Progress | None,
) -> None:
    where = str(path)
    records = _records(path, where)
    first = next(records, None)
    if first is None:
        raise InvalidInputError(f"{where} line 1: no header row", file=where, line=1)
    columns = _columns(kind, first[1], mapping, f"{where} line {first[0]}")
    width = len(first[1])
    used = set(columns.values())
    ignored = tuple(text or f"column {i + 1}" for i, text in enumerate(first[1]) if i not in used)
    if ignored:
        spool.ignored.append((where, ignored))
    build = _BUILD[kind]
    for line, record in records:
        try:
            if len(record) != width:
                msg = f"{len(record)} fields where the header has {width}"
                raise InvalidInputError(msg)

            def get(name: str, record: list[str] = record) -> str | None:
                column = columns.get(name)
                text = record[column].strip(" ") if column is not None else ""
                return text or None

            value = build(get, cells)
            spool.add(kind, _position(spool, value), (file, line), value)
        except LedgerError as error:
            raise _at(error, where, line) from None
        if progress:
            progress.advance(1)


def _position(spool: _Spool, value: Record) -> Position:
    """Where a value is posted: the one order of every importer (:mod:`._order`), the days of
    what it names read from the rows spooled so far and the ledger.

    Raises:
        UnknownIdError: a charge whose visit is in no visits file nor the ledger.
    """
    if isinstance(value, Charge) and spool.day_of("visits", value.appointment_id) is None:
        visit = value.appointment_id
        msg = f"charge {value.id!r}: visit {visit!r} is in no visits file nor the ledger"
        raise UnknownIdError(msg, id=visit)
    return position(value, spool.day_of)


def _post(
    ledger: Ledger, spool: _Spool, names: Sequence[str], progress: Progress | None
) -> tuple[Ledger, Summary]:
    counts = dict.fromkeys(("visits", "charges", "plans", "payments", "refunds", "adjustments"), 0)
    unchanged = 0
    for file, line, value in spool.sorted():
        before = len(ledger.events)
        try:
            match value:
                case Appointment():
                    ledger, what = add_appointment(ledger, value), "visits"
                case Charge():
                    ledger, what = add_charge(ledger, value), "charges"
                case PaymentPlan():
                    ledger, what = create_payment_plan(ledger, value), "plans"
                case Payment(type=PaymentType.REFUND):
                    ledger, what = refund(ledger, value), "refunds"
                case Payment():
                    ledger, what = post_payment(ledger, value), "payments"
                case Adjustment():
                    ledger, what = adjust_charge(ledger, value), "adjustments"
                case _:  # pragma: no cover - the spool holds only these
                    raise AssertionError(value)
        except LedgerError as error:
            raise _at(error, names[file], line) from None
        if len(ledger.events) == before:
            unchanged += 1
        else:
            counts[what] += 1
        if progress:
            progress.advance(1)
    summary = Summary(
        **counts,
        unchanged=unchanged,
        rows=spool.count,
        patients=len(state_of(ledger).patients),
        ignored=tuple(spool.ignored),
    )
    return ledger, summary


def _at(error: LedgerError, file: str, line: int) -> LedgerError:
    """The same error, its message starting with the file and line."""
    details = dict(error.details) | {"file": file, "line": line}
    return type(error)(f"{file} line {line}: {error}", **details)


# The public names are this module's: their home in pickles, reprs and documentation, as it
# was before the module was split into the package.
for _name in (
    "Field",
    "Formats",
    "check_formats",
    "check_mapping",
    "load_formats",
    "load_mapping",
    "parse_date",
    "parse_record",
):
    globals()[_name].__module__ = __name__
del _name

__all__ = [
    "AMOUNT_STYLES",
    "CHOICES",
    "DATE_FORMATS",
    "FIELDS",
    "KINDS",
    "Field",
    "Formats",
    "Progress",
    "Record",
    "Summary",
    "check_formats",
    "check_mapping",
    "import_files",
    "load_formats",
    "load_mapping",
    "parse_date",
    "parse_record",
]
