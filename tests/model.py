"""A deliberately naive reference model of the balances, for the state machine.

Plain lists and dicts, every figure recomputed by iterating; no persistent structures, no events.
It predicts, for each command, either the new balances or the exact ErrorCode.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from patient_ledger import ErrorCode


class Refused(Exception):  # noqa: N818 - a predicted refusal, not an error of the model
    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.name)
        self.code = code


@dataclass
class MEntry:
    seq: int
    patient: str
    appointment: str | None
    payment: str
    received_on: datetime.date
    amount: int  # open amount
    cancelled: int = 0


@dataclass
class Model:
    appointments: dict[str, tuple[str, datetime.date]] = field(default_factory=dict)
    appointment_values: dict[str, object] = field(default_factory=dict)
    charges: dict[str, list[object]] = field(default_factory=dict)  # id -> [aid, amount, value]
    payments: dict[str, object] = field(default_factory=dict)  # id -> Payment value
    payment_amounts: dict[str, int] = field(default_factory=dict)
    payment_dates: dict[str, datetime.date] = field(default_factory=dict)
    reversed: dict[str, int] = field(default_factory=dict)  # id -> amount reversed so far
    cancelled: set[str] = field(default_factory=set)
    adjustments: dict[str, object] = field(default_factory=dict)
    transfers: dict[str, object] = field(default_factory=dict)
    # [aid, payment, amount, charge_id], oldest placement first
    allocations: list[list[object]] = field(default_factory=list)
    entries: list[MEntry] = field(default_factory=list)
    paid: dict[str, int] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    seq: int = 0

    # -- reading --------------------------------------------------------------------------

    def charged(self, aid: str) -> int:
        return sum(c[1] for c in self.charges.values() if c[0] == aid)  # type: ignore[misc]

    def allocated(self, aid: str) -> int:
        return sum(a[2] for a in self.allocations if a[0] == aid)  # type: ignore[misc]

    def due(self, aid: str) -> int:
        return self.charged(aid) - self.allocated(aid)

    def lines(self, aid: str) -> list[str]:
        """The appointment's charges, in the order they were added."""
        return [cid for cid, c in self.charges.items() if c[0] == aid]

    def line_allocated(self, cid: str) -> int:
        return sum(a[2] for a in self.allocations if a[3] == cid)  # type: ignore[misc]

    def line_due(self, cid: str) -> int:
        return self.charges[cid][1] - self.line_allocated(cid)  # type: ignore[operator,no-any-return]

    def place(self, aid: str, payment: str, amount: int, first: str | None = None) -> None:
        """The named line first, then the others in line order, each up to its balance due."""
        order = self.lines(aid)
        if first is not None:
            order = [first] + [c for c in order if c != first]
        for cid in order:
            take = min(amount, self.line_due(cid))
            if take > 0:
                self.allocations.append([aid, payment, take, cid])
                amount -= take
        assert amount == 0

    def bucket(self, patient: str, aid: str | None) -> list[MEntry]:
        found = [
            e
            for e in self.entries
            if e.patient == patient and e.appointment == aid and e.amount != 0
        ]
        return sorted(found, key=lambda e: (e.received_on, e.seq))

    def available(self, patient: str, aid: str | None) -> int:
        return sum(e.amount for e in self.bucket(patient, aid))

    def left(self, payment: str) -> int:
        """What is left of a payment: its allocations and its open entries."""
        return sum(a[2] for a in self.allocations if a[1] == payment) + sum(  # type: ignore[misc]
            e.amount for e in self.entries if e.payment == payment
        )

    def owner(self, aid: str) -> str:
        return self.appointments[aid][0]

    def patient_appointments(self, patient: str) -> list[str]:
        return sorted(
            (a for a, (p, _) in self.appointments.items() if p == patient),
            key=lambda a: (self.appointments[a][1], a),
        )

    def open_entries(self, patient: str) -> list[MEntry]:
        return sorted(
            (e for e in self.entries if e.patient == patient and e.amount != 0),
            key=lambda e: (e.received_on, e.seq),
        )

    # -- moving money ---------------------------------------------------------------------

    def new_entry(
        self, patient: str, aid: str | None, payment: str, day: datetime.date, amount: int
    ) -> None:
        self.seq += 1
        self.entries.append(MEntry(self.seq, patient, aid, payment, day, amount))

    def draw(self, patient: str, aid: str | None, amount: int) -> list[tuple[MEntry, int]]:
        parts = []
        for e in self.bucket(patient, aid):
            if amount <= 0:
                break
            if e.amount > 0:
                take = min(e.amount, amount)
                amount -= take
                parts.append((e, take))
        assert amount == 0
        return parts

    def apply_from(
        self, patient: str, source: str | None, aid: str, amount: int, first: str | None = None
    ) -> None:
        for e, take in self.draw(patient, source, amount):
            e.amount -= take
            self.place(aid, e.payment, take, first)

    def auto_apply(self, aid: str) -> None:
        amount = min(self.available(self.owner(aid), aid), self.due(aid))
        if amount > 0:
            self.apply_from(self.owner(aid), aid, aid, amount)

    def take_allocations(
        self, aid: str, amount: int, line: str | None = None
    ) -> list[tuple[str, int]]:
        """Newest allocations of the appointment (or of its one line) first."""
        taken = []
        for record in reversed(self.allocations):
            if amount <= 0:
                break
            if record[0] != aid or not record[2] or line not in (None, record[3]):
                continue
            take = min(record[2], amount)  # type: ignore[type-var]
            record[2] -= take  # type: ignore[operator]
            amount -= take
            taken.append((record[1], take))
        self.allocations = [r for r in self.allocations if r[2]]
        return taken  # type: ignore[return-value]

    def move(self, patient: str, source: str | None, to: str, amount: int) -> None:
        for e, take in self.draw(patient, source, amount):
            e.amount -= take
            self.seq += 1
            self.entries.append(MEntry(self.seq, to, None, e.payment, e.received_on, take))
