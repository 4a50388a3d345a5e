"""The benchmark workload, installed as :mod:`patient_ledger.testing.generate` (where its
planner now
lives, so that ``testing.generate.practice`` and ``patient-ledger demo --generate`` draw
the same mix); the benchmarks and their tests import it from here as before.

``plan(n, patients)`` draws ``n`` steps of every command while running them on :class:`Bare`,
the same balance arithmetic over integer cents in plain dicts: timing ``Bare`` over the steps
gives the floor for pure Python that the ledger is compared with.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _generate() -> ModuleType:
    """``patient_ledger.testing.generate`` — or, under an engine from before it was installed (what
    ``usage_bench.py --compare`` runs), this tree's own copy, loaded from its file: it uses only
    the public commands and values every release has."""
    try:
        from patient_ledger import generate  # noqa: PLC0415 - an older release's own path
    except ImportError:
        path = Path(__file__).resolve().parents[1] / "src/patient_ledger/testing/generate.py"
        spec = importlib.util.spec_from_file_location("_workload_generate", path)
        assert spec is not None
        assert spec.loader is not None
        generate = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = generate  # attrs and dataclasses look their module up
        spec.loader.exec_module(generate)
    return generate


_g = _generate()
KINDS = _g.KINDS
MIX = _g.MIX
START = _g.START
Bare = _g.Bare
Command = _g.Command
Planner = _g.Planner
Step = _g.Step
bare_loop = _g.bare_loop
plan = _g.plan
run_ledger = _g.run_ledger
to_commands = _g.to_commands
usd = _g.usd

__all__ = [
    "KINDS",
    "MIX",
    "START",
    "Bare",
    "Command",
    "Planner",
    "Step",
    "bare_loop",
    "plan",
    "run_ledger",
    "to_commands",
    "usd",
]
