"""Value objects as a snapshot stores them: the tables of a ledger opened from a snapshot hold
these records until a value object is asked for.

Each record has its value object's fields, under the same names and of the same types, except
that the amount is held only as ``minor_units`` (no ``amount``, so reading one from a record
fails loudly instead of giving a wrong type). The engine reads fields, so it reads a record as
it reads a value object; what hands a value to a caller, compares one or shows one turns a record
into its value object first with :func:`value_of`.

Why: opening a practice rebuilt hundreds of thousands of attrs objects, each a Python call and
an object the cyclic collector tracks (whose full collections then walked all of them). These
records are decoded by msgspec straight from the snapshot's bytes, in C, and are never tracked
(``gc=False``: they hold only strs, ints, dates and enums, so they can be in no cycle) — nor are
the row tuples that hold them.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar, TypeVar

import msgspec

from patient_ledger.money import frozen_money
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    Appointment,
    Charge,
    Payment,
    PaymentMethod,
    PaymentType,
    Transfer,
)

__all__ = [
    "Stored",
    "StoredAdjustment",
    "StoredAppointment",
    "StoredCharge",
    "StoredPayment",
    "StoredTransfer",
    "value_of",
]


class Stored(msgspec.Struct, array_like=True, gc=False, frozen=True):
    """A value object's fields, as a snapshot holds them (written as an array, in order)."""

    #: The value object this record stands for.
    kind: ClassVar[type]

    def value(self, currency: str) -> Any:
        """The value object, its amount in ``currency`` (its checks passed when the ledger
        took it: they are not run again)."""
        value: Any = object.__new__(self.kind)
        for name in self.__struct_fields__:
            object.__setattr__(value, name, getattr(self, name))
        if "minor_units" in self.__struct_fields__:
            object.__setattr__(value, "amount", frozen_money(self.minor_units, currency))  # type: ignore[attr-defined]
        return value


class StoredAppointment(Stored, frozen=True):
    """An :class:`~patient_ledger.values.Appointment`."""

    kind = Appointment
    id: str
    patient_id: str
    date: datetime.date
    provider: str | None


class StoredCharge(Stored, frozen=True):
    """A :class:`~patient_ledger.values.Charge`."""

    kind = Charge
    id: str
    appointment_id: str
    minor_units: int
    code: str | None
    description: str | None
    posted_on: datetime.date | None


class StoredPayment(Stored, frozen=True):
    """A :class:`~patient_ledger.values.Payment`."""

    kind = Payment
    id: str
    patient_id: str
    minor_units: int
    received_on: datetime.date
    method: PaymentMethod
    type: PaymentType
    appointment_id: str | None
    provider: str | None
    notes: str
    reference: str | None
    charge_id: str | None
    plan_id: str | None


class StoredAdjustment(Stored, frozen=True):
    """An :class:`~patient_ledger.values.Adjustment`."""

    kind = Adjustment
    id: str
    charge_id: str
    minor_units: int
    on: datetime.date
    type: AdjustmentType
    reason: str | None


class StoredTransfer(Stored, frozen=True):
    """A :class:`~patient_ledger.values.Transfer`."""

    kind = Transfer
    id: str
    from_patient_id: str
    to_patient_id: str
    minor_units: int
    on: datetime.date


_V = TypeVar("_V")


def value_of(item: _V | Stored, currency: str) -> _V:
    """The value object a table holds: ``item`` itself, or the one its record stands for."""
    if isinstance(item, Stored):
        value: _V = item.value(currency)
        return value
    return item
