"""The pure commands: each validates, decides one event, and applies it (``apply_event``).

Every command is ``command(ledger, ...) -> Ledger``: it decides exactly one event (with all it
caused inside: auto-applied money, moved entries) and returns the ledger after it, leaving its
argument as it was; on a broken rule it raises a
:class:`~patient_ledger.errors.LedgerError` and returns nothing. Rules are checked in one fixed
precedence — input shape, idempotency, references, state — so the first broken rule in that
order names the error.

Invariants kept by every command (SPEC §6), for every patient: total paid = allocated +
unallocated; no appointment is over-applied; every bucket's available amount is ≥ 0; an
appointment whose bucket holds money has no balance due; every amount is exact.

The commands live in one module per part of SPEC: ``_seed`` (§4), ``_workflow`` (§9, §10 and
the practice-wide calls), ``_plans`` (§11), with the checks they share in ``_checks``.
"""

from patient_ledger.commands._plans import (
    cancel_payment_plan,
    create_payment_plan,
    skip_installment,
)
from patient_ledger.commands._seed import (
    add_appointment,
    add_charge,
    apply_unallocated,
    cancel_offsetting,
    post_payment,
    refund,
)
from patient_ledger.commands._workflow import (
    adjust_charge,
    auto_allocate,
    auto_allocate_all,
    cancel_appointment,
    cancel_offsetting_all,
    release_credit,
    reverse_payment,
    transfer_credit,
    unapply,
)

__all__ = [
    "add_appointment",
    "add_charge",
    "adjust_charge",
    "apply_unallocated",
    "auto_allocate",
    "auto_allocate_all",
    "cancel_appointment",
    "cancel_offsetting",
    "cancel_offsetting_all",
    "cancel_payment_plan",
    "create_payment_plan",
    "post_payment",
    "refund",
    "release_credit",
    "reverse_payment",
    "skip_installment",
    "transfer_credit",
    "unapply",
]

for _name in __all__:  # each command's public home (reprs, docs, pickles by reference)
    globals()[_name].__module__ = __name__
