"""Payment plans (SPEC §11) under generated activity: a model of what each payment counts,
kept from §11's text, against the engine; §6's and §11's invariants; the journal and snapshots.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.persist import journal, snapshot

D = datetime.date
START = D(2025, 1, 1)
PATIENTS = ("P1", "P2")


def usd(cents: int) -> Money:
    return Money(cents, "USD") / 100


_step = st.one_of(
    st.tuples(st.just("appointment"), st.sampled_from(PATIENTS), st.integers(0, 120),
              st.integers(0, 40_000)),
    st.tuples(st.just("plan"), st.sampled_from(PATIENTS), st.integers(1, 8_000),
              st.integers(1, 6), st.booleans(), st.integers(0, 60)),
    st.tuples(st.just("pay"), st.integers(0, 9), st.integers(1, 15_000), st.integers(0, 200)),
    st.tuples(st.just("skip"), st.integers(0, 9), st.integers(1, 4)),
    st.tuples(st.just("cancel"), st.integers(0, 9)),
    st.tuples(st.just("reverse"), st.integers(0, 30), st.integers(0, 15_000)),
    st.tuples(st.just("other"), st.sampled_from(PATIENTS), st.integers(1, 5_000)),
)  # fmt: skip


class Model:
    """What SPEC §11 says each plan payment counts, kept from its text alone."""

    def __init__(self) -> None:
        self.ledger = pl.Ledger.empty()
        self.plans: list[str] = []
        self.amount: dict[str, int] = {}
        self.counted: dict[str, tuple[str, int]] = {}  # payment -> (plan, counts)
        self.payments: list[str] = []
        self.n = 0

    def paid(self, plan_id: str) -> int:
        return sum(c for p, c in self.counted.values() if p == plan_id)

    def run(self, step: tuple[Any, ...]) -> None:
        self.n += 1
        kind, *args = step
        with contextlib.suppress(pl.LedgerError):  # a refusal: the ledger is as it was
            getattr(self, kind)(*args)

    def appointment(self, pid: str, day: int, cents: int) -> None:
        aid = f"A{self.n}"
        self.ledger = pl.add_appointment(
            self.ledger, pl.Appointment(aid, pid, START + datetime.timedelta(days=day))
        )
        self.ledger = pl.add_charge(self.ledger, pl.Charge(f"C{self.n}", aid, usd(cents)))

    def plan(self, pid: str, cents: int, count: int, on_appointments: bool, day: int) -> None:
        plan_id = f"PL{self.n}"
        created = START + datetime.timedelta(days=day)
        appointments: tuple[str, ...] = ()
        amount: Money | None = usd(cents)
        if on_appointments:
            owing = [r.appointment_id for r in pl.claims_feed(self.ledger, pid) if r.balance_due]
            if owing:
                appointments, amount = tuple(owing[:2]), None
        plan = pl.PaymentPlan(plan_id, pid, amount, count, created, created, appointments)
        self.ledger = pl.create_payment_plan(self.ledger, plan)
        self.plans.append(plan_id)
        status = next(
            s for s in pl.payment_plans(self.ledger, pid, on=created) if s.plan_id == plan_id
        )
        self.amount[plan_id] = int(status.amount.amount * 100)

    def pay(self, which: int, cents: int, day: int) -> None:
        if not self.plans:
            return
        plan_id = self.plans[which % len(self.plans)]
        owner = next(s.patient_id for s in self._statuses() if s.plan_id == plan_id)
        payment_id = f"PAY{self.n}"
        payment = pl.Payment(
            payment_id, owner, usd(cents), START + datetime.timedelta(days=day), plan_id=plan_id
        )
        self.ledger = pl.post_payment(self.ledger, payment)
        remaining = self.amount[plan_id] - self.paid(plan_id)
        self.counted[payment_id] = (plan_id, min(cents, remaining))
        self.payments.append(payment_id)

    def skip(self, which: int, number: int) -> None:
        if self.plans:
            plan_id = self.plans[which % len(self.plans)]
            self.ledger = pl.skip_installment(self.ledger, plan_id, number, on=START)

    def cancel(self, which: int) -> None:
        if self.plans:
            plan_id = self.plans[which % len(self.plans)]
            self.ledger = pl.cancel_payment_plan(self.ledger, plan_id, on=START)

    def reverse(self, which: int, cents: int) -> None:
        if not self.payments:
            return
        payment_id = self.payments[which % len(self.payments)]
        amount = usd(cents) if cents else None
        self.ledger = pl.reverse_payment(self.ledger, payment_id, amount, on=START)
        left = int(pl.payment_status(self.ledger, payment_id).left.amount * 100)
        plan_id, counts = self.counted[payment_id]
        self.counted[payment_id] = (plan_id, min(counts, left))

    def other(self, pid: str, cents: int) -> None:
        self.ledger = pl.post_payment(self.ledger, pl.Payment(f"O{self.n}", pid, usd(cents), START))

    def _statuses(self) -> list[pl.PlanStatus]:
        known = pl.patients(self.ledger)
        return [s for pid in known for s in pl.payment_plans(self.ledger, pid, on=START)]


_appointments = st.lists(
    st.tuples(
        st.just("appointment"),
        st.sampled_from(PATIENTS),
        st.integers(0, 120),
        st.integers(1, 40_000),
    ),
    min_size=1,
    max_size=4,
)
_plans = st.lists(
    st.tuples(
        st.just("plan"),
        st.sampled_from(PATIENTS),
        st.integers(1, 8_000),
        st.integers(1, 6),
        st.booleans(),
        st.integers(0, 60),
    ),
    min_size=1,
    max_size=3,
)
_activity = st.lists(
    st.one_of(
        *[st.tuples(st.just("pay"), st.integers(0, 9), st.integers(1, 6_000), st.integers(0, 200))]
        * 3,
        _step,
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(_appointments, _plans, _activity).map(lambda parts: [s for p in parts for s in p]),
    st.integers(0, 400),
)  # fmt: skip
def test_plans_under_generated_activity(steps: list[tuple[Any, ...]], day: int) -> None:
    model = Model()
    for step in steps:
        model.run(step)
    ledger = model.ledger
    on = START + datetime.timedelta(days=day)
    assert pl.check_invariants(ledger) == ()
    statuses = [s for pid in pl.patients(ledger) for s in pl.payment_plans(ledger, pid, on=on)]
    assert sorted(s.plan_id for s in statuses) == sorted(model.plans)
    for s in statuses:
        paid = int(s.paid.amount * 100)
        assert paid == model.paid(s.plan_id)
        assert 0 <= paid <= int(s.amount.amount * 100)
        schedule = pl.installments(ledger, s.plan_id, on=on)
        not_skipped = [i for i in schedule if i.status is not pl.InstallmentStatus.SKIPPED]
        assert sum(i.amount.amount for i in not_skipped) == s.amount.amount
        assert sum(i.paid.amount for i in not_skipped) == s.paid.amount
        assert s.remaining == s.amount - s.paid
        # the report's quick figures against the installments, one by one (SPEC §11)
        open_ = [i for i in schedule if i.status.value not in ("PAID", "SKIPPED")]
        assert s.next_due_on == (open_[0].due_on if open_ else None)
        assert s.next_due_amount == (open_[0].amount - open_[0].paid if open_ else None)
        assert s.overdue.amount == sum(
            (i.amount.amount - i.paid.amount for i in not_skipped if i.due_on < on), start=0
        )
        assert s.installment_amount == schedule[0].amount
        if s.status is not pl.PlanState.CANCELLED:
            assert (s.status is pl.PlanState.COMPLETED) == (not s.remaining.amount)
    report = pl.plan_report(ledger, on=on)
    assert {s.plan_id for s in report} == {
        s.plan_id for s in statuses if s.status is pl.PlanState.ACTIVE
    }
    keys = [(s.next_due_on, s.plan_id) for s in report]
    assert keys == sorted(keys)  # type: ignore[type-var] # an active plan has a next due day
    text = journal.dumps(ledger)
    again = journal.loads(text)
    assert again == ledger
    assert journal.dumps(again) == text
    data = snapshot.encode(ledger)
    assert snapshot.holds(data, ledger)
    assert pl.plan_report(snapshot.decode(data, ledger.events), on=on) == report
