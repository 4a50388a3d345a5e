"""patient_ledger: the money math of patient payments in a medical practice.

Post payments to appointments or hold them unallocated, auto-apply held money when charges
appear, refund with negative amounts, cancel offsetting entries, and read the balances a
billing person reads every day — from an immutable ledger rebuilt from its journal.
"""

import importlib
from typing import TYPE_CHECKING

from patient_ledger import _paths
from patient_ledger.apply import apply_event, replay
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    apply_unallocated,
    auto_allocate,
    auto_allocate_all,
    cancel_appointment,
    cancel_offsetting,
    cancel_offsetting_all,
    cancel_payment_plan,
    create_payment_plan,
    post_payment,
    refund,
    release_credit,
    reverse_payment,
    skip_installment,
    transfer_credit,
    unapply,
)
from patient_ledger.comparison import Comparison, Difference, compare
from patient_ledger.errors import (
    AlreadyReversedError,
    AppointmentCancelledError,
    CurrencyMismatchError,
    DateOrderError,
    DuplicateIdError,
    ErrorCode,
    IncompleteExportError,
    InsufficientAllocatedError,
    InsufficientUnallocatedError,
    InvalidAmountError,
    InvalidInputError,
    LedgerError,
    NotOffsettingError,
    OverApplicationError,
    PatientMismatchError,
    UnknownIdError,
)
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
from patient_ledger.invariants import (
    InvariantError,
    Violation,
    assert_invariants,
    check_invariants,
)
from patient_ledger.money import MAX_MAJOR_UNITS
from patient_ledger.state import Ledger
from patient_ledger.statements import (
    DaySheet,
    DaySheetLine,
    MethodTotal,
    Statement,
    StatementLine,
    StatementLineKind,
    day_sheet,
    statement,
    statements,
)
from patient_ledger.values import (
    Adjustment,
    AdjustmentType,
    AllocationOrder,
    Appointment,
    Charge,
    InstallmentStatus,
    Payment,
    PaymentMethod,
    PaymentPlan,
    PaymentType,
    PlanState,
    Transfer,
)
from patient_ledger.views import (
    Aging,
    Allocation,
    Dashboard,
    FeedRow,
    Installment,
    LineItem,
    PaymentStatus,
    PlanStatus,
    UnallocatedEntry,
    aging,
    allocations,
    claims_feed,
    credit_aging,
    dashboard,
    dashboards,
    feed_row,
    installments,
    line_items,
    patients,
    payment_plans,
    payment_status,
    plan_report,
    unallocated_entries,
)

__version__ = "0.1.0"

__all__ = [
    "MAX_MAJOR_UNITS",
    "Adjustment",
    "AdjustmentType",
    "Aging",
    "Allocation",
    "AllocationOrder",
    "AllocationUnapplied",
    "AlreadyReversedError",
    "Appointment",
    "AppointmentAdded",
    "AppointmentCancelled",
    "AppointmentCancelledError",
    "Charge",
    "ChargeAdded",
    "ChargeAdjusted",
    "Comparison",
    "CreditReleased",
    "CreditTransferred",
    "CurrencyMismatchError",
    "Dashboard",
    "DateOrderError",
    "DaySheet",
    "DaySheetLine",
    "Difference",
    "DuplicateIdError",
    "EntriesCancelled",
    "ErrorCode",
    "Event",
    "FeedRow",
    "FeedWithLines",
    "IncompleteExportError",
    "Installment",
    "InstallmentSkipped",
    "InstallmentStatus",
    "InsufficientAllocatedError",
    "InsufficientUnallocatedError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvariantError",
    "Ledger",
    "LedgerError",
    "LedgerOpened",
    "LineItem",
    "MethodTotal",
    "NotOffsettingError",
    "OverApplicationError",
    "PatientMismatchError",
    "Payment",
    "PaymentMethod",
    "PaymentPlan",
    "PaymentPlanCancelled",
    "PaymentPlanCreated",
    "PaymentPosted",
    "PaymentReversed",
    "PaymentStatus",
    "PaymentType",
    "PlanPaymentPosted",
    "PlanState",
    "PlanStatus",
    "Practice",
    "PracticeStatus",
    "RefundPosted",
    "Statement",
    "StatementLine",
    "StatementLineKind",
    "Submitted",
    "Transfer",
    "UnallocatedApplied",
    "UnallocatedEntry",
    "UnknownIdError",
    "Violation",
    "__version__",
    "add_appointment",
    "add_charge",
    "adjust_charge",
    "aging",
    "allocations",
    "apply_event",
    "apply_unallocated",
    "assert_invariants",
    "auto_allocate",
    "auto_allocate_all",
    "cancel_appointment",
    "cancel_offsetting",
    "cancel_offsetting_all",
    "cancel_payment_plan",
    "check_invariants",
    "claims_feed",
    "claims_feed_with_lines",
    "compare",
    "create_payment_plan",
    "credit_aging",
    "dashboard",
    "dashboards",
    "day_sheet",
    "feed_row",
    "installments",
    "line_items",
    "open_practice",
    "parse_record",
    "patients",
    "payment_plans",
    "payment_status",
    "plan_report",
    "post_payment",
    "refund",
    "release_credit",
    "replay",
    "reverse_payment",
    "skip_installment",
    "statement",
    "statements",
    "transfer_credit",
    "unallocated_entries",
    "unapply",
]

_paths.install()

#: Public names of the shells, imported on first use: ``import patient_ledger`` loads the core
#: only (the store, the importer and the renderer are imported by what uses them).
_LAZY = {
    "Practice": "patient_ledger.persist.practice",
    "PracticeStatus": "patient_ledger.persist.practice",
    "Submitted": "patient_ledger.persist.practice",
    "open_practice": "patient_ledger.persist.practice",
    "parse_record": "patient_ledger.adapters.imports",
    "FeedWithLines": "patient_ledger.report.render",
    "claims_feed_with_lines": "patient_ledger.report.render",
}

if TYPE_CHECKING:
    from patient_ledger.adapters.imports import parse_record
    from patient_ledger.persist.practice import Practice, PracticeStatus, Submitted, open_practice
    from patient_ledger.report.render import FeedWithLines, claims_feed_with_lines


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patient_ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
