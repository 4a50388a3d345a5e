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
from tests.model import MEntry, Model, Refused

E = pl.ErrorCode
START = datetime.date(2025, 1, 1)
PATIENTS = ["P0", "P1", "P2", "NEW"]
APPOINTMENTS = [f"A{n}" for n in range(6)]
CHARGES = [f"C{n}" for n in range(8)]
PAYMENTS = [f"PAY{n}" for n in range(12)] + [f"R{n}" for n in range(6)]
PROVIDERS = [None, "DR1", "DR2"]

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

    def line(self, data: st.DataObject, aid: str | None) -> str | None:
        """Mostly no line; else mostly a line of the appointment, sometimes any charge id."""
        pick = data.draw(st.integers(0, 9))
        if pick < 6:
            return None
        if pick < 9 and aid is not None and self.model.lines(aid):
            return data.draw(st.sampled_from(self.model.lines(aid)))
        return data.draw(st.sampled_from(CHARGES))

    def check_line(self, cid: str | None, aid: str | None, pid: str) -> str | None:
        """SPEC §10's checks of a named line; the appointment the money goes to."""
        m = self.model
        if cid is None:
            return aid
        if cid not in m.charges:
            raise Refused(E.UNKNOWN_ID)
        line_aid: str = m.charges[cid][0]  # type: ignore[assignment]
        if m.owner(line_aid) != pid:
            raise Refused(E.PATIENT_MISMATCH)
        if aid is not None and line_aid != aid:
            raise Refused(E.INVALID_INPUT)
        return line_aid

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

    @rule(
        aid=st.sampled_from(APPOINTMENTS),
        pid=st.sampled_from(PATIENTS),
        day=days,
        provider=st.sampled_from(PROVIDERS),
    )
    def add_appointment(
        self, aid: str, pid: str, day: datetime.date, provider: str | None = None
    ) -> None:
        value = pl.Appointment(aid, pid, day, provider)
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
            if aid in m.cancelled:
                raise Refused(E.APPOINTMENT_CANCELLED)
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
        cid = self.line(data, aid)
        value = pl.Payment(pay, pid, usd(minor), day, appointment_id=aid, charge_id=cid)
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
            target = self.check_line(cid, aid, pid)
            if target in m.cancelled:
                raise Refused(E.APPOINTMENT_CANCELLED)
            m.payments[pay] = value
            m.payment_amounts[pay] = minor
            m.payment_dates[pay] = day
            m.known.add(pid)
            m.paid[pid] = m.paid.get(pid, 0) + minor
            allocated = min(minor, m.due(target)) if target is not None else 0
            if allocated:
                m.place(target, pay, allocated, cid)  # type: ignore[arg-type]
            if minor > allocated:
                m.new_entry(pid, target, pay, day, minor - allocated)

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
                if aid in m.cancelled:
                    raise Refused(E.APPOINTMENT_CANCELLED)
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
        cid = self.line(data, aid)

        def predict() -> None:
            if pid not in m.known or aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            if m.owner(aid) != pid:
                raise Refused(E.PATIENT_MISMATCH)
            self.check_line(cid, aid, pid)
            if aid in m.cancelled:
                raise Refused(E.APPOINTMENT_CANCELLED)
            available, due = m.available(pid, None), m.due(aid)
            take = min(available, due) if minor is None else minor
            if minor is not None and minor > available:
                raise Refused(E.INSUFFICIENT_UNALLOCATED)
            if minor is not None and minor > due:
                raise Refused(E.OVER_APPLICATION)
            if take > 0:
                m.apply_from(pid, None, aid, take, cid)

        self.run(
            lambda led: pl.apply_unallocated(led, pid, aid, amount, on=day, charge_id=cid), predict
        )

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
        cid = self.line(data, aid)
        limit = 0
        if aid in m.appointments:
            limit = m.line_allocated(cid) if cid in m.charges else m.allocated(aid)
        minor = None if data.draw(st.booleans()) else self.amount(data, limit)

        def predict() -> None:
            if aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            self.check_line(cid, aid, m.owner(aid))
            if aid in m.cancelled:
                return
            held = m.allocated(aid) if cid is None else m.line_allocated(cid)
            take = held if minor is None else minor
            if take > held:
                raise Refused(E.INSUFFICIENT_ALLOCATED)
            if not take:
                return
            taken: dict[str, int] = {}  # one entry per payment, in the order taken
            for payment, part in m.take_allocations(aid, take, cid):
                taken[payment] = taken.get(payment, 0) + part
            for payment, part in taken.items():
                m.new_entry(m.owner(aid), None, payment, m.payment_dates[payment], part)
            m.auto_apply(aid)

        self.run(
            lambda led: pl.unapply(
                led, aid, None if minor is None else usd(minor), on=day, charge_id=cid
            ),
            predict,
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
            if aid in m.cancelled:
                return
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
            else m.line_due(cid)
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
            if kind is pl.AdjustmentType.WRITE_OFF and -signed > m.line_due(cid):
                raise Refused(E.OVER_APPLICATION)
            m.adjustments[adj] = value
            charge[1] += signed  # type: ignore[operator]
            freed = m.line_allocated(cid) - charge[1]  # type: ignore[operator]
            if freed > 0:  # newest freed first to the other lines, the rest to the bucket
                parts = m.take_allocations(aid, freed, cid)  # type: ignore[arg-type]
                room = sum(m.line_due(c) for c in m.lines(aid) if c != cid)  # type: ignore[arg-type]
                for payment, part in parts:
                    moved = min(part, room)
                    room -= moved
                    if moved:
                        m.place(aid, payment, moved)  # type: ignore[arg-type]
                    if part > moved:
                        day_paid = m.payment_dates[payment]
                        m.new_entry(m.owner(aid), aid, payment, day_paid, part - moved)  # type: ignore[arg-type]
            m.auto_apply(aid)  # type: ignore[arg-type]

        self.run(lambda led: pl.adjust_charge(led, value), predict)

    @rule(day=days, data=st.data(), partly=st.booleans())
    def reverse_payment(self, day: datetime.date, data: st.DataObject, partly: bool) -> None:
        m = self.model
        live = [p for p in m.payments if m.reversed.get(p, 0) != m.payment_amounts[p]]
        pay = self.pick(data, live, PAYMENTS)
        minor = self.amount(data, m.left(pay) if pay in m.payments else 0) if partly else None

        def predict() -> None:
            if pay not in m.payments:
                raise Refused(E.UNKNOWN_ID)
            if minor is not None and m.payment_amounts[pay] < 0:
                raise Refused(E.INVALID_INPUT)
            if m.reversed.get(pay, 0) == m.payment_amounts[pay]:
                raise Refused(E.ALREADY_REVERSED)
            held = [e for e in m.entries if e.payment == pay and e.amount != 0]
            plan: list[tuple[MEntry, int]] = []
            if minor is None:
                for e in held:
                    same = [
                        x for x in held if (x.patient, x.appointment) == (e.patient, e.appointment)
                    ]
                    if m.available(e.patient, e.appointment) - sum(x.amount for x in same) < 0:
                        raise Refused(E.INSUFFICIENT_UNALLOCATED)
                if m.left(pay) != m.payment_amounts[pay] - m.reversed.get(pay, 0):
                    raise Refused(E.INSUFFICIENT_UNALLOCATED)
                plan = [(e, e.amount) for e in held]
                amount = sum(r[2] for r in m.allocations if r[1] == pay)  # type: ignore[misc]
            else:
                if minor > m.left(pay):
                    raise Refused(E.INVALID_AMOUNT)
                amount, drawn = minor, dict[tuple[str, str | None], int]()
                for e in sorted(held, key=lambda e: (e.received_on, e.seq), reverse=True):
                    if not amount:
                        break
                    take = min(e.amount, amount)
                    where = (e.patient, e.appointment)
                    if m.available(*where) - drawn.get(where, 0) - take < 0:
                        raise Refused(E.INSUFFICIENT_UNALLOCATED)
                    drawn[where] = drawn.get(where, 0) + take
                    plan.append((e, take))
                    amount -= take
            m.reversed[pay] = m.reversed.get(pay, 0) + (minor or m.left(pay))
            touched = []
            for record in reversed(m.allocations):  # newest first
                if record[1] != pay or not amount:
                    continue
                take = min(record[2], amount)  # type: ignore[type-var]
                record[2] -= take  # type: ignore[operator]
                amount -= take
                m.paid[m.owner(record[0])] -= take  # type: ignore[arg-type]
                touched.append(record[0])
            m.allocations = [r for r in m.allocations if r[2]]
            for e, take in plan:
                m.paid[e.patient] -= take
                if e.appointment is not None:
                    touched.append(e.appointment)
                e.amount -= take
            for aid in dict.fromkeys(touched):
                m.auto_apply(aid)  # type: ignore[arg-type]

        self.run(
            lambda led: pl.reverse_payment(led, pay, None if minor is None else usd(minor), on=day),
            predict,
        )

    @rule(day=days, data=st.data())
    def cancel_appointment(self, day: datetime.date, data: st.DataObject) -> None:
        m = self.model
        empty = [a for a in m.appointments if not m.lines(a)]
        aid = self.pick(data, empty, APPOINTMENTS)

        def predict() -> None:
            if aid not in m.appointments:
                raise Refused(E.UNKNOWN_ID)
            if aid in m.cancelled:
                return
            if m.lines(aid):
                raise Refused(E.INVALID_INPUT)
            m.cancelled.add(aid)
            for e in m.entries:
                if e.appointment == aid and e.amount:
                    e.appointment = None

        self.run(lambda led: pl.cancel_appointment(led, aid, on=day), predict)

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

    @rule(
        day=days,
        data=st.data(),
        order=st.sampled_from(pl.AllocationOrder),
        provider=st.sampled_from(PROVIDERS),
    )
    def auto_allocate(
        self,
        day: datetime.date,
        data: st.DataObject,
        order: pl.AllocationOrder,
        provider: str | None,
    ) -> None:
        m = self.model
        pid = self.patient(data)

        def predict() -> None:
            if pid not in m.known:
                raise Refused(E.UNKNOWN_ID)
            chosen = [
                a
                for a in m.patient_appointments(pid)
                if m.appointments[a][1] <= day
                and m.due(a) > 0
                and provider in (None, m.appointment_values[a].provider)  # type: ignore[attr-defined]
            ]
            if order is pl.AllocationOrder.SMALLEST_FIRST:
                chosen.sort(key=lambda a: (m.due(a), m.appointments[a][1], a))
            for aid in chosen:
                available = m.available(pid, None)
                if order is pl.AllocationOrder.SMALLEST_FIRST and m.due(aid) > available:
                    continue
                take = min(available, m.due(aid))
                if take > 0:
                    m.apply_from(pid, None, aid, take)

        self.run(
            lambda led: pl.auto_allocate(led, pid, on=day, order=order, provider=provider),
            predict,
        )

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
                if a not in m.cancelled
            ]
            for a in appointments:
                items = [
                    (i.charge_id, to_minor(i.responsibility, "x"), to_minor(i.paid, "x"))
                    for i in pl.line_items(ledger, a)
                ]
                assert items == [(c, m.charges[c][1], m.line_allocated(c)) for c in m.lines(a)]
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
