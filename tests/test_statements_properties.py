"""SPEC §12, statements and the day sheet as properties, over ledgers the testing kit draws and
over the same commands posted in shuffled orders."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from moneyed import Money

import patient_ledger as pl
from patient_ledger.money import to_money
from patient_ledger.testing import ledgers

D = datetime.date
START = D(2025, 1, 1)
days = st.integers(-5, 130).map(lambda n: START + datetime.timedelta(days=n))
periods = st.tuples(days, days).map(sorted)


def total_paid_as_of(ledger: pl.Ledger, on: datetime.date) -> int | None:
    """The practice's Total Paid (cents) as of a day, or None where the cut is refused."""
    try:
        boards = pl.dashboards(ledger, on=on)
    except pl.DateOrderError:
        return None
    return sum(int(b.total_paid.amount * 100) for b in boards.values())


def cash(minor: int) -> Money:
    """An amount of whole cents, exactly (never through a float)."""
    return to_money(minor, "USD")


def cents(money: object) -> int:
    return int(money.amount * 100)  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(ledgers(max_steps=30), periods)
def test_a_statement_adds_up_and_agrees_with_the_dated_dashboard(
    ledger: pl.Ledger, period: list[datetime.date]
) -> None:
    start, end = period
    every = pl.statements(ledger, start=start, end=end)
    shown = {s.patient_id for s in every}
    assert every == tuple(pl.statement(ledger, s.patient_id, start=start, end=end) for s in every)
    for patient_id in pl.patients(ledger):
        s = pl.statement(ledger, patient_id, start=start, end=end)
        balance = s.opening_balance
        for line in s.lines:
            assert start <= line.day <= end
            assert line.amount.amount != 0
            balance += line.amount
            assert line.balance == balance
        assert balance == s.closing_balance
        assert [line.day for line in s.lines] == sorted(line.day for line in s.lines)
        closing = cents(s.closing_balance)
        assert cents(s.credit) == max(0, -closing)
        assert 0 <= cents(s.amount_due) <= max(0, closing)
        aged = s.aging
        assert sum(map(cents, (aged.current, aged.days_31_60, aged.days_61_90, aged.over_90))) == (
            max(0, closing)
        )
        assert (patient_id in shown) == bool(s.lines or closing)
        try:
            board = pl.dashboard(ledger, patient_id, on=end)
        except pl.DateOrderError:
            pass
        except pl.UnknownIdError:  # not known yet at the cut: nothing with a day by then
            assert closing == 0
        else:
            assert s.closing_balance == board.total_balance
        try:
            before = pl.dashboard(ledger, patient_id, on=start - datetime.timedelta(days=1))
        except (pl.DateOrderError, pl.UnknownIdError):
            pass
        else:
            assert s.opening_balance == before.total_balance
    # After every day of the journal, the closing balance is today's Total Balance.
    final = pl.statements(ledger, start=start, end=D(2026, 1, 1), patient_ids=pl.patients(ledger))
    for s in final:
        assert s.closing_balance == pl.dashboard(ledger, s.patient_id).total_balance


@settings(max_examples=150, deadline=None)
@given(ledgers(max_steps=30), periods)
def test_the_day_sheet_nets_the_change_in_total_paid(
    ledger: pl.Ledger, period: list[datetime.date]
) -> None:
    start, end = period
    sheet = pl.day_sheet(ledger, start, end)
    assert sum(cents(line.amount) for line in sheet.lines) == cents(sheet.net)
    assert sum(cents(t.net) for t in sheet.totals) == cents(sheet.net)
    assert [t.method for t in sheet.totals] == [
        m for m in pl.PaymentMethod if any(line.method is m for line in sheet.lines)
    ]
    for t in sheet.totals:
        mine = [cents(line.amount) for line in sheet.lines if line.method is t.method]
        assert t.count == len(mine)
        assert cents(t.received) == sum(a for a in mine if a > 0)
        assert cents(t.returned) == sum(a for a in mine if a < 0)
    assert all(start <= line.day <= end for line in sheet.lines)
    assert [line.day for line in sheet.lines] == sorted(line.day for line in sheet.lines)
    after, before = (
        total_paid_as_of(ledger, end),
        total_paid_as_of(ledger, start - datetime.timedelta(days=1)),
    )
    if after is not None and before is not None:
        assert cents(sheet.net) == after - before
    # Over every day of the journal: today's Total Paid of the practice.
    whole = pl.day_sheet(ledger, D(2024, 1, 1), D(2026, 1, 1))
    boards = pl.dashboards(ledger)
    assert cents(whole.net) == sum(cents(b.total_paid) for b in boards.values())
    # A day sheet's lines are the days' sheets' lines.
    one_by_one = [
        line
        for n in range((end - start).days + 1)
        for line in pl.day_sheet(ledger, start + datetime.timedelta(days=n)).lines
    ]
    assert tuple(one_by_one) == sheet.lines


# -- The same commands in another order -------------------------------------------------------

PATIENTS = ("P0", "P1", "P2")
Command = tuple[str, Callable[[pl.Ledger], pl.Ledger]]


@st.composite
def commands(draw: st.DrawFn) -> tuple[list[Command], list[Command]]:
    """Appointments, and commands whose moves of the Total Balance do not depend on the order
    of posting: charges (some posted on their own day), adjustments, payments to visits and
    held, refunds, transfers (only from P0) and reversals (only of P1's and P2's payments, whose
    money never leaves them)."""
    day = st.integers(0, 90).map(lambda n: START + datetime.timedelta(days=n))
    visits = draw(st.lists(st.tuples(st.sampled_from(PATIENTS), day), min_size=1, max_size=5))
    booked: list[Command] = [
        (f"A{n}", lambda led, a=pl.Appointment(f"A{n}", p, d): pl.add_appointment(led, a))
        for n, (p, d) in enumerate(visits)
    ]
    out: list[Command] = []
    method = st.sampled_from(pl.PaymentMethod)
    for n in range(draw(st.integers(1, 25))):
        kind = draw(st.sampled_from(["charge", "adjust", "pay", "refund", "transfer", "reverse"]))
        v = draw(st.integers(0, len(visits) - 1))
        patient, when = visits[v][0], draw(day)
        cents_ = draw(st.integers(1, 20_000))
        if kind == "charge":
            posted = draw(st.none() | day)
            c = pl.Charge(f"C{n}", f"A{v}", cash(cents_), posted_on=posted)
            out.append((kind, lambda led, c=c: pl.add_charge(led, c)))
        elif kind == "adjust" and n:
            signed = draw(st.sampled_from([1, -1])) * min(cents_, 500)
            a = pl.Adjustment(f"ADJ{n}", f"C{draw(st.integers(0, n - 1))}",
                              cash(signed), when, pl.AdjustmentType.INSURANCE)  # fmt: skip
            out.append((kind, lambda led, a=a: pl.adjust_charge(led, a)))
        elif kind == "pay":
            aid = draw(st.none() | st.just(f"A{v}"))
            p = pl.Payment(f"PAY{n}", patient, cash(cents_), when, draw(method),
                           appointment_id=aid, reference=f"#{n}")  # fmt: skip
            out.append((kind, lambda led, p=p: pl.post_payment(led, p)))
        elif kind == "refund":
            r = pl.Payment(f"R{n}", patient, cash(-min(cents_, 300)), when,
                           draw(method), pl.PaymentType.REFUND)  # fmt: skip
            out.append((kind, lambda led, r=r: pl.refund(led, r)))
        elif kind == "transfer":
            t = pl.Transfer(f"T{n}", "P0", draw(st.sampled_from(PATIENTS[1:])),
                            cash(min(cents_, 500)), when)  # fmt: skip
            out.append((kind, lambda led, t=t: pl.transfer_credit(led, t)))
        elif kind == "reverse" and n:
            target = f"PAY{draw(st.integers(0, n - 1))}"
            out.append((f"reverse {target}", lambda led, t=target, w=when: pl.reverse_payment(
                led, t, on=w)))  # fmt: skip
    return booked, out


def posted(
    booked: list[Command], steps: list[Command], order: list[int] | None
) -> tuple[pl.Ledger, set[int]]:
    """The ledger of the appointments, then ``steps`` (in ``order``); a refused step is tried
    again after the others. Which steps were accepted."""
    ledger = pl.Ledger.empty()
    for _, book in booked:
        ledger = book(ledger)
    queue = list(range(len(steps))) if order is None else order
    accepted: set[int] = set()
    for _ in range(2):
        refused = []
        for i in queue:
            try:
                ledger = steps[i][1](ledger)
            except pl.LedgerError:
                refused.append(i)
            else:
                accepted.add(i)
        queue = refused
    return ledger, accepted


def comparable(s: pl.Statement) -> tuple[object, ...]:
    """A statement with its lines of one day as a set: the journal orders those."""
    lines = sorted((line.day, line.kind, line.ref, line.description, line.amount.amount)
                   for line in s.lines)  # fmt: skip
    day_ends = {line.day: line.balance for line in s.lines}
    return (s.patient_id, s.opening_balance, s.closing_balance, s.amount_due, s.credit,
            s.plan_due, s.aging, lines, day_ends)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(commands(), st.randoms(use_true_random=False), periods)
def test_statements_do_not_depend_on_the_order_of_posting(
    drawn: tuple[list[Command], list[Command]], rnd: object, period: list[datetime.date]
) -> None:
    booked, steps = drawn
    first, accepted = posted(booked, steps, None)
    order = list(range(len(steps)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    booked_backwards = booked[::-1]
    second, accepted_again = posted(booked_backwards, steps, order)
    assume(accepted == accepted_again)
    # Reversals of P0's payments: its money may have moved to another patient first.
    for i in accepted:
        name = steps[i][0]
        if name.startswith("reverse"):
            payment_id = name.split()[1]
            assume(pl.payment_status(first, payment_id).payment.patient_id != "P0")
    start, end = period
    a = pl.statements(first, start=start, end=end)
    b = pl.statements(second, start=start, end=end)
    assert list(map(comparable, a)) == list(map(comparable, b))
    sheet_a, sheet_b = pl.day_sheet(first, start, end), pl.day_sheet(second, start, end)
    assert sheet_a.totals == sheet_b.totals
    assert sheet_a.net == sheet_b.net
    assert sorted(map(repr, sheet_a.lines)) == sorted(map(repr, sheet_b.lines))
