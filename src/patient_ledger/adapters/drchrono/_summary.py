"""What a DrChrono import did (:class:`ImportSummary`), and the figures that disagree
(:class:`Discrepancy`)."""

from __future__ import annotations

import attrs
from moneyed import Money

_KINDS = ("appointment", "line_item", "patient_payment")


@attrs.frozen(kw_only=True)
class Discrepancy:
    """Our figure and DrChrono's that do not agree.

    For a line item (``charge_id`` set), ``field`` is ``"paid"`` (its ``pt_paid``) or
    ``"balance_due"`` (its ``balance_pt``); for an appointment (``charge_id`` None) it is
    ``"money"`` (paid + held on it) or ``"net_balance"`` (balance due − held).
    """

    appointment_id: str
    field: str
    ours: Money
    theirs: Money
    charge_id: str | None = None


@attrs.frozen(kw_only=True)
class Note:
    """One record the import skipped, or placed otherwise than it reads, and why."""

    kind: str  # "appointment", "line_item" or "patient_payment"
    record_id: str
    reason: str


@attrs.frozen(kw_only=True)
class Counts:
    """A number of records of each kind."""

    appointments: int
    line_items: int
    patient_payments: int


@attrs.frozen(kw_only=True)
class ImportSummary:
    """What an import did: records read and imported, those skipped and why, placements
    changed and why, and the reconciliation with DrChrono's balances.

    ``explained`` holds line-item differences that a DrChrono rule accounts for (the money on
    the appointment and its net balance agree): they are not discrepancies. ``missing`` says
    what a partial export lacks (imported with ``partial``): the figures cover only what it
    holds.
    """

    read: Counts
    imported: Counts
    skipped: tuple[Note, ...]
    changed: tuple[Note, ...]
    discrepancies: tuple[Discrepancy, ...]
    explained: tuple[Discrepancy, ...]
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """False when the export was partial (its pages say records are missing)."""
        return not self.missing

    @property
    def reconciled(self) -> bool:
        """True when nothing is left unreconciled."""
        return not self.discrepancies

    def lines(self) -> tuple[str, ...]:
        """The summary as text, one line each (what ``import-drchrono`` prints)."""
        out = []
        if self.missing:
            out.append("PARTIAL export: the figures cover only the records it holds; it lacks:")
            out.extend(f"  {what}" for what in self.missing)
        for label, counts in (("read", self.read), ("imported", self.imported)):
            out.append(
                f"{label}: {counts.appointments} appointments, {counts.line_items} line items, "
                f"{counts.patient_payments} patient payments"
            )
        for label, notes in (("skipped", self.skipped), ("placed otherwise", self.changed)):
            out.append(f"{label}: {len(notes)}")
            out.extend(f"  {n.kind} {n.record_id}: {n.reason}" for n in notes)
        if self.explained:
            out.append(
                f"placed by DrChrono's rules: {len(self.explained)} line-item differences "
                "where the appointment's money and net balance agree"
            )
            out.extend(f"  {_described(d)}" for d in self.explained)
        if self.reconciled:
            out.append("reconciled: every line item and appointment agrees with DrChrono")
            return tuple(out)
        out.append(f"{len(self.discrepancies)} discrepancies (ours vs DrChrono's):")
        out.extend(f"  {_described(d)}" for d in self.discrepancies)
        return tuple(out)


def _described(d: Discrepancy) -> str:
    where = f"appointment {d.appointment_id}"
    if d.charge_id is not None:
        where = f"line item {d.charge_id} ({where})"
    return f"{where}: {d.field} {d.ours.amount} vs {d.theirs.amount}"
