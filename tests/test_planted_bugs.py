"""docs/testing.md's worked example, measured: which properties catch the two bugs planted in a
statement builder, and in how many examples (ten seeds, 100 examples each)."""

from __future__ import annotations

import doctest
import functools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from patient_ledger.testing import ledgers, one_more_command
from tests.helpers import no_local_constants

PAGE = Path(__file__).parent.parent / "docs" / "testing.md"
SEEDS = range(10)


@functools.cache
def worked_example() -> dict[str, Any]:
    """The names the page's worked example defines (its statement builder and properties),
    from the page itself: the code measured here is the code the page shows."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("## A worked example")
    end = text.index("Each property runs as", start)
    globs: dict[str, Any] = {}
    test = doctest.DocTestParser().get_doctest(text[start:end], globs, "worked", str(PAGE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    assert runner.run(test, clear_globs=False).failed == 0
    return test.globs


def examples_to_catch(prop: Any, strategy: Any, planted: str, at: int) -> int | None:
    """How many examples the property ran up to its first failure (None: none in 100)."""
    ran: list[int] = []

    @seed(at)
    @settings(
        max_examples=100,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(strategy)
    def test(example: Any) -> None:
        ran.append(1)
        prop(example, planted)

    try:
        with no_local_constants():  # the same examples alone as in the whole suite
            test()
    except AssertionError:
        return len(ran)
    return None


def measured(name: str, planted: str) -> list[int | None]:
    names = worked_example()
    prop, strategy = {
        "natural": (names["natural_properties"], ledgers()),
        "oracle": (names["agrees_with_the_dashboard"], ledgers()),
        "one more": (names["moves_as_one_more_command_says"], one_more_command()),
    }[name]
    return [examples_to_catch(prop, strategy, planted, at) for at in SEEDS]


@pytest.mark.parametrize("planted", ["open refunds ignored", "deposits ignored"])
def test_the_natural_properties_catch_neither_bug(planted: str) -> None:
    assert measured("natural", planted) == [None] * len(SEEDS)


@pytest.mark.parametrize("planted", ["open refunds ignored", "deposits ignored"])
def test_the_oracle_catches_both_bugs_within_100_examples_every_time(planted: str) -> None:
    counts = measured("oracle", planted)
    assert None not in counts, counts


def test_one_more_command_catches_deposits_ignored_every_time() -> None:
    counts = measured("one more", "deposits ignored")
    assert None not in counts, counts


def test_one_more_command_catches_open_refunds_ignored_every_time() -> None:
    """It needs a refund, a cancellation or a reversal touching an open refund as its one more
    command: the kind of step drawn most often after a general payment."""
    counts = measured("one more", "open refunds ignored")
    assert None not in counts, counts
