"""Speak DrChrono: build a ledger from its REST API records, and reconcile its balances.

``import_records(appointments, line_items, patient_payments)`` takes the records of
``/api/appointments``, ``/api/line_items`` and ``/api/patient_payments`` as the API returns
them and gives the ledger and an :class:`ImportSummary`: records read, imported, skipped and
why, placements changed and why, and the reconciliation. ``load`` gives only the ledger, and
``reconcile(ledger, line_items, patient_payments)`` compares our figures with DrChrono's own
``pt_paid`` and ``balance_pt`` per line item, and the money on each appointment.

Mapping (see ``docs/drchrono.md`` for every rule):

* appointment → ``Appointment(str(id), str(patient), date of scheduled_time, str(doctor))``;
  breaks and deleted appointments (``deleted_flag``) are skipped; a ``Cancelled`` or
  ``Rescheduled`` one is cancelled (``cancel_appointment``) once its payments are in (on the
  later of its date and their last day), so what it holds waits in the patient's general
  bucket;
* line item → ``Charge(str(id), str(appointment), pt_paid + balance_pt, code, description,
  date of posted_date)`` (``posted_on`` None when ``posted_date`` is absent or null);
* patient payment → ``Payment`` on its line item (which wins over a disagreeing
  ``appointment``), else its appointment, else the general bucket. A negative ``REF`` is a
  refund (the appointment's held money first, then its allocations, newest first); a negative
  ``COR`` a partial reversal of the payment it corrects; a zero row is skipped.

Amounts are exact: JSON numbers are read as ``Decimal`` from their text (:func:`read_json`),
and a number too long or with too large an exponent is refused before it is converted. A
malformed or inconsistent record is an error naming its kind and ``id``, and nothing is
half-loaded: a ledger is returned whole, or an error is raised.

The package, by seam: ``_json`` reads JSON and API pages (:func:`read_json`, :func:`records`,
:func:`missing`); ``_record`` reads one record's fields; ``_importer`` turns records into
commands and applies them; ``_reconcile`` compares the result with DrChrono's balances;
``_summary`` holds what an import reports. Every public name is this module's, as before the
split (and ``patient_ledger.drchrono`` is this module).

Commands are applied in the one order of every importer (``adapters/_order.py``), so the
journal never depends on the order of the input lists and can be cut at any day of its
history (``dashboards(ledger, on=day)``): every appointment (by date, then id); then by day —
charges (their ``posted_on``, else their appointment's date), payments, then refunds and
corrections (money out), then cancellations (on the later of the visit's date and its money's
last day) — within each, by id, numerically when numeric. A payment or refund that names a
line item comes no earlier than that line's day, a correction no earlier than the payment it
corrects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from patient_ledger.adapters.drchrono._importer import (
    CANCELLED_STATUSES,
    METHODS,
    TYPES,
    _Importer,
)
from patient_ledger.adapters.drchrono._json import (
    MAX_EXPONENT,
    MAX_NUMBER_CHARS,
    missing,
    read_json,
    records,
)
from patient_ledger.adapters.drchrono._reconcile import reconcile
from patient_ledger.adapters.drchrono._summary import Counts, Discrepancy, ImportSummary, Note
from patient_ledger.errors import InvalidInputError, LedgerError
from patient_ledger.state import Ledger


def import_records(
    appointments: Iterable[Mapping[str, Any]],
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]],
    *,
    currency: str = "USD",
    missing: Iterable[str] = (),
) -> tuple[Ledger, ImportSummary]:
    """Build a ledger from DrChrono API records, and say what was done. ``missing`` is what
    the export is known to lack (a partial export): the summary says it.

    Returns:
        The ledger and its :class:`ImportSummary` (records read, imported, skipped and why,
        placements changed and why, and the reconciliation).

    Raises:
        LedgerError: a malformed or inconsistent record, naming its kind and ``id`` (a
            repeated id: ``DuplicateIdError`` naming both records). Nothing is returned
            half-loaded.
    """
    line_records, payment_records = list(line_items), list(patient_payments)
    importer, ledger = _imported(appointments, line_records, payment_records, currency)
    summary = importer.summary(ledger, line_records, payment_records)
    return ledger, attrs.evolve(summary, missing=tuple(missing))


def _imported(
    appointments: Iterable[object],
    line_items: Iterable[object],
    patient_payments: Iterable[object],
    currency: str,
) -> tuple[_Importer, Ledger]:
    importer = _Importer(Ledger.empty(currency).currency)
    importer.appointments(appointments)
    importer.line_items(line_items)
    importer.payments(patient_payments)
    return importer, importer.run()


def load(
    appointments: Iterable[Mapping[str, Any]],
    line_items: Iterable[Mapping[str, Any]],
    patient_payments: Iterable[Mapping[str, Any]],
    *,
    currency: str = "USD",
) -> Ledger:
    """Build a ledger from DrChrono API records (:func:`import_records` without its summary).

    Raises:
        LedgerError: a malformed or inconsistent record, naming its kind and ``id``. Nothing is
            returned half-loaded.
    """
    return _imported(appointments, line_items, patient_payments, currency)[1]


#: The files of an export folder, in the order :func:`load_directory` returns their records.
FILES = ("appointments.json", "line_items.json", "patient_payments.json")


def _read_directory(
    folder: str, partial: bool
) -> tuple[list[list[dict[str, Any]]], tuple[str, ...]]:
    """Every file's records, and what partial pages say they lack (refused unless
    ``partial``)."""
    from pathlib import Path  # noqa: PLC0415 - only the command line reads files

    out: list[list[dict[str, Any]]] = []
    lacks: list[str] = []
    for name in FILES:
        path = Path(folder, name)
        try:
            data = read_json(path.read_text(encoding="utf-8"))
        except (LedgerError, UnicodeDecodeError) as error:
            raise InvalidInputError(f"{path}: {error}", file=str(path)) from None
        out.append(records(data, partial=partial, source=str(path)))
        lacks.extend(f"{name}: {what}" for what in missing(data, source=str(path)))
    return out, tuple(lacks)


def load_directory(
    folder: str, *, partial: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Read ``appointments.json``, ``line_items.json`` and ``patient_payments.json``, each in
    any shape :func:`records` reads.

    Raises:
        IncompleteExportError: a file's pages say records are missing (naming the file and
            what), unless ``partial``.
        InvalidInputError: a file is not JSON, nested too deeply, or of no known shape.
    """
    out, _ = _read_directory(folder, partial)
    return out[0], out[1], out[2]


def import_directory(
    folder: str, *, currency: str = "USD", partial: bool = False
) -> tuple[Ledger, ImportSummary]:
    """:func:`import_records` of an export folder (:func:`load_directory`). With
    ``partial``, an export whose pages say records are missing is imported, and its summary
    says what it lacks (``missing``; what ``import-drchrono --partial`` prints).

    Raises:
        IncompleteExportError: the export is partial, and not ``partial``.
        LedgerError: as :func:`load_directory` and :func:`import_records`.
    """
    out, lacks = _read_directory(folder, partial)
    return import_records(out[0], out[1], out[2], currency=currency, missing=lacks)


# The public names are this module's: their home in pickles, reprs and documentation, as it
# was before the module was split into the package.
for _name in (
    "Counts",
    "Discrepancy",
    "ImportSummary",
    "Note",
    "missing",
    "read_json",
    "reconcile",
    "records",
):
    globals()[_name].__module__ = __name__
del _name

__all__ = [
    "CANCELLED_STATUSES",
    "FILES",
    "MAX_EXPONENT",
    "MAX_NUMBER_CHARS",
    "METHODS",
    "TYPES",
    "Counts",
    "Discrepancy",
    "ImportSummary",
    "Note",
    "import_directory",
    "import_records",
    "load",
    "load_directory",
    "missing",
    "read_json",
    "reconcile",
    "records",
]
