"""A row's cells read strictly into the value it makes (:func:`parse_record` for a JSON body): dates
and amounts in the declared formats, methods and types by the library's or the mapped names."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import cast

import attrs
from moneyed import Money

from patient_ledger.adapters._order import Record
from patient_ledger.adapters.imports._columns import (
    _NOUN,
    CHOICES,
    DATE_FORMATS,
    FIELDS,
    KINDS,
    Formats,
    _choice,
)
from patient_ledger.errors import (
    InvalidAmountError,
    InvalidInputError,
)
from patient_ledger.money import currency_code, parse_amount
from patient_ledger.values import (
    Adjustment,
    Appointment,
    Charge,
    Payment,
    PaymentPlan,
)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


#: The value class of a kind whose words :data:`CHOICES` may map.
_VALUE: Mapping[str, type[Payment | Adjustment]] = {"payments": Payment, "adjustments": Adjustment}


_SLASHED = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII)


#: A US amount: an optional leading minus, an optional ``$``, whole digits (thousands commas,
#: if any, every three digits) and decimals; or the same unsigned in parentheses.
_US_NUMBER = r"\$?([0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+)((?:\.[0-9]+)?)"


_US_AMOUNT = re.compile(rf"(-?){_US_NUMBER}|\({_US_NUMBER}\)", re.ASCII)


def parse_date(text: str, what: str) -> datetime.date:
    """An ISO date, ``YYYY-MM-DD`` and nothing else (no week dates, no ``20250301``)."""
    if not _DATE.fullmatch(text):
        raise InvalidInputError(f"{what} {text!r} is not a date: write YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{what} {text!r} is not a date of the calendar") from None


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
