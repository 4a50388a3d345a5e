"""patient_ledger.testing.generate: an installed practice generator (issue 26, item 3)."""

from __future__ import annotations

import collections
import contextlib
import io
import sys
from pathlib import Path

import pytest

import patient_ledger as pl
from patient_ledger.cli import main
from patient_ledger.persist import journal
from patient_ledger.testing import generate


def test_deterministic_by_seed_and_realistic() -> None:
    ledger = generate.practice(events=3000, seed=5)
    assert 3000 <= len(ledger.events) < 3020
    assert journal.dumps(generate.practice(events=3000, seed=5)) == journal.dumps(ledger)
    assert generate.practice(events=3000, seed=6) != ledger
    kinds = collections.Counter(type(e).__name__ for e in ledger.events)
    for kind in (
        "AppointmentAdded",
        "ChargeAdded",
        "PaymentPosted",
        "RefundPosted",
        "UnallocatedApplied",
        "EntriesCancelled",
        "ChargeAdjusted",
        "CreditTransferred",
        "PaymentReversed",
    ):
        assert kinds[kind] > 0, kind
    assert kinds["PaymentPosted"] > kinds["RefundPosted"]
    assert len(pl.patients(ledger)) > 50
    pl.assert_invariants(ledger)


def test_bad_sizes() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate.practice(events=0)
    assert len(generate.practice(events=1).events) >= 1


def test_the_benchmarks_draw_the_installed_plan() -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    import workload

    assert workload.plan is generate.plan
    assert workload.Bare is generate.Bare


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_demo_generate_writes_a_journal(tmp_path: Path) -> None:
    target = tmp_path / "big.jsonl"
    code, out, _ = cli("demo", "--generate", "400", "--seed", "3", "--journal", str(target))
    assert code == 0
    assert "Generated a practice of" in out
    assert journal.loads(target.read_text()) == generate.practice(events=400, seed=3)
    code, _, err = cli("demo", "--generate", "400", "--journal", str(target))
    assert code == 1  # an existing file is not replaced unless told
    assert "--replace" in err
    assert cli("demo", "--generate", "400", "--journal", str(target), "--replace")[0] == 0
    code, _, err = cli("demo", "--generate", "10")
    assert code == 1
    assert "needs --journal" in err
