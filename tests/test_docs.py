"""The documentation keeps up with the code."""

from __future__ import annotations

from pathlib import Path

import patient_ledger as pl

DOCS = Path(__file__).parent.parent / "docs"


def test_every_public_name_is_in_the_api_page() -> None:
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    missing = [name for name in pl.__all__ if name not in page and not name.startswith("__")]
    assert not missing, missing
