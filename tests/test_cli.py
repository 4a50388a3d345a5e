"""The command line and the demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patient_ledger.cli import main


def test_demo_plays_the_seed_walkthrough(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--scenario", "seed", "--colour", "never"]) == 0
    out = capsys.readouterr().out
    assert "Step 6:" in out
    assert "200.00 [G]" in out  # the green box: the patient's unallocated $200
    assert "20.00 [Y]" in out  # the yellow box: A2's own unallocated $20
    assert "replayed and compared equal" in out
    assert "\x1b[" not in out


def test_demo_in_colour_and_the_month(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--colour", "always"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[42;30m" in out
    assert "Aging at month end" in out
    assert "Scenario: month" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["nonsense"])
    assert caught.value.code == 2


def test_python_dash_m_runs_the_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "patient_ledger", "demo", "--scenario", "seed"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "Live claims feed" in done.stdout
