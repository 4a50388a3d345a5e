"""The import itself: DrChrono's records as commands, applied in the one order of every
importer (``adapters/_order.py``), with the notes of its summary."""

from __future__ import annotations

import bisect
import contextlib
import datetime
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from moneyed import Money

from patient_ledger.adapters._order import Position, cancellation, position
from patient_ledger.adapters.drchrono._reconcile import _reconciled
from patient_ledger.adapters.drchrono._record import (
    _about,
    _apply,
    _id_order,
    _named,
    _Record,
    _unique,
)
from patient_ledger.adapters.drchrono._summary import _KINDS, Counts, ImportSummary, Note
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    cancel_appointment,
    post_payment,
    refund,
    release_credit,
    reverse_payment,
    unapply,
)
from patient_ledger.errors import (
    InvalidAmountError,
    InvalidInputError,
    PatientMismatchError,
    UnknownIdError,
)
from patient_ledger.money import to_minor, to_money
from patient_ledger.state import Ledger
from patient_ledger.values import Appointment, Charge, Payment, PaymentMethod, PaymentType
from patient_ledger.views import (
    Allocation,
    FeedRow,
    allocations,
    feed_row,
    line_items,
)

#: DrChrono ``payment_method`` codes and the methods they map to.
METHODS: Mapping[str, PaymentMethod] = {
    "CASH": PaymentMethod.CASH,
    "CHCK": PaymentMethod.CHECK,
    "DBIT": PaymentMethod.DEBIT_CARD,
    "CRDT": PaymentMethod.CREDIT_CARD,
    "AMEX": PaymentMethod.CREDIT_CARD,
    "VISA": PaymentMethod.CREDIT_CARD,
    "MSTR": PaymentMethod.CREDIT_CARD,
    "DISC": PaymentMethod.CREDIT_CARD,
    "SQR1": PaymentMethod.CREDIT_CARD,  # Square (legacy): card payments
    "SQRE": PaymentMethod.CREDIT_CARD,  # Square
    "DRCP": PaymentMethod.CREDIT_CARD,  # DrChrono's own card processing
    "PTPA": PaymentMethod.ONLINE,  # patient payments, online
    "ONPT": PaymentMethod.ONLINE,  # the onpatient portal
    "OTHR": PaymentMethod.OTHER,
}

#: DrChrono ``payment_transaction_type`` codes and the types they map to.
TYPES: Mapping[str, PaymentType] = {
    "": PaymentType.PAYMENT,  # "Credit": money received
    "REF": PaymentType.REFUND,
    "COR": PaymentType.CORRECTION,
    "COPAY": PaymentType.COPAY,
    "COINSR": PaymentType.COINSURANCE,
    "OTHR": PaymentType.OTHER,
}

#: Appointment ``status`` values of a visit that will not happen: it is cancelled.
CANCELLED_STATUSES = frozenset({"Cancelled", "Rescheduled"})


@attrs.frozen(kw_only=True)
class _Posting:
    """One patient payment as it will be applied: a payment, a refund, or a correction."""

    payment: Payment  # a negative correction holds what it takes back, as a positive amount
    correction: bool
    parent_id: str | None


@attrs.frozen(kw_only=True)
class _Cancellation:
    """A cancelled or rescheduled visit to cancel, on the day it is posted."""

    appointment_id: str
    on: datetime.date


#: What the import posts after the visits.
_Step = Charge | _Posting | _Cancellation


#: A place a payment's money can be, per patient: ``(patient, "line", charge id)``,
#: ``(patient, "appointment", appointment id)`` (held or on its lines) or
#: ``(patient, "general", "")``.
_Place = tuple[str, str, str]


def _places(place: Allocation) -> Iterator[_Place]:
    """The places (as :data:`_Place`) one row of :func:`allocations` is in."""
    if place.appointment_id is None:
        yield (place.patient_id, "general", "")
        return
    yield (place.patient_id, "appointment", place.appointment_id)
    if place.charge_id is not None:
        yield (place.patient_id, "line", place.charge_id)


class _Holders:
    """Per place, the payments posted so far that may have money there, oldest first: what a
    correction without ``parent_id`` searches, newest first, for the newest payment with money
    where it is placed.

    A payment is listed where posting put its money; a refund or reversal that moves money
    into a place lists there the payments of the appointment it moved from. A search drops
    each payment it finds without money there (money reaches a place again only by such a
    listed move), so every payment is passed over at most once per listing: a correction
    costs what it finds, not every payment of its patient.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []  # by posting sequence
        self.lists: dict[_Place, list[int]] = {}
        self.members: dict[_Place, set[int]] = {}

    def posted(self, ledger: Ledger, payment_id: str) -> None:
        """List a payment just posted where its money went."""
        self.ids.append(payment_id)
        for place in allocations(ledger, payment_id):
            for key in _places(place):
                self.add(key, len(self.ids) - 1)

    def add(self, key: _Place, seq: int) -> None:
        members = self.members.setdefault(key, set())
        if seq not in members:
            members.add(seq)
            bisect.insort(self.lists.setdefault(key, []), seq)

    def moved(self, patient_id: str, appointment_id: str, to: Iterable[_Place]) -> None:
        """Money of the appointment's payments may have moved to the places ``to``."""
        listed = self.lists.get((patient_id, "appointment", appointment_id), [])
        for key in to:
            for seq in listed:
                self.add(key, seq)

    def newest(self, ledger: Ledger, key: _Place) -> str | None:
        """The newest payment listed at ``key`` that still has money there."""
        listed = self.lists.get(key, [])
        while listed:
            payment_id = self.ids[listed[-1]]
            if any(key in _places(place) for place in allocations(ledger, payment_id)):
                return payment_id
            self.members[key].discard(listed.pop())
        return None


class _Importer:
    """The state of one import: what was booked, and the notes for its summary."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.booked: dict[str, Appointment] = {}
        self.cancelled: dict[str, str] = {}  # appointment id -> its status
        self.dropped: dict[str, str] = {}  # a skipped appointment's id -> why
        self.dropped_lines: dict[str, str] = {}  # a skipped line item's id -> why
        self.charges: dict[str, Charge] = {}
        self.postings: list[_Posting] = []
        self.posted: dict[str, str] = {}  # payments > 0 posted so far: their patient, by id
        self.holders = _Holders()
        self.read = [0, 0, 0]
        self.skipped: list[Note] = []
        self.changed: list[Note] = []

    def skip(self, record: _Record, reason: str) -> None:
        self.skipped.append(Note(kind=record.kind, record_id=record.id, reason=reason))

    def change(self, record: _Record, reason: str) -> None:
        self.changed.append(Note(kind=record.kind, record_id=record.id, reason=reason))

    def appointments(self, raws: Iterable[object]) -> None:
        for record in _unique("appointment", raws):
            self.read[0] += 1
            if record.raw.get("patient") is None or record.flag("appt_is_break"):
                self.skip(record, "a break in the schedule, not a visit")
                self.dropped[record.id] = "a break in the schedule"
                continue
            if record.flag("deleted_flag"):
                self.skip(record, "deleted in DrChrono (deleted_flag)")
                self.dropped[record.id] = "deleted in DrChrono"
                continue
            with _about(record):
                appointment = Appointment(
                    record.id,
                    str(record.key("patient")),
                    record.day("scheduled_time"),
                    record.key("doctor", required=False),
                )
            self.booked[appointment.id] = appointment
            status = record.text("status")
            if status is not None and status.strip().title() in CANCELLED_STATUSES:
                self.cancelled[appointment.id] = status.strip()

    def line_items(self, raws: Iterable[object]) -> None:
        for record in _unique("line_item", raws):
            self.read[1] += 1
            appointment_id = str(record.key("appointment"))
            if appointment_id in self.dropped:
                why = self.dropped[appointment_id]
                self.skip(record, f"its appointment {appointment_id} was not imported ({why})")
                self.dropped_lines[record.id] = f"its appointment {appointment_id}: {why}"
                continue
            if appointment_id not in self.booked:
                msg = f"its appointment {appointment_id!r} is not among the appointments"
                raise record.fail(msg, UnknownIdError)
            with _about(record):
                amount = record.amount("pt_paid", self.currency) + record.amount(
                    "balance_pt", self.currency
                )
                self.charges[record.id] = Charge(
                    record.id,
                    appointment_id,
                    Money(amount, self.currency),
                    record.text("code"),
                    record.text("description"),
                    record.day("posted_date")
                    if record.raw.get("posted_date") is not None
                    else None,
                )

    def payments(self, raws: Iterable[object]) -> None:
        for record in _unique("patient_payment", raws):
            self.read[2] += 1
            amount = record.amount("amount", self.currency)
            if not amount:
                self.skip(record, "its amount is zero (DrChrono: an amount cannot be zero)")
                continue
            appointment_id, charge_id = self._place(record)
            kind = record.code("payment_transaction_type", TYPES, "")
            correction = kind is PaymentType.CORRECTION and amount < 0
            if amount < 0 and not correction and kind is not PaymentType.REFUND:
                msg = (
                    f"amount {amount} is negative for the type {kind.value}: only a REF "
                    "(refund) or a COR (correction) takes money back"
                )
                raise record.fail(msg, InvalidAmountError)
            with _about(record):
                payment = Payment(
                    record.id,
                    str(record.key("patient")),
                    Money(-amount if correction else amount, self.currency),
                    record.day("received_date", "posted_date", "created_at"),
                    record.code("payment_method", METHODS, "OTHR"),
                    kind,
                    appointment_id,
                    record.key("doctor", required=False),
                    record.text("notes") or "",
                    record.text("trace_number") or None,
                    charge_id,
                )
            self.postings.append(
                _Posting(
                    payment=payment,
                    correction=correction,
                    parent_id=record.key("parent_id", required=False) if correction else None,
                )
            )

    def _place(self, record: _Record) -> tuple[str | None, str | None]:
        """Where DrChrono placed a payment: ``(appointment_id, charge_id)``; its line item wins
        over a disagreeing appointment; a skipped appointment or line means the general
        bucket."""
        appointment_id = record.key("appointment", required=False)
        line_item = record.key("line_item", required=False)
        if line_item is not None and line_item in self.dropped_lines:
            self.change(
                record,
                f"its line item {line_item} was not imported ({self.dropped_lines[line_item]}): "
                "held in the general bucket",
            )
            return None, None
        if line_item is not None:
            if line_item not in self.charges:
                msg = f"its line item {line_item!r} is not among the line items"
                raise record.fail(msg, UnknownIdError)
            owner = self.charges[line_item].appointment_id
            if appointment_id is not None and appointment_id != owner:
                self.change(
                    record,
                    f"its line item {line_item} is on appointment {owner}, not on its "
                    f"appointment {appointment_id}: placed on the line item",
                )
            return owner, line_item
        if appointment_id is not None and appointment_id in self.dropped:
            self.change(
                record,
                f"its appointment {appointment_id} was not imported "
                f"({self.dropped[appointment_id]}): held in the general bucket",
            )
            return None, None
        if appointment_id is not None and appointment_id not in self.booked:
            msg = f"its appointment {appointment_id!r} is not among the appointments"
            raise record.fail(msg, UnknownIdError)
        return appointment_id, None

    def run(self) -> Ledger:
        """Apply everything read, in the one order of every importer (:mod:`.._order`)."""
        ledger = Ledger.empty(self.currency)
        for appointment in sorted(self.booked.values(), key=lambda a: (a.date, _id_order(a.id))):
            ledger = _apply(ledger, add_appointment, appointment, "appointment")
        for _, step in sorted(self._steps(), key=lambda s: s[0]):
            match step:
                case Charge():
                    ledger = _apply(ledger, add_charge, step, "line_item")
                    # the money its appointment holds may be applied to the new line
                    patient = self.booked[step.appointment_id].patient_id
                    line = (patient, "line", step.id)
                    self.holders.moved(patient, step.appointment_id, [line])
                case _Posting():
                    ledger = self._post(ledger, step)
                case _Cancellation():
                    ledger = self._cancel(ledger, step)
        return ledger

    def _steps(self) -> list[tuple[tuple[Position, tuple[int, int, str], str], _Step]]:
        """Every charge, patient payment and cancellation with its place in the import: its
        :class:`~patient_ledger.adapters._order.Position`, then its id (numerically when
        numeric)."""
        days: dict[tuple[str, str], int] = {
            ("visits", a.id): a.date.toordinal() for a in self.booked.values()
        }

        def day_of(kind: str, key: str) -> int | None:
            return days.get((kind, key))

        steps: list[tuple[tuple[Position, tuple[int, int, str], str], _Step]] = []
        for charge in self.charges.values():
            at = position(charge, day_of)
            days["charges", charge.id] = at.day
            steps.append(((at, _id_order(charge.id), charge.id), charge))
        money: dict[str, list[int]] = {}  # the days of the money on each appointment
        # A correction comes no earlier than the payment it corrects: payments are placed first.
        for posting in sorted(self.postings, key=lambda p: p.correction):
            payment = posting.payment
            parent = days.get(("payments", posting.parent_id or ""))
            out = posting.correction or payment.type is PaymentType.REFUND
            at = position(payment, day_of, stage="refunds" if out else None, after=[parent])
            days["payments", payment.id] = at.day
            if payment.appointment_id is not None:
                money.setdefault(payment.appointment_id, []).append(at.day)
            steps.append(((at, _id_order(payment.id), payment.id), posting))
        lines = {charge.appointment_id for charge in self.charges.values()}
        for appointment_id in self.cancelled:
            if appointment_id in lines:
                self._payable(appointment_id)
                continue
            at = cancellation(self.booked[appointment_id].date, money.get(appointment_id, ()))
            step = _Cancellation(
                appointment_id=appointment_id, on=datetime.date.fromordinal(at.day)
            )
            steps.append(((at, _id_order(appointment_id), appointment_id), step))
        return steps

    def _post(self, ledger: Ledger, posting: _Posting) -> Ledger:
        """A patient payment: a refund, a correction, or a payment."""
        payment = posting.payment
        with _named(payment.id):
            if payment.type is PaymentType.REFUND:
                return self._refund(ledger, payment)
            if posting.correction:
                return self._correct(ledger, posting)
            ledger = post_payment(ledger, payment)
            self.posted[payment.id] = payment.patient_id
            self.holders.posted(ledger, payment.id)
            return ledger

    def _row(self, ledger: Ledger, patient_id: str, appointment_id: str) -> FeedRow:
        """The claims-feed row of a patient's open appointment (refused: another patient's);
        one appointment is read, not the patient's whole feed."""
        booked = self.booked.get(appointment_id)
        if booked is not None and booked.patient_id == patient_id:
            with contextlib.suppress(UnknownIdError):  # cancelled: no row
                return feed_row(ledger, appointment_id)
        msg = f"appointment {appointment_id!r} is not an open appointment of patient {patient_id!r}"
        raise PatientMismatchError(msg, id=appointment_id, patient_id=patient_id)

    def _refund(self, ledger: Ledger, payment: Payment) -> Ledger:
        """A refund on an appointment takes its held money first, then its allocations (its
        line's, when one is named), newest first, reopening its balance — as DrChrono shows
        it; what is not on the appointment comes from the general bucket."""
        appointment_id, charge_id = payment.appointment_id, payment.charge_id
        payment = attrs.evolve(payment, charge_id=None)
        if appointment_id is None:
            return refund(ledger, payment)
        row = self._row(ledger, payment.patient_id, appointment_id)
        held, wanted = to_minor(row.appointment_unallocated, "held"), -payment.minor_units
        if wanted <= held:
            return refund(ledger, payment)
        on = payment.received_on
        if held:
            ledger = release_credit(ledger, appointment_id, row.appointment_unallocated, on=on)
        placed = row.paid
        if charge_id is not None:
            placed = next(
                i.paid for i in line_items(ledger, appointment_id) if i.charge_id == charge_id
            )
        take = min(wanted - held, to_minor(placed, "paid"))
        if take:
            ledger = unapply(
                ledger, appointment_id, to_money(take, self.currency), on=on, charge_id=charge_id
            )
        # held and allocated money of the appointment's payments went to the general bucket
        general = (payment.patient_id, "general", "")
        self.holders.moved(payment.patient_id, appointment_id, [general])
        self.changed.append(
            Note(
                kind="patient_payment",
                record_id=payment.id,
                reason=f"a refund of {-payment.amount.amount} on appointment {appointment_id}: "
                f"took {to_money(held, self.currency).amount} held and "
                f"{to_money(take, self.currency).amount} allocated (newest first) off it, "
                "reopening its balance; refunded through the general bucket",
            )
        )
        return refund(ledger, attrs.evolve(payment, appointment_id=None))

    def _correct(self, ledger: Ledger, posting: _Posting) -> Ledger:
        """A negative correction reverses that much of the payment it corrects: its
        ``parent_id``, else the newest payment of the patient with money where the correction
        is placed (its line item, its appointment, or the general bucket)."""
        payment = posting.payment
        target = posting.parent_id
        rule = "its parent_id"
        if target is None:
            target = self._corrected(ledger, payment)
            rule = f"the newest payment with money {_where(payment)}"
        elif self.posted.get(target) != payment.patient_id:
            msg = (
                f"its parent_id {target!r} is not among the payments of patient "
                f"{payment.patient_id!r} before it"
            )
            raise UnknownIdError(msg, id=payment.id, parent_id=target)
        notes = f": {payment.notes}" if payment.notes else ""
        reopened = self._reopened(ledger, target)
        ledger = reverse_payment(
            ledger,
            target,
            payment.amount,
            on=payment.received_on,
            reason=f"DrChrono correction {payment.id}{notes}",
        )
        for (patient_id, appointment_id), lines in reopened.items():
            self.holders.moved(patient_id, appointment_id, lines)
        self.changed.append(
            Note(
                kind="patient_payment",
                record_id=payment.id,
                reason=f"a correction: reversed {payment.amount.amount} of payment {target} "
                f"({rule})",
            )
        )
        return ledger

    def _reopened(self, ledger: Ledger, target: str) -> dict[tuple[str, str], list[_Place]]:
        """The lines a reversal of ``target`` may reopen on appointments that hold money: that
        money is then applied to them (invariant 5), so it may arrive there."""
        out: dict[tuple[str, str], list[_Place]] = {}
        for place in allocations(ledger, target):
            if place.charge_id is None or place.appointment_id is None:
                continue
            if feed_row(ledger, place.appointment_id).appointment_unallocated.amount:
                key = (place.patient_id, place.appointment_id)
                out.setdefault(key, []).append((place.patient_id, "line", place.charge_id))
        return out

    def _corrected(self, ledger: Ledger, correction: Payment) -> str:
        """The newest payment posted of the correction's patient with money where the
        correction is placed."""
        patient = correction.patient_id
        if correction.charge_id is not None:
            key = (patient, "line", correction.charge_id)
        elif correction.appointment_id is not None:
            key = (patient, "appointment", correction.appointment_id)
        else:
            key = (patient, "general", "")
        found = self.holders.newest(ledger, key)
        if found is not None:
            return found
        msg = (
            f"a correction of -{correction.amount.amount}: no earlier payment of patient "
            f"{correction.patient_id!r} has money {_where(correction)}, and it names no "
            "parent_id"
        )
        raise InvalidInputError(msg, id=correction.id)

    def _payable(self, appointment_id: str) -> None:
        """A cancelled or rescheduled visit with line items is not cancelled: say so."""
        listed = ", ".join(
            sorted(
                (c.id for c in self.charges.values() if c.appointment_id == appointment_id),
                key=_id_order,
            )
        )
        reason = (
            f"status {self.cancelled[appointment_id]}, but it has line items ({listed}): not "
            "cancelled, its lines stay payable"
        )
        self.changed.append(Note(kind="appointment", record_id=appointment_id, reason=reason))

    def _cancel(self, ledger: Ledger, step: _Cancellation) -> Ledger:
        """Cancel a cancelled or rescheduled visit once its payments are in (its held money
        moves to the general bucket), on the later of its date and its last payment's day."""
        appointment_id = step.appointment_id
        status = self.cancelled[appointment_id]
        held = self._row(ledger, self.booked[appointment_id].patient_id, appointment_id)
        ledger = cancel_appointment(
            ledger, appointment_id, on=step.on, reason=f"DrChrono status {status}"
        )
        reason = f"status {status}: cancelled"
        if held.appointment_unallocated.amount:
            amount = held.appointment_unallocated.amount
            reason += f"; the {amount} it held waits in the general bucket"
        self.changed.append(Note(kind="appointment", record_id=appointment_id, reason=reason))
        return ledger

    def summary(
        self, ledger: Ledger, line_records: list[Any], payment_records: list[Any]
    ) -> ImportSummary:
        skipped = [0, 0, 0]
        for note in self.skipped:
            skipped[_KINDS.index(note.kind)] += 1
        imported = [r - s for r, s in zip(self.read, skipped, strict=True)]
        kept = [raw for raw in line_records if str(_Record("line_item", raw).id) in self.charges]
        found, explained = _reconciled(ledger, kept, payment_records)
        return ImportSummary(
            read=Counts(
                appointments=self.read[0], line_items=self.read[1], patient_payments=self.read[2]
            ),
            imported=Counts(
                appointments=imported[0], line_items=imported[1], patient_payments=imported[2]
            ),
            skipped=_sorted_notes(self.skipped),
            changed=_sorted_notes(self.changed),
            discrepancies=found,
            explained=explained,
        )


def _where(payment: Payment) -> str:
    """Where a payment is placed, for a message: ``on line item 11``, ``in the general
    bucket``."""
    if payment.charge_id is not None:
        return f"on line item {payment.charge_id}"
    if payment.appointment_id is not None:
        return f"on appointment {payment.appointment_id}"
    return "in the general bucket"


def _sorted_notes(notes: list[Note]) -> tuple[Note, ...]:
    return tuple(sorted(notes, key=lambda n: (_KINDS.index(n.kind), _id_order(n.record_id))))
