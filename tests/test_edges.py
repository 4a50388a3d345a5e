"""Edge-biased inputs against every command: each is refused with a specific code (or accepted),
each refusal leaves the ledger as it was, and together they reach every ErrorCode."""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from moneyed import Currency, Money

import patient_ledger as pl
from patient_ledger.errors import COMMAND_CODES
from tests.helpers import D, appointment, charge, pay, refund

ON = D(2025, 3, 1)

EDGE_AMOUNTS: dict[str, object] = {
    "zero": Money("0", "USD"),
    "minus zero": Money("-0", "USD"),
    "one cent": Money("0.01", "USD"),
    "minus one cent": Money("-0.01", "USD"),
    "maximum": Money("1000000000000.00", "USD"),
    "past the maximum": Money("1000000000000.01", "USD"),
    "minus the maximum": Money("-1000000000000.00", "USD"),
    "minus past the maximum": Money("-1000000000000.01", "USD"),
    "NaN": Money(Decimal("NaN"), "USD"),
    "sNaN": Money(Decimal("sNaN"), "USD"),
    "Infinity": Money(Decimal("Infinity"), "USD"),
    "-Infinity": Money(Decimal("-Infinity"), "USD"),
    "sub-cent": Money("10.005", "USD"),
    "ten dollars": Money("10.00", "USD"),
    "minus ten dollars": Money("-10.00", "USD"),
    "euros": Money("10.00", "EUR"),
    "yen": Money("10", "JPY"),
    "float": 10.0,
    "bool": True,
    "str": "10.00",
    "int": 10,
    "Decimal": Decimal("10.00"),
    "None": None,
}

EDGE_IDS = {
    "new": "NEW1",
    "known": "KNOWN",
    "empty": "",
    "blank": "  ",
    "not a str": 7,
    "other patient's": "OTHER",
    "cancelled": "GONE",
}


def base() -> pl.Ledger:
    """P1 owns appointment KNOWN ($50 charge KNOWN, $20 paid by payment KNOWN) and holds $30;
    P2 owns appointment OTHER; a refund R-OPEN holds $5 of P1's general bucket; P1's
    appointment GONE was cancelled."""
    ledger = appointment(pl.Ledger.empty(), "KNOWN", "P1")
    ledger = appointment(ledger, "OTHER", "P2")
    ledger = pl.cancel_appointment(appointment(ledger, "GONE", "P1"), "GONE", on=ON)
    ledger = charge(ledger, "KNOWN", "KNOWN", "50.00")
    ledger = pay(ledger, "KNOWN", "20.00", "KNOWN")
    ledger = pay(ledger, "HELD", "30.00")
    return refund(ledger, "R-OPEN", "-5.00")


def attempts(ledger: pl.Ledger) -> list[tuple[str, Callable[[], pl.Ledger]]]:
    """Every command with every edge id and amount it takes."""
    out: list[tuple[str, Callable[[], pl.Ledger]]] = []
    pairs = itertools.product(EDGE_IDS.items(), EDGE_AMOUNTS.items())
    for (id_name, some_id), (amount_name, amount) in pairs:
        label = f"id {id_name}, amount {amount_name}"

        def value(build: Callable[[], object]) -> object:
            try:
                return build()
            except pl.LedgerError as error:
                return error

        s_id: str = some_id  # type: ignore[assignment]
        m: Money = amount  # type: ignore[assignment]
        for name, build, command in [
            ("add_charge", lambda s_id=s_id, m=m: pl.Charge(s_id, s_id, m), pl.add_charge),
            (
                "post_payment",
                lambda s_id=s_id, m=m: pl.Payment(s_id, "P1", m, ON, appointment_id=s_id),
                pl.post_payment,
            ),
            (
                "refund",
                lambda s_id=s_id, m=m: pl.Payment(
                    s_id, "P1", m, ON, type=pl.PaymentType.REFUND, appointment_id=s_id
                ),
                pl.refund,
            ),
            (
                "adjust_charge",
                lambda s_id=s_id, m=m: pl.Adjustment(s_id, s_id, m, ON),
                pl.adjust_charge,
            ),
            (
                "transfer_credit",
                lambda s_id=s_id, m=m: pl.Transfer(s_id, "P1", "P3", m, ON),
                pl.transfer_credit,
            ),
        ]:
            made = value(build)
            out.append((f"{name}: {label}", _call(command, ledger, made)))
        out += [
            (
                f"apply_unallocated: {label}",
                lambda s_id=s_id, m=m: pl.apply_unallocated(ledger, "P1", s_id, m, on=ON),
            ),
            (f"unapply: {label}", lambda s_id=s_id, m=m: pl.unapply(ledger, s_id, m, on=ON)),
            (
                f"release_credit: {label}",
                lambda s_id=s_id, m=m: pl.release_credit(ledger, s_id, m, on=ON),
            ),
            (
                f"cancel_offsetting: {label}",
                lambda s_id=s_id: pl.cancel_offsetting(ledger, s_id, on=ON),
            ),
            (
                f"reverse_payment: {label}",
                lambda s_id=s_id: pl.reverse_payment(ledger, s_id, on=ON),
            ),
            (f"auto_allocate: {label}", lambda s_id=s_id: pl.auto_allocate(ledger, s_id, on=ON)),
            (f"dashboard: {label}", lambda s_id=s_id: pl.dashboard(ledger, s_id)),
            (f"claims_feed: {label}", lambda s_id=s_id: pl.claims_feed(ledger, s_id)),
            (
                f"unallocated_entries: {label}",
                lambda s_id=s_id: pl.unallocated_entries(ledger, s_id),
            ),
            (f"aging: {label}", lambda s_id=s_id: pl.aging(ledger, s_id, on=ON)),
        ]
    entries = [e.id for e in pl.unallocated_entries(ledger, "P1")]
    out += [
        (
            "cancel chosen entries that do not offset",
            lambda: pl.cancel_offsetting(ledger, "P1", entries, on=ON),
        ),
        ("cancel an unknown entry", lambda: pl.cancel_offsetting(ledger, "P1", ["E999"], on=ON)),
        (
            "reverse twice",
            lambda: pl.reverse_payment(pl.reverse_payment(ledger, "KNOWN", on=ON), "KNOWN", on=ON),
        ),
        (
            "appointment of another patient's id, other content",
            lambda: pl.add_appointment(ledger, pl.Appointment("KNOWN", "P2", ON)),
        ),
        ("a float date", lambda: pl.auto_allocate(ledger, "P1", on=1.5)),  # type: ignore[arg-type]
        ("aging on a str date", lambda: pl.aging(ledger, "P1", on="2025-03-01")),  # type: ignore[arg-type]
        ("at zero", lambda: ledger.at(0)),
        ("events at a str index", lambda: ledger.events["1"]),  # type: ignore[call-overload]
        ("events past the end", lambda: ledger.events[len(ledger.events)]),
        ("apply for an empty patient id", lambda: pl.apply_unallocated(ledger, "", "KNOWN", on=ON)),
        ("apply for a non-str patient id", lambda: pl.apply_unallocated(ledger, 7, "KNOWN", on=ON)),  # type: ignore[arg-type]
        ("apply on a str date", lambda: pl.apply_unallocated(ledger, "P1", "KNOWN", on="x")),  # type: ignore[arg-type]
        ("unapply on a str date", lambda: pl.unapply(ledger, "KNOWN", on="x")),  # type: ignore[arg-type]
        ("release on a str date", lambda: pl.release_credit(ledger, "KNOWN", on="x")),  # type: ignore[arg-type]
        ("cancel on a str date", lambda: pl.cancel_offsetting(ledger, "P1", on="x")),  # type: ignore[arg-type]
        ("reverse on a str date", lambda: pl.reverse_payment(ledger, "KNOWN", on="x")),  # type: ignore[arg-type]
        (
            "reverse with a non-str reason",
            lambda: pl.reverse_payment(ledger, "KNOWN", on=ON, reason=5),
        ),  # type: ignore[arg-type]
        ("cancel a single str", lambda: pl.cancel_offsetting(ledger, "P1", "E1", on=ON)),
        ("cancel nothing named", lambda: pl.cancel_offsetting(ledger, "P1", [], on=ON)),
        ("cancel one entry twice", lambda: pl.cancel_offsetting(ledger, "P1", ["E2", "E2"], on=ON)),
        ("cancel a blank entry id", lambda: pl.cancel_offsetting(ledger, "P1", [" "], on=ON)),
        ("cancel a non-str entry id", lambda: pl.cancel_offsetting(ledger, "P1", [3], on=ON)),  # type: ignore[list-item]
        ("cancel not a collection", lambda: pl.cancel_offsetting(ledger, "P1", 3, on=ON)),  # type: ignore[arg-type]
        (
            "cancel another patient's entry",
            lambda: pl.cancel_offsetting(ledger, "P2", ["E1"], on=ON),
        ),
        (
            "cancel entries of two buckets",
            lambda: pl.cancel_offsetting(
                pay(ledger, "PAY-A", "40.00", "KNOWN"), "P1", ["E1", "E2", "E3"], on=ON
            ),
        ),
        (
            "cancel a closed entry",
            lambda: pl.cancel_offsetting(
                pl.cancel_offsetting(ledger, "P1", on=ON), "P1", ["E2"], on=ON
            ),
        ),
        ("replay with a stranger", lambda: pl.replay([ledger.events[0], "x"])),  # type: ignore[list-item]
        ("replay opening twice", lambda: pl.replay([ledger.events[0], ledger.events[0]])),
        ("replay not opening first", lambda: pl.replay(list(ledger.events)[1:])),
        ("a view of something not a ledger", lambda: pl.dashboard("ledger", "P1")),  # type: ignore[arg-type]
        (
            "refund of a payment that is not a REFUND",
            lambda: pl.refund(ledger, pl.Payment("RX", "P1", Money("1", "USD"), ON)),
        ),
        (
            "an amount in a currency moneyed does not know",
            lambda: pl.Payment("PX", "P1", Money(Decimal(1), Currency(code="ZZZ")), ON),
        ),
        ("at past the end", lambda: ledger.at(len(ledger.events) + 1)),
        ("a ledger that is not one", lambda: pl.patients("ledger")),  # type: ignore[arg-type]
        ("replay of nothing", lambda: pl.replay([])),
    ]
    return out


def _call(
    command: Callable[..., pl.Ledger], ledger: pl.Ledger, made: object
) -> Callable[[], pl.Ledger]:
    def call() -> pl.Ledger:
        if isinstance(made, pl.LedgerError):
            raise made  # the value object itself refused its fields
        return command(ledger, made)

    return call


def test_edge_inputs_are_refused_with_a_code_and_leave_the_ledger_as_it_was() -> None:
    ledger = base()
    events = list(ledger.events)
    views = {
        p: (pl.dashboard(ledger, p), pl.claims_feed(ledger, p), pl.unallocated_entries(ledger, p))
        for p in pl.patients(ledger)
    }
    codes: Counter[pl.ErrorCode] = Counter()
    accepted = 0
    for label, attempt in attempts(ledger):
        try:
            after = attempt()
        except pl.LedgerError as error:
            codes[error.code] += 1
            assert str(error), label
            assert type(error).code is error.code, label
        except (IndexError, TypeError) as error:
            # The journal is a Sequence: bad indices raise what a Sequence raises.
            assert label.startswith("events"), f"{label}: {error!r}"
        except Exception as error:  # noqa: BLE001 - anything else is a bug: say which input
            pytest.fail(f"{label}: {type(error).__name__}: {error}")
        else:
            accepted += 1
            assert isinstance(after, pl.Ledger), label
        assert list(ledger.events) == events, label
    assert {
        p: (pl.dashboard(ledger, p), pl.claims_feed(ledger, p), pl.unallocated_entries(ledger, p))
        for p in pl.patients(ledger)
    } == views
    # Every error code was produced by some edge input.
    assert set(codes) == set(COMMAND_CODES), set(COMMAND_CODES) - set(codes)
    assert accepted > 0


@pytest.mark.parametrize(("name", "amount"), EDGE_AMOUNTS.items(), ids=list(EDGE_AMOUNTS))
def test_edge_amounts_of_a_payment(name: str, amount: object) -> None:
    expected = {
        "one cent": None,
        "maximum": None,
        "ten dollars": None,
        "yen": None,
        "zero": pl.InvalidAmountError,
        "minus zero": pl.InvalidAmountError,
        "minus one cent": pl.InvalidAmountError,
        "past the maximum": pl.InvalidAmountError,
        "minus past the maximum": pl.InvalidAmountError,
        "minus the maximum": pl.InvalidAmountError,
        "NaN": pl.InvalidAmountError,
        "sNaN": pl.InvalidAmountError,
        "Infinity": pl.InvalidAmountError,
        "-Infinity": pl.InvalidAmountError,
        "sub-cent": pl.InvalidAmountError,
        "minus ten dollars": pl.InvalidAmountError,
        "euros": None,
        "float": pl.InvalidInputError,
        "bool": pl.InvalidInputError,
        "str": pl.InvalidInputError,
        "int": pl.InvalidInputError,
        "Decimal": pl.InvalidInputError,
        "None": pl.InvalidInputError,
    }[name]
    if expected is None:
        payment = pl.Payment("PAY1", "P1", amount, datetime.date(2025, 1, 1))  # type: ignore[arg-type]
        if name in ("euros", "yen"):
            with pytest.raises(pl.CurrencyMismatchError):
                pl.post_payment(pl.Ledger.empty(), payment)
        else:
            assert (
                pl.dashboard(pl.post_payment(pl.Ledger.empty(), payment), "P1").total_paid == amount
            )
    else:
        with pytest.raises(expected) as caught:
            pl.Payment("PAY1", "P1", amount, datetime.date(2025, 1, 1))  # type: ignore[arg-type]
        assert type(caught.value) is expected


def scenario_refusals() -> list[tuple[str, Callable[[], object]]]:
    """Refusals that need a particular ledger, for the golden file of messages."""
    ledger = base()
    held = pay(ledger, "APPT-HELD", "40.00", "KNOWN")  # 30 allocated, 10 held on KNOWN
    refunded = refund(held, "R-APPT", "-10.00", "KNOWN")
    cancelled = pl.cancel_offsetting(pay(ledger, "G2", "5.00"), "P1", on=ON)
    wrong = "not a value"
    given_a_value = (
        pl.add_appointment,
        pl.add_charge,
        pl.post_payment,
        pl.refund,
        pl.adjust_charge,
        pl.transfer_credit,
    )
    out: list[tuple[str, Callable[[], object]]] = [
        (f"{command.__name__} on something not a ledger", lambda c=command: c("x", None))
        for command in given_a_value
    ]
    out += [
        (f"{command.__name__} of a str", lambda c=command: c(ledger, wrong))
        for command in given_a_value
    ]
    out += [
        (
            "write-off beyond the balance due",
            lambda: pl.adjust_charge(
                ledger,
                pl.Adjustment(
                    "W1", "KNOWN", Money("-30.01", "USD"), ON, pl.AdjustmentType.WRITE_OFF
                ),
            ),
        ),
        (
            "adjustment below zero",
            lambda: pl.adjust_charge(
                ledger, pl.Adjustment("ADJ-Z", "KNOWN", Money("-50.01", "USD"), ON)
            ),
        ),
        (
            "adjustment id resubmitted otherwise",
            lambda: pl.adjust_charge(
                pl.adjust_charge(ledger, pl.Adjustment("ADJ-1", "KNOWN", Money("-1", "USD"), ON)),
                pl.Adjustment("ADJ-1", "KNOWN", Money("-2", "USD"), ON),
            ),
        ),
        ("refund beyond an appointment's bucket", lambda: refund(held, "R9", "-10.01", "KNOWN")),
        (
            "reverse held money an open refund holds",
            lambda: pl.reverse_payment(refunded, "APPT-HELD", on=ON),
        ),
        (
            "reverse general money an open refund holds",
            lambda: pl.reverse_payment(ledger, "HELD", on=ON),
        ),
        ("reverse money cancelled away", lambda: pl.reverse_payment(cancelled, "HELD", on=ON)),
        (
            "transfer beyond the general bucket",
            lambda: pl.transfer_credit(
                ledger, pl.Transfer("T1", "P1", "P2", Money("25.01", "USD"), ON)
            ),
        ),
        (
            "release beyond an appointment's bucket",
            lambda: pl.release_credit(held, "KNOWN", Money("10.01", "USD"), on=ON),
        ),
        ("charge id resubmitted otherwise", lambda: charge(ledger, "KNOWN", "KNOWN", "1.00")),
        (
            "transfer id resubmitted otherwise",
            lambda: pl.transfer_credit(
                pl.transfer_credit(ledger, pl.Transfer("T1", "P1", "P2", Money("1", "USD"), ON)),
                pl.Transfer("T1", "P1", "P2", Money("2", "USD"), ON),
            ),
        ),
    ]
    return out


def test_scenario_refusals_are_refused() -> None:
    for label, attempt in scenario_refusals():
        with pytest.raises(pl.LedgerError):
            attempt()
        assert label
