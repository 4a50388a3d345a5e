"""Import paths of the modules that moved into the shell subpackages.

Until 0.9 every module sat at the package root; the shells now live by role
(:mod:`patient_ledger.persist`, :mod:`~patient_ledger.adapters`, :mod:`~patient_ledger.report`,
:mod:`~patient_ledger.cli`, :mod:`~patient_ledger.testing`). Their old public paths keep
working: ``import patient_ledger.store`` gives the very module ``patient_ledger.persist.store``
(one module object, so a patch through either path is seen through both, and old pickles load).
Nothing is imported until an old path is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

#: Old public path → where the module lives now.
MOVED = {
    "patient_ledger.journal": "patient_ledger.persist.journal",
    "patient_ledger.snapshot": "patient_ledger.persist.snapshot",
    "patient_ledger.store": "patient_ledger.persist.store",
    "patient_ledger.practice": "patient_ledger.persist.practice",
    "patient_ledger.imports": "patient_ledger.adapters.imports",
    "patient_ledger.drchrono": "patient_ledger.adapters.drchrono",
    "patient_ledger.fhir": "patient_ledger.adapters.fhir",
    "patient_ledger.frames": "patient_ledger.adapters.frames",
    "patient_ledger.batch": "patient_ledger.adapters.batch",
    "patient_ledger.tables": "patient_ledger.report.tables",
    "patient_ledger.render": "patient_ledger.report.render",
    "patient_ledger.demo": "patient_ledger.cli.demo",
    "patient_ledger.generate": "patient_ledger.testing.generate",
}


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module that lives at the new one."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 - the finder protocol's
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its new path."""


def install() -> None:
    """Let the old paths be imported (once per interpreter)."""
    if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(_OldPaths())
