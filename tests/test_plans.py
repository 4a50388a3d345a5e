"""Payment plans (SPEC §11), worked by hand from the section's text."""

from __future__ import annotations

import datetime

import pytest
from moneyed import Money

import patient_ledger as pl
from patient_ledger.persist import journal, snapshot

D = datetime.date


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def practice() -> pl.Ledger:
    """P1: A1 (Jan 10) owes 60, A2 (Feb 10) owes 40, A3 (Mar 10) owes 70; P2: B1 owes 50."""
    ledger = pl.Ledger.empty()
    for aid, pid, day, charge in (
        ("A1", "P1", D(2025, 1, 10), "60"),
        ("A2", "P1", D(2025, 2, 10), "40"),
        ("A3", "P1", D(2025, 3, 10), "70"),
        ("B1", "P2", D(2025, 1, 5), "50"),
    ):
        ledger = pl.add_appointment(ledger, pl.Appointment(aid, pid, day))
        ledger = pl.add_charge(ledger, pl.Charge(f"C{aid}", aid, usd(charge)))
    return ledger


def plan(
    plan_id: str = "PL1",
    amount: str | None = "100",
    installments: int = 3,
    appointment_ids: tuple[str, ...] = (),
    patient_id: str = "P1",
    first_due: datetime.date = D(2025, 1, 31),
) -> pl.PaymentPlan:
    return pl.PaymentPlan(
        plan_id,
        patient_id,
        None if amount is None else usd(amount),
        installments,
        first_due,
        D(2025, 1, 15),
        appointment_ids,
    )


def pay(
    payment_id: str, amount: str, day: datetime.date, plan_id: str | None = "PL1", **kw: object
) -> pl.Payment:
    return pl.Payment(
        payment_id, kw.pop("patient_id", "P1"), usd(amount), day, plan_id=plan_id, **kw
    )  # type: ignore[arg-type]


def amounts(ledger: pl.Ledger, plan_id: str = "PL1", on: datetime.date = D(2025, 1, 1)) -> list:
    return [
        (i.number, i.due_on, str(i.amount.amount), str(i.paid.amount), i.status.value)
        for i in pl.installments(ledger, plan_id, on=on)
    ]


def status(
    ledger: pl.Ledger, plan_id: str = "PL1", on: datetime.date = D(2025, 1, 1)
) -> pl.PlanStatus:
    (found,) = [s for s in pl.payment_plans(ledger, "P1", on=on) if s.plan_id == plan_id]
    return found


# -- the schedule ---------------------------------------------------------------------------


def test_the_schedule_rounds_down_and_the_last_takes_the_rest_month_ends_kept() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    assert amounts(ledger) == [
        (1, D(2025, 1, 31), "33.33", "0.00", "UPCOMING"),
        (2, D(2025, 2, 28), "33.33", "0.00", "UPCOMING"),
        (3, D(2025, 3, 31), "33.34", "0.00", "UPCOMING"),
    ]


def test_a_leap_february_and_a_year_turn() -> None:
    ledger = pl.create_payment_plan(
        practice(), plan(amount="100", installments=4, first_due=D(2027, 11, 30))
    )
    days = [i.due_on for i in pl.installments(ledger, "PL1", on=D(2027, 1, 1))]
    assert days == [D(2027, 11, 30), D(2027, 12, 30), D(2028, 1, 30), D(2028, 2, 29)]


def test_statuses_by_due_date_against_on() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    got = [i.status for i in pl.installments(ledger, "PL1", on=D(2025, 2, 28))]
    assert got == [
        pl.InstallmentStatus.OVERDUE,
        pl.InstallmentStatus.DUE,
        pl.InstallmentStatus.UPCOMING,
    ]


def test_a_plan_changes_no_balance() -> None:
    before = practice()
    after = pl.create_payment_plan(before, plan())
    assert pl.dashboard(after, "P1") == pl.dashboard(before, "P1")
    assert pl.claims_feed(after, "P1") == pl.claims_feed(before, "P1")


# -- create_payment_plan: refusals in §11's precedence ----------------------------------------


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: plan(installments=0), pl.InvalidInputError),
        (lambda: plan(installments=121), pl.InvalidInputError),
        (lambda: plan(installments=True), pl.InvalidInputError),  # type: ignore[arg-type]
        (lambda: plan(first_due=D(2025, 1, 14)), pl.InvalidInputError),
        (lambda: plan(amount="0"), pl.InvalidAmountError),
        (lambda: plan(amount="-5"), pl.InvalidAmountError),
        (lambda: plan(amount="1.005"), pl.InvalidAmountError),
        (lambda: plan(appointment_ids=("A1", "A1")), pl.InvalidInputError),
        (lambda: plan(appointment_ids=("",)), pl.InvalidInputError),
        (lambda: plan(plan_id=""), pl.InvalidInputError),
    ],
)
def test_a_plan_checks_its_own_fields(make: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        pl.create_payment_plan(practice(), make())  # type: ignore[operator]


def test_installments_from_1_to_120_and_first_due_on_the_day_created() -> None:
    ledger = practice()
    for count in (1, 120):
        pl.create_payment_plan(ledger, plan(installments=count, amount="170"))
    pl.create_payment_plan(ledger, plan(first_due=D(2025, 1, 15)))


@pytest.mark.parametrize(
    ("submitted", "error"),
    [
        # input shape
        ("not a plan", pl.InvalidInputError),
        (pl.PaymentPlan("PL9", "P1", Money("5", "EUR"), 2, D(2025, 2, 1), D(2025, 1, 1)),
         pl.CurrencyMismatchError),
        # idempotency wins over every reference
        (plan(amount="99", appointment_ids=("NOPE",)), pl.DuplicateIdError),
        # references: unknown before another patient's, whatever their order
        (plan("PL2", None, appointment_ids=("B1", "NOPE")), pl.UnknownIdError),
        (plan("PL2", None, appointment_ids=("A2", "B1")), pl.PatientMismatchError),
        (plan("PL2", None, appointment_ids=("A2", "X1")), pl.AppointmentCancelledError),
        (plan("PL2", None, appointment_ids=("A2", "A0")), pl.InvalidInputError),  # no balance
        (plan("PL2", "41", appointment_ids=("A2",)), pl.InvalidAmountError),
        (plan("PL2", "1", patient_id="P9"), pl.UnknownIdError),
        (plan("PL2", None, patient_id="P9"), pl.InvalidAmountError),  # its shape: first
        (plan("PL2", None), pl.InvalidAmountError),  # on the balance: amount required
        (plan("PL2", "70.01"), pl.InvalidAmountError),  # 170 - 100 still covered by PL1
    ],
)  # fmt: skip
def test_create_refusals_in_precedence(submitted: object, error: type[Exception]) -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.add_appointment(ledger, pl.Appointment("X1", "P1", D(2025, 1, 2)))
    ledger = pl.cancel_appointment(ledger, "X1", on=D(2025, 1, 3))
    ledger = pl.add_appointment(ledger, pl.Appointment("A0", "P1", D(2025, 1, 2)))
    with pytest.raises(error) as raised:
        pl.create_payment_plan(ledger, submitted)  # type: ignore[arg-type]
    assert type(raised.value) is error


def test_the_balance_less_other_active_plans_is_the_limit() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.create_payment_plan(ledger, plan("PL2", "70"))
    with pytest.raises(pl.InvalidAmountError, match="PL3"):
        pl.create_payment_plan(ledger, plan("PL3", "0.01"))


def test_an_appointment_in_another_active_plan_is_refused_until_that_plan_is_cancelled() -> None:
    ledger = pl.create_payment_plan(practice(), plan(amount=None, appointment_ids=("A1",)))
    with pytest.raises(pl.InvalidInputError, match="PL1"):
        pl.create_payment_plan(ledger, plan("PL2", None, appointment_ids=("A2", "A1")))
    ledger = pl.cancel_payment_plan(ledger, "PL1", on=D(2025, 1, 20))
    ledger = pl.create_payment_plan(ledger, plan("PL2", None, appointment_ids=("A2", "A1")))
    assert status(ledger, "PL2").amount == usd("100")


def test_a_plan_again_is_the_ledger_unchanged() -> None:
    ledger = pl.create_payment_plan(practice(), plan(amount=None, appointment_ids=("A2", "A1")))
    assert pl.create_payment_plan(ledger, plan(amount=None, appointment_ids=("A2", "A1"))) is ledger
    assert status(ledger).amount == usd("100")  # the sum of their balances due


# -- paying a plan --------------------------------------------------------------------------


def test_money_is_placed_oldest_first_on_appointments_dated_on_or_before_receipt() -> None:
    ledger = pl.create_payment_plan(practice(), plan(amount="170"))
    ledger = pl.post_payment(ledger, pay("PAY1", "90", D(2025, 2, 10)))
    feed = {row.appointment_id: row for row in pl.claims_feed(ledger, "P1")}
    assert (feed["A1"].paid, feed["A2"].paid, feed["A3"].paid) == (usd("60"), usd("30"), usd("0"))
    ledger = pl.post_payment(ledger, pay("PAY2", "20", D(2025, 2, 11)))
    # A3 (Mar 10) is dated after Feb 11: the rest stays in the general bucket
    (entry,) = pl.unallocated_entries(ledger, "P1")
    assert (entry.payment_id, entry.appointment_id, entry.amount) == ("PAY2", None, usd("10"))
    assert status(ledger).paid == usd("110")
    assert pl.check_invariants(ledger) == ()


def test_a_plan_on_appointments_places_only_on_them() -> None:
    ledger = pl.create_payment_plan(practice(), plan(amount=None, appointment_ids=("A3", "A2")))
    ledger = pl.post_payment(ledger, pay("PAY1", "50", D(2025, 1, 20)))
    feed = {row.appointment_id: row.paid for row in pl.claims_feed(ledger, "P1")}
    assert feed == {"A1": usd("0"), "A2": usd("40"), "A3": usd("10")}


def test_a_payment_counts_up_to_what_remains_and_extra_payments_complete_early() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.post_payment(ledger, pay("PAY1", "40", D(2025, 1, 31)))
    assert amounts(ledger, on=D(2025, 2, 1))[:2] == [
        (1, D(2025, 1, 31), "33.33", "33.33", "PAID"),
        (2, D(2025, 2, 28), "33.33", "6.67", "UPCOMING"),
    ]
    s = status(ledger, on=D(2025, 3, 1))
    assert (s.next_due_on, s.next_due_amount, s.overdue) == (
        D(2025, 2, 28),
        usd("26.66"),
        usd("26.66"),
    )
    ledger = pl.post_payment(ledger, pay("PAY2", "70", D(2025, 2, 2)))
    s = status(ledger)
    assert (s.paid, s.remaining, s.status) == (usd("100"), usd("0"), pl.PlanState.COMPLETED)
    assert (s.next_due_on, s.next_due_amount, s.last_payment_on) == (None, None, D(2025, 2, 2))
    assert pl.plan_report(ledger, on=D(2025, 2, 2)) == ()
    with pytest.raises(pl.InvalidInputError, match="PL1"):  # a completed plan is not active
        pl.post_payment(ledger, pay("PAY3", "1", D(2025, 2, 3)))
    assert pl.dashboard(ledger, "P1").total_paid == usd("110")  # all of it was posted


@pytest.mark.parametrize(
    ("payment", "error"),
    [
        (pay("R1", "-5", D(2025, 2, 1), type=pl.PaymentType.REFUND), pl.InvalidInputError),
        (pay("PAY9", "5", D(2025, 2, 1), appointment_id="A1"), pl.InvalidInputError),
        (pay("PAY9", "5", D(2025, 2, 1), charge_id="CA1"), pl.InvalidInputError),
        (pay("PAY1", "6", D(2025, 2, 1), plan_id="NOPE"), pl.DuplicateIdError),
        (pay("PAY9", "5", D(2025, 2, 1), plan_id="NOPE", patient_id="P2"), pl.UnknownIdError),
        (pay("PAY9", "5", D(2025, 2, 1), patient_id="P2"), pl.PatientMismatchError),
        (pay("PAY9", "5", D(2025, 2, 1), plan_id="GONE"), pl.InvalidInputError),
    ],
)
def test_plan_payment_refusals_in_precedence(payment: pl.Payment, error: type[Exception]) -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.create_payment_plan(ledger, plan("GONE", "10"))
    ledger = pl.cancel_payment_plan(ledger, "GONE", on=D(2025, 1, 20))
    ledger = pl.post_payment(ledger, pay("PAY1", "5", D(2025, 1, 20)))
    call = pl.refund if payment.type is pl.PaymentType.REFUND else pl.post_payment
    with pytest.raises(error) as raised:
        call(ledger, payment)
    assert type(raised.value) is error
    assert pl.post_payment(ledger, pay("PAY1", "5", D(2025, 1, 20))) is ledger  # idempotent


def test_other_payments_and_refunds_do_not_touch_plans() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.post_payment(ledger, pay("PAY1", "20", D(2025, 1, 20), plan_id=None))
    ledger = pl.refund(ledger, pay("R1", "-5", D(2025, 1, 21), plan_id=None, type="REFUND"))
    assert status(ledger).paid == usd("0")


# -- reversals --------------------------------------------------------------------------------


def test_a_reversal_first_takes_the_part_that_did_not_count_then_reactivates() -> None:
    ledger = pl.create_payment_plan(practice(), plan(amount="30", installments=2))
    ledger = pl.post_payment(ledger, pay("PAY1", "50", D(2025, 1, 31)))  # counts 30 of 50
    assert status(ledger).status is pl.PlanState.COMPLETED
    ledger = pl.reverse_payment(ledger, "PAY1", usd("20"), on=D(2025, 2, 1))
    assert status(ledger).paid == usd("30")  # 30 is left of it: it still counts 30
    ledger = pl.reverse_payment(ledger, "PAY1", usd("10"), on=D(2025, 2, 2))
    s = status(ledger)
    assert (s.paid, s.remaining, s.status) == (usd("20"), usd("10"), pl.PlanState.ACTIVE)
    assert [r.plan_id for r in pl.plan_report(ledger, on=D(2025, 2, 2))] == ["PL1"]
    ledger = pl.reverse_payment(ledger, "PAY1", on=D(2025, 2, 3))  # a bounced check
    s = status(ledger)
    assert (s.paid, s.last_payment_on) == (usd("0"), None)
    assert pl.check_invariants(ledger) == ()


# -- skips -----------------------------------------------------------------------------------


def test_a_skipped_installment_moves_to_the_end() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.skip_installment(ledger, "PL1", 3, on=D(2025, 1, 20))
    ledger = pl.skip_installment(ledger, "PL1", 1, on=D(2025, 1, 20))
    assert amounts(ledger, on=D(2025, 1, 1)) == [
        (1, D(2025, 1, 31), "33.33", "0.00", "SKIPPED"),
        (2, D(2025, 2, 28), "33.33", "0.00", "UPCOMING"),
        (3, D(2025, 3, 31), "33.34", "0.00", "SKIPPED"),
        (4, D(2025, 4, 30), "33.34", "0.00", "UPCOMING"),
        (5, D(2025, 5, 31), "33.33", "0.00", "UPCOMING"),
    ]
    assert pl.skip_installment(ledger, "PL1", 1, on=D(2025, 1, 21)) is ledger
    s = status(ledger, on=D(2025, 3, 1))
    assert (s.installment_amount, s.next_due_on, s.overdue) == (
        usd("33.33"),
        D(2025, 2, 28),
        usd("33.33"),
    )
    ledger = pl.post_payment(ledger, pay("PAY1", "40", D(2025, 3, 1)))
    assert [i.status.value for i in pl.installments(ledger, "PL1", on=D(2025, 3, 1))] == [
        "SKIPPED",
        "PAID",
        "SKIPPED",
        "UPCOMING",
        "UPCOMING",
    ]
    assert pl.check_invariants(ledger) == ()


@pytest.mark.parametrize(
    ("plan_id", "number", "error"),
    [
        ("NOPE", 1, pl.UnknownIdError),
        ("PL1", 0, pl.InvalidInputError),
        ("PL1", 4, pl.InvalidInputError),
        ("PL1", 1, pl.InvalidInputError),  # wholly covered
        ("PL1", 2, pl.InvalidInputError),  # partly covered
        ("GONE", 1, pl.InvalidInputError),  # not active
    ],
)
def test_skip_refusals(plan_id: str, number: int, error: type[Exception]) -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.create_payment_plan(ledger, plan("GONE", "10"))
    ledger = pl.cancel_payment_plan(ledger, "GONE", on=D(2025, 1, 20))
    ledger = pl.post_payment(ledger, pay("PAY1", "40", D(2025, 1, 20)))
    with pytest.raises(error) as raised:
        pl.skip_installment(ledger, plan_id, number, on=D(2025, 1, 21))
    assert type(raised.value) is error


# -- cancel, queries --------------------------------------------------------------------------


def test_cancel_keeps_the_money_where_it_is_and_refuses_later_payments() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.post_payment(ledger, pay("PAY1", "40", D(2025, 1, 20)))
    feed = pl.claims_feed(ledger, "P1")
    ledger = pl.cancel_payment_plan(ledger, "PL1", on=D(2025, 1, 21), reason="moved away")
    assert pl.claims_feed(ledger, "P1") == feed
    assert status(ledger).status is pl.PlanState.CANCELLED
    assert pl.cancel_payment_plan(ledger, "PL1", on=D(2025, 1, 22)) is ledger
    with pytest.raises(pl.InvalidInputError, match="cancelled"):
        pl.post_payment(ledger, pay("PAY2", "5", D(2025, 1, 22)))
    with pytest.raises(pl.UnknownIdError):
        pl.cancel_payment_plan(ledger, "NOPE", on=D(2025, 1, 22))


def test_payment_plans_and_the_report_orders() -> None:
    ledger = practice()
    ledger = pl.create_payment_plan(ledger, plan("PL2", None, appointment_ids=("A1",)))
    ledger = pl.create_payment_plan(
        ledger, plan("PL1", None, appointment_ids=("A2",), first_due=D(2025, 3, 1))
    )
    ledger = pl.create_payment_plan(
        ledger, plan("Q1", None, appointment_ids=("B1",), patient_id="P2")
    )
    assert [s.plan_id for s in pl.payment_plans(ledger, "P1", on=D(2025, 1, 1))] == ["PL1", "PL2"]
    report = pl.plan_report(ledger, on=D(2025, 1, 1))
    assert [(s.plan_id, s.next_due_on) for s in report] == [
        ("PL2", D(2025, 1, 31)),
        ("Q1", D(2025, 1, 31)),
        ("PL1", D(2025, 3, 1)),
    ]
    with pytest.raises(pl.UnknownIdError):
        pl.installments(ledger, "NOPE", on=D(2025, 1, 1))
    with pytest.raises(pl.UnknownIdError):
        pl.payment_plans(ledger, "P9", on=D(2025, 1, 1))


# -- the journal and snapshots ------------------------------------------------------------


def whole_story() -> pl.Ledger:
    ledger = pl.create_payment_plan(practice(), plan())
    ledger = pl.post_payment(ledger, pay("PAY1", "40", D(2025, 1, 20)))
    ledger = pl.skip_installment(ledger, "PL1", 3, on=D(2025, 1, 21))
    ledger = pl.reverse_payment(ledger, "PAY1", usd("30"), on=D(2025, 1, 22))
    ledger = pl.create_payment_plan(
        ledger, plan("PL2", None, appointment_ids=("B1",), patient_id="P2")
    )
    return pl.cancel_payment_plan(ledger, "PL2", on=D(2025, 1, 23))


def test_plans_survive_the_journal_byte_for_byte() -> None:
    ledger = whole_story()
    text = journal.dumps(ledger)
    again = journal.loads(text)
    assert again == ledger
    assert journal.dumps(again) == text
    assert pl.payment_plans(again, "P1", on=D(2025, 2, 1)) == pl.payment_plans(
        ledger, "P1", on=D(2025, 2, 1)
    )
    versions = {line.split('"type":"')[1].split('"')[0]: line[-2] for line in text.splitlines()}
    assert versions["PaymentPlanCreated"] == "3"
    assert versions["AppointmentAdded"] == "1"


def test_a_payment_without_a_plan_is_written_as_before() -> None:
    ledger = pl.post_payment(pl.Ledger.empty(), pay("PAY1", "5", D(2025, 1, 1), plan_id=None))
    line = journal.dumps(ledger).splitlines()[1]
    assert "plan_id" not in line
    assert line.endswith('"v":1}')


def test_plans_survive_snapshots() -> None:
    ledger = whole_story()
    data = snapshot.encode(ledger)
    restored = snapshot.decode(data, ledger.events)
    assert snapshot.holds(data, ledger)
    for on in (D(2025, 1, 1), D(2025, 6, 1)):
        assert pl.plan_report(restored, on=on) == pl.plan_report(ledger, on=on)
    assert pl.create_payment_plan(restored, plan()) is restored  # the record compares


def test_a_plan_event_that_does_not_fit_is_refused_naming_it() -> None:
    ledger = pl.create_payment_plan(practice(), plan())
    stray = pl.PlanPaymentPosted(
        payment=pay("PAY1", "5", D(2025, 1, 20), plan_id="NOPE"),
        placed=(),
        entry_id="E1",
        counted=0,
    )
    with pytest.raises(pl.InvalidInputError, match="PlanPaymentPosted of 'PAY1'.*NOPE"):
        pl.apply_event(ledger, stray)
    over = pl.PlanPaymentPosted(
        payment=pay("PAY1", "5", D(2025, 1, 20)), placed=(), entry_id="E1", counted=600
    )
    with pytest.raises(pl.InvalidInputError, match="cannot count"):
        pl.apply_event(ledger, over)
    with pytest.raises(pl.InvalidInputError, match="installment 5, not 4|would add"):
        pl.apply_event(
            ledger,
            pl.InstallmentSkipped(plan_id="PL1", number=1, added=5, amount=3333, on=D(2025, 1, 2)),
        )


def test_a_plan_payment_is_dated_by_its_receipt_in_the_books_of_a_day() -> None:
    ledger = pl.add_appointment(pl.Ledger.empty(), pl.Appointment("A1", "P1", D(2025, 1, 10)))
    ledger = pl.add_charge(ledger, pl.Charge("C1", "A1", usd("60")))
    ledger = pl.create_payment_plan(ledger, plan(amount="60"))
    ledger = pl.post_payment(ledger, pay("PAY1", "40", D(2025, 1, 20)))
    ledger = pl.post_payment(ledger, pay("PAY2", "1", D(2025, 1, 25), plan_id=None))
    assert pl.dashboards(ledger, on=D(2025, 1, 19))["P1"].total_paid == usd("0")
    assert pl.dashboards(ledger, on=D(2025, 1, 20))["P1"].total_paid == usd("40")
