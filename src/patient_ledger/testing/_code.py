"""Ledgers and commands as Python code that can be pasted and run (the testing kit's printer).

A ledger's journal holds one event per command. :func:`operations_of` finds, for each event,
the call that records exactly that event again — the command is tried on the ledger rebuilt so
far and kept only when it gives the same event — so the code :func:`as_code` prints always
rebuilds an equal ledger. Values are printed with only the fields that differ from their
defaults, money as ``Money('12.50', 'USD')``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from moneyed import Money

from patient_ledger.apply import apply_event
from patient_ledger.commands import (
    add_appointment,
    add_charge,
    adjust_charge,
    apply_unallocated,
    auto_allocate,
    cancel_appointment,
    cancel_offsetting,
    post_payment,
    refund,
    release_credit,
    reverse_payment,
    transfer_credit,
    unapply,
)
from patient_ledger.errors import LedgerError
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
    LedgerOpened,
    PaymentPosted,
    PaymentReversed,
    RefundPosted,
    UnallocatedApplied,
)
from patient_ledger.money import to_money
from patient_ledger.state import Ledger
from patient_ledger.values import AllocationOrder


def code(value: object) -> str:
    """``value`` as Python source: attrs values with only their non-default fields (required
    ones by position), money as ``Money(...)``, anything else by ``repr``."""
    if isinstance(value, Money):
        return f"Money({str(value.amount)!r}, {value.currency.code!r})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{code(k)}: {code(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple | list):
        items = ", ".join(map(code, value))
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    if attrs.has(type(value)) and not isinstance(value, Operation):
        parts = []
        for field in attrs.fields(type(value)):  # type: ignore[arg-type] # attrs.has said so
            if not field.init:
                continue
            current = getattr(value, field.name)
            if field.default is attrs.NOTHING and not field.kw_only:
                parts.append(code(current))
            elif field.default is attrs.NOTHING or current != field.default:
                parts.append(f"{field.name}={code(current)}")
        return f"{type(value).__name__}({', '.join(parts)})"
    return repr(value)


@attrs.frozen
class Operation:
    """One command with its arguments, as data; its ``repr`` is the call it makes.

    >>> import datetime
    >>> import patient_ledger as pl
    >>> Operation(pl.cancel_offsetting, ("P1",), {"on": datetime.date(2025, 1, 2)})
    cancel_offsetting(ledger, 'P1', on=datetime.date(2025, 1, 2))
    """

    command: Callable[..., Ledger]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    def __call__(self, ledger: Ledger) -> Ledger:
        """Run the command on ``ledger``."""
        return self.command(ledger, *self.args, **self.kwargs)

    def __repr__(self) -> str:
        parts = [code(a) for a in self.args] + [f"{k}={code(v)}" for k, v in self.kwargs.items()]
        return f"{self.command.__name__}({', '.join(['ledger', *parts])})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: ARG002 - the protocol
        """Hypothesis and IPython print an operation as its call, never as the helper that
        drew it."""
        printer.text(repr(self))

    def code(self) -> str:
        """The code that makes this operation (its ``repr`` is the call it makes).

        >>> import datetime
        >>> import patient_ledger as pl
        >>> Operation(pl.cancel_offsetting, ("P1",), {"on": datetime.date(2025, 1, 2)}).code()
        "Operation(cancel_offsetting, ('P1',), {'on': datetime.date(2025, 1, 2)})"
        """
        parts = [self.command.__name__, code(tuple(self.args))]
        if self.kwargs:
            parts.append(code(dict(self.kwargs)))
        return f"Operation({', '.join(parts)})"


#: What an :class:`Operation` list prints before its calls.
HEADER = "import datetime\nfrom moneyed import Money\nfrom patient_ledger import *\n"


def script(operations: Iterable[Operation], currency: str = "USD") -> str:
    """Operations as a runnable script that builds ``ledger``; a refused one is run under
    ``suppress(LedgerError)``, as :func:`~patient_ledger.testing.run_operations` runs it."""
    lines = [f"ledger = Ledger.empty({currency!r})"]
    ledger = Ledger.empty(currency)
    refused = False
    for operation in operations:
        try:
            ledger = operation(ledger)
        except LedgerError as error:
            refused = True
            lines.append(f"with suppress(LedgerError):  # {type(error).__name__}")
            lines.append(f"    ledger = {operation!r}")
        else:
            lines.append(f"ledger = {operation!r}")
    header = HEADER + ("from contextlib import suppress\n" if refused else "")
    return header + "\n".join(lines) + "\n"


def expression(operations: Iterable[Operation], currency: str = "USD") -> list[str]:
    r"""Accepted operations as the lines of one Python expression that builds their ledger.

    They are :func:`as_code`'s lines, each an assignment expression, in a tuple whose last item
    is taken:

    >>> import patient_ledger as pl
    >>> print("\n".join(expression([Operation(pl.cancel_offsetting, ("P1",))])))
    (
        ledger := Ledger.empty('USD'),
        ledger := cancel_offsetting(ledger, 'P1'),
    )[-1]
    """
    calls = [f"    ledger := {operation!r}," for operation in operations]
    return ["(", f"    ledger := Ledger.empty({currency!r}),", *calls, ")[-1]"]


def as_code(ledger: Ledger) -> str:
    """The Python code that builds ``ledger``, one command a line: paste it and run it, and
    ``ledger`` is equal to this one.

    >>> import datetime
    >>> import patient_ledger as pl
    >>> from moneyed import Money
    >>> ledger = pl.post_payment(pl.Ledger.empty(), pl.Payment(
    ...     "PAY1", "P1", Money("50.00", "USD"), datetime.date(2025, 1, 2)))
    >>> print(as_code(ledger))
    import datetime
    from moneyed import Money
    from patient_ledger import *
    ledger = Ledger.empty('USD')
    ledger = post_payment(ledger, Payment('PAY1', 'P1', Money('50.00', 'USD'), datetime.date(2025, 1, 2)))
    <BLANKLINE>
    """  # noqa: E501 - a doctest's output line
    lines = [f"ledger = Ledger.empty({ledger.currency!r})"]
    for step in operations_of(ledger):
        if isinstance(step, Operation):
            lines.append(f"ledger = {step!r}")
        else:  # no command records this event again: it is applied as it stands
            lines.append(f"ledger = apply_event(ledger, {code(step)})")
    return HEADER + "\n".join(lines) + "\n"


def operations_of(ledger: Ledger) -> list[Operation | Event]:
    """The commands that build ``ledger`` from ``Ledger.empty(ledger.currency)``, one per event
    of its journal after the first; an event no command records again (one written by hand)
    is given as itself, for :func:`~patient_ledger.apply_event`."""
    events = list(ledger.events)
    built = Ledger.empty(ledger.currency)
    found: list[Operation | Event] = []
    providers: dict[str, set[str]] = {}  # each patient's appointments' providers so far
    for event in events[1:]:
        if isinstance(event, AppointmentAdded) and (provider := event.appointment.provider):
            providers.setdefault(event.appointment.patient_id, set()).add(provider)
        for candidate in _candidates(built, event, providers):
            try:
                after = candidate(built)
            except LedgerError:
                continue
            if len(after.events) == len(built.events) + 1 and after.events[-1] == event:
                found.append(candidate)
                built = after
                break
        else:
            found.append(event)
            built = apply_event(built, event)
    return found


def _sum(parts: Iterable[Sequence[Any]], position: int) -> int:
    return sum(int(part[position]) for part in parts)


def _candidates(  # noqa: PLR0911 - one case per kind
    ledger: Ledger, event: Event, providers: dict[str, set[str]]
) -> list[Operation]:
    """The calls that may record ``event`` on ``ledger``, most likely first."""
    currency = ledger.currency

    def money(minor: int) -> Money:
        return to_money(minor, currency)

    def named(**kwargs: Any) -> dict[str, Any]:
        return {k: v for k, v in kwargs.items() if v is not None}

    match event:
        case AppointmentAdded(appointment=appointment):
            return [Operation(add_appointment, (appointment,))]
        case ChargeAdded(charge=charge):
            return [Operation(add_charge, (charge,))]
        case PaymentPosted(payment=payment):
            return [Operation(post_payment, (payment,))]
        case RefundPosted(payment=payment):
            return [Operation(refund, (payment,))]
        case ChargeAdjusted(adjustment=adjustment):
            return [Operation(adjust_charge, (adjustment,))]
        case CreditTransferred(transfer=transfer):
            return [Operation(transfer_credit, (transfer,))]
        case AppointmentCancelled(appointment_id=aid, on=on, reason=reason):
            return [Operation(cancel_appointment, (aid,), named(on=on, reason=reason))]
        case UnallocatedApplied(patient_id=pid, applied=applied, on=on, charge_id=line):
            found = []
            if len({part[1] for part in applied}) == 1:
                args = (pid, applied[0][1], money(_sum(applied, 2)))
                found.append(Operation(apply_unallocated, args, named(on=on, charge_id=line)))
            for order in AllocationOrder:
                for provider in [None, *sorted(providers.get(pid, ()))]:
                    kwargs = named(
                        on=on,
                        order=None if order is AllocationOrder.OLDEST_FIRST else order,
                        provider=provider,
                    )
                    found.append(Operation(auto_allocate, (pid,), kwargs))
            return found
        case EntriesCancelled(patient_id=pid, parts=parts, on=on):
            ids = [part[0] for part in parts]
            return [
                Operation(cancel_offsetting, (pid,), {"on": on}),
                Operation(cancel_offsetting, (pid, ids), {"on": on}),
            ]
        case AllocationUnapplied(appointment_id=aid, returned=returned, on=on, charge_id=line):
            return [
                Operation(unapply, (aid, money(_sum(returned, 1))), named(on=on, charge_id=line)),
                Operation(unapply, (aid,), named(on=on, charge_id=line)),
            ]
        case CreditReleased(appointment_id=aid, moves=moves, on=on):
            return [
                Operation(release_credit, (aid, money(_sum(moves, 2))), {"on": on}),
                Operation(release_credit, (aid,), {"on": on}),
            ]
        case PaymentReversed(payment_id=pid, on=on, reason=reason):
            taken = _sum(event.allocations, 1) + _sum(event.entries, 1)
            kwargs = named(on=on, reason=reason)
            return [
                Operation(reverse_payment, (pid,), kwargs),
                Operation(reverse_payment, (pid, money(abs(taken))), kwargs),
            ]
        case LedgerOpened():
            return []
    return []  # pragma: no cover - the union is closed


__all__ = ["HEADER", "Operation", "as_code", "code", "expression", "operations_of", "script"]
