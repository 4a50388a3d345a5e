"""Hypothesis profiles and shared fixtures.

The profiles are the testing kit's (``patient_ledger.testing.register_profiles``): ``ci``
(derandomized, loaded when CI is set), ``dev`` (the default), ``deep``
(``HYPOTHESIS_PROFILE=deep``: long randomized runs that look for new bugs) and ``mutation``.
"""

from __future__ import annotations

import pytest

from patient_ledger import Ledger
from patient_ledger.testing import register_profiles

register_profiles()


@pytest.fixture
def ledger() -> Ledger:
    return Ledger.empty("USD")
