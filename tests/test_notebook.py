"""The example notebook runs from top to bottom (so it never rots), on this tree's code, and is
stored with the outputs it gives."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
NOTEBOOK = ROOT / "docs" / "notebooks" / "explore.ipynb"
SRC = ROOT / "src"


def html_of(notebook: Any) -> list[str]:
    """The HTML each code cell shows, in order."""
    return [
        "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def sources(notebook: Any) -> list[str]:
    """Each code cell's source, in order (its last line: what it shows)."""
    return [cell.source.splitlines()[-1] for cell in notebook.cells if cell.cell_type == "code"]


def test_the_notebook_runs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    stored = nbformat.read(NOTEBOOK, as_version=4)
    notebook = copy.deepcopy(stored)
    # One more cell, not stored: which patient_ledger the kernel imported.
    notebook.cells.append(
        nbformat.v4.new_code_cell("import patient_ledger\nprint(patient_ledger.__file__)")
    )
    # The kernel is another process: it finds this tree's code on PYTHONPATH, whatever is
    # installed.
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"PYTHONPATH": path}
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute(env=env)
    imported = notebook.cells.pop().outputs[0]["text"].strip()
    assert Path(imported).resolve().is_relative_to(SRC.resolve()), imported
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(html_of(notebook))
    assert 'class="amount green"' in html
    assert 'class="amount yellow"' in html
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert "figures differ between oldest first and smallest first" in html
    # Stored with its outputs; the comparison it stores is the one it shows today (the other
    # tables follow the renderers, which change on their own).
    assert all(cell.outputs for cell in stored.cells if cell.cell_type == "code")
    # Month-end (SPEC §12): a month of statements, and the deposit check flags the one deposit
    # that does not match the day sheets (March 10's cash, 10.00 short) and no other.
    shown = dict(zip(sources(notebook), html_of(notebook), strict=True))
    assert "amount_due" in shown['march["statements"]']
    flagged = shown['check[check["difference"] != 0]']
    assert "2025-03-10" in flagged
    assert "CASH" in flagged
    assert "-10.00" in flagged
    assert "2025-03-05" not in flagged
    assert flagged.count("<tr>") == 2  # the heading's row and the one that does not match
    compared = [h for h in html_of(notebook) if "patient-ledger-comparison" in h]
    assert compared
    assert compared == [h for h in html_of(stored) if "patient-ledger-comparison" in h]
