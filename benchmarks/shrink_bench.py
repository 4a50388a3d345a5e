"""How quickly the testing kit's properties catch docs/testing.md's planted bugs, and how well
Hypothesis shrinks what they find.

    PYTHONPATH=src:. python benchmarks/shrink_bench.py [--seeds 10] [--examples 100]
        [--bug BUG] [--property oracle|'one more'] [--json FILE]

For each planted bug × property (the page's oracle over ``ledgers()`` and its "one more
command" over ``one_more_command()``) × seed, one Hypothesis run of up to ``--examples``
examples, generation then shrinking, the way a test suite runs it. It prints:

* **caught**: the examples run up to the first failure (``-``: none failed);
* **shrink s**: seconds from that first failure to the end of the run (shrinking, then the
  final replay of the shrunk example);
* **steps**: commands in the shrunk example (the ledger's, plus the one more command);
* **extra**: steps beyond the fewest the bug needs (:data:`NEEDED`) — irrelevant commands the
  shrinker left.

Then, per bug and property, the worst count to catch, the median and worst shrink time and the
examples with extra steps. The code measured is the code the page shows (its doctest is run to
define it). Machines here are shared: times are wall-clock and noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import json
import statistics
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

from patient_ledger import Ledger
from patient_ledger.testing import ledgers, one_more_command

PAGE = Path(__file__).parent.parent / "docs" / "testing.md"
BUGS = ("open refunds ignored", "deposits ignored")

#: The fewest commands each bug needs to show, with either property: a payment and its
#: refund (a refund left open); a visit booked and a deposit paid to it (money held on it).
NEEDED = {"open refunds ignored": 2, "deposits ignored": 2}


def worked_example() -> dict[str, Any]:
    """The names the page's worked example defines, from the page itself."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("## A worked example")
    end = text.index("Each property runs as", start)
    globs: dict[str, Any] = {}
    test = doctest.DocTestParser().get_doctest(text[start:end], globs, "worked", str(PAGE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    if runner.run(test, clear_globs=False).failed:
        raise SystemExit("the worked example of docs/testing.md fails")
    return test.globs


def steps_in(example: Any) -> int:
    """Commands in an example: a ledger's (one an event, after the first), plus the one more
    command of a ``(ledger, step)`` case."""
    if isinstance(example, Ledger):
        return len(example.events) - 1
    ledger, _ = example
    return len(ledger.events)


def run(prop: Any, strategy: Any, planted: str, at: int, examples: int) -> dict[str, Any]:
    """One run: the examples to the first failure, the time spent after it, the shrunk
    example's steps."""
    ran = 0
    first: float | None = None
    caught: int | None = None
    last: list[Any] = []

    @seed(at)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def test(example: Any) -> None:
        nonlocal ran, first, caught
        ran += 1
        try:
            prop(example, planted)
        except AssertionError:
            if first is None:
                first, caught = time.perf_counter(), ran
            last[:] = [example]
            raise

    with contextlib.suppress(AssertionError):
        test()
    end = time.perf_counter()
    if first is None:
        return {"caught": None, "shrink": None, "steps": None, "extra": None}
    steps = steps_in(last[0])
    return {
        "caught": caught,
        "shrink": round(end - first, 2),
        "steps": steps,
        "extra": steps - NEEDED[planted],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--bug", choices=BUGS, help="only this planted bug")
    parser.add_argument("--property", choices=("oracle", "one more"), help="only this one")
    parser.add_argument("--json", help="also write every run to this file")
    options = parser.parse_args()
    names = worked_example()
    properties = {
        "oracle": (names["agrees_with_the_dashboard"], ledgers()),
        "one more": (names["moves_as_one_more_command_says"], one_more_command()),
    }
    results: list[dict[str, Any]] = []
    print(f"{'bug':22} {'property':9} {'seed':>4} {'caught':>6} {'shrink s':>8} steps extra")
    bugs = [b for b in BUGS if options.bug in {None, b}]
    properties = {k: v for k, v in properties.items() if options.property in {None, k}}
    for planted in bugs:
        for name, (prop, strategy) in properties.items():
            for at in range(options.seeds):
                row = {"bug": planted, "property": name, "seed": at}
                row |= run(prop, strategy, planted, at, options.examples)
                results.append(row)
                shown = {k: "-" if v is None else v for k, v in row.items()}
                print(
                    f"{planted:22} {name:9} {at:>4} {shown['caught']:>6} {shown['shrink']:>8} "
                    f"{shown['steps']:>5} {shown['extra']:>5}",
                    flush=True,
                )
    print()
    print(f"{'bug':22} {'property':9} caught (worst) shrink s (median, worst) extra steps")
    for planted in bugs:
        for name in properties:
            rows = [r for r in results if r["bug"] == planted and r["property"] == name]
            found = [r for r in rows if r["caught"] is not None]
            missed = len(rows) - len(found)
            worst = max((r["caught"] for r in found), default=None)
            shrinks = [r["shrink"] for r in found]
            extra = [r["extra"] for r in found if r["extra"]]
            print(
                f"{planted:22} {name:9} {len(found)}/{len(rows)} (≤ {worst}"
                f"{f', {missed} missed' if missed else ''}) "
                f"{statistics.median(shrinks) if shrinks else '-'}, "
                f"{max(shrinks, default='-')}  "
                f"{len(extra)} examples with extra steps {sorted(extra)}"
            )
    all_shrinks = [r["shrink"] for r in results if r["shrink"] is not None]
    if all_shrinks:
        print(f"\nmedian shrink over every run: {statistics.median(all_shrinks)} s")
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
