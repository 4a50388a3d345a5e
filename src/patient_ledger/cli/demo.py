"""The demo scenarios: the seed's walkthrough, a month of the rest of the workflow, and line
items with allocation policies, partial reversals and cancelled visits (SPEC §10).

Each scenario is a list of :class:`Scene`; :func:`run` applies them one by one and prints, after
each, the patient's dashboard, claims feed and open unallocated entries — and, where a step names
them, where a payment's money is now (its allocations to lines, and what it still holds).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import TextIO

import attrs
from moneyed import Money

from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    auto_allocate,
    cancel_appointment,
    cancel_offsetting,
    post_payment,
    refund,
    reverse_payment,
    transfer_credit,
    unapply,
)
from patient_ledger.report import tables
from patient_ledger.report.render import patient_report
from patient_ledger.state import Ledger
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    AllocationOrder,
    Appointment,
    Charge,
    Payment,
    PaymentMethod,
    PaymentType,
    Transfer,
)
from patient_ledger.views import aging, allocations

Command = Callable[[Ledger], Ledger]


@attrs.frozen
class Scene:
    """One scene of a scenario: what happens, whose views to show, and the commands; after it,
    where the money of each of ``payments`` is now is shown too."""

    title: str
    patient_id: str
    commands: tuple[Command, ...]
    payments: tuple[str, ...] = ()


def dollars(text: str) -> Money:
    """US dollars from exact text."""
    return Money(text, "USD")


D = datetime.date


def seed_walkthrough() -> list[Scene]:
    """The billing help page's walkthrough, with the numbers of SPEC §8."""
    return [
        Scene(
            "A $100 patient responsibility on the 1/22/2025 service, paid down at the desk",
            "P1",
            (
                lambda led: add_appointment(
                    led, Appointment("A1", "P1", D(2025, 1, 22), "Dr. Lee")
                ),
                lambda led: add_charge(
                    led, Charge("C1", "A1", dollars("100.00"), "99213", "Office visit")
                ),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY1",
                        "P1",
                        dollars("100.00"),
                        D(2025, 1, 22),
                        PaymentMethod.CREDIT_CARD,
                        PaymentType.COPAY,
                        appointment_id="A1",
                    ),
                ),
            ),
        ),
        Scene(
            "$200 prepaid with no appointment: held unallocated for a future service (green)",
            "P1",
            (
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY2",
                        "P1",
                        dollars("200.00"),
                        D(2025, 1, 23),
                        PaymentMethod.CHECK,
                        notes="prepayment for the February procedure",
                    ),
                ),
            ),
        ),
        Scene(
            "$20 posted to appointment A2, which has no charges yet: the appt's unallocated "
            "payment (yellow)",
            "P1",
            (
                lambda led: add_appointment(led, Appointment("A2", "P1", D(2025, 2, 5), "Dr. Lee")),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY3",
                        "P1",
                        dollars("20.00"),
                        D(2025, 1, 24),
                        PaymentMethod.CASH,
                        PaymentType.COPAY,
                        appointment_id="A2",
                    ),
                ),
            ),
        ),
        Scene(
            "A $35 charge is added to A2: its $20 is applied at once",
            "P1",
            (
                lambda led: add_charge(
                    led, Charge("C2", "A2", dollars("35.00"), "99212", "Follow-up")
                ),
            ),
        ),
        Scene(
            "The $200 is refunded: a REFUND of -$200, Unallocated/No Appointment",
            "P1",
            (
                lambda led: refund(
                    led,
                    Payment(
                        "R1",
                        "P1",
                        dollars("-200.00"),
                        D(2025, 1, 30),
                        PaymentMethod.CHECK,
                        PaymentType.REFUND,
                        notes="procedure cancelled; prepayment returned",
                    ),
                ),
            ),
        ),
        Scene(
            "The +$200 and -$200 entries are cancelled against each other",
            "P1",
            (lambda led: cancel_offsetting(led, "P1", on=D(2025, 1, 30)),),
        ),
    ]


def month_at_the_practice() -> list[Scene]:
    """March 2025 at a practice: SPEC §9's commands in the situations they are for."""
    return [
        Scene(
            "A $25 copay is taken at check-in (3/3)",
            "MARIA",
            (
                lambda led: add_appointment(led, Appointment("V10", "MARIA", D(2025, 3, 3))),
                lambda led: add_charge(led, Charge("L10", "V10", dollars("25.00"), "COPAY")),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY10",
                        "MARIA",
                        dollars("25.00"),
                        D(2025, 3, 3),
                        PaymentMethod.DEBIT_CARD,
                        PaymentType.COPAY,
                        appointment_id="V10",
                    ),
                ),
            ),
        ),
        Scene(
            "Insurance assigns no copay: unapply it, adjust the charge to zero, refund, cancel",
            "MARIA",
            (
                lambda led: unapply(led, "V10", on=D(2025, 3, 17)),
                lambda led: adjust_charge(
                    led,
                    Adjustment(
                        "ADJ10",
                        "L10",
                        dollars("-25.00"),
                        D(2025, 3, 17),
                        AdjustmentType.INSURANCE,
                        "EOB: copay waived",
                    ),
                ),
                lambda led: refund(
                    led,
                    Payment(
                        "R10",
                        "MARIA",
                        dollars("-25.00"),
                        D(2025, 3, 18),
                        PaymentMethod.DEBIT_CARD,
                        PaymentType.REFUND,
                    ),
                ),
                lambda led: cancel_offsetting(led, "MARIA", on=D(2025, 3, 18)),
            ),
        ),
        Scene(
            "An $80 check pays a visit (3/5) and bounces (3/12): the payment is reversed",
            "TOM",
            (
                lambda led: add_appointment(led, Appointment("V20", "TOM", D(2025, 3, 5))),
                lambda led: add_charge(led, Charge("L20", "V20", dollars("80.00"), "99213")),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY20",
                        "TOM",
                        dollars("80.00"),
                        D(2025, 3, 5),
                        PaymentMethod.CHECK,
                        appointment_id="V20",
                        reference="check 1042",
                    ),
                ),
                lambda led: reverse_payment(led, "PAY20", on=D(2025, 3, 12), reason="NSF check"),
            ),
        ),
        Scene(
            "Adjudication lowers a paid $150 visit by $60: a $60 credit on the visit (yellow); "
            "a $40 lab charge then uses it",
            "ANA",
            (
                lambda led: add_appointment(led, Appointment("V30", "ANA", D(2025, 3, 7))),
                lambda led: add_charge(led, Charge("L30", "V30", dollars("150.00"), "99214")),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY30",
                        "ANA",
                        dollars("150.00"),
                        D(2025, 3, 7),
                        PaymentMethod.CREDIT_CARD,
                        appointment_id="V30",
                    ),
                ),
                lambda led: adjust_charge(
                    led,
                    Adjustment(
                        "ADJ30",
                        "L30",
                        dollars("-60.00"),
                        D(2025, 3, 20),
                        AdjustmentType.CONTRACTUAL,
                    ),
                ),
                lambda led: add_charge(
                    led, Charge("L31", "V30", dollars("40.00"), "80053", "Lab panel")
                ),
            ),
        ),
        Scene(
            "A parent's $50 credit is transferred to a child, then auto-allocated",
            "KID",
            (
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY40", "PARENT", dollars("100.00"), D(2025, 3, 10), PaymentMethod.CASH
                    ),
                ),
                lambda led: add_appointment(led, Appointment("V41", "KID", D(2025, 3, 11))),
                lambda led: add_charge(led, Charge("L41", "V41", dollars("45.00"), "99392")),
                lambda led: transfer_credit(
                    led, Transfer("T40", "PARENT", "KID", dollars("50.00"), D(2025, 3, 21))
                ),
                lambda led: auto_allocate(led, "KID", on=D(2025, 3, 21)),
            ),
        ),
        Scene(
            "A $100 prepayment is auto-allocated to January's and February's balances, "
            "not to next month's visit",
            "LEO",
            (
                lambda led: add_appointment(led, Appointment("V50", "LEO", D(2025, 1, 10))),
                lambda led: add_charge(led, Charge("L50", "V50", dollars("30.00"))),
                lambda led: add_appointment(led, Appointment("V51", "LEO", D(2025, 2, 14))),
                lambda led: add_charge(led, Charge("L51", "V51", dollars("45.00"))),
                lambda led: add_appointment(led, Appointment("V52", "LEO", D(2025, 4, 2))),
                lambda led: add_charge(led, Charge("L52", "V52", dollars("60.00"))),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY50", "LEO", dollars("100.00"), D(2025, 3, 24), PaymentMethod.ONLINE
                    ),
                ),
                lambda led: auto_allocate(led, "LEO", on=D(2025, 3, 31)),
            ),
        ),
    ]


def lines_and_policies() -> list[Scene]:
    """April 2025: line items, allocation policies, a partial reversal, a cancelled visit."""
    return [
        Scene(
            "A visit billed as two lines: a $120 office visit and a $45 lab panel (4/1)",
            "NINA",
            (
                lambda led: add_appointment(
                    led, Appointment("V60", "NINA", D(2025, 4, 1), "Dr. Lee")
                ),
                lambda led: add_charge(
                    led, Charge("L60", "V60", dollars("120.00"), "99214", "Office visit")
                ),
                lambda led: add_charge(
                    led, Charge("L61", "V60", dollars("45.00"), "80053", "Lab panel")
                ),
            ),
        ),
        Scene(
            "$45 is paid for the lab panel: the payment names its line (charge_id), "
            "not the first line",
            "NINA",
            (
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY60",
                        "NINA",
                        dollars("45.00"),
                        D(2025, 4, 2),
                        PaymentMethod.CREDIT_CARD,
                        appointment_id="V60",
                        charge_id="L61",
                    ),
                ),
            ),
            payments=("PAY60",),
        ),
        Scene(
            "$100 by card pays the office visit in line order; $30 of it is disputed and "
            "reversed (a partial reversal)",
            "NINA",
            (
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY61",
                        "NINA",
                        dollars("100.00"),
                        D(2025, 4, 3),
                        PaymentMethod.CREDIT_CARD,
                        appointment_id="V60",
                    ),
                ),
                lambda led: reverse_payment(
                    led, "PAY61", dollars("30.00"), on=D(2025, 4, 10), reason="chargeback"
                ),
            ),
            payments=("PAY61",),
        ),
        Scene(
            "$100 on account pays the smallest balances first, whole balances only: "
            "$30 and $50, not the older $80",
            "SAM",
            (
                lambda led: add_appointment(led, Appointment("V70", "SAM", D(2025, 3, 3))),
                lambda led: add_charge(led, Charge("L70", "V70", dollars("80.00"), "99213")),
                lambda led: add_appointment(led, Appointment("V71", "SAM", D(2025, 3, 17))),
                lambda led: add_charge(led, Charge("L71", "V71", dollars("30.00"), "99212")),
                lambda led: add_appointment(led, Appointment("V72", "SAM", D(2025, 3, 24))),
                lambda led: add_charge(led, Charge("L72", "V72", dollars("50.00"), "99213")),
                lambda led: post_payment(
                    led,
                    Payment("PAY70", "SAM", dollars("100.00"), D(2025, 4, 4), PaymentMethod.ONLINE),
                ),
                lambda led: auto_allocate(
                    led, "SAM", on=D(2025, 4, 4), order=AllocationOrder.SMALLEST_FIRST
                ),
            ),
            payments=("PAY70",),
        ),
        Scene(
            "A $75 deposit is taken for a procedure on 4/28: held on that visit (yellow)",
            "RITA",
            (
                lambda led: add_appointment(
                    led, Appointment("V80", "RITA", D(2025, 4, 28), "Dr. Ortiz")
                ),
                lambda led: post_payment(
                    led,
                    Payment(
                        "PAY80",
                        "RITA",
                        dollars("75.00"),
                        D(2025, 4, 7),
                        PaymentMethod.DEBIT_CARD,
                        notes="deposit for the 4/28 procedure",
                        appointment_id="V80",
                    ),
                ),
            ),
            payments=("PAY80",),
        ),
        Scene(
            "The procedure is cancelled: the visit leaves the feed and its deposit moves to "
            "the general bucket (green)",
            "RITA",
            (
                lambda led: cancel_appointment(
                    led, "V80", on=D(2025, 4, 14), reason="patient cancelled"
                ),
            ),
            payments=("PAY80",),
        ),
    ]


SCENARIOS: dict[str, Callable[[], list[Scene]]] = {
    "seed": seed_walkthrough,
    "month": month_at_the_practice,
    "lines": lines_and_policies,
}


def play(steps: list[Scene], ledger: Ledger | None = None) -> Iterator[tuple[Scene, Ledger]]:
    """Apply each step's commands in turn, yielding the ledger after each step."""
    ledger = Ledger.empty("USD") if ledger is None else ledger
    for step in steps:
        for command in step.commands:
            ledger = command(ledger)
        yield step, ledger


def aging_report(ledger: Ledger, on: datetime.date) -> str:
    """Every patient's balance due by age on ``on``, as a text table."""
    from patient_ledger.views import patients  # noqa: PLC0415 - keeps the import list short

    return tables.text_table(
        tables.AGING,
        first=[tables.PATIENT],
        cells=[
            tables.text_cells(
                tables.AGING, aging(ledger, pid, on=on), first=[tables.printable(pid)]
            )
            for pid in patients(ledger)
        ],
    )


def allocations_report(ledger: Ledger, payment_id: str) -> str:
    """Where a payment's money is now (its allocations and open entries), as a text table."""
    rows = tables.text_table(tables.ALLOCATIONS, allocations(ledger, payment_id))
    return f"Where {tables.printable(payment_id)}'s money is now\n{rows}"


def run(names: list[str], out: TextIO, *, colour: bool = False) -> Ledger:
    """Play the named scenarios into one ledger, printing each step; return the ledger."""
    ledger = Ledger.empty("USD")
    for name in names:
        steps = SCENARIOS[name]()
        print(f"\n===== Scenario: {name} — {SCENARIOS[name].__doc__} =====", file=out)
        for number, (step, after) in enumerate(play(steps, ledger), start=1):
            ledger = after
            print(f"\n--- Step {number}: {step.title}\n", file=out)
            print(patient_report(ledger, step.patient_id, colour=colour), file=out)
            for payment_id in step.payments:
                print(f"\n{allocations_report(ledger, payment_id)}", file=out)
        if name == "month":
            month_end = D(2025, 3, 31)
            print(f"\n--- Aging at month end ({month_end})\n", file=out)
            print(aging_report(ledger, month_end), file=out)
    return ledger
