"""One DrChrono API record, read field by field: every error names its kind and id."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from patient_ledger.adapters.drchrono._json import MAX_NUMBER_CHARS, _bounded, _Unreadable
from patient_ledger.errors import (
    DuplicateIdError,
    InvalidAmountError,
    InvalidInputError,
    LedgerError,
)
from patient_ledger.money import parse_amount
from patient_ledger.state import Ledger


class _Record:
    """One API record, read field by field; every error names its kind and id."""

    def __init__(self, kind: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise InvalidInputError(f"a {kind} record must be a JSON object, got {raw!r}")
        self.kind, self.raw = kind, raw
        self.id = str(self.key("id"))

    def where(self) -> str:
        raw_id = self.raw.get("id")
        if isinstance(raw_id, Decimal) and _bounded(raw_id) and raw_id == raw_id.to_integral():
            raw_id = int(raw_id)
        shown = str(raw_id) if isinstance(raw_id, int | str) and raw_id != "" else raw_id
        return f"{self.kind} record {shown!r}"

    def fail(self, message: str, error: type[LedgerError] = InvalidInputError) -> LedgerError:
        return error(f"{self.where()}: {message}", record=self.raw.get("id"))

    def get(self, field: str, *, required: bool = True) -> Any:
        value = self.raw.get(field)
        if value is None and required:
            raise self.fail(f"the required field {field!r} is missing")
        return value

    def key(self, field: str, *, required: bool = True) -> str | None:
        """An id field (int or str: ``1`` and ``"1"`` are the same id) as our id string."""
        value = self.get(field, required=required)
        if value is None:
            return None
        if isinstance(value, Decimal) and _bounded(value) and value == value.to_integral():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.fail(f"{field} must be an id (an integer or a string), got {value!r}")
        text = str(value).strip()
        if not text:
            raise self.fail(f"{field} is empty")
        return text

    def amount(self, field: str, currency: str) -> Decimal:
        """An amount, exact, read by the one strict parser (:func:`~patient_ledger.money.
        parse_amount`): a decimal string or JSON number in plain decimal notation (ASCII
        digits, an optional ``-`` and point: no exponent, ``_``, space or other digits),
        within the currency's minor unit and the supported maximum."""
        value = self.get(field)
        text: str | None = None
        if isinstance(value, str):
            text = value
        elif isinstance(value, float):
            text = repr(value)  # the shortest text that reads back as this float: the JSON's
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value) if abs(value) < 10**MAX_NUMBER_CHARS else None
        elif isinstance(value, Decimal):
            text = str(value)  # never expanded: Decimal("1E+5") shows its exponent, refused
        if text is None:
            shown = value if isinstance(value, _Unreadable) else f"{value!r}"
            raise self.fail(
                f"{field} must be a decimal amount (a string or a JSON number in plain "
                f"decimal notation: no exponent), got {shown}",
                InvalidAmountError,
            )
        try:
            return Decimal(parse_amount(text, currency, field).amount)
        except LedgerError as error:
            raise self.fail(str(error), InvalidAmountError) from None

    def day(self, *fields: str) -> datetime.date:
        """The date of the first of ``fields`` that is set (a date or a date-time string)."""
        value = next((self.raw[f] for f in fields if self.raw.get(f) is not None), None)
        if value is None:
            raise self.fail(f"none of the date fields {', '.join(map(repr, fields))} is set")
        if not isinstance(value, str):
            raise self.fail(f"{fields[0]} must be a date string, got {value!r}")
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            raise self.fail(f"{fields[0]} {value!r} is not a date") from None

    def code(self, field: str, table: Mapping[str, Any], default: str) -> Any:
        value = self.raw.get(field)
        value = default if value is None else value
        if value not in table:
            codes = ", ".join(repr(c) for c in table)
            raise self.fail(f"unknown {field} {value!r} (known: {codes})")
        return table[value]

    def text(self, field: str) -> str | None:
        value = self.raw.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{field} must be a string, got {value!r}")
        return value

    def flag(self, field: str) -> bool:
        value = self.raw.get(field)
        if value is not None and not isinstance(value, bool):
            raise self.fail(f"{field} must be true or false, got {value!r}")
        return bool(value)


def _id_order(text: str) -> tuple[int, int, str]:
    return (0, int(text), "") if text.isascii() and text.isdigit() else (1, 0, text)


def _unique(kind: str, raws: Iterable[object]) -> Iterator[_Record]:
    """The records of one list, refusing a repeated id (``1`` and ``"1"`` are one id) with a
    message naming both records."""
    seen: dict[str, tuple[int, object]] = {}
    for number, raw in enumerate(raws, start=1):
        record = _Record(kind, raw)
        if record.id in seen:
            first, other = seen[record.id]
            msg = (
                f"{kind} id {record.id!r} is repeated: record {first} ({other!r}) and record "
                f"{number} ({record.raw.get('id')!r}) of the {kind} list; ids must be unique"
            )
            raise DuplicateIdError(msg, id=record.id, records=(first, number))
        seen[record.id] = (number, record.raw.get("id"))
        yield record


@contextlib.contextmanager
def _about(record: _Record) -> Iterator[None]:
    """Name the record in any error its values raise."""
    with _named(record.raw.get("id"), record.where()):
        yield


@contextlib.contextmanager
def _named(record_id: object, where: str | None = None) -> Iterator[None]:
    """Name a patient payment record (or ``where``) in any error raised inside."""
    where = where or f"patient_payment record {record_id!r}"
    try:
        yield
    except LedgerError as error:
        if str(error).startswith(where):
            raise
        raise type(error)(f"{where}: {error}", record=record_id) from None


def _apply(
    ledger: Ledger, command: Callable[[Ledger, Any], Ledger], value: Any, kind: str
) -> Ledger:
    try:
        return command(ledger, value)
    except LedgerError as error:
        raise type(error)(f"{kind} record {value.id!r}: {error}", record=value.id) from None
