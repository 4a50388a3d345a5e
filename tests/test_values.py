"""Value objects check their own fields (SPEC §3)."""

from __future__ import annotations

import datetime
import pickle
from decimal import Decimal

import pytest
from moneyed import Money

import patient_ledger as pl
from tests.helpers import D, usd


def test_values_are_immutable_and_compared_by_value() -> None:
    a = pl.Payment("PAY1", "P1", usd("10.00"), D(2025, 1, 1))
    b = pl.Payment("PAY1", "P1", Money("10", "USD"), D(2025, 1, 1))
    assert a == b
    assert hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.id = "X"  # type: ignore[misc]


def test_repr_is_valid_python() -> None:
    from datetime import date  # noqa: F401 - used by eval

    payment = pl.Payment(
        "PAY1", "P1", usd("10.00"), D(2025, 1, 1), pl.PaymentMethod.CASH, pl.PaymentType.COPAY, "A1"
    )
    namespace = {"datetime": datetime, "Money": Money, **vars(pl)}
    assert eval(repr(payment), namespace) == payment  # noqa: S307 - our own repr


def test_defaults_of_a_payment() -> None:
    p = pl.Payment("PAY1", "P1", usd("1.00"), D(2025, 1, 1))
    assert (p.method, p.type, p.appointment_id, p.provider, p.notes, p.reference) == (
        pl.PaymentMethod.OTHER,
        pl.PaymentType.PAYMENT,
        None,
        None,
        "",
        None,
    )


def test_enum_values_given_as_strings_are_accepted() -> None:
    p = pl.Payment("PAY1", "P1", usd("1.00"), D(2025, 1, 1), "CASH", "COPAY")
    assert p.method is pl.PaymentMethod.CASH
    assert p.type is pl.PaymentType.COPAY


def test_values_pickle() -> None:
    charge = pl.Charge("C1", "A1", usd("5.00"), "99213", "visit")
    assert pickle.loads(pickle.dumps(charge)) == charge


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: pl.Appointment("", "P1", D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Appointment("   ", "P1", D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Appointment(7, "P1", D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Appointment("A1", "", D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Appointment("A1", "P1", "2025-01-01"), pl.InvalidInputError),
        (lambda: pl.Appointment("A1", "P1", datetime.datetime(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Appointment("A1", "P1", D(2025, 1, 1), 5), pl.InvalidInputError),
        (lambda: pl.Charge("", "A1", usd("1")), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "", usd("1")), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "A1", 10.0), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "A1", 10), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "A1", "10.00"), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "A1", Decimal("10.00")), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "A1", True), pl.InvalidInputError),
        (lambda: pl.Charge("C1", "A1", usd("-0.01")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", usd("10.005")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", Money(Decimal("NaN"), "USD")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", Money(Decimal("sNaN"), "USD")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", Money(Decimal("Infinity"), "USD")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", Money(Decimal("-Infinity"), "USD")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", usd("1000000000000.01")), pl.InvalidAmountError),
        (lambda: pl.Charge("C1", "A1", Money("0.5", "JPY")), pl.InvalidAmountError),
        (lambda: pl.Payment("", "P1", usd("1"), D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Payment("PAY1", "", usd("1"), D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Payment("PAY1", "P1", 1.5, D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Payment("PAY1", "P1", usd("0"), D(2025, 1, 1)), pl.InvalidAmountError),
        (lambda: pl.Payment("PAY1", "P1", usd("-0"), D(2025, 1, 1)), pl.InvalidAmountError),
        (lambda: pl.Payment("PAY1", "P1", usd("-5"), D(2025, 1, 1)), pl.InvalidAmountError),
        (
            lambda: pl.Payment("R1", "P1", usd("5"), D(2025, 1, 1), type=pl.PaymentType.REFUND),
            pl.InvalidAmountError,
        ),
        (
            lambda: pl.Payment("R1", "P1", usd("0"), D(2025, 1, 1), type=pl.PaymentType.REFUND),
            pl.InvalidAmountError,
        ),
        (lambda: pl.Payment("PAY1", "P1", usd("1"), None), pl.InvalidInputError),
        (
            lambda: pl.Payment("PAY1", "P1", usd("1"), D(2025, 1, 1), "BITCOIN"),
            pl.InvalidInputError,
        ),
        (
            lambda: pl.Payment("PAY1", "P1", usd("1"), D(2025, 1, 1), type="GIFT"),
            pl.InvalidInputError,
        ),
        (
            lambda: pl.Payment("PAY1", "P1", usd("1"), D(2025, 1, 1), appointment_id=""),
            pl.InvalidInputError,
        ),
        (
            lambda: pl.Payment("PAY1", "P1", usd("1"), D(2025, 1, 1), notes=None),
            pl.InvalidInputError,
        ),
        (
            lambda: pl.Adjustment("ADJ1", "C1", usd("0"), D(2025, 1, 1)),
            pl.InvalidAmountError,
        ),
        (
            lambda: pl.Adjustment(
                "ADJ1", "C1", usd("5"), D(2025, 1, 1), pl.AdjustmentType.WRITE_OFF
            ),
            pl.InvalidAmountError,
        ),
        (lambda: pl.Adjustment("ADJ1", "", usd("-5"), D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Transfer("T1", "P1", "P1", usd("5"), D(2025, 1, 1)), pl.InvalidInputError),
        (lambda: pl.Transfer("T1", "P1", "P2", usd("-5"), D(2025, 1, 1)), pl.InvalidAmountError),
        (lambda: pl.Transfer("T1", "P1", "", usd("5"), D(2025, 1, 1)), pl.InvalidInputError),
    ],
)
def test_malformed_fields_are_refused(build: object, error: type[pl.LedgerError]) -> None:
    with pytest.raises(error) as caught:
        build()  # type: ignore[operator]
    assert type(caught.value) is error
    assert caught.value.code is error.code
    assert str(caught.value)


def test_amount_bounds_are_inclusive_of_the_maximum() -> None:
    top = pl.Charge("C1", "A1", usd("1000000000000.00"))
    assert top.amount == usd("1000000000000")
    zero = pl.Charge("C0", "A1", usd("0"))
    assert zero.minor_units == 0
    yen = pl.Charge("C2", "A1", Money("150", "JPY"))
    assert yen.minor_units == 150


def test_messages_name_the_ids_and_amounts() -> None:
    with pytest.raises(pl.InvalidAmountError, match=r"charge 'C9'.*10\.005 USD"):
        pl.Charge("C9", "A1", usd("10.005"))
    with pytest.raises(pl.InvalidAmountError, match=r"payment 'R9' is a REFUND"):
        pl.Payment("R9", "P1", usd("5"), D(2025, 1, 1), type=pl.PaymentType.REFUND)


def test_every_currency_has_a_decimal_minor_unit() -> None:
    from moneyed import CURRENCIES

    from patient_ledger.money import exponent

    for code, currency in CURRENCIES.items():
        assert 10 ** exponent(code) == currency.sub_unit, code
    assert (exponent("USD"), exponent("JPY"), exponent("BHD")) == (2, 0, 3)


def test_a_ledger_in_a_moneyed_currency_object() -> None:
    from moneyed import get_currency

    assert pl.Ledger.empty(get_currency("EUR")).currency == "EUR"
    with pytest.raises(pl.InvalidInputError, match="unknown currency 'ZZZ'") as caught:
        pl.Ledger.empty("ZZZ")
    assert caught.value.details == {"currency": "ZZZ"}
    with pytest.raises(pl.InvalidInputError, match="ISO code or a Currency, got 5"):
        pl.Ledger.empty(5)  # type: ignore[arg-type]


BAD_FIELDS = [
    ("Appointment", lambda: pl.Appointment("", "P1", D(2025, 1, 1))),
    ("Appointment", lambda: pl.Appointment("A1", "", D(2025, 1, 1))),
    ("Appointment", lambda: pl.Appointment("A1", "P1", "2025-01-01")),
    ("Appointment", lambda: pl.Appointment("A1", "P1", D(2025, 1, 1), 5)),
    ("Charge", lambda: pl.Charge("C1", "", usd("1"))),
    ("Charge", lambda: pl.Charge("C1", "A1", usd("1"), 5)),
    ("Charge", lambda: pl.Charge("C1", "A1", usd("1"), "c", 5)),
    ("Payment", lambda: pl.Payment("P", "", usd("1"), D(2025, 1, 1))),
    ("Payment", lambda: pl.Payment("P", "P1", usd("1"), "2025")),
    ("Payment", lambda: pl.Payment("P", "P1", usd("1"), D(2025, 1, 1), appointment_id=5)),
    ("Payment", lambda: pl.Payment("P", "P1", usd("1"), D(2025, 1, 1), provider=5)),
    ("Payment", lambda: pl.Payment("P", "P1", usd("1"), D(2025, 1, 1), notes=5)),
    ("Payment", lambda: pl.Payment("P", "P1", usd("1"), D(2025, 1, 1), reference=5)),
    ("Payment", lambda: pl.Payment("P", "P1", usd("1"), D(2025, 1, 1), "GOLD")),
    ("Adjustment", lambda: pl.Adjustment("J", "", usd("-1"), D(2025, 1, 1))),
    ("Adjustment", lambda: pl.Adjustment("J", "C1", usd("-1"), "2025")),
    ("Adjustment", lambda: pl.Adjustment("J", "C1", usd("-1"), D(2025, 1, 1), reason=5)),
    ("Adjustment", lambda: pl.Adjustment("J", "C1", usd("0.01"), D(2025, 1, 1), "WRITE_OFF")),
    ("Adjustment", lambda: pl.Adjustment("J", "C1", usd("-1"), D(2025, 1, 1), "GIFT")),
    ("Transfer", lambda: pl.Transfer("T", "", "P2", usd("1"), D(2025, 1, 1))),
    ("Transfer", lambda: pl.Transfer("T", "P1", "", usd("1"), D(2025, 1, 1))),
    ("Transfer", lambda: pl.Transfer("T", "P1", "P2", usd("1"), "2025")),
    ("Transfer", lambda: pl.Transfer("T", "P1", "P1", usd("1"), D(2025, 1, 1))),
]


def value_messages() -> dict[str, str]:
    found = {}
    for number, (kind, build) in enumerate(BAD_FIELDS):
        try:
            build()
        except pl.LedgerError as error:
            details = ", ".join(f"{k}={v!r}" for k, v in sorted(error.details.items()))
            found[f"{kind} {number}"] = f"{type(error).__name__}: {error} [{details}]"
    return found


def test_every_bad_field_is_refused() -> None:
    assert len(value_messages()) == len(BAD_FIELDS)
