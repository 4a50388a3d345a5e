"""The layout: the core at the package root, each shell in a subpackage, old paths still working."""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from patient_ledger import _paths

SHELLS = ("persist", "adapters", "report", "cli", "testing")


@pytest.mark.parametrize(("old", "new"), sorted(_paths.MOVED.items()))
def test_an_old_path_is_the_moved_module_itself(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    assert sys.modules[old] is sys.modules[new]


def test_old_from_imports_work() -> None:
    from patient_ledger.adapters.frames import dataframes as new_dataframes
    from patient_ledger.frames import dataframes
    from patient_ledger.persist.store import open_store as new_open_store
    from patient_ledger.store import open_store

    assert open_store is new_open_store
    assert dataframes is new_dataframes


def test_a_class_pickled_under_its_old_path_loads() -> None:
    from patient_ledger.persist.store import Store

    old = pickle.dumps(Store, protocol=0).replace(
        b"patient_ledger.persist.store", b"patient_ledger.store"
    )
    assert b"patient_ledger.store" in old
    assert pickle.loads(old) is Store


def test_an_unknown_path_is_still_unknown() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("patient_ledger.nothing_here")


def test_import_patient_ledger_loads_no_shell() -> None:
    code = (
        "import sys, patient_ledger\n"
        "print(sorted(m for m in sys.modules if m.startswith('patient_ledger.')))\n"
        "print(sorted(m for m in ('cattrs', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    ).stdout.splitlines()
    loaded = eval(out[0])  # noqa: S307 - our own subprocess's repr of a list of str
    assert loaded, "the core modules are loaded"
    assert not [m for m in loaded if m.split(".")[1] in SHELLS], loaded
    assert eval(out[1]) == []  # noqa: S307
