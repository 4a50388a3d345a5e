"""The error hierarchy: every refusal is a :class:`LedgerError` with a machine-readable code.

Each error passes its message to ``super().__init__`` (so ``str()`` and ``.args`` work) and
keeps the ids and amounts involved in ``details``.  When several rules are broken at once the
first in this order wins: input shape, idempotency, references, state.
"""

from __future__ import annotations

import datetime
import enum
import os
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import attrs
from moneyed import Money


class ErrorCode(enum.Enum):
    """Machine-readable reason for a :class:`LedgerError`, one per error class."""

    INVALID_INPUT = "invalid_input"
    INVALID_AMOUNT = "invalid_amount"
    CURRENCY_MISMATCH = "currency_mismatch"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_ID = "unknown_id"
    PATIENT_MISMATCH = "patient_mismatch"
    INSUFFICIENT_UNALLOCATED = "insufficient_unallocated"
    OVER_APPLICATION = "over_application"
    NOT_OFFSETTING = "not_offsetting"
    INSUFFICIENT_ALLOCATED = "insufficient_allocated"
    ALREADY_REVERSED = "already_reversed"
    APPOINTMENT_CANCELLED = "appointment_cancelled"
    CORRUPT_JOURNAL = "corrupt_journal"
    CONCURRENCY_CONFLICT = "concurrency_conflict"
    STORE_REFUSED = "store_refused"
    DATE_ORDER = "date_order"


#: The codes the commands raise (SPEC §7 and §9), in the order of the checks that raise them.
COMMAND_CODES = tuple(ErrorCode)[:12]


class LedgerError(ValueError):
    """A broken rule. The ledger the command was given is left as it was.

    Attributes:
        code: the :class:`ErrorCode` of this error's class.
        details: the ids and amounts involved, by name (amounts as ``Money``).
    """

    code: ClassVar[ErrorCode]
    details: Mapping[str, object]

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = MappingProxyType(details)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword details are not in .args, so rebuild through a helper that restores them.
        return (_rebuild, (type(self), str(self), dict(self.details)))

    def as_dict(self) -> dict[str, Any]:
        """The error as plain JSON data: its ``code``, its ``message`` and its ``details``,
        amounts as exact decimal strings, dates ISO, enums by value, values as dicts of their
        fields (what a service answers with; ``json.dumps`` takes it as it is).

        >>> from moneyed import Money
        >>> error = InvalidAmountError("zero", amount=Money("0.00", "USD"))
        >>> error.as_dict()
        {'code': 'invalid_amount', 'message': 'zero', 'details': {'amount': '0.00'}}
        """
        return {
            "code": self.code.value,
            "message": str(self),
            "details": {str(key): plain(value) for key, value in self.details.items()},
        }


def _rebuild(cls: type[LedgerError], message: str, details: dict[str, object]) -> LedgerError:
    return cls(message, **details)


def plain(value: object) -> Any:  # noqa: PLR0911 - one return per kind of value
    """``value`` as plain JSON data: ``Money`` and ``Decimal`` as exact decimal strings
    (``'10.00'``, never an exponent, never through float), dates ISO, enums by value, attrs
    values as dicts of their fields, mappings as dicts, sequences and sets as lists (sets
    sorted), paths and anything else as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Money):
        return format(value.amount, "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):  # a datetime too
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if attrs.has(type(value)):
        names = (f.name for f in attrs.fields(type(value)))  # type: ignore[arg-type]
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


class InvalidInputError(LedgerError):
    """A field is malformed: an empty id, a wrong type, a wrong payment type for the command."""

    code = ErrorCode.INVALID_INPUT


class InvalidAmountError(InvalidInputError):
    """An amount is not finite, zero where it must not be, of the wrong sign, finer than the
    currency's minor unit, or beyond the supported maximum."""

    code = ErrorCode.INVALID_AMOUNT


class ExistingFileError(InvalidInputError):
    """A command that writes a whole new file found one already there and was not told to
    replace it (``--replace``). Nothing was written.

    Attributes:
        details: ``path``, the file found.
    """


class CurrencyMismatchError(InvalidInputError):
    """An amount is not in the ledger's currency."""

    code = ErrorCode.CURRENCY_MISMATCH


class DuplicateIdError(LedgerError):
    """An id already in the ledger with different content."""

    code = ErrorCode.DUPLICATE_ID


class UnknownIdError(LedgerError):
    """An appointment, patient, charge, payment or entry the ledger does not know."""

    code = ErrorCode.UNKNOWN_ID


class PatientMismatchError(LedgerError):
    """An appointment (or entry) that belongs to another patient."""

    code = ErrorCode.PATIENT_MISMATCH


class InsufficientUnallocatedError(LedgerError):
    """A refund, application, release or transfer larger than the bucket's available amount."""

    code = ErrorCode.INSUFFICIENT_UNALLOCATED


class OverApplicationError(LedgerError):
    """An application larger than the appointment's balance due (or a charge driven below zero)."""

    code = ErrorCode.OVER_APPLICATION


class NotOffsettingError(LedgerError):
    """Entries to cancel that do not sum to zero, are not open, or span patients or buckets."""

    code = ErrorCode.NOT_OFFSETTING


class InsufficientAllocatedError(LedgerError):
    """An unapply larger than what is allocated to the appointment."""

    code = ErrorCode.INSUFFICIENT_ALLOCATED


class AlreadyReversedError(LedgerError):
    """A payment that has already been reversed."""

    code = ErrorCode.ALREADY_REVERSED


class AppointmentCancelledError(LedgerError):
    """A charge, payment, refund or application naming an appointment that was cancelled."""

    code = ErrorCode.APPOINTMENT_CANCELLED


class DateOrderError(LedgerError):
    """A view as of a day cannot be cut from the journal: an event posted after the cut has a
    day on or before it (posted late), so the journal up to the cut is not how the books stood
    that day (SPEC §12). ``details``: ``on``, ``index`` (the late event's place in the journal)
    and ``day``."""

    code = ErrorCode.DATE_ORDER


class JournalError(LedgerError):
    """A serialized journal that is malformed, altered, reordered, cut, or does not replay.

    Attributes:
        line: the number (from 1) of the first bad line.
    """

    code = ErrorCode.CORRUPT_JOURNAL

    def __init__(self, message: str, *, line: int, **details: object) -> None:
        super().__init__(f"line {line}: {message}", line=line, **details)
        self.line = line

    def __reduce__(self) -> tuple[object, ...]:
        message = str(self).split(": ", 1)[1]
        details = {k: v for k, v in self.details.items() if k != "line"}
        return (_rebuild_journal_error, (message, self.line, details))


def _rebuild_journal_error(message: str, line: int, details: dict[str, object]) -> JournalError:
    return JournalError(message, line=line, **details)


class ConcurrencyError(LedgerError):
    """A save based on a stale version: another writer saved first. Nothing was written."""

    code = ErrorCode.CONCURRENCY_CONFLICT


class StoreError(LedgerError):
    """An event store refused an operation: it is open read-only, or the database refused a
    value or a statement. Nothing was written."""

    code = ErrorCode.STORE_REFUSED


class SnapshotError(LedgerError):
    """A snapshot that cannot stand for its journal: not a snapshot, another format, damaged,
    or not matching the journal's chain. A store ignores it and replays the journal instead."""

    code = ErrorCode.CORRUPT_JOURNAL


class IncompleteExportError(InvalidInputError):
    """An API export whose pages say records are missing (``next`` or ``previous`` set, or a
    ``count`` beyond its records), imported without ``partial``. Nothing was written.

    Attributes:
        details: ``source`` (the file or answer) and ``missing`` (what its pages say).
    """
