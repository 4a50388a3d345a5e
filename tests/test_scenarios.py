"""The seed's scenarios and SPEC §8's worked example, step by step."""

from __future__ import annotations

import patient_ledger as pl
from patient_ledger.testing import assert_invariants
from tests.helpers import D, appointment, charge, dash, entries, feed, pay, refund


def test_worked_example_of_spec_section_8() -> None:
    ledger = pl.Ledger.empty("USD")

    # 1. A1 on 2025-01-22 with a $100 charge; $100 posted to A1.
    ledger = appointment(ledger, "A1", day=D(2025, 1, 22))
    ledger = charge(ledger, "C1", "A1", "100.00")
    ledger = pay(ledger, "PAY1", "100.00", "A1")
    assert feed(ledger)[0][3] == "0.00"
    assert dash(ledger) == {
        "paid": "100.00",
        "allocated": "100.00",
        "unallocated": "0.00",
        "responsibility": "100.00",
        "statement": "0.00",
        "total": "0.00",
    }
    step1 = ledger

    # 2. $200 with no appointment: a credit shown on every feed row.
    ledger = pay(ledger, "PAY2", "200.00", day=D(2025, 1, 23))
    assert dash(ledger)["unallocated"] == "200.00"
    assert dash(ledger)["total"] == "-200.00"
    assert dash(ledger)["statement"] == "0.00"
    assert all(row[5] == "200.00" for row in feed(ledger))

    # 3. A2 with no charges; $20 posted to A2: the appointment's own unallocated payment.
    ledger = appointment(ledger, "A2", day=D(2025, 2, 5))
    ledger = pay(ledger, "PAY3", "20.00", "A2", day=D(2025, 1, 24))
    assert feed(ledger)[1] == ("A2", "0.00", "0.00", "0.00", "20.00", "220.00")
    assert dash(ledger)["unallocated"] == "220.00"

    # 4. A $35 charge on A2: the $20 is applied at once.
    ledger = charge(ledger, "C2", "A2", "35.00")
    assert feed(ledger)[1] == ("A2", "35.00", "20.00", "15.00", "0.00", "200.00")
    assert dash(ledger)["allocated"] == "120.00"
    assert dash(ledger)["unallocated"] == "200.00"

    # 5. Refund -$200 with no appointment.
    ledger = refund(ledger, "R1", "-200.00")
    assert dash(ledger)["unallocated"] == "0.00"
    assert dash(ledger)["paid"] == "120.00"
    assert entries(ledger) == [("PAY2", None, "200.00"), ("R1", None, "-200.00")]
    step5 = ledger

    # 6. Cancel offsetting: the open table is empty, every total as in step 5.
    ledger = pl.cancel_offsetting(ledger, "P1", on=D(2025, 1, 30))
    assert entries(ledger) == []
    assert dash(ledger) == dash(step5)
    assert feed(ledger) == feed(step5)

    # Earlier values never change, and every state keeps the invariants.
    assert dash(step1)["paid"] == "100.00"
    assert entries(step5) == [("PAY2", None, "200.00"), ("R1", None, "-200.00")]
    for n in range(1, len(ledger.events) + 1):
        assert_invariants(ledger.at(n))


def test_seed_a_100_balance_on_a_1_22_2025_service_is_paid_down() -> None:
    ledger = appointment(pl.Ledger.empty(), "A1", day=D(2025, 1, 22))
    ledger = charge(ledger, "C1", "A1", "100.00")
    partly = pay(ledger, "PAY1", "40.00", "A1")
    assert feed(partly)[0][1:4] == ("100.00", "40.00", "60.00")
    paid = pay(partly, "PAY2", "60.00", "A1")
    assert feed(paid)[0][1:4] == ("100.00", "100.00", "0.00")
    assert dash(paid)["statement"] == "0.00"


def test_seed_200_held_unallocated_is_shown_on_every_appointment() -> None:
    ledger = pl.Ledger.empty()
    for n, day in enumerate([D(2025, 1, 5), D(2025, 1, 22), D(2025, 3, 1)]):
        ledger = appointment(ledger, f"A{n}", day=day)
    ledger = charge(ledger, "C0", "A0", "50.00")
    ledger = pay(ledger, "PAY1", "200.00")
    rows = feed(ledger)
    assert [r[0] for r in rows] == ["A0", "A1", "A2"]
    assert {r[5] for r in rows} == {"200.00"}
    # Held money is not applied by itself to a balance due: A0 still owes $50.
    assert rows[0][3] == "50.00"
    # Once part is applied, every row shows what is left.
    ledger = pl.apply_unallocated(ledger, "P1", "A0", on=D(2025, 1, 6))
    assert [r[3] for r in feed(ledger)] == ["0.00", "0.00", "0.00"]
    assert {r[5] for r in feed(ledger)} == {"150.00"}


def test_seed_20_on_an_appointment_without_charges_is_applied_when_charges_come() -> None:
    ledger = appointment(pl.Ledger.empty(), "A2", day=D(2025, 2, 5))
    ledger = pay(ledger, "PAY3", "20.00", "A2")
    assert dash(ledger)["unallocated"] == "20.00"
    assert feed(ledger)[0][4] == "20.00"
    ledger = charge(ledger, "C2", "A2", "12.00")
    # Only what the charge needs is applied; the rest stays in the appointment's bucket.
    assert feed(ledger)[0] == ("A2", "12.00", "12.00", "0.00", "8.00", "8.00")
    ledger = charge(ledger, "C3", "A2", "30.00")
    assert feed(ledger)[0] == ("A2", "42.00", "20.00", "22.00", "0.00", "0.00")


def test_seed_refund_of_unallocated_money_and_cancelling_the_entries() -> None:
    ledger = pay(pl.Ledger.empty(), "PAY1", "200.00")
    ledger = refund(ledger, "R1", "-200.00")
    assert dash(ledger)["unallocated"] == "0.00"
    # Until cancelled, both entries stay open; the refund holds back the payment.
    assert entries(ledger) == [("PAY1", None, "200.00"), ("R1", None, "-200.00")]
    [positive, negative] = pl.unallocated_entries(ledger, "P1")
    ledger = pl.cancel_offsetting(ledger, "P1", [positive.id, negative.id], on=D(2025, 2, 1))
    assert entries(ledger) == []
    assert dash(ledger)["paid"] == "0.00"
