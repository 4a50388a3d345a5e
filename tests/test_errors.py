"""The error family (SPEC §7): codes, messages, and the precedence of the checks."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.errors import COMMAND_CODES
from tests.helpers import D, appointment, charge, pay, refund, usd

ON = D(2025, 3, 1)


@pytest.fixture(scope="module")
def base() -> pl.Ledger:
    return precedence_ledger()


def precedence_ledger() -> pl.Ledger:
    """P1: A1 ($100 charge, $40 paid by PAY1), $50 held (PAY2), A2 without charges.
    P2: B1 with a $10 charge."""
    ledger = appointment(pl.Ledger.empty(), "A1")
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = pay(ledger, "PAY1", "40.00", "A1")
    ledger = pay(ledger, "PAY2", "50.00")
    ledger = appointment(ledger, "A2", day=D(2025, 2, 1))
    ledger = appointment(ledger, "B1", "P2")
    return charge(ledger, "C9", "B1", "10.00")


def refund_payment(
    rid: str, pid: str, amount: str, appointment_id: str | None = None
) -> pl.Payment:
    return pl.Payment(
        rid, pid, usd(amount), ON, type=pl.PaymentType.REFUND, appointment_id=appointment_id
    )


# Each row breaks its own rule and every rule after it in SPEC §7's order — input shape,
# idempotency, references, state — so only the precedence decides which error is raised.
PRECEDENCE: list[tuple[pl.ErrorCode, Callable[[pl.Ledger], object]]] = [
    (
        pl.ErrorCode.INVALID_INPUT,  # a REFUND to post_payment, duplicate id, unknown appt
        lambda led: pl.post_payment(led, refund_payment("PAY1", "P1", "-5.00", "A9")),
    ),
    (
        pl.ErrorCode.INVALID_AMOUNT,  # zero amount, unknown patient and appointment
        lambda led: pl.apply_unallocated(led, "P9", "A9", usd("0"), on=ON),
    ),
    (
        pl.ErrorCode.CURRENCY_MISMATCH,  # EUR, duplicate id, unknown appointment
        lambda led: pl.post_payment(
            led, pl.Payment("PAY1", "P1", Money("5", "EUR"), ON, appointment_id="A9")
        ),
    ),
    (
        pl.ErrorCode.DUPLICATE_ID,  # duplicate id with other content, unknown appointment
        lambda led: pl.post_payment(
            led, pl.Payment("PAY1", "P1", usd("5"), ON, appointment_id="A9")
        ),
    ),
    (
        pl.ErrorCode.UNKNOWN_ID,  # unknown appointment, refund larger than anything held
        lambda led: pl.refund(led, refund_payment("R1", "P1", "-999.00", "A9")),
    ),
    (
        pl.ErrorCode.PATIENT_MISMATCH,  # another patient's appointment, more than is held
        lambda led: pl.apply_unallocated(led, "P1", "B1", usd("999.00"), on=ON),
    ),
    (
        pl.ErrorCode.INSUFFICIENT_UNALLOCATED,  # more than held and more than due
        lambda led: pl.apply_unallocated(led, "P1", "A1", usd("70.00"), on=ON),
    ),
    (
        pl.ErrorCode.OVER_APPLICATION,  # within what is held, more than is due
        lambda led: pl.apply_unallocated(
            pay(led, "PAY3", "100.00"), "P1", "A1", usd("60.01"), on=ON
        ),
    ),
    (
        pl.ErrorCode.NOT_OFFSETTING,  # open entries that do not sum to zero
        lambda led: pl.cancel_offsetting(
            led, "P1", [e.id for e in pl.unallocated_entries(led, "P1")], on=ON
        ),
    ),
    (
        pl.ErrorCode.INSUFFICIENT_ALLOCATED,
        lambda led: pl.unapply(led, "A1", usd("40.01"), on=ON),
    ),
    (
        pl.ErrorCode.ALREADY_REVERSED,  # reversed whole, then an amount beyond what is left
        lambda led: pl.reverse_payment(
            pl.reverse_payment(led, "PAY1", on=ON), "PAY1", usd("999.00"), on=ON
        ),
    ),
    (
        pl.ErrorCode.APPOINTMENT_CANCELLED,  # a cancelled visit, more than is held or due
        lambda led: pl.apply_unallocated(
            pl.cancel_appointment(
                pl.add_appointment(led, pl.Appointment("C1", "P1", ON)), "C1", on=ON
            ),
            "P1",
            "C1",
            usd("999.00"),
            on=ON,
        ),
    ),
]


@pytest.mark.parametrize(("code", "action"), PRECEDENCE, ids=[c.name for c, _ in PRECEDENCE])
def test_precedence(
    base: pl.Ledger, code: pl.ErrorCode, action: Callable[[pl.Ledger], object]
) -> None:
    before = list(base.events)
    with pytest.raises(pl.LedgerError) as caught:
        action(base)
    assert caught.value.code is code, str(caught.value)
    assert list(base.events) == before


def test_the_table_reaches_every_error_code_in_order() -> None:
    assert [code for code, _ in PRECEDENCE] == list(COMMAND_CODES)


def test_every_error_is_a_value_error_with_its_own_code() -> None:
    classes = [
        pl.InvalidInputError,
        pl.InvalidAmountError,
        pl.CurrencyMismatchError,
        pl.DuplicateIdError,
        pl.UnknownIdError,
        pl.PatientMismatchError,
        pl.InsufficientUnallocatedError,
        pl.OverApplicationError,
        pl.NotOffsettingError,
        pl.InsufficientAllocatedError,
        pl.AlreadyReversedError,
        pl.AppointmentCancelledError,
    ]
    assert sorted(c.code.value for c in classes) == sorted(c.value for c in COMMAND_CODES)
    for cls in classes:
        assert issubclass(cls, pl.LedgerError)
        assert issubclass(cls, ValueError)
    assert issubclass(pl.InvalidAmountError, pl.InvalidInputError)
    assert issubclass(pl.CurrencyMismatchError, pl.InvalidInputError)


def test_errors_carry_message_args_and_details(base: pl.Ledger) -> None:
    with pytest.raises(pl.InsufficientUnallocatedError) as caught:
        refund(base, "R1", "-50.01")
    error = caught.value
    assert error.args == (str(error),)
    assert "'R1'" in str(error)
    assert "-50.01 USD" in str(error)
    assert "50.00 USD" in str(error)
    assert error.details["id"] == "R1"
    assert error.details["available"] == usd("50.00")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.details == error.details
