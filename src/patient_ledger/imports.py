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

**The order events are posted in** (what makes every refund follow the money it returns):

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

import csv
import datetime
import io
import json
import pickle
import re
import sqlite3
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, cast

import attrs
from moneyed import Money

from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    create_payment_plan,
    post_payment,
    refund,
)
from patient_ledger.errors import (
    DuplicateIdError,
    InvalidAmountError,
    InvalidInputError,
    LedgerError,
    UnknownIdError,
)
from patient_ledger.money import FrozenMoney, currency_code, parse_amount
from patient_ledger.state import Ledger, state_of
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    Appointment,
    Charge,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentType,
)

#: The kinds of export, in the order their files are read.
KINDS = ("visits", "charges", "plans", "payments", "adjustments")


@attrs.frozen(kw_only=True)
class Field:
    """A field of an export: its name, the headers recognised for it without a mapping (in
    order of preference), and whether every row must have it."""

    name: str
    names: tuple[str, ...]
    required: bool = False


_PATIENT = ("patient_id", "mrn", "patient_mrn", "chart_id", "chart_number")
_VISIT = (
    "visit_id",
    "appointment_id",
    "appt_id",
    "appointment_number",
    "appointment",
    "encounter_id",
)
_PROVIDER = ("provider", "doctor", "provider_id", "rendering_provider")

#: Every kind's fields and the common headers recognised for them.
FIELDS: Mapping[str, tuple[Field, ...]] = {
    "visits": (
        Field(
            name="id",
            names=(
                "visit_id",
                "appointment_id",
                "appt_id",
                "appointment_number",
                "encounter_id",
                "id",
            ),
            required=True,
        ),
        Field(name="patient_id", names=_PATIENT, required=True),
        Field(
            name="date",
            names=(
                "date",
                "visit_date",
                "appointment_date",
                "service_date",
                "date_of_service",
                "dos",
            ),
            required=True,
        ),
        Field(name="provider", names=_PROVIDER),
    ),
    "charges": (
        Field(name="id", names=("charge_id", "line_item_id", "line_id", "id"), required=True),
        Field(name="appointment_id", names=_VISIT, required=True),
        Field(
            name="amount",
            names=("amount", "patient_responsibility", "charge_amount", "charge", "fee"),
            required=True,
        ),
        Field(name="code", names=("code", "procedure_code", "cpt", "cpt_code")),
        Field(name="description", names=("description", "procedure", "desc")),
        Field(
            name="posted_on",
            names=("posted_on", "post_date", "posted_date", "entry_date", "date_posted"),
        ),
    ),
    "payments": (
        Field(name="id", names=("payment_id", "id", "transaction_id"), required=True),
        Field(name="patient_id", names=_PATIENT, required=True),
        Field(name="amount", names=("amount", "payment_amount", "paid"), required=True),
        Field(
            name="received_on",
            names=("received_on", "date", "payment_date", "received", "received_date", "posted_on"),
            required=True,
        ),
        Field(name="method", names=("method", "payment_method")),
        Field(name="type", names=("type", "payment_type")),
        Field(name="appointment_id", names=_VISIT),
        Field(name="charge_id", names=("charge_id", "line_item_id", "line_id")),
        Field(name="plan_id", names=("plan_id", "payment_plan_id", "payment_plan")),
        Field(name="provider", names=_PROVIDER),
        Field(name="notes", names=("notes", "memo", "note")),
        Field(name="reference", names=("reference", "check_number", "ref")),
    ),
    "plans": (
        Field(name="id", names=("plan_id", "payment_plan_id", "id"), required=True),
        Field(name="patient_id", names=_PATIENT, required=True),
        Field(name="amount", names=("amount", "plan_amount", "total")),
        Field(
            name="installments",
            names=("installments", "number_of_installments", "months", "duration"),
            required=True,
        ),
        Field(name="first_due", names=("first_due", "first_due_date", "start_date"), required=True),
        Field(
            name="created_on",
            names=("created_on", "created", "date", "created_date"),
            required=True,
        ),
        Field(
            name="appointment_ids", names=("appointment_ids", "appointments", "visit_ids", "visits")
        ),
    ),
    "adjustments": (
        Field(name="id", names=("adjustment_id", "id"), required=True),
        Field(name="charge_id", names=("charge_id", "line_item_id", "line_id"), required=True),
        Field(name="amount", names=("amount", "adjustment_amount"), required=True),
        Field(name="on", names=("on", "date", "adjusted_on", "adjustment_date"), required=True),
        Field(name="type", names=("type", "adjustment_type")),
        Field(name="reason", names=("reason", "notes", "memo")),
    ),
}

#: Within a day: charges, payments, adjustments, refunds (every visit comes first, as day 0).
#: A plan comes after the day's charges (its balance is theirs) and before its payments.
_RANK = {"visits": 0, "charges": 1, "plans": 2, "payments": 3, "adjustments": 4, "refunds": 5}
#: A row of each kind, in messages.
_NOUN = {
    "visits": "visit",
    "charges": "charge",
    "plans": "payment plan",
    "payments": "payment",
    "adjustments": "adjustment",
}
#: What a row of a file becomes.
Record = Appointment | Charge | PaymentPlan | Payment | Adjustment

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: The date formats an export may declare (``--date-format``, ``[format] date``): a closed set,
#: not strptime strings. ``MM/DD/YYYY`` and ``DD/MM/YYYY`` take one or two digits for the month
#: and the day (``1/6/2025``, ``01/06/2025``) and four for the year.
DATE_FORMATS = ("YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY")
#: The amount styles an export may declare (``--amounts``, ``[format] amounts``): ``plain``
#: decimals (``-1234.56``), or ``us`` money (``$1,234.56``, ``-$20.00``, ``($20.00)``).
AMOUNT_STYLES = ("plain", "us")
#: The fields whose words a ``[values.KIND.FIELD]`` table may map to the library's names.
CHOICES: Mapping[tuple[str, str], type[PaymentMethod | PaymentType | AdjustmentType]] = {
    ("payments", "method"): PaymentMethod,
    ("payments", "type"): PaymentType,
    ("adjustments", "type"): AdjustmentType,
}

#: The value class of a kind whose words :data:`CHOICES` may map.
_VALUE: Mapping[str, type[Payment | Adjustment]] = {"payments": Payment, "adjustments": Adjustment}
_SLASHED = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII)
#: A US amount: an optional leading minus, an optional ``$``, whole digits (thousands commas,
#: if any, every three digits) and decimals; or the same unsigned in parentheses.
_US_NUMBER = r"\$?([0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+)((?:\.[0-9]+)?)"
_US_AMOUNT = re.compile(rf"(-?){_US_NUMBER}|\({_US_NUMBER}\)", re.ASCII)


@attrs.frozen(kw_only=True)
class Formats:
    """How an export writes its values, as its user declares them (nothing is guessed): the
    date format (one of :data:`DATE_FORMATS`), the amount style (one of
    :data:`AMOUNT_STYLES`), and words mapped to the library's names, as
    ``(kind, field, their word, our name)`` (the word compared as a method is: any case,
    spaces or hyphens for ``_``). Build it with :func:`check_formats`."""

    date: str = attrs.field(default="YYYY-MM-DD", validator=attrs.validators.in_(DATE_FORMATS))
    amounts: str = attrs.field(default="plain", validator=attrs.validators.in_(AMOUNT_STYLES))
    values: tuple[tuple[str, str, str, str], ...] = ()


def check_formats(
    *,
    date: str | None = None,
    amounts: str | None = None,
    values: Mapping[str, Any] | None = None,
    source: str = "formats",
) -> Formats:
    """:class:`Formats` from a declaration (a columns TOML's ``[format]`` and ``[values]``
    tables, or the command line's options), checked.

    Args:
        date: one of :data:`DATE_FORMATS` (``None``: ``YYYY-MM-DD``).
        amounts: one of :data:`AMOUNT_STYLES` (``None``: ``plain``).
        values: ``{kind: {field: {their word: our name}}}`` for the fields of :data:`CHOICES`.
        source: where the declaration comes from, for messages.

    Raises:
        InvalidInputError: an unknown format or style, a field whose words cannot be mapped,
            a name that is not the library's, or two words that are one word mapped twice.
    """
    date = "YYYY-MM-DD" if date is None else date
    amounts = "plain" if amounts is None else amounts
    if date not in DATE_FORMATS:
        msg = f"{source}: date format {date!r} is not one of {', '.join(DATE_FORMATS)}"
        raise InvalidInputError(msg)
    if amounts not in AMOUNT_STYLES:
        msg = f"{source}: amount style {amounts!r} is not one of {', '.join(AMOUNT_STYLES)}"
        raise InvalidInputError(msg)
    fields = ", ".join(f"{kind}.{field}" for kind, field in CHOICES)
    out: dict[tuple[str, str, str], tuple[str, str]] = {}
    for kind, table in (values or {}).items():
        if not isinstance(table, Mapping):
            raise InvalidInputError(f"{source}: [values.{kind}] must hold a table per field")
        for field, words in table.items():
            choice = CHOICES.get((kind, field))
            if choice is None:
                msg = f"{source}: [values] maps the words of {fields} only, not {kind}.{field}"
                raise InvalidInputError(msg)
            where = f"[values.{kind}.{field}]"
            if not isinstance(words, Mapping):
                raise InvalidInputError(f'{source}: {where} must be a table of "word" = "NAME"')
            for word, name in words.items():
                ours = _choice(name) if isinstance(name, str) else ""
                if ours not in choice.__members__:
                    msg = (
                        f"{source}: {where} {word!r} = {name!r}: not a {choice.__name__} "
                        f"({', '.join(choice)})"
                    )
                    raise InvalidInputError(msg)
                key = (kind, field, _choice(word))
                if not key[2]:
                    raise InvalidInputError(f"{source}: {where} maps an empty word")
                if key in out and out[key][1] != ours:
                    msg = (
                        f"{source}: {where} maps {out[key][0]!r} and {word!r}, one word (case, "
                        f"spaces and hyphens do not count), to {out[key][1]} and {ours}"
                    )
                    raise InvalidInputError(msg)
                out[key] = (word, ours)
    return Formats(
        date=date,
        amounts=amounts,
        values=tuple((k, f, w, ours) for (k, f, w), (_, ours) in out.items()),
    )


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


def _load_toml(path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path}: not a TOML file: {error}") from None


def load_mapping(path: str | Path) -> dict[str, dict[str, str]]:
    """A header mapping from a TOML file: a table per kind, ``field = "their header"``. The
    file is UTF-8; a byte order mark (Windows editors write one) is skipped. Its ``[format]``
    and ``[values]`` tables are :func:`load_formats`'.

    Raises:
        InvalidInputError: not TOML, an unknown kind or field, or a header that is not text.
    """
    data = _load_toml(path)
    return check_mapping(
        {k: v for k, v in data.items() if k not in ("format", "values")}, source=str(path)
    )


def load_formats(
    path: str | Path, *, date: str | None = None, amounts: str | None = None
) -> Formats:
    """The formats a columns TOML file declares: ``[format]`` with ``date`` (one of
    :data:`DATE_FORMATS`) and ``amounts`` (one of :data:`AMOUNT_STYLES`), and a
    ``[values.KIND.FIELD]`` table of ``"their word" = "NAME"`` for each of :data:`CHOICES`.

    ``date`` and ``amounts``, when given, are declared elsewhere too (the command line's
    options): they must agree with the file's, if it says.

    Raises:
        InvalidInputError: not TOML, a declaration :func:`check_formats` refuses, or two
            declarations that disagree.
    """
    data = _load_toml(path)
    form = data.get("format", {})
    values = data.get("values", {})
    if not isinstance(form, Mapping) or not isinstance(values, Mapping):
        raise InvalidInputError(f"{path}: [format] and [values] must be tables")
    unknown = sorted(set(form) - {"date", "amounts"})
    if unknown:
        msg = f"{path}: [format] has no {', '.join(map(repr, unknown))} (it has date, amounts)"
        raise InvalidInputError(msg)
    for name, given in (("date", date), ("amounts", amounts)):
        if name in form and not isinstance(form[name], str):
            raise InvalidInputError(f"{path}: [format] {name} must be text")
        if given is not None and name in form and form[name] != given:
            msg = (
                f"{path}: [format] {name} = {form[name]!r}, but {given!r} is declared too "
                f"(--{'date-format' if name == 'date' else name}): declare one"
            )
            raise InvalidInputError(msg)
    return check_formats(
        date=date or form.get("date"),
        amounts=amounts or form.get("amounts"),
        values=values,
        source=str(path),
    )


def check_mapping(data: Mapping[str, Any], *, source: str = "mapping") -> dict[str, dict[str, str]]:
    """A mapping ``{kind: {field: header}}`` checked against :data:`FIELDS`."""
    out: dict[str, dict[str, str]] = {}
    for kind, table in data.items():
        if kind not in FIELDS:
            msg = f"{source}: unknown kind {kind!r} (known: {', '.join(KINDS)})"
            raise InvalidInputError(msg)
        if not isinstance(table, Mapping):
            raise InvalidInputError(f"{source}: [{kind}] must be a table of field = header")
        known = [f.name for f in FIELDS[kind]]
        for name, header in table.items():
            if name not in known:
                msg = f"{source}: {kind} has no field {name!r} (fields: {', '.join(known)})"
                raise InvalidInputError(msg)
            if not isinstance(header, str) or not header.strip():
                raise InvalidInputError(f"{source}: {kind}.{name} must name a header")
        out[kind] = {name: header.strip() for name, header in table.items()}
    return out


def header_name(header: str) -> str:
    """A header as it is matched against :data:`FIELDS`: trimmed, lower case, each run of
    spaces, hyphens and dots one ``_`` (``Visit ID``, ``visit-id`` and ``visit_id`` are one
    name). ``frames.from_frames`` matches a DataFrame's columns the same way."""
    return re.sub(r"[\s\-.]+", "_", header.strip().lower())


#: Headers that may hold a patient's name rather than an id: never taken for ``patient_id``
#: unless mapped (patients keyed by name merge namesakes and split a renamed patient).
_NAME_HEADERS = ("patient", "patient_name", "name", "full_name", "patient_full_name")


def _columns(
    kind: str, header: Sequence[str], mapping: Mapping[str, str], where: str
) -> dict[str, int]:
    """Which column holds each field of the kind (required fields must all be found).

    Raises:
        InvalidInputError: two headers that are one name after normalisation, two headers
            recognised for one field (both named), a mapped header that is not there, or a
            required field with no column.
    """
    position: dict[str, int] = {}
    for i, text in enumerate(header):
        name = header_name(text)
        if not name:  # an unnamed column (a trailing comma, say) can be nobody's field
            continue
        if name in position:
            first = position[name]
            msg = (
                f"{where}: columns {first + 1} ({header[first]!r}) and {i + 1} ({text!r}) have "
                "one name (case, spaces and hyphens do not count): rename one"
            )
            raise InvalidInputError(msg, line=1, columns=(header[first], text))
        position[name] = i
    found: dict[str, int] = {}
    for field in FIELDS[kind]:
        if field.name in mapping:
            wanted = mapping[field.name]
            if header_name(wanted) not in position:
                msg = f"{where}: no column {wanted!r} (mapped to {kind}.{field.name})"
                raise InvalidInputError(msg, line=1)
            found[field.name] = position[header_name(wanted)]
    mapped = set(found.values())
    for field in FIELDS[kind]:
        if field.name in found:
            continue
        hits = [position[n] for n in field.names if n in position and position[n] not in mapped]
        if len(hits) > 1:
            shown = " and ".join(repr(header[i]) for i in hits)
            msg = (
                f"{where}: columns {shown} are each a name for {kind}.{field.name}: map the "
                f"one that holds it with --column {kind}.{field.name}=HEADER"
            )
            raise InvalidInputError(msg, line=1, columns=tuple(header[i] for i in hits))
        if hits:
            found[field.name] = hits[0]
        elif field.required:
            msg = (
                f"{where}: no column for {kind}.{field.name} (recognised: "
                f"{', '.join(field.names)}); map one with --column "
                f"{kind}.{field.name}=HEADER or a [{kind}] table in --columns"
            )
            named = [header[position[n]] for n in _NAME_HEADERS if n in position]
            if field.name == "patient_id" and named:
                msg += (
                    f"; {named[0]!r} is not taken for it, as it may hold names (patients keyed "
                    f"by name merge namesakes): if it holds ids, map it: --column "
                    f"{kind}.patient_id={named[0]!r}"
                )
            raise InvalidInputError(msg, line=1)
    return found


def parse_date(text: str, what: str) -> datetime.date:
    """An ISO date, ``YYYY-MM-DD`` and nothing else (no week dates, no ``20250301``)."""
    if not _DATE.fullmatch(text):
        raise InvalidInputError(f"{what} {text!r} is not a date: write YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{what} {text!r} is not a date of the calendar") from None


def _choice(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip()).upper()


def _cut(text: str) -> str:
    """A cell for a message, cut short when it is long."""
    return text if len(text) <= 64 else f"{text[:20]}…({len(text)} characters)"


def _slashed_date(text: str, form: str) -> datetime.date | None:
    """The date ``text`` is under a slashed format, or ``None``."""
    match = _SLASHED.fullmatch(text)
    if match is None:
        return None
    first, second, year = (int(group) for group in match.groups())
    month, day = (first, second) if form == "MM/DD/YYYY" else (second, first)
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _us_plain(text: str) -> str | None:
    """A US amount (``$1,234.56``, ``-$20.00``, ``($20.00)``) as plain decimal text
    (``1234.56``, ``-20.00``, ``-20.00``), or ``None`` when it is not one."""
    match = _US_AMOUNT.fullmatch(text) if len(text) <= 100 else None
    if match is None:
        return None
    minus, whole, cents, whole_in_parentheses, cents_in_parentheses = match.groups()
    if whole_in_parentheses is not None:
        return "-" + whole_in_parentheses.replace(",", "") + cents_in_parentheses
    return minus + whole.replace(",", "") + cents


class _Cells:
    """How a row's cells are read: the ledger's currency and the declared formats. A refused
    cell's message names what to declare to read it (``hints``: for files, not JSON bodies)."""

    def __init__(
        self, currency: str, formats: Formats | None = None, *, hints: bool = True
    ) -> None:
        self.currency = currency
        self.formats = formats or Formats()
        self.hints = hints
        self.words = {(k, f, word): ours for k, f, word, ours in self.formats.values}

    def date(self, text: str, what: str) -> datetime.date:
        """A date in the declared format, and only in it."""
        form = self.formats.date
        if form == "YYYY-MM-DD":
            readable = (
                []
                if _DATE.fullmatch(text) or not self.hints
                else [f for f in DATE_FORMATS[1:] if _slashed_date(text, f) is not None]
            )
            if readable:
                hint = {
                    "MM/DD/YYYY": "if your export writes US dates, add --date-format MM/DD/YYYY",
                    "DD/MM/YYYY": "if your export writes the day first, add --date-format "
                    "DD/MM/YYYY",
                }[readable[0]]
                if len(readable) > 1:
                    hint += " (DD/MM/YYYY if it writes the day first)"
                try:
                    parse_date(text, what)
                except InvalidInputError as error:  # a JSON body's message, and the hint
                    raise InvalidInputError(f"{error}; {hint}", **error.details) from None
            return parse_date(text, what)
        found = _slashed_date(text, form)
        if found is not None:
            return found
        if _SLASHED.fullmatch(text) is None:
            msg = f"{what} {_cut(text)!r} is not {form}, the declared date format"
            raise InvalidInputError(msg)
        month = int(text.split("/")[0 if form == "MM/DD/YYYY" else 1])
        if month > 12:
            other = "DD/MM/YYYY" if form == "MM/DD/YYYY" else "MM/DD/YYYY"
            msg = f"{what} {text!r} is not {form}: there is no month {month}"
            if self.hints and _slashed_date(text, other) is not None:
                msg += (
                    f" (if the export writes dates as {other}, every date in it is: declare "
                    f"--date-format {other}; nothing is guessed)"
                )
            raise InvalidInputError(msg)
        raise InvalidInputError(f"{what} {text!r} is not a date of the calendar ({form})")

    def amount(self, text: str, what: str) -> Money:
        """An amount in the declared style, exact to the currency's minor unit (read by
        :func:`~patient_ledger.money.parse_amount`: never rounded)."""
        if self.formats.amounts == "us":
            plain = _us_plain(text)
            if plain is None:
                msg = (
                    f"{what} {_cut(text)!r} is not a US amount: digits with an optional '$', "
                    "thousands commas every three digits, an optional decimal point; negative "
                    "with a leading '-' or in parentheses ($1,234.56, -$20.00, ($20.00))"
                )
                raise InvalidAmountError(msg, amount=_cut(text))
            return parse_amount(
                plain, self.currency, what if plain == text else f"{what} {text!r}, read as"
            )
        try:
            return parse_amount(text, self.currency, what)
        except InvalidAmountError as error:
            if self.hints and _us_plain(text) not in (None, text):
                msg = (
                    f"{error}; if your export writes US amounts ($1,234.56, refunds in "
                    "parentheses), add --amounts us"
                )
                raise InvalidAmountError(msg, **error.details) from None
            raise

    def choice(self, kind: str, field: str, text: str) -> str:
        """A method's or type's name: the export's word as mapped in ``[values]``, or the
        library's name in any case (spaces or hyphens for ``_``)."""
        word = _choice(text)
        mapped = self.words.get((kind, field, word))
        if mapped is not None:
            return mapped
        if self.hints and word not in CHOICES[(kind, field)].__members__:
            convert = attrs.fields_dict(_VALUE[kind])[field].converter
            try:  # the value's own check, its message a JSON body's too
                cast("Callable[[str], object]", convert)(word)
            except InvalidInputError as error:
                msg = (
                    f"{error}; map your export's word to one of them in the --columns TOML: "
                    f'[values.{kind}.{field}] {json.dumps(_cut(text))} = "NAME"'
                )
                raise InvalidInputError(msg, **error.details) from None
        return word  # checked by the value's own class


_Row = Callable[[str], str | None]  # a field's trimmed text, None when empty or absent


def _visit(get: _Row, cells: _Cells) -> Appointment:
    key = _need(get, "id")
    return Appointment(
        key,
        _need(get, "patient_id"),
        cells.date(_need(get, "date"), f"visit {key!r}: date"),
        get("provider"),
    )


def _charge(get: _Row, cells: _Cells) -> Charge:
    key = _need(get, "id")
    posted_on = get("posted_on")
    return Charge(
        key,
        _need(get, "appointment_id"),
        cells.amount(_need(get, "amount"), f"charge {key!r}: amount"),
        get("code"),
        get("description"),
        None if posted_on is None else cells.date(posted_on, f"charge {key!r}: posted_on"),
    )


def _payment(get: _Row, cells: _Cells) -> Payment:
    key = _need(get, "id")
    what = f"payment {key!r}"
    amount = cells.amount(_need(get, "amount"), f"{what}: amount")
    kind = get("type")
    method = get("method")
    return Payment(
        key,
        _need(get, "patient_id"),
        amount,
        cells.date(_need(get, "received_on"), f"{what}: received_on"),
        cells.choice("payments", "method", method) if method else "OTHER",
        cells.choice("payments", "type", kind)
        if kind
        else ("REFUND" if amount.amount < 0 else "PAYMENT"),
        appointment_id=get("appointment_id"),
        provider=get("provider"),
        notes=get("notes") or "",
        reference=get("reference"),
        charge_id=get("charge_id"),
        plan_id=get("plan_id"),
    )


def _plan(get: _Row, cells: _Cells) -> PaymentPlan:
    """A payment plan's row: its appointments, if any, separated by ``;`` or spaces."""
    key = _need(get, "id")
    what = f"payment plan {key!r}"
    amount = get("amount")
    count = _need(get, "installments")
    if not count.isascii() or not count.isdigit():
        raise InvalidInputError(f"{what}: installments must be a whole number, got {count!r}")
    return PaymentPlan(
        key,
        _need(get, "patient_id"),
        None if amount is None else cells.amount(amount, f"{what}: amount"),
        int(count),
        cells.date(_need(get, "first_due"), f"{what}: first_due"),
        cells.date(_need(get, "created_on"), f"{what}: created_on"),
        tuple((get("appointment_ids") or "").replace(";", " ").split()),
    )


def _adjustment(get: _Row, cells: _Cells) -> Adjustment:
    key = _need(get, "id")
    what = f"adjustment {key!r}"
    kind = get("type")
    return Adjustment(
        key,
        _need(get, "charge_id"),
        cells.amount(_need(get, "amount"), f"{what}: amount"),
        cells.date(_need(get, "on"), f"{what}: on"),
        cells.choice("adjustments", "type", kind) if kind else "OTHER",
        get("reason"),
    )


def _need(get: _Row, name: str) -> str:
    value = get(name)
    if value is None:
        raise InvalidInputError(f"{name} is empty")
    return value


_BUILD: Mapping[str, Callable[[_Row, _Cells], Record]] = {
    "visits": _visit,
    "charges": _charge,
    "plans": _plan,
    "payments": _payment,
    "adjustments": _adjustment,
}


def parse_record(kind: str, body: Mapping[str, object], currency: str) -> Record:
    """A request body — a dict decoded from JSON, keyed by the field names of ``kind`` in
    :data:`FIELDS` — as the value a row of that kind of CSV export makes: the importer's own
    parser, with its rules and messages (a negative amount with no type is a refund, ``credit
    card`` is ``CREDIT_CARD``, amounts and dates as strictly read as in a CSV cell).

    Text is trimmed and an empty or ``null`` value is a missing one. An amount is a string
    (``"10.50"``) or an integer; a JSON number with a fraction is refused, as it may have been
    read through a float.

    >>> value = parse_record("payments", {"id": "PAY1", "patient_id": "P1", "amount": "-20.00",
    ...                                   "received_on": "2025-03-01", "method": "credit card"},
    ...                      "USD")
    >>> value.amount, value.method, value.type
    (Money('-20.00', 'USD'), PaymentMethod.CREDIT_CARD, PaymentType.REFUND)

    Raises:
        InvalidInputError: an unknown kind or field, a value of the wrong JSON type, or what
            the CSV importer refuses in a cell (an ``InvalidAmountError`` for an amount).
    """
    if kind not in _BUILD:
        raise InvalidInputError(f"unknown kind of record {kind!r}: one of {', '.join(KINDS)}")
    if not isinstance(body, Mapping):
        raise InvalidInputError(f"a {_NOUN[kind]} is a JSON object, got {type(body).__name__}")
    known = {field.name for field in FIELDS[kind]}
    unknown = sorted(str(key) for key in body if key not in known)
    if unknown:
        raise InvalidInputError(
            f"unknown field{'s' if len(unknown) > 1 else ''} of a {_NOUN[kind]}: "
            f"{', '.join(map(repr, unknown))} (known: {', '.join(sorted(known))})",
            fields=tuple(unknown),
        )

    def get(name: str) -> str | None:
        value = body.get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            msg = f"{name} must be a string"
            if isinstance(value, float | Decimal):
                msg += f', not the number {value}: write amounts as text, "10.50"'
                raise InvalidAmountError(msg, field=name)
            raise InvalidInputError(f"{msg}, got {type(value).__name__}", field=name)
        return value.strip() or None

    return _BUILD[kind](get, _Cells(currency_code(currency), hints=False))


def _records(path: Path, where: str) -> Iterator[tuple[int, list[str]]]:
    """The file's records with the physical line each starts on (blank lines skipped). Lines
    are decoded one at a time, so a byte that is not UTF-8 is named by its line."""
    number = 0

    def lines(source: Iterator[bytes]) -> Iterator[str]:
        nonlocal number
        for number, raw in enumerate(source, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                msg = f"{where} line {number}: not UTF-8 text: save the file as UTF-8"
                raise InvalidInputError(msg, file=where, line=number) from None
            yield text.removeprefix("\ufeff") if number == 1 else text

    with path.open("rb") as source:
        reader = csv.reader(lines(iter(source)), strict=True)
        start = 1
        try:
            for record in reader:
                if any(cell.strip() for cell in record):
                    yield start, record
                start = reader.line_num + 1
        except csv.Error as error:
            msg = f"{where} line {start}: {error}"
            raise InvalidInputError(msg, file=where, line=start) from None


class _Pickler(pickle.Pickler):
    """Spooled values name their amounts, dates and strings by value (``persistent_id``), so
    that :class:`_Unpickler` hands every row the same objects for the same values: a
    million rows share a few hundred dates and amounts, and each visit's id is one string for
    the visit, its charges and its payments. It is most of the memory a ledger built by an
    import needs."""

    def persistent_id(self, obj: Any) -> bytes | None:
        # Bytes: a persistent id is pickled too, and bytes are not shared (no recursion).
        # Exact types: a str enum member (a payment's method) is pickled as itself.
        kind = type(obj)
        if kind is str:
            return b"s" + cast("str", obj).encode("utf-8", "surrogatepass")
        if kind is datetime.date:
            return b"d" + cast("datetime.date", obj).isoformat().encode()
        if kind is FrozenMoney:
            return b"m" + f"{obj.amount} {obj.currency.code}".encode()
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, blob: bytes, shared: dict[bytes, object]) -> None:
        super().__init__(io.BytesIO(blob))
        self.shared = shared

    def persistent_load(self, pid: Any) -> object:
        found = self.shared.get(pid)
        if found is None:
            if len(self.shared) >= 100_000:  # bounded: ids are shared while they are near
                self.shared.clear()
            kind, text = pid[:1], pid[1:].decode("utf-8", "surrogatepass")
            if kind == b"s":
                found = text
            elif kind == b"d":
                found = datetime.date.fromisoformat(text)
            else:
                amount, code = text.split(" ")
                found = FrozenMoney(Decimal(amount), code)
            self.shared[pid] = found
        return found


def _dumps(value: object) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


class _Spool:
    """Rows parsed and waiting to be posted, in a temporary SQLite database, sorted on the way
    out; and every id read, by kind, with the day it is posted on and where it was read. The
    database is SQLite's private temporary one (an empty file name): kept in memory while small,
    spilled to a file that SQLite unlinks as soon as it opens it (in ``SQLITE_TMPDIR``,
    ``TMPDIR`` or ``/var/tmp``), so no row of it is left on disk after the process ends, however
    it ends."""

    def __init__(self, ledger: Ledger) -> None:
        self.db = sqlite3.connect("")
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE row (day INTEGER, rank INTEGER, file INTEGER, line INTEGER, value BLOB);"
            "CREATE TABLE seen (kind TEXT, id TEXT, day INTEGER, file INTEGER, line INTEGER,"
            " PRIMARY KEY (kind, id)) WITHOUT ROWID;"
        )
        self.state = state_of(ledger)
        self.names: list[str] = []  # the files read, by number
        self.pending: list[tuple[int, int, int, int, bytes]] = []
        self.ignored: list[tuple[str, tuple[str, ...]]] = []  # columns no field reads, by file
        self.count = 0

    def day_of(self, kind: str, key: str) -> int | None:
        """The day (ordinal) of a visit or a charge read earlier, or already in the ledger."""
        query = "SELECT day FROM seen WHERE kind=? AND id=?"
        found = self.db.execute(query, (kind, key)).fetchone()
        if found:
            return int(found[0])
        state = self.state
        if kind == "plans":
            plan = state.plans.get(key)
            return None if plan is None else plan[5].toordinal()  # created_on
        if kind == "charges":
            charge = state.charges.get(key)
            key = charge.appointment_id if charge is not None else ""
        if key in state.accounts:
            return state.appointment(key).appointment.date.toordinal()
        return None

    def add(self, kind: str, what: str, day: int, place: tuple[int, int], value: Record) -> None:
        """Spool a value of a kind of file read at ``place`` (file, line) to be posted on
        ``day`` as ``what``; a visit's date and a charge's day are kept for the rows that name
        them.

        Raises:
            DuplicateIdError: the kind's id was read before in this import (both lines named).
        """
        known = value.date.toordinal() if isinstance(value, Appointment) else day
        added = self.db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?)", (kind, value.id, known, *place)
        )
        if not added.rowcount:
            query = "SELECT file, line FROM seen WHERE kind=? AND id=?"
            file, line = self.db.execute(query, (kind, value.id)).fetchone()
            first = f"{self.names[file]} line {line}"
            then = f"{self.names[place[0]]} line {place[1]}"
            msg = (
                f"{_NOUN[kind]} id {value.id!r} is on two rows of this import, {first} and "
                f"{then}: an id may appear once in an import"
            )
            raise DuplicateIdError(msg, id=value.id, first=first, then=then)
        self.pending.append((day, _RANK[what], *place, _dumps(value)))
        self.count += 1
        self.flush(now=False)

    def flush(self, now: bool = True) -> None:
        """Write the pending rows (every 10,000 rows, or at once when asked)."""
        if self.pending and (now or len(self.pending) >= 10_000):
            self.db.executemany("INSERT INTO row VALUES (?, ?, ?, ?, ?)", self.pending)
            self.pending.clear()

    def sorted(self) -> Iterator[tuple[int, int, object]]:
        """``(file, line, value)`` in posting order."""
        self.flush()
        self.db.execute("CREATE INDEX posting ON row (day, rank, file, line)")
        query = "SELECT file, line, value FROM row ORDER BY day, rank, file, line"
        shared: dict[bytes, object] = {}
        for file, line, blob in self.db.execute(query):
            yield file, line, _Unpickler(blob, shared).load()  # our own rows, spooled just now


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
            day, what = _day(spool, kind, value)
            spool.add(kind, what, day, (file, line), value)
        except LedgerError as error:
            raise _at(error, where, line) from None
        if progress:
            progress.advance(1)


def _day(spool: _Spool, kind: str, value: Record) -> tuple[int, str]:
    """When a value is posted (a day ordinal; visits: 0, before all) and as what."""
    match value:
        case Appointment():
            return 0, kind
        case Charge(appointment_id=visit):
            day = spool.day_of("visits", visit)
            if day is None:
                msg = f"charge {value.id!r}: visit {visit!r} is in no visits file nor the ledger"
                raise UnknownIdError(msg, id=visit)
            posted_on = value.posted_on  # SPEC §12: the charge's day, when given
            return (day if posted_on is None else posted_on.toordinal()), kind
        case PaymentPlan():
            return value.created_on.toordinal(), kind
        case Payment():
            day = value.received_on.toordinal()
            if value.charge_id is not None:
                day = max(day, spool.day_of("charges", value.charge_id) or day)
            if value.plan_id is not None:  # posted no earlier than its plan is agreed
                day = max(day, spool.day_of("plans", value.plan_id) or day)
            return day, "refunds" if value.type is PaymentType.REFUND else kind
        case Adjustment():
            day = value.on.toordinal()
            return max(day, spool.day_of("charges", value.charge_id) or day), kind
    raise AssertionError(value)  # pragma: no cover - _BUILD makes only these


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
