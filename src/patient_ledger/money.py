"""The one place that touches py-moneyed: Money to and from exact integer minor units.

Nothing here reads the Decimal context: conversions go through ``Decimal.as_integer_ratio``
(exact) and the string constructor (exact), never through context arithmetic.

py-moneyed's ``Money`` can be changed in place (``m.amount = ...``); value objects keep a
:class:`FrozenMoney` copy (see :func:`frozen`) so that nothing can change them after construction.
"""

from __future__ import annotations

from decimal import Decimal
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
    exp = exponent(code)
    numerator, denominator = amount.as_integer_ratio()
    minor, rest = divmod(numerator * 10**exp, denominator)
    if rest:
        raise InvalidAmountError(
            f"{what} {amount} {code} is finer than the currency's minor unit "
            f"(10^-{exp}); it is refused, never rounded",
            amount=value,
        )
    if abs(minor) > MAX_MAJOR_UNITS * 10**exp:
        raise InvalidAmountError(
            f"{what} {amount} {code} is beyond the supported maximum of "
            f"{MAX_MAJOR_UNITS} major units",
            amount=value,
        )
    return int(minor)


def check_currency(value: Money, code: str, what: str) -> None:
    """Raise :class:`CurrencyMismatchError` unless ``value`` is in currency ``code``."""
    if value.currency.code != code:
        raise CurrencyMismatchError(
            f"{what} {value.amount} {value.currency.code} is not in the ledger's currency {code}",
            amount=value,
            currency=code,
        )


def to_money(minor: int, code: str) -> Money:
    """Build a fresh ``Money`` from integer minor units, exactly."""
    exp = exponent(code)
    return Money(Decimal(f"{minor}E-{exp}") if exp else Decimal(minor), code)


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
    return FrozenMoney(Decimal(money.amount), money.currency)
