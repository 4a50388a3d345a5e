"""Value objects' Money is read-only: changing the caller's Money changes nothing (issue 12)."""

from __future__ import annotations

import copy
import datetime
import decimal
import pickle
from collections.abc import Callable
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.money import FrozenMoney, frozen
from patient_ledger.persist import journal
from patient_ledger.testing import charges, ledgers, payments, refunds
from tests.helpers import D, usd

ON = D(2025, 1, 22)

#: Builders of every value object that holds an amount, from a caller's Money.
BUILDERS: dict[str, Callable[[Money], pl.Charge | pl.Payment | pl.Adjustment | pl.Transfer]] = {
    "charge": lambda m: pl.Charge("C1", "A1", m),
    "payment": lambda m: pl.Payment("PAY1", "P1", m, ON),
    "adjustment": lambda m: pl.Adjustment("ADJ1", "C1", m, ON),
    "transfer": lambda m: pl.Transfer("T1", "P1", "P2", m, ON),
}


def _ledger_with_every_amount() -> pl.Ledger:
    """A ledger whose journal holds a charge, payments, a refund, an adjustment and a transfer."""
    ledger = pl.Ledger.empty()
    ledger = pl.add_appointment(ledger, pl.Appointment("A1", "P1", ON))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd("120.00")))
    ledger = pl.post_payment(
        ledger, pl.Payment("PAY1", "P1", usd("50.00"), ON, appointment_id="A1")
    )
    ledger = pl.post_payment(ledger, pl.Payment("PAY2", "P1", usd("80.00"), ON))
    ledger = pl.adjust_charge(ledger, pl.Adjustment("ADJ1", "C1", usd("-20.00"), ON))
    ledger = pl.refund(ledger, pl.Payment("R1", "P1", usd("-5.00"), ON, type=pl.PaymentType.REFUND))
    return pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", usd("25.00"), ON))


# --- the value objects ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BUILDERS)
def test_mutating_the_callers_money_changes_nothing(kind: str) -> None:
    build = BUILDERS[kind]
    caller = usd("-10.00") if kind == "adjustment" else usd("10.00")
    value = build(caller)
    caller.amount = Decimal(1000)  # type: ignore[misc]
    caller.currency = Money(1, "EUR").currency  # type: ignore[misc]
    assert value.amount == Money(-10 if kind == "adjustment" else 10, "USD")
    assert value.amount is not caller
    assert value.minor_units == (-1000 if kind == "adjustment" else 1000)
    assert value == build(usd("-10.00") if kind == "adjustment" else usd("10.00"))


@pytest.mark.parametrize("kind", BUILDERS)
def test_a_values_amount_cannot_be_assigned_or_deleted(kind: str) -> None:
    value = BUILDERS[kind](usd("-3.00") if kind == "adjustment" else usd("3.00"))
    assert isinstance(value.amount, FrozenMoney)
    with pytest.raises(AttributeError, match="read-only"):
        value.amount.amount = Decimal(1000)  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        value.amount.currency = Money(1, "EUR").currency  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        del value.amount.amount
    with pytest.raises(AttributeError):
        value.amount = usd("1000.00")  # type: ignore[misc]
    assert value.amount == usd("-3.00" if kind == "adjustment" else "3.00")


def test_payment_equality_does_not_depend_on_the_money_class() -> None:
    plain = pl.Payment("PAY1", "P1", usd("10.00"), ON)
    from_frozen = pl.Payment("PAY1", "P1", FrozenMoney(Decimal("10.00"), "USD"), ON)
    assert plain == from_frozen
    assert hash(plain) == hash(from_frozen)
    assert plain != pl.Payment("PAY1", "P1", usd("10.01"), ON)


def test_a_frozen_amount_is_kept_as_is() -> None:
    amount = FrozenMoney(Decimal("10.00"), "USD")
    assert pl.Payment("PAY1", "P1", amount, ON).amount is amount


def test_evolve_still_works_and_refreezes() -> None:
    payment = pl.Payment("PAY1", "P1", usd("10.00"), ON)
    caller = usd("12.00")
    evolved = attrs.evolve(payment, id="PAY2", amount=caller)
    caller.amount = Decimal(99)  # type: ignore[misc]
    assert (evolved.id, evolved.amount, evolved.minor_units) == ("PAY2", usd("12.00"), 1200)
    assert isinstance(evolved.amount, FrozenMoney)
    assert attrs.evolve(payment, notes="x").amount is payment.amount


def test_a_payment_repr_rebuilds_an_equal_payment() -> None:
    payment = pl.Payment(
        "PAY1", "P1", usd("10.50"), ON, pl.PaymentMethod.CASH, pl.PaymentType.COPAY, "A1"
    )
    assert "amount=Money('10.50', 'USD')" in repr(payment)
    namespace = {"datetime": datetime, "Money": Money, **vars(pl)}
    assert eval(repr(payment), namespace) == payment  # noqa: S307 - our own repr


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_a_payment_pickles_with_its_frozen_amount(protocol: int) -> None:
    payment = pl.Payment("PAY1", "P1", usd("10.00"), ON, appointment_id="A1")
    back = pickle.loads(pickle.dumps(payment, protocol))
    assert back == payment
    assert back.minor_units == 1000
    assert isinstance(back.amount, FrozenMoney)
    with pytest.raises(AttributeError):
        back.amount.amount = Decimal(1)  # type: ignore[misc]


@given(st.one_of(charges(), payments(), refunds()), st.decimals(allow_nan=False, places=2))
def test_generated_values_ignore_later_changes_to_the_callers_money(
    value: pl.Charge | pl.Payment, other: Decimal
) -> None:
    caller = Money(value.amount.amount, value.amount.currency)
    rebuilt = attrs.evolve(value, amount=caller)
    before = (repr(rebuilt), rebuilt.minor_units)
    caller.amount = other  # type: ignore[misc]
    assert (repr(rebuilt), rebuilt.minor_units) == before
    assert rebuilt == value


# --- FrozenMoney itself -----------------------------------------------------------------------


def test_frozen_money_is_a_money_in_every_other_way() -> None:
    plain = usd("10.00")
    fixed = frozen(plain)
    assert type(fixed) is FrozenMoney
    assert isinstance(fixed, Money)
    assert repr(fixed) == repr(plain) == "Money('10.00', 'USD')"
    assert fixed == plain
    assert plain == fixed
    assert not fixed != plain  # noqa: SIM202 - Money defines __ne__ itself
    assert hash(fixed) == hash(plain)
    assert {fixed, plain} == {plain}
    assert fixed.currency is plain.currency
    assert fixed + plain == usd("20.00") == plain + fixed
    assert -fixed == usd("-10.00")
    assert fixed * 3 == usd("30.00")
    assert sum([fixed, fixed]) == usd("20.00")
    assert fixed > usd("9.99")


def test_frozen_passes_a_frozen_money_through() -> None:
    fixed = frozen(usd("1.00"))
    assert frozen(fixed) is fixed


def test_frozen_is_exact_whatever_the_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.prec = 1
        context.traps[decimal.Inexact] = True
        context.traps[decimal.Rounded] = True
        fixed = frozen(Money(Decimal("123456789012.34"), "USD"))
        payment = pl.Payment("PAY1", "P1", Money(Decimal("987654321.09"), "USD"), ON)
    assert fixed.amount.as_tuple() == Decimal("123456789012.34").as_tuple()
    assert payment.amount.amount.as_tuple() == Decimal("987654321.09").as_tuple()


def test_frozen_money_cannot_gain_attributes() -> None:
    fixed = frozen(usd("1.00"))
    with pytest.raises(AttributeError, match="read-only"):
        fixed.extra = 1
    assert not hasattr(fixed, "extra")


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_frozen_money_pickles(protocol: int) -> None:
    fixed = frozen(Money(Decimal("-0.50"), "USD"))
    back = pickle.loads(pickle.dumps(fixed, protocol))
    assert type(back) is FrozenMoney
    assert back == fixed
    assert str(back.amount) == "-0.50"


def test_frozen_money_copies_are_itself() -> None:
    fixed = frozen(usd("1.00"))
    assert copy.copy(fixed) is fixed
    assert copy.deepcopy(fixed) is fixed
    payment = pl.Payment("PAY1", "P1", usd("1.00"), ON)
    assert copy.deepcopy(payment) == payment
    assert copy.copy(payment) == payment


# --- the ledger, its journal and its views ----------------------------------------------------


def test_journal_keeps_the_posted_amount_after_the_caller_mutates_it() -> None:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", ON))
    caller = usd("10.00")
    payment = pl.Payment("PAY1", "P1", caller, ON, appointment_id="A1")
    posted = pl.post_payment(ledger, payment)
    text = journal.dumps(posted)
    caller.amount = Decimal(1000)  # type: ignore[misc]

    assert journal.dumps(posted) == text
    assert '"amount":"10.00"' in text
    assert "1000" not in text
    fresh = pl.post_payment(ledger, pl.Payment("PAY1", "P1", usd("10.00"), ON, appointment_id="A1"))
    assert journal.dumps(fresh) == text
    assert pl.dashboard(posted, "P1").total_paid == usd("10.00")
    # Resubmitting the very same payment is idempotent, not a DuplicateIdError.
    assert pl.post_payment(posted, payment) == posted


def test_every_amount_in_a_journal_survives_the_callers_mutations() -> None:
    amounts = [usd("120.00"), usd("50.00"), usd("-20.00"), usd("25.00")]
    ledger = pl.Ledger.empty()
    ledger = pl.add_appointment(ledger, pl.Appointment("A1", "P1", ON))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", amounts[0]))
    ledger = pl.post_payment(ledger, pl.Payment("PAY1", "P1", amounts[1], ON))
    ledger = pl.adjust_charge(ledger, pl.Adjustment("ADJ1", "C1", amounts[2], ON))
    ledger = pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", amounts[3], ON))
    text = journal.dumps(ledger)
    for money in amounts:
        money.amount = Decimal("7.77")  # type: ignore[misc]
    assert journal.dumps(ledger) == text
    assert journal.dumps(journal.loads(text)) == text
    assert "7.77" not in text


def test_journals_stay_byte_identical() -> None:
    ledger = _ledger_with_every_amount()
    text = journal.dumps(ledger)
    loaded = journal.loads(text)
    assert journal.dumps(loaded) == text
    assert loaded == ledger
    for event in loaded.events:
        for field in attrs.fields(type(event)):
            value = getattr(event, field.name)
            if isinstance(value, (pl.Charge, pl.Payment, pl.Adjustment, pl.Transfer)):
                assert isinstance(value.amount, FrozenMoney)


@given(ledgers(max_steps=12))
def test_generated_journals_stay_byte_identical(ledger: pl.Ledger) -> None:
    text = journal.dumps(ledger)
    assert journal.dumps(journal.loads(text)) == text


def test_money_from_views_belongs_to_the_caller() -> None:
    ledger = _ledger_with_every_amount()
    first = pl.dashboard(ledger, "P1")
    expected = repr(first)
    for name in ("total_paid", "allocated", "unallocated", "statement_balance"):
        money = getattr(first, name)
        assert type(money) is Money
        money.amount = Decimal(-999)  # type: ignore[misc]
    assert repr(pl.dashboard(ledger, "P1")) == expected
    assert pl.dashboard(ledger, "P1").total_paid == usd("100.00")
