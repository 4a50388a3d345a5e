"""The one place that touches py-moneyed: Money to and from exact integer minor units.

Nothing here reads the Decimal context: conversions go through ``Decimal.as_integer_ratio``
(exact) and the string constructor (exact), never through context arithmetic.

py-moneyed's ``Money`` can be changed in place (``m.amount = ...``); value objects keep a
:class:`FrozenMoney` copy (see :func:`frozen`) so that nothing can change them after construction.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import NoReturn

from moneyed import CURRENCIES, Currency, Money

from patient_ledger.errors import CurrencyMismatchError, InvalidAmountError, InvalidInputError

#: The largest supported amount, in major units (dollars for USD): 10¹².
MAX_MAJOR_UNITS = 10**12

#: Decimal places of each currency's minor unit; every ISO currency in py-moneyed has a
#: power-of-ten sub-unit (checked by the tests).
_EXPONENTS: dict[str, int] = {code: len(str(c.sub_unit)) - 1 for code, c in CURRENCIES.items()}


def currency_code(currency: object) -> str:
    """Return the ISO code of a currency given as a code or a ``moneyed.Currency``.

    Raises:
        InvalidInputError: the currency is not a str or Currency, or is unknown to py-moneyed.
    """
    if isinstance(currency, Currency):
        code = currency.code
    elif isinstance(currency, str):
        code = currency
    else:
        raise InvalidInputError(f"currency must be an ISO code or a Currency, got {currency!r}")
    if code not in CURRENCIES:
        raise InvalidInputError(f"unknown currency {code!r}", currency=code)
    return code


def exponent(code: str) -> int:
    """Number of decimal places of the currency's minor unit (2 for USD, 0 for JPY)."""
    return _EXPONENTS[code]


def to_minor(value: object, what: str) -> int:
    """Convert a ``Money`` to exact integer minor units of its own currency.

    Args:
        value: the amount to convert.
        what: how to name the amount in an error message (``"payment 'P1' amount"``).

    Raises:
        InvalidInputError: ``value`` is not a ``Money`` (a float, int, str, Decimal, bool ...).
        InvalidAmountError: not finite, finer than the minor unit, or beyond the maximum.
    """
    if not isinstance(value, Money):
        raise InvalidInputError(
            f"{what} must be a moneyed.Money, got {type(value).__name__} {value!r}", value=value
        )
    amount = value.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmountError(f"{what} must be a finite amount, got {amount!r}", amount=value)
    code = value.currency.code
    if code not in CURRENCIES:
        raise InvalidInputError(f"{what} has an unknown currency {code!r}", amount=value)
    if type(value) is FrozenMoney:  # read-only: the minor units it was built from still hold
        known: int | None = getattr(value, "_minor", None)
        if known is not None:
            return known
    return _minor_units(amount, code, what, value)


def _minor_units(amount: Decimal, code: str, what: str, value: Money) -> int:
    """Exact minor units of a finite ``amount``, range-checked on its exponent first.

    Nothing here expands the exponent before the checks (``Decimal("1E+999999999999999999")``
    would be a number with 10¹⁸ digits), so any amount is refused or converted at once. The
    arithmetic runs in a context of its own that refuses any rounding (never the caller's).
    """
    exp = exponent(code)
    if amount.is_zero():
        return 0
    # the exponent of the leading digit: 10**magnitude <= |amount| < 10**(magnitude + 1)
    magnitude = amount.adjusted()
    if magnitude >= -exp:
        if magnitude > _MAX_MAGNITUDE:
            raise _beyond_maximum(what, _shown(amount), code, value)
        try:  # in range: at most 17 digits to the minor unit, so only dropped digits are inexact
            minor = int(amount.scaleb(exp, context=_EXACT).to_integral_exact(context=_EXACT))
        except Inexact:
            pass
        else:
            if abs(minor) > MAX_MAJOR_UNITS * 10**exp:
                raise _beyond_maximum(what, _shown(amount), code, value)
            return minor
    raise InvalidAmountError(
        f"{what} {_shown(amount)} {code} is finer than the currency's minor unit "
        f"(10^-{exp}); it is refused, never rounded",
        amount=value,
    )


#: A context that signals any rounding of a nonzero digit (Inexact) instead of doing it.
_EXACT = Context(prec=64, traps=[Inexact, InvalidOperation, Overflow])
#: The largest exponent of a leading digit within the maximum (12 for 10¹²).
_MAX_MAGNITUDE = len(str(MAX_MAJOR_UNITS)) - 1
#: The longest amount text :func:`parse_amount` reads (far more than any amount in range needs).
MAX_AMOUNT_TEXT = 64
_AMOUNT_TEXT = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?", re.ASCII)


def _shown(amount: Decimal | str) -> str:
    """An amount (or its text) for a message, cut short when it is huge (never expanded)."""
    text = str(amount)
    return text if len(text) <= MAX_AMOUNT_TEXT else f"{text[:20]}…({len(text)} characters)"


def _beyond_maximum(what: str, shown: str, code: str, value: object) -> InvalidAmountError:
    return InvalidAmountError(
        f"{what} {shown} {code} is beyond the supported maximum of {MAX_MAJOR_UNITS} major units",
        amount=value,
    )


def check_amount_text(text: str, code: str, what: str) -> None:
    """Check an amount written as plain decimal text before anything converts it: ASCII
    digits, an optional ``-`` and decimal point, at most :data:`MAX_AMOUNT_TEXT` characters,
    and no more whole digits than the maximum has (:func:`to_minor` checks the exact range).

    Raises:
        InvalidAmountError: exponents (``1e3``), underscores (``1_000``), other signs,
            non-ASCII digits, spaces, overlong text, or too many whole digits.
    """
    match = _AMOUNT_TEXT.fullmatch(text) if len(text) <= MAX_AMOUNT_TEXT else None
    if match is None:
        shown = _shown(text)
        raise InvalidAmountError(
            f"{what} {shown!r} is not a decimal amount (ASCII digits, an optional '-' and "
            "decimal point)",
            amount=shown,
        )
    if len(match[1].lstrip("0")) > _MAX_MAGNITUDE + 1:
        raise _beyond_maximum(what, text, code, text)


def minor_of_text(text: str, code: str, what: str) -> int:
    """Exact minor units of an amount written as plain decimal text (see
    :func:`check_amount_text`), without building a Decimal.

    Raises:
        InvalidAmountError: not such text, out of range, or finer than the minor unit.
    """
    check_amount_text(text, code, what)
    exp = exponent(code)
    whole, _, part = text.lstrip("-").partition(".")
    if len(part.rstrip("0")) > exp:
        raise InvalidAmountError(
            f"{what} {text} {code} is finer than the currency's minor unit (10^-{exp}); it is "
            "refused, never rounded",
            amount=text,
        )
    minor: int = int(whole) * 10**exp + int(part[:exp].ljust(exp, "0") or "0")
    if minor > MAX_MAJOR_UNITS * 10**exp:
        raise _beyond_maximum(what, text, code, text)
    return -minor if text.startswith("-") else minor


def frozen_money(minor: int, code: str) -> FrozenMoney:
    """A :class:`FrozenMoney` of exact minor units, built without moneyed's coercions; it keeps
    its minor units, so :func:`to_minor` reads them back at once."""
    money = _frozen(_decimal(minor, code), CURRENCIES[code])
    object.__setattr__(money, "_minor", minor)
    return money


def _decimal(minor: int, code: str) -> Decimal:
    """The exact amount of ``minor`` units of ``code`` (built from a string: no context)."""
    exp = exponent(code)
    return Decimal(f"{minor}E-{exp}") if exp else Decimal(minor)


def _frozen(amount: Decimal, currency: Currency) -> FrozenMoney:
    """A :class:`FrozenMoney` of a checked amount and currency, without moneyed's coercions."""
    money: FrozenMoney = object.__new__(FrozenMoney)
    object.__setattr__(money, "amount", amount)
    object.__setattr__(money, "currency", currency)
    return money


def parse_amount(text: str, code: str, what: str) -> Money:
    """Read an amount written as plain decimal text (see :func:`check_amount_text`), exactly:
    a read-only :class:`FrozenMoney` (its amount the text's own ``Decimal``).

    Raises:
        InvalidAmountError: not such text, out of range, or finer than the minor unit.
    """
    check_amount_text(text, code, what)
    currency = CURRENCIES.get(code) or Money(0, code).currency  # moneyed's own lookup
    # Read-only and carrying its minor units: a value object built from it takes both as
    # they are (to_minor and frozen), instead of converting and copying the amount again.
    money = _frozen(Decimal(text), currency)
    object.__setattr__(money, "_minor", to_minor(money, what))
    return money


def check_currency(value: Money, code: str, what: str) -> None:
    """Raise :class:`CurrencyMismatchError` unless ``value`` is in currency ``code``."""
    if value.currency.code != code:
        raise CurrencyMismatchError(
            f"{what} {value.amount} {value.currency.code} is not in the ledger's currency {code}",
            amount=value,
            currency=code,
        )


def to_money(minor: int, code: str) -> Money:
    """Build a fresh ``Money`` from integer minor units, exactly: what ``Money(amount, code)``
    makes (its two attributes), without its coercions — a practice's dashboards build
    hundreds of thousands."""
    money: Money = _new_money(Money)
    suffix = _SUFFIXES.get(code)
    if suffix is None:
        suffix = _SUFFIXES[code] = f"E-{exponent(code)}" if exponent(code) else ""
    money.amount = Decimal(f"{minor}{suffix}")  # type: ignore[misc] # a new object's
    money.currency = CURRENCIES[code]  # type: ignore[misc] # set once, as __init__ does
    return money


_new_money = object.__new__
#: Each currency's exponent as the end of an exact decimal literal (``E-2``; none for JPY).
_SUFFIXES: dict[str, str] = {}


def minor_text(minor: int, places: int) -> str:
    """Integer minor units as exact fixed-point text with ``places`` decimals (``'-12.05'``):
    what ``str(to_money(minor, code).amount)`` gives, without building a Money."""
    if not places:
        return str(minor)
    whole, part = divmod(abs(minor), 10**places)
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{places}d}"


class FrozenMoney(Money):
    """A ``Money`` whose attributes cannot be assigned or deleted after construction.

    It is a ``Money`` in every other way: ``repr`` (``Money('10.00', 'USD')``,
    so it evaluates to an equal plain ``Money``), ``==`` and ``hash`` against plain ``Money`` in
    both directions, and arithmetic (whose results are ``FrozenMoney`` too: moneyed builds them
    with ``self.__class__``). Copies are the object itself, as for ``Decimal``; pickling rebuilds
    it through the constructor.
    """

    def __init__(self, amount: object, currency: str | Currency) -> None:
        plain = Money(amount, currency)  # moneyed's own coercion of amount and currency
        object.__setattr__(self, "amount", plain.amount)
        object.__setattr__(self, "currency", plain.currency)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(
            f"{type(self).__name__} is read-only: cannot set {name!r}; build a new Money instead"
        )

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[FrozenMoney], tuple[Decimal, Currency]]:
        return type(self), (self.amount, self.currency)

    def __copy__(self) -> FrozenMoney:
        return self

    def __deepcopy__(self, memo: object) -> FrozenMoney:
        return self


def frozen(money: Money) -> FrozenMoney:
    """A read-only copy of a validated ``money`` (a :class:`FrozenMoney` is returned as is).

    Built from the exact ``Decimal`` amount and the ``Currency`` object, never through
    ``str(Money)`` or the Decimal context.
    """
    if isinstance(money, FrozenMoney):
        return money
    return _frozen(Decimal(money.amount), money.currency)
