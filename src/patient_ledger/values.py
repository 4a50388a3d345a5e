"""Immutable value objects: appointments, charges, payments, adjustments, transfers.

Each checks its own fields on construction and raises the matching :class:`LedgerError`;
rules that involve the ledger (currency, references, balances) are checked by the commands.
A value's amount is converted once, here, to exact integer minor units (``minor_units``),
which the engine uses from then on, and its ``amount`` is replaced by a read-only
:class:`~patient_ledger.money.FrozenMoney` copy: changing the caller's ``Money`` afterwards
changes nothing here (and nothing in a journal written later).
"""

from __future__ import annotations

import calendar
import datetime
import enum
import re
import unicodedata
from typing import TypeVar

import attrs
from moneyed import Money

from patient_ledger.errors import InvalidAmountError, InvalidInputError
from patient_ledger.money import frozen, to_minor


class _Choice(enum.StrEnum):
    """A closed choice whose ``repr`` is valid Python (hypothesis prints failing runs as code)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class PaymentMethod(_Choice):
    """How the money came in."""

    CASH = "CASH"
    CHECK = "CHECK"
    CREDIT_CARD = "CREDIT_CARD"
    DEBIT_CARD = "DEBIT_CARD"
    ONLINE = "ONLINE"
    OTHER = "OTHER"


class PaymentType(_Choice):
    """What the money is for. ``REFUND`` amounts are negative, every other type's positive."""

    PAYMENT = "PAYMENT"
    COPAY = "COPAY"
    COINSURANCE = "COINSURANCE"
    DEDUCTIBLE = "DEDUCTIBLE"
    CORRECTION = "CORRECTION"
    REFUND = "REFUND"
    OTHER = "OTHER"


class AdjustmentType(_Choice):
    """Why a charge's patient responsibility changed. ``WRITE_OFF`` may only lower it."""

    INSURANCE = "INSURANCE"
    CONTRACTUAL = "CONTRACTUAL"
    WRITE_OFF = "WRITE_OFF"
    OTHER = "OTHER"


class AllocationOrder(_Choice):
    """The rule ``auto_allocate`` pays a patient's appointments by (SPEC §10)."""

    #: By date, then id; each gets what is left, up to its balance due.
    OLDEST_FIRST = "OLDEST_FIRST"
    #: By balance due, smallest first (then date, then id); only whole balances are paid.
    SMALLEST_FIRST = "SMALLEST_FIRST"


class InstallmentStatus(_Choice):
    """Where an installment of a payment plan stands (SPEC §11)."""

    #: Covered whole by what counts toward the plan.
    PAID = "PAID"
    #: Skipped: a new installment of the same amount was added at the end.
    SKIPPED = "SKIPPED"
    #: Not covered, due before the day asked about.
    OVERDUE = "OVERDUE"
    #: Not covered, due that day.
    DUE = "DUE"
    #: Not covered, due later.
    UPCOMING = "UPCOMING"


class PlanState(_Choice):
    """Where a payment plan stands (SPEC §11)."""

    ACTIVE = "ACTIVE"
    #: Nothing remains to pay; reversals that raise ``remaining`` again make it ``ACTIVE``.
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


#: The most installments a payment plan may have (ten years of months).
MAX_INSTALLMENTS = 120


_E = TypeVar("_E", bound=enum.StrEnum)


def check_choice(enum_type: type[_E], value: object) -> _E:
    """Accept a member of ``enum_type`` or its exact string value."""
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        member = enum_type._value2member_map_.get(value)  # the enum's own index of values
        if member is not None:
            return member  # type: ignore[return-value] # a member of enum_type
    names = ", ".join(member.value for member in enum_type)
    raise InvalidInputError(f"{enum_type.__name__} must be one of {names}; got {value!r}")


def _payment_method(value: object) -> PaymentMethod:
    return check_choice(PaymentMethod, value)


def _payment_type(value: object) -> PaymentType:
    return check_choice(PaymentType, value)


def _adjustment_type(value: object) -> AdjustmentType:
    return check_choice(AdjustmentType, value)


def _shown(money: Money) -> str:
    """An amount with its currency, for a message: ``'-0.01 USD'``."""
    return f"{money.amount} {money.currency.code}"


#: Unicode categories that show nothing on their own: controls, format characters (zero-width
#: spaces and joiners, the BOM), separators. An id made only of these (and whitespace) is blank.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


#: ASCII whitespace and control characters (NUL, DEL ...).
_ASCII_INVISIBLE = "".join(map(chr, [*range(33), 127]))


def _blank(text: str) -> bool:
    return all(c.isspace() or unicodedata.category(c) in _INVISIBLE for c in text)


def check_text(value: str, what: str) -> None:
    """Raise :class:`InvalidInputError` if ``value`` holds a lone surrogate (not valid
    Unicode text: no journal, file or database could store it)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputError(
                f"{what} is not valid Unicode text (a lone surrogate): {value!r}"
            ) from None


def plain(value: object) -> object:
    """A caller's str or date of a subclass (a test clock's date, say), as the plain value an
    encoder writes (msgspec's ``enc_hook``: the journal and snapshots)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return datetime.date(value.year, value.month, value.day)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


#: Unicode categories an id may not hold anywhere: controls (NUL, ESC, newlines), format
#: characters (zero-width spaces and joiners, bidirectional overrides, the BOM) and the line and
#: paragraph separators. Each prints as nothing or moves the cursor, so ``'P1\u200b'`` would be
#: a second patient that prints as ``P1``.
_NOT_IN_IDS = {
    "Cc": "a control character",
    "Cf": "a format character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}

#: Code points an id may not hold anywhere though ``str.isprintable`` calls them printable:
#: Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt: the soft hyphen, the
#: combining grapheme joiner, the Hangul fillers, variation selectors, Mongolian free variation
#: selectors, tags ...; a renderer shows none of them) and the braille blank U+2800, which shows
#: as a space. ``'P1\u3164'`` would otherwise be a second patient that prints as ``P1``.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def check_id(value: object, what: str) -> str:
    """Return ``value`` if it is a well-formed id, else raise :class:`InvalidInputError`.

    An id is a str, not blank (empty, or only whitespace and invisible characters), with no
    whitespace at either end and no control, format, line- or paragraph-separator character
    anywhere (:data:`_NOT_IN_IDS`) and no default-ignorable code point or braille blank
    (:data:`_IGNORABLE`): two ids that print alike are the same id. The error names
    the id (its ``repr``) and the first offending character's code point.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a str, got {type(value).__name__} {value!r}")
    # The fast path: a printable id (no C* or Z* character but the space) that does not start
    # or end with a space, and is ASCII (``isascii`` is a flag read) or holds no ignorable
    # code point, is well-formed; anything else is looked at character by character.
    if (
        value
        and value[0] != " " != value[-1]
        and value.isprintable()
        and (value.isascii() or _IGNORABLE.search(value) is None)
    ):
        return value
    if not value.strip(_ASCII_INVISIBLE) if value.isascii() else _blank(value):
        raise InvalidInputError(f"{what} must not be empty, got {value!r}")
    check_text(value, what)
    for char in value:
        kind = _NOT_IN_IDS.get(unicodedata.category(char))
        if kind is not None:
            raise InvalidInputError(
                f"{what} {value!r} holds U+{ord(char):04X}, {kind}: an id may not hold a "
                "character that prints as nothing or breaks the line",
                id=value,
                code_point=ord(char),
            )
    ignorable = _IGNORABLE.search(value)
    if ignorable is not None:
        char = ignorable.group()
        raise InvalidInputError(
            f"{what} {value!r} holds U+{ord(char):04X}, a default-ignorable character (or the "
            "braille blank): an id may not hold a character that prints as nothing or breaks "
            "the line",
            id=value,
            code_point=ord(char),
        )
    for end, char in (("starts", value[0]), ("ends", value[-1])):
        if char.isspace():
            raise InvalidInputError(
                f"{what} {value!r} {end} with whitespace (U+{ord(char):04X}): an id is "
                "exact, so trim it",
                id=value,
                code_point=ord(char),
            )
    return value


def check_optional_id(value: object, what: str) -> str | None:
    """Like :func:`check_id`, but ``None`` is allowed."""
    return None if value is None else check_id(value, what)


def check_date(value: object, what: str) -> datetime.date:
    """Return ``value`` if it is a ``datetime.date`` (not a ``datetime``), else raise."""
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise InvalidInputError(
            f"{what} must be a datetime.date, got {type(value).__name__} {value!r}"
        )
    return value


def check_optional_str(value: object, what: str) -> None:
    """Raise :class:`InvalidInputError` unless ``value`` is a str or None."""
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a str or None, got {type(value).__name__}")
    if value is not None:
        check_text(value, what)


@attrs.frozen
class Appointment:
    """A visit of one patient on one date; charges and payments attach to it."""

    id: str
    patient_id: str
    date: datetime.date
    provider: str | None = None

    def __attrs_post_init__(self) -> None:
        check_id(self.id, "appointment id")
        what = f"appointment {self.id!r}"
        check_id(self.patient_id, f"{what} patient_id")
        check_date(self.date, f"{what} date")
        check_optional_str(self.provider, f"{what} provider")


@attrs.frozen
class Charge:
    """One line of patient responsibility on an appointment; its amount is ≥ 0."""

    id: str
    appointment_id: str
    amount: Money
    code: str | None = None
    description: str | None = None
    #: The day the charge was posted (SPEC §12: the charge's day; None: its appointment's date).
    posted_on: datetime.date | None = None
    minor_units: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.id, "charge id")
        what = f"charge {self.id!r}"
        check_id(self.appointment_id, f"{what} appointment_id")
        minor = to_minor(self.amount, f"{what} amount")
        if minor < 0:
            raise InvalidAmountError(
                f"{what} amount {_shown(self.amount)} must not be negative", amount=self.amount
            )
        check_optional_str(self.code, f"{what} code")
        check_optional_str(self.description, f"{what} description")
        if self.posted_on is not None:
            check_date(self.posted_on, f"{what} posted_on")
        object.__setattr__(self, "minor_units", minor)
        object.__setattr__(self, "amount", frozen(self.amount))


@attrs.frozen
class Payment:
    """Money received from a patient (amount > 0), or given back (type ``REFUND``, amount < 0)."""

    id: str
    patient_id: str
    amount: Money
    received_on: datetime.date
    method: PaymentMethod = attrs.field(default=PaymentMethod.OTHER, converter=_payment_method)
    type: PaymentType = attrs.field(default=PaymentType.PAYMENT, converter=_payment_type)
    appointment_id: str | None = None
    provider: str | None = None
    notes: str = ""
    reference: str | None = None
    #: The line item (charge) paid first; the rest goes to the appointment's other lines.
    charge_id: str | None = None
    #: The payment plan the payment counts toward (SPEC §11); it names no appointment or line.
    plan_id: str | None = None
    minor_units: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.id, "payment id")
        what = f"payment {self.id!r}"
        check_id(self.patient_id, f"{what} patient_id")
        minor = to_minor(self.amount, f"{what} amount")
        check_date(self.received_on, f"{what} received_on")
        check_optional_id(self.appointment_id, f"{what} appointment_id")
        check_optional_str(self.provider, f"{what} provider")
        if not isinstance(self.notes, str):
            raise InvalidInputError(f"{what} notes must be a str, got {type(self.notes).__name__}")
        check_text(self.notes, f"{what} notes")
        check_optional_str(self.reference, f"{what} reference")
        check_optional_id(self.charge_id, f"{what} charge_id")
        check_optional_id(self.plan_id, f"{what} plan_id")
        if self.type is PaymentType.REFUND and minor >= 0:
            raise InvalidAmountError(
                f"{what} is a REFUND: its amount must be negative, got {_shown(self.amount)}",
                amount=self.amount,
            )
        if self.type is not PaymentType.REFUND and minor <= 0:
            raise InvalidAmountError(
                f"{what} of type {self.type.value} must have an amount > 0, "
                f"got {_shown(self.amount)}",
                amount=self.amount,
            )
        object.__setattr__(self, "minor_units", minor)
        object.__setattr__(self, "amount", frozen(self.amount))


@attrs.frozen
class Adjustment:
    """A signed change to a charge's patient responsibility (insurance, contractual, write-off)."""

    id: str
    charge_id: str
    amount: Money
    on: datetime.date
    type: AdjustmentType = attrs.field(default=AdjustmentType.OTHER, converter=_adjustment_type)
    reason: str | None = None
    minor_units: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.id, "adjustment id")
        what = f"adjustment {self.id!r}"
        check_id(self.charge_id, f"{what} charge_id")
        minor = to_minor(self.amount, f"{what} amount")
        check_date(self.on, f"{what} on")
        check_optional_str(self.reason, f"{what} reason")
        if minor == 0:
            raise InvalidAmountError(f"{what} amount must not be zero", amount=self.amount)
        if self.type is AdjustmentType.WRITE_OFF and minor > 0:
            raise InvalidAmountError(
                f"{what} is a WRITE_OFF: it may only lower a balance (amount < 0), "
                f"got {_shown(self.amount)}",
                amount=self.amount,
            )
        object.__setattr__(self, "minor_units", minor)
        object.__setattr__(self, "amount", frozen(self.amount))


@attrs.frozen
class Transfer:
    """General-bucket money moved from one patient to another (a family member, a guarantor)."""

    id: str
    from_patient_id: str
    to_patient_id: str
    amount: Money
    on: datetime.date
    minor_units: int = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.id, "transfer id")
        what = f"transfer {self.id!r}"
        check_id(self.from_patient_id, f"{what} from_patient_id")
        check_id(self.to_patient_id, f"{what} to_patient_id")
        minor = to_minor(self.amount, f"{what} amount")
        check_date(self.on, f"{what} on")
        if minor <= 0:
            raise InvalidAmountError(
                f"{what} amount must be > 0, got {_shown(self.amount)}", amount=self.amount
            )
        if self.from_patient_id == self.to_patient_id:
            raise InvalidInputError(
                f"{what} moves money from patient {self.from_patient_id!r} to itself"
            )
        object.__setattr__(self, "minor_units", minor)
        object.__setattr__(self, "amount", frozen(self.amount))


def _id_tuple(value: object) -> tuple[str, ...]:
    """A sequence of ids as a tuple (a str or a set is refused: it is not an ordered
    sequence of ids)."""
    if not isinstance(value, tuple | list):
        raise InvalidInputError(
            f"appointment_ids must be a tuple of ids, got {type(value).__name__} {value!r}"
        )
    return tuple(value)


@attrs.frozen
class PaymentPlan:
    """A patient's agreement to pay ``amount`` in monthly installments (SPEC §11).

    With no ``appointment_ids`` the plan is on the patient's balance and ``amount`` is
    required; with them, ``amount=None`` means the sum of their balances due. A plan changes no
    balance: payments naming it (``Payment.plan_id``) count toward it. Its own fields are
    checked here: ``amount`` > 0 and exact, ``installments`` an int from 1 to
    :data:`MAX_INSTALLMENTS`, ``first_due`` ≥ ``created_on``, no appointment named twice.
    """

    id: str
    patient_id: str
    amount: Money | None
    installments: int
    first_due: datetime.date
    created_on: datetime.date
    appointment_ids: tuple[str, ...] = attrs.field(default=(), converter=_id_tuple)
    minor_units: int | None = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        check_id(self.id, "payment plan id")
        what = f"payment plan {self.id!r}"
        check_id(self.patient_id, f"{what} patient_id")
        minor = None
        if self.amount is not None:
            minor = to_minor(self.amount, f"{what} amount")
            if minor <= 0:
                raise InvalidAmountError(
                    f"{what} amount must be > 0, got {_shown(self.amount)}", amount=self.amount
                )
        count = self.installments
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidInputError(
                f"{what} installments must be an int, got {type(count).__name__} {count!r}"
            )
        if not 1 <= count <= MAX_INSTALLMENTS:
            raise InvalidInputError(
                f"{what} installments must be from 1 to {MAX_INSTALLMENTS}, got {count}"
            )
        check_date(self.first_due, f"{what} first_due")
        check_date(self.created_on, f"{what} created_on")
        if self.first_due < self.created_on:
            raise InvalidInputError(
                f"{what} is first due on {self.first_due.isoformat()}, before it was created "
                f"on {self.created_on.isoformat()}"
            )
        check_schedule(self.first_due, count, what)
        for appointment_id in self.appointment_ids:
            check_id(appointment_id, f"{what} appointment id")
        if len(set(self.appointment_ids)) != len(self.appointment_ids):
            raise InvalidInputError(
                f"{what} names an appointment twice: {self.appointment_ids!r}", id=self.id
            )
        object.__setattr__(self, "minor_units", minor)
        if self.amount is not None:
            object.__setattr__(self, "amount", frozen(self.amount))


def check_schedule(first_due: datetime.date, installments: int, what: str) -> None:
    """Refuse a schedule whose installment ``installments`` would fall after the last day a
    date can have (9999-12-31): every installment must have a due date.

    Raises:
        InvalidInputError: naming the plan, its first due date and the installment.
    """
    if (first_due.year * 12 + first_due.month - 1) + installments - 1 > 9999 * 12 + 11:
        raise InvalidInputError(
            f"{what}: installment {installments} would be due after 9999-12-31 (first due "
            f"{first_due.isoformat()})",
            installments=installments,
        )


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus ``months`` months: the same day of the month, or the month's last day when
    it is shorter (Jan 31 + 1 → Feb 28, + 2 → Mar 31: always counted from ``day``).

    >>> add_months(datetime.date(2025, 1, 31), 1), add_months(datetime.date(2025, 1, 31), 2)
    (datetime.date(2025, 2, 28), datetime.date(2025, 3, 31))
    """
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return datetime.date(year, month, min(day.day, last))
