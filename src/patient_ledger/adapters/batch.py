"""Every patient's dashboard from a journal split by patient, serially or on Dask (a shell).

``partition(ledger, shards)`` splits a journal into smaller journals that each hold every event
of some of the patients — patients linked by a credit transfer always land together, so every
shard replays on its own. ``summarize`` turns one shard into compact partials: per patient, the
six dashboard figures as integer minor units (no ``Money`` objects travel). ``dashboards`` runs
the shards serially; ``dashboards_on_dask`` gives each Dask worker its own shard files to load
(the ``dask`` extra: ``pip install "patient-ledger[dask]"``). Both return the same figures as
calling ``dashboard`` on the whole ledger.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, assert_never

from patient_ledger.apply import replay
from patient_ledger.errors import InvalidInputError
from patient_ledger.events import (
    AllocationUnapplied,
    AppointmentAdded,
    AppointmentCancelled,
    ChargeAdded,
    ChargeAdjusted,
    CreditReleased,
    CreditTransferred,
    EntriesCancelled,
    Event,
    InstallmentSkipped,
    LedgerOpened,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    PaymentPosted,
    PaymentReversed,
    PlanPaymentPosted,
    RefundPosted,
    UnallocatedApplied,
)
from patient_ledger.money import to_minor, to_money
from patient_ledger.persist import journal
from patient_ledger.state import Ledger
from patient_ledger.views import DASHBOARD_FIELDS, Dashboard, dashboard, patients

#: A shard's partials: currency, then per patient the dashboard figures in minor units.
Partials = tuple[str, dict[str, tuple[int, ...]]]


class _Groups:
    """Union-find over patient ids: patients that shared money belong together."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, patient: str) -> str:
        root = self.parent.setdefault(patient, patient)
        while root != self.parent[root]:
            root = self.parent[root]
        self.parent[patient] = root
        return root

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def _owners(events: Iterable[Event]) -> list[tuple[str, ...]]:
    """The patients each event belongs to (transfers: both)."""
    appointment_owner: dict[str, str] = {}
    charge_appointment: dict[str, str] = {}
    payment_owner: dict[str, str] = {}
    plan_owner: dict[str, str] = {}
    owners: list[tuple[str, ...]] = []
    for event in events:
        match event:
            case LedgerOpened():
                owners.append(())
            case AppointmentAdded(appointment=a):
                appointment_owner[a.id] = a.patient_id
                owners.append((a.patient_id,))
            case ChargeAdded(charge=c):
                charge_appointment[c.id] = c.appointment_id
                owners.append((appointment_owner[c.appointment_id],))
            case PaymentPosted(payment=p) | RefundPosted(payment=p):
                payment_owner[p.id] = p.patient_id
                owners.append((p.patient_id,))
            case UnallocatedApplied(patient_id=pid) | EntriesCancelled(patient_id=pid):
                owners.append((pid,))
            case (
                AllocationUnapplied(appointment_id=a)
                | CreditReleased(appointment_id=a)
                | AppointmentCancelled(appointment_id=a)
            ):
                owners.append((appointment_owner[a],))
            case ChargeAdjusted(adjustment=adjustment):
                owners.append((appointment_owner[charge_appointment[adjustment.charge_id]],))
            case CreditTransferred(transfer=t):
                owners.append((t.from_patient_id, t.to_patient_id))
            case PaymentReversed(payment_id=payment_id):
                owners.append((payment_owner[payment_id],))
            case PaymentPlanCreated(plan=plan):
                plan_owner[plan.id] = plan.patient_id
                owners.append((plan.patient_id,))
            case PlanPaymentPosted(payment=p):
                payment_owner[p.id] = p.patient_id
                owners.append((p.patient_id,))
            case InstallmentSkipped(plan_id=plan_id) | PaymentPlanCancelled(plan_id=plan_id):
                owners.append((plan_owner[plan_id],))
            case _:
                assert_never(event)
    return owners


def _shard_of(group: str, shards: int) -> int:
    return zlib.crc32(group.encode("utf-8")) % shards  # stable across processes and runs


def partition(ledger: Ledger, shards: int) -> list[Ledger]:
    """Split the ledger's journal into ``shards`` journals by patient (some may be empty)."""
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise InvalidInputError(f"shards must be an int >= 1, got {shards!r}")
    events = list(ledger.events)
    owners = _owners(events)
    groups = _Groups()
    for owned in owners:
        for patient in owned:
            groups.join(patient, owned[0])
    pieces: list[list[Event]] = [[events[0]] for _ in range(shards)]
    for event, owned in zip(events[1:], owners[1:], strict=True):
        pieces[_shard_of(groups.find(owned[0]), shards)].append(event)
    return [replay(piece) for piece in pieces]


def write_shards(ledger: Ledger, folder: str | Path, shards: int) -> list[Path]:
    """Write :func:`partition`'s journals as ``shard-NNN.jsonl`` files in ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, shard in enumerate(partition(ledger, shards)):
        path = target / f"shard-{number:03d}.jsonl"
        path.write_text(journal.dumps(shard), encoding="utf-8")
        paths.append(path)
    return paths


def summarize(shard: Ledger | str | Path) -> Partials:
    """One shard's partials: per patient, the dashboard figures as integer minor units."""
    ledger = (
        shard
        if isinstance(shard, Ledger)
        else journal.loads(Path(shard).read_text(encoding="utf-8"))
    )
    figures = {}
    for pid in patients(ledger):
        d = dashboard(ledger, pid)
        figures[pid] = tuple(to_minor(getattr(d, name), name) for name in DASHBOARD_FIELDS)
    return ledger.currency, figures


def merge(partials: Iterable[Partials]) -> dict[str, Dashboard]:
    """Every patient's dashboard from the shards' partials."""
    merged: dict[str, Dashboard] = {}
    for currency, figures in partials:
        for pid, values in figures.items():
            if pid in merged:  # pragma: no cover - partition() puts each patient in one shard
                raise InvalidInputError(f"patient {pid!r} appears in two shards")
            merged[pid] = Dashboard(
                **{
                    name: to_money(v, currency)
                    for name, v in zip(DASHBOARD_FIELDS, values, strict=True)
                }
            )
    return dict(sorted(merged.items()))


def dashboards(shards: Sequence[Ledger | str | Path]) -> dict[str, Dashboard]:
    """Every patient's dashboard, the shards summarized one after another."""
    return merge(summarize(shard) for shard in shards)


def dashboards_on_dask(paths: Sequence[str | Path], client: Any) -> dict[str, Dashboard]:
    """Every patient's dashboard, each shard file loaded and summarized by a Dask worker.

    ``client`` is a ``dask.distributed.Client``; only file names go to the workers and only
    the integer partials come back.
    """
    futures = client.map(summarize, [str(path) for path in paths], pure=False)
    return merge(client.gather(futures))
