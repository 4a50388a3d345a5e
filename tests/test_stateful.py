"""A model-based state machine: every command against the naive model in tests/model.py.

For each generated command the model predicts success or the exact ErrorCode; after every step
every dashboard, claims-feed row and open entry agrees with the model; earlier ledger values are
unchanged; teardown replays the journal to an equal ledger.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from moneyed import Money

import patient_ledger as pl
from patient_ledger.money import to_minor, to_money
from patient_ledger.testing import check_invariants
from tests.model import Model, Refused

E = pl.ErrorCode
START = datetime.date(2025, 1, 1)
PATIENTS = ["P0", "P1", "P2", "NEW"]
APPOINTMENTS = [f"A{n}" for n in range(6)]
CHARGES = [f"C{n}" for n in range(8)]
PAYMENTS = [f"PAY{n}" for n in range(12)] + [f"R{n}" for n in range(6)]

days = st.integers(0, 90).map(lambda n: START + datetime.timedelta(days=n))
cents = st.integers(1, 20_000)


def usd(minor: int) -> Money:
    return to_money(minor, "USD")


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = pl.Ledger.empty("USD")
        self.model = Model()
        self.earlier: list[tuple[pl.Ledger, int, dict[str, object]]] = []
        self.steps = 0

    # -- running a command against a prediction -----------------------------------------

    def run(self, command: Callable[[pl.Ledger], pl.Ledger], predict: Callable[[], None]) -> None:
        """``predict`` checks the model's rules (raising Refused) and, if none is broken, changes
        the model; the command must then succeed, or fail with the predicted code."""
        before = self.ledger
        try:
            predict()
        except Refused as refused:
            try:
                command(before)
            except pl.LedgerError as error:
                assert error.code is refused.code, f"expected {refused.code}, got {error!r}"
                return
            msg = f"expected {refused.code}, the command was accepted"
            raise AssertionError(msg) from None
        self.ledger = command(before)
        self.steps += 1
        if self.steps % 5 == 0:
            self.earlier.append((before, len(before.events), self.snapshot(before)))

    @staticmethod
    def snapshot(ledger: pl.Ledger) -> dict[str, object]:
        return {
            p: (pl.dashboard(ledger, p), pl.claims_feed(ledger, p)) for p in pl.patients(ledger)
        }

    def pick(self, data: st.DataObject, known: list[str], pool: list[str]) -> str:
        """Mostly an id the ledger knows; sometimes any id of the pool (unknown ones too)."""
        if known and data.draw(st.integers(0, 9)) < 8:
            return data.draw(st.sampled_from(sorted(known)))
        return data.draw(st.sampled_from(pool))

    def patient(self, data: st.DataObject) -> str:
        return self.pick(data, list(self.model.known), PATIENTS)

    def appointment(self, data: st.DataObject, patient: str | None = None) -> str:
        mine = [a for a, (p, _) in self.model.appointments.items() if patient in (None, p)]
        return self.pick(data, mine, APPOINTMENTS)

    def amount(self, data: st.DataObject, around: int, also: tuple[int, ...] = ()) -> int:
        """An amount near a limit: the limit, one minor unit either side, or anything."""
        choices = [cents, *(st.just(a) for a in also if a > 0)]
        if around > 0:
            choices += [st.just(around), st.just(around + 1), st.integers(1, around)]
            if around > 1:
                choices.append(st.just(around - 1))
        return data.draw(st.one_of(*choices))

    # -- rules ----------------------------------------------------------------------------

    @initialize(data=st.data())
    def open_the_practice(self, data: st.DataObject) -> None:
        """Start from a few booked appointments (some charged, some prepaid), so that the rules
        meet balances from the first step; appointments A4 and A5 are left for the rules."""
        for n in range(4):
            self.add_appointment(f"A{n}", PATIENTS[n % 3], data.draw(days))
        for n in range(data.draw(st.integers(0, 3))):
            self.add_charge(f"C{n}", data.draw(st.integers(0, 20_000)), data)
        for n in range(data.draw(st.integers(0, 3))):
            general = data.draw(st.booleans())
            self.post_payment(f"PAY{n}", general, data.draw(cents), data.draw(days), data)

    @rule(aid=st.sampled_from(APPOINTMENTS), pid=st.sampled_from(PATIENTS), day=days)
    def add_appointment(self, aid: str, pid: str, day: datetime.date) -> None:
        value = pl.Appointment(aid, pid, day)
        m = self.model

        def predict() -> None:
            if aid in m.appointment_values:
                if m.appointment_values[aid] == value:
                    return
                raise Refused(E.DUPLICATE_ID)
            m.appointments[aid] = (pid, day)
            m.appointment_values[aid] = value
            m.known.add(pid)

        self.run(lambda led: pl.add_appointment(led, value), predict)

    @rule(cid=st.sampled_from(CHARGES), minor=st.integers(0, 20_000), data=st.data())
    def add_charge(self, cid: str, minor: int, data: st.DataObject) -> None:
        aid = self.appointment(data)
        value = pl.Charge(cid, aid, usd(minor))
        m = self.model

        def predict() -> None:
            if cid in m.charges:
                if m.charges[cid][2] == value:
                    return
                raise Refused(E.DUPLICATE_ID)
            if aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            m.charges[cid] = [aid, minor, value]
            m.auto_apply(aid)

        self.run(lambda led: pl.add_charge(led, value), predict)

    @rule(
        pay=st.sampled_from(PAYMENTS[:12]),
        general=st.booleans(),
        minor=cents,
        day=days,
        data=st.data(),
    )
    def post_payment(
        self, pay: str, general: bool, minor: int, day: datetime.date, data: st.DataObject
    ) -> None:
        aid = None if general else self.appointment(data)
        owner = self.model.appointments.get(aid or "", (None,))[0]
        pid = owner if owner and data.draw(st.integers(0, 9)) < 9 else self.patient(data)
        value = pl.Payment(pay, pid, usd(minor), day, appointment_id=aid)
        m = self.model

        def predict() -> None:
            if pay in m.payments:
                if m.payments[pay] == value:
                    return
                raise Refused(E.DUPLICATE_ID)
            if aid is not None:
                if aid not in m.appointments:
                    raise Refused(E.UNKNOWN_ID)
                if m.owner(aid) != pid:
                    raise Refused(E.PATIENT_MISMATCH)
            m.payments[pay] = value
            m.payment_amounts[pay] = minor
            m.payment_dates[pay] = day
            m.known.add(pid)
            m.paid[pid] = m.paid.get(pid, 0) + minor
            allocated = min(minor, m.due(aid)) if aid is not None else 0
            if allocated:
                m.allocations.append([aid, pay, allocated])
            if minor > allocated:
                m.new_entry(pid, aid, pay, day, minor - allocated)

        self.run(lambda led: pl.post_payment(led, value), predict)

    @rule(rid=st.sampled_from(PAYMENTS[12:]), general=st.booleans(), day=days, data=st.data())
    def refund(self, rid: str, general: bool, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        pid = self.patient(data)
        aid = None if general else self.appointment(data, pid)
        known = aid is None or aid in m.appointments
        held = m.available(pid, aid) if known else 0
        positives = tuple(e.amount for e in m.bucket(pid, aid) if e.amount > 0) if known else ()
        minor = self.amount(data, held, positives)
        value = pl.Payment(
            rid, pid, usd(-minor), day, type=pl.PaymentType.REFUND, appointment_id=aid
        )

        def predict() -> None:
            if rid in m.payments:
                if m.payments[rid] == value:
                    return
                raise Refused(E.DUPLICATE_ID)
            if pid not in m.known:
                raise Refused(E.UNKNOWN_ID)
            if aid is not None:
                if aid not in m.appointments:
                    raise Refused(E.UNKNOWN_ID)
                if m.owner(aid) != pid:
                    raise Refused(E.PATIENT_MISMATCH)
            if minor > m.available(pid, aid):
                raise Refused(E.INSUFFICIENT_UNALLOCATED)
            m.payments[rid] = value
            m.payment_amounts[rid] = -minor
            m.payment_dates[rid] = day
            m.paid[pid] = m.paid.get(pid, 0) - minor
            m.new_entry(pid, aid, rid, day, -minor)

        self.run(lambda led: pl.refund(led, value), predict)

    @rule(day=days, data=st.data())
    def apply_unallocated(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        funded = [p for p in m.known if m.available(p, None) > 0]
        pid = self.pick(data, funded, PATIENTS) if funded else self.patient(data)
        owing = [a for a, (p, _) in m.appointments.items() if p == pid and m.due(a) > 0]
        aid = self.pick(data, owing, APPOINTMENTS) if owing else self.appointment(data, pid)
        limit = m.available(pid, None) if pid in m.known else 0
        minor = None if data.draw(st.booleans()) else self.amount(data, limit)
        amount = None if minor is None else usd(minor)

        def predict() -> None:
            if pid not in m.known or aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            if m.owner(aid) != pid:
                raise Refused(E.PATIENT_MISMATCH)
            available, due = m.available(pid, None), m.due(aid)
            take = min(available, due) if minor is None else minor
            if minor is not None and minor > available:
                raise Refused(E.INSUFFICIENT_UNALLOCATED)
            if minor is not None and minor > due:
                raise Refused(E.OVER_APPLICATION)
            if take > 0:
                m.apply_from(pid, None, aid, take)

        self.run(lambda led: pl.apply_unallocated(led, pid, aid, amount, on=day), predict)

    @rule(day=days, data=st.data())
    def cancel_offsetting(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        pid = self.patient(data)

        def predict() -> None:
            if pid not in m.known:
                raise Refused(E.UNKNOWN_ID)
            for aid in [None, *m.patient_appointments(pid)]:
                negatives = [e for e in m.bucket(pid, aid) if e.amount < 0]
                need = -sum(e.amount for e in negatives)
                if need:
                    for e, take in m.draw(pid, aid, need):
                        e.amount -= take
                        e.cancelled += take
                    for e in negatives:
                        e.cancelled += e.amount
                        e.amount = 0

        self.run(lambda led: pl.cancel_offsetting(led, pid, on=day), predict)

    @rule(pid=st.sampled_from(PATIENTS), data=st.data(), day=days)
    def cancel_chosen_entries(self, pid: str, data: st.DataObject, day: datetime.date) -> None:
        m = self.model
        listing = list(pl.unallocated_entries(self.ledger, pid)) if pid in m.known else []
        mine = m.open_entries(pid) if pid in m.known else []
        assert len(listing) == len(mine)
        others = [
            e
            for p in PATIENTS
            if p != pid and p in m.known
            for e in pl.unallocated_entries(self.ledger, p)
        ]
        pool = list(range(len(listing))) + [-1 - n for n in range(len(others))]
        if not pool:
            return
        pairs = [
            [i, j]
            for i, a in enumerate(mine)
            for j, b in enumerate(mine)
            if a.amount < 0 < b.amount and a.amount == -b.amount and a.appointment == b.appointment
        ]
        if pairs and data.draw(st.booleans()):
            chosen = data.draw(st.sampled_from(pairs))
        else:
            chosen = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        ids = [listing[n].id if n >= 0 else others[-1 - n].id for n in chosen]

        def predict() -> None:
            if pid not in m.known:
                raise Refused(E.UNKNOWN_ID)
            if any(n < 0 for n in chosen):
                raise Refused(E.NOT_OFFSETTING)
            picked = [mine[n] for n in chosen]
            if len({e.appointment for e in picked}) > 1 or sum(e.amount for e in picked):
                raise Refused(E.NOT_OFFSETTING)
            for e in picked:
                e.cancelled += e.amount
                e.amount = 0

        self.run(lambda led: pl.cancel_offsetting(led, pid, ids, on=day), predict)

    @rule(day=days, data=st.data())
    def unapply(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        paid_to = [a for a in m.appointments if m.allocated(a) > 0]
        aid = self.pick(data, paid_to, APPOINTMENTS) if paid_to else self.appointment(data)
        limit = m.allocated(aid) if aid in m.appointments else 0
        minor = None if data.draw(st.booleans()) else self.amount(data, limit)

        def predict() -> None:
            if aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            take = m.allocated(aid) if minor is None else minor
            if take > m.allocated(aid):
                raise Refused(E.INSUFFICIENT_ALLOCATED)
            if not take:
                return
            for payment, part in m.take_allocations(aid, take):
                m.new_entry(m.owner(aid), None, payment, m.payment_dates[payment], part)
            m.auto_apply(aid)

        self.run(
            lambda led: pl.unapply(led, aid, None if minor is None else usd(minor), on=day), predict
        )

    @rule(day=days, data=st.data())
    def release_credit(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        holding = [a for a in m.appointments if m.available(m.owner(a), a) > 0]
        aid = self.pick(data, holding, APPOINTMENTS) if holding else self.appointment(data)
        limit = m.available(m.owner(aid), aid) if aid in m.appointments else 0
        minor = None if data.draw(st.booleans()) else self.amount(data, limit)

        def predict() -> None:
            if aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            available = m.available(m.owner(aid), aid)
            take = available if minor is None else minor
            if take > available:
                raise Refused(E.INSUFFICIENT_UNALLOCATED)
            if take > 0:
                m.move(m.owner(aid), aid, m.owner(aid), take)

        self.run(
            lambda led: pl.release_credit(led, aid, None if minor is None else usd(minor), on=day),
            predict,
        )

    @rule(
        adj=st.sampled_from([f"ADJ{n}" for n in range(8)]),
        kind=st.sampled_from(pl.AdjustmentType),
        down=st.booleans(),
        day=days,
        data=st.data(),
    )
    def adjust_charge(
        self, adj: str, kind: pl.AdjustmentType, down: bool, day: datetime.date, data: st.DataObject
    ) -> None:
        m = self.model
        cid = self.pick(data, list(m.charges), CHARGES)
        charge = m.charges.get(cid)
        limit = (
            0
            if charge is None
            else m.due(charge[0])
            if kind is pl.AdjustmentType.WRITE_OFF
            else charge[1]
        )  # type: ignore[index,arg-type]
        size = self.amount(data, limit)  # type: ignore[arg-type]
        signed = -size if down or kind is pl.AdjustmentType.WRITE_OFF else size
        value = pl.Adjustment(adj, cid, usd(signed), day, kind)

        def predict() -> None:
            if adj in m.adjustments:
                if m.adjustments[adj] == value:
                    return
                raise Refused(E.DUPLICATE_ID)
            if charge is None:
                raise Refused(E.UNKNOWN_ID)
            aid = charge[0]
            if charge[1] + signed < 0:  # type: ignore[operator]
                raise Refused(E.OVER_APPLICATION)
            if kind is pl.AdjustmentType.WRITE_OFF and -signed > m.due(aid):  # type: ignore[arg-type]
                raise Refused(E.OVER_APPLICATION)
            m.adjustments[adj] = value
            charge[1] += signed  # type: ignore[operator]
            excess = m.allocated(aid) - m.charged(aid)  # type: ignore[arg-type]
            if excess > 0:
                for payment, part in m.take_allocations(aid, excess):  # type: ignore[arg-type]
                    m.new_entry(m.owner(aid), aid, payment, m.payment_dates[payment], part)  # type: ignore[arg-type]
            m.auto_apply(aid)  # type: ignore[arg-type]

        self.run(lambda led: pl.adjust_charge(led, value), predict)

    @rule(day=days, data=st.data())
    def reverse_payment(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        pay = self.pick(data, [p for p in m.payments if p not in m.reversed], PAYMENTS)

        def predict() -> None:
            if pay not in m.payments:
                raise Refused(E.UNKNOWN_ID)
            if pay in m.reversed:
                raise Refused(E.ALREADY_REVERSED)
            records = [r for r in m.allocations if r[1] == pay]
            held = [e for e in m.entries if e.payment == pay and e.amount != 0]
            for e in held:
                same = [x for x in held if (x.patient, x.appointment) == (e.patient, e.appointment)]
                if m.available(e.patient, e.appointment) - sum(x.amount for x in same) < 0:
                    raise Refused(E.INSUFFICIENT_UNALLOCATED)
            accounted = sum(r[2] for r in records) + sum(e.amount for e in held)  # type: ignore[misc]
            if accounted != m.payment_amounts[pay]:
                raise Refused(E.INSUFFICIENT_UNALLOCATED)
            m.reversed.add(pay)
            touched = []
            for r in records:
                m.paid[m.owner(r[0])] -= r[2]  # type: ignore[arg-type,operator]
                touched.append(r[0])
            m.allocations = [r for r in m.allocations if r[1] != pay]
            for e in held:
                m.paid[e.patient] -= e.amount
                if e.appointment is not None:
                    touched.append(e.appointment)
                e.amount = 0
            for aid in dict.fromkeys(touched):
                m.auto_apply(aid)  # type: ignore[arg-type]

        self.run(lambda led: pl.reverse_payment(led, pay, on=day), predict)

    @rule(
        tid=st.sampled_from([f"T{n}" for n in range(5)]),
        to=st.sampled_from([*PATIENTS, "NEW"]),
        day=days,
        data=st.data(),
    )
    def transfer_credit(self, tid: str, to: str, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        source = self.patient(data)
        if source == to:
            return
        minor = self.amount(data, m.available(source, None) if source in m.known else 0)
        value = pl.Transfer(tid, source, to, usd(minor), day)

        def predict() -> None:
            if tid in m.transfers:
                if m.transfers[tid] == value:
                    return
                raise Refused(E.DUPLICATE_ID)
            if source not in m.known:
                raise Refused(E.UNKNOWN_ID)
            if minor > m.available(source, None):
                raise Refused(E.INSUFFICIENT_UNALLOCATED)
            m.transfers[tid] = value
            m.known.add(to)
            m.move(source, None, to, minor)
            m.paid[source] = m.paid.get(source, 0) - minor
            m.paid[to] = m.paid.get(to, 0) + minor

        self.run(lambda led: pl.transfer_credit(led, value), predict)

    @rule(day=days, data=st.data())
    def auto_allocate(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        pid = self.patient(data)

        def predict() -> None:
            if pid not in m.known:
                raise Refused(E.UNKNOWN_ID)
            for aid in m.patient_appointments(pid):
                if m.appointments[aid][1] > day:
                    break
                take = min(m.available(pid, None), m.due(aid))
                if take > 0:
                    m.apply_from(pid, None, aid, take)

        self.run(lambda led: pl.auto_allocate(led, pid, on=day), predict)

    # -- what must always hold --------------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        m, ledger = self.model, self.ledger
        assert set(pl.patients(ledger)) == m.known
        for pid in m.known:
            d = pl.dashboard(ledger, pid)
            appointments = m.patient_appointments(pid)
            allocated = sum(m.allocated(a) for a in appointments)
            unallocated = sum(e.amount for e in m.open_entries(pid))
            responsibility = sum(m.charged(a) for a in appointments)
            paid = m.paid.get(pid, 0)
            assert [
                to_minor(x, "x")
                for x in (
                    d.total_paid,
                    d.allocated,
                    d.unallocated,
                    d.patient_responsibility,
                    d.statement_balance,
                    d.total_balance,
                )
            ] == [
                paid,
                allocated,
                unallocated,
                responsibility,
                responsibility - allocated,
                responsibility - paid,
            ]
            rows = [
                (
                    r.appointment_id,
                    r.date,
                    to_minor(r.patient_responsibility, "x"),
                    to_minor(r.paid, "x"),
                    to_minor(r.balance_due, "x"),
                    to_minor(r.appointment_unallocated, "x"),
                    to_minor(r.patient_unallocated, "x"),
                )
                for r in pl.claims_feed(ledger, pid)
            ]
            assert rows == [
                (
                    a,
                    m.appointments[a][1],
                    m.charged(a),
                    m.allocated(a),
                    m.due(a),
                    m.available(pid, a),
                    unallocated,
                )
                for a in appointments
            ]
            listing = [
                (e.payment_id, e.appointment_id, to_minor(e.amount, "x"), e.received_on)
                for e in pl.unallocated_entries(ledger, pid)
            ]
            assert listing == [
                (e.payment, e.appointment, e.amount, e.received_on) for e in m.open_entries(pid)
            ]

    @invariant()
    def earlier_ledgers_are_unchanged(self) -> None:
        for ledger, length, snapshot in self.earlier[-3:]:
            assert len(ledger.events) == length
            assert self.snapshot(ledger) == snapshot

    @invariant()
    def keeps_every_invariant(self) -> None:
        if self.steps % 4 == 0:
            assert check_invariants(self.ledger) == ()

    def teardown(self) -> None:
        assert pl.replay(self.ledger.events) == self.ledger
        assert check_invariants(self.ledger) == ()


TestLedgerMachine = LedgerMachine.TestCase
