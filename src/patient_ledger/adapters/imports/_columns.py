"""The fields of each kind of export, the headers recognised for them, and what a user declares
about an export: a header mapping (:func:`load_mapping`) and its formats (:class:`Formats`)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from patient_ledger.errors import InvalidInputError
from patient_ledger.values import (
    AdjustmentType,
    PaymentMethod,
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


#: A row of each kind, in messages.
_NOUN = {
    "visits": "visit",
    "charges": "charge",
    "plans": "payment plan",
    "payments": "payment",
    "adjustments": "adjustment",
}


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


def _normal(header: str) -> str:
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
        name = _normal(text)
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
            if _normal(wanted) not in position:
                msg = f"{where}: no column {wanted!r} (mapped to {kind}.{field.name})"
                raise InvalidInputError(msg, line=1)
            found[field.name] = position[_normal(wanted)]
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


def _choice(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip()).upper()
