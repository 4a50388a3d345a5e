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
    reversed: set[str] = field(default_factory=set)
    adjustments: dict[str, object] = field(default_factory=dict)
    transfers: dict[str, object] = field(default_factory=dict)
    allocations: list[list[object]] = field(default_factory=list)  # [aid, payment, amount]
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

    def bucket(self, patient: str, aid: str | None) -> list[MEntry]:
        found = [
            e
            for e in self.entries
            if e.patient == patient and e.appointment == aid and e.amount != 0
        ]
        return sorted(found, key=lambda e: (e.received_on, e.seq))

    def available(self, patient: str, aid: str | None) -> int:
        return sum(e.amount for e in self.bucket(patient, aid))

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

    def apply_from(self, patient: str, source: str | None, aid: str, amount: int) -> None:
        for e, take in self.draw(patient, source, amount):
            e.amount -= take
            self.allocations.append([aid, e.payment, take])

    def auto_apply(self, aid: str) -> None:
        amount = min(self.available(self.owner(aid), aid), self.due(aid))
        if amount > 0:
            self.apply_from(self.owner(aid), aid, aid, amount)

    def take_allocations(self, aid: str, amount: int) -> list[tuple[str, int]]:
        """Newest allocations of the appointment first."""
        taken = []
        for record in reversed(self.allocations):
            if amount <= 0:
                break
            if record[0] != aid or not record[2]:
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
