"""benchmarks/usage_bench.py runs every scenario at tiny sizes: its figures come out, and every
command of its workloads is accepted (no timing is checked)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import patient_ledger as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import usage_bench as ub
import workload

TINY = ub.Options(n=400, patients=40, repeat=1, k=20, m=100, huge_sizes=[40, 80], budget=5.0)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


@pytest.mark.parametrize("scenario", ub.SCENARIOS)
def test_each_scenario_gives_its_figures(scenario: str) -> None:
    figures = ub.RUNS[scenario](TINY)
    assert figures
    for f in figures:
        assert f.scenario == ub.TITLES[scenario]
        assert finite(f.value), f
        assert f.baseline is None or finite(f.baseline), f
        assert f.ratio is None or finite(f.ratio), f
        assert (f.target is None) is (f.passed is None)


def test_the_branches_continue_the_plan_two_ways() -> None:
    base, first, second = ub.continuations(400, 40, 100)
    assert base == workload.plan(400, 40)[:200]
    assert len(first) == len(second) == 100
    assert first != second
    ledger = workload.run_ledger(workload.to_commands(base))
    tips = []
    for steps in (first, second):
        tip, refused = ub.branch(ledger, workload.to_commands(steps))
        assert refused == []
        assert len(tip.events) > len(ledger.events)
        tips.append(tip)
    assert tips[0] != tips[1]
    # Built at once in two threads, they are the same ledgers.
    both = ub.two_threads(ledger, *(workload.to_commands(s) for s in (first, second)))
    assert [tip for tip, _ in both] == tips


def test_a_refused_command_is_counted_not_raised() -> None:
    charge = pl.Charge("C1", "no such appointment", workload.usd(100))
    tip, refused = ub.branch(pl.Ledger.empty("USD"), [("charge", (pl.add_charge, (charge,), {}))])
    assert len(refused) == 1
    assert refused[0].startswith("charge: ")
    assert tip == pl.Ledger.empty("USD")


@pytest.mark.parametrize("patients", [1, 7])
def test_the_huge_patient_workload_is_accepted_and_exact(patients: int) -> None:
    steps, bare = ub.huge_steps(160, patients)
    kinds = Counter(kind for kind, _ in steps)
    assert kinds == {"pay": 160, "appointment": 20, "charge": 20, "apply": 20, "refund": 20}
    assert sum(1 for kind, a in steps if kind == "pay" and a[4] is None) == 80
    ledger = workload.run_ledger(workload.to_commands(steps))
    assert len(pl.patients(ledger)) == patients
    ub.check_against_bare(ledger, bare, pl.patients(ledger))
    # The general bucket is drawn on by applications and refunds.
    drawn = Counter(type(event).__name__ for event in ledger.events)
    assert drawn["UnallocatedApplied"] > 0
    assert drawn["RefundPosted"] == 20


def test_json_gives_the_figures_and_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--json", "--only", "branches,huge", "--m", "50", "--huge-sizes", "16,32"]
    assert ub.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert Path(out["engine"]) == Path(pl.__file__).resolve().parent
    figures = [ub.Figure(**f) for f in out["figures"]]
    assert {f.scenario for f in figures} == {ub.TITLES["branches"], ub.TITLES["huge"]}


def test_the_tables_show_every_figure() -> None:
    new = [
        ub.Figure("s", "a", 3.0, 1.0, 3.0, 2.0),
        ub.Figure("s", "b", 400.0, target=500.0, target_of="value"),
        ub.Figure("s", "c", 1.5, 1.0, 1.5),
    ]
    old = [ub.Figure("s", "a", 1.5, 1.0, 1.5, 2.0), ub.Figure("s", "d", 9.0)]
    text = ub.table(new)
    assert "FAIL" in text
    assert "pass" in text
    assert "ratio ≤ 2" in text
    assert "value ≤ 500" in text
    both = ub.side_by_side(new, old, ("new", "old")).splitlines()
    assert len(both) == 2 + 4
    row_a = both[2].split()
    assert row_a[-2:] == ["2.00", "2.00"]  # new/old of the value and of the ratio
    assert "missing" in both[3]
    assert "missing" in both[5]


def test_options_quick_and_explicit() -> None:
    o, _ = ub.options(["--quick", "--n", "1000", "--huge-sizes", "8,16,32"])
    assert (o.n, o.k, o.huge_sizes) == (1000, ub.QUICK["k"], [8, 16, 32])
    o, _ = ub.options([])
    assert o.n == ub.DEFAULTS["n"]
    assert o.only == list(ub.SCENARIOS)
    with pytest.raises(SystemExit):
        ub.options(["--only", "nope"])


def worktrees() -> str:
    return subprocess.run(
        ["git", "-C", str(ub.REPO), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout


def test_compare_runs_both_engines_on_the_same_work(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        before = worktrees()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not in a git repository")
    argv = ["--quick", "--json", "--only", "huge", "--huge-sizes", "16,32", "--compare", "HEAD"]
    assert ub.main(argv) == 0
    sides = json.loads(capsys.readouterr().out)
    assert Path(sides["new"]["engine"]) == ub.REPO / "src" / "patient_ledger"
    assert Path(sides["old"]["engine"]).name == "patient_ledger"
    assert not Path(sides["old"]["engine"]).exists()  # the worktree is gone
    names = [[f["figure"] for f in sides[side]["figures"]] for side in ("new", "old")]
    assert names[0] == names[1]
    assert names[0]
    assert worktrees() == before
