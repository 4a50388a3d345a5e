"""Hypothesis profiles and shared fixtures.

Profiles: ``ci`` (derandomized, loaded when CI is set), ``dev`` (the default), ``deep``
(``HYPOTHESIS_PROFILE=deep``: long randomized runs that look for new bugs).
"""

from __future__ import annotations

import datetime
import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from moneyed import Money

from patient_ledger import Ledger

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "deep",
    max_examples=20_000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# For mutation testing: every mutant runs the tests that cover it, so keep each run short.
settings.register_profile(
    "mutation",
    derandomize=True,
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure is enough: no time spent shrinking
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

D = datetime.date


def usd(text: str) -> Money:
    return Money(text, "USD")


@pytest.fixture
def ledger() -> Ledger:
    return Ledger.empty("USD")
