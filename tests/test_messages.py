"""Every error message the edge inputs produce, against a reviewed golden file.

Messages are what a billing person reads: they name the ids and amounts involved. A changed
message must be a deliberate change: regenerate with ``UPDATE_GOLDEN=1 python -m pytest
tests/test_messages.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import patient_ledger as pl
from tests.test_edges import attempts, base, scenario_refusals
from tests.test_errors import PRECEDENCE, precedence_ledger
from tests.test_values import value_messages

GOLDEN = Path(__file__).parent / "golden" / "messages.json"


def shown(error: Exception) -> str:
    """An error as the golden file keeps it: class, message and (sorted) details."""
    details = getattr(error, "details", {})
    extra = ", ".join(f"{k}={details[k]!r}" for k in sorted(details))
    return f"{type(error).__name__}: {error}" + (f" [{extra}]" if extra else "")


def messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for label, attempt in attempts(base()):
        try:
            attempt()
        except (pl.LedgerError, IndexError, TypeError) as error:
            found[label] = shown(error)
    for label, attempt in scenario_refusals():
        try:
            attempt()
        except pl.LedgerError as error:
            found[label] = shown(error)
    found.update(value_messages())
    ledger = precedence_ledger()
    for code, action in PRECEDENCE:
        try:
            action(ledger)
        except pl.LedgerError as error:
            found[f"precedence {code.name}"] = shown(error)
    return found


def test_error_messages_match_the_golden_file() -> None:
    found = messages()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    changed = {k: (expected.get(k), v) for k, v in found.items() if expected.get(k) != v}
    missing = sorted(set(expected) - set(found))
    assert not changed, f"{len(changed)} messages changed, e.g. {next(iter(changed.items()))}"
    assert not missing, f"{len(missing)} errors no longer raised, e.g. {missing[0]}"
