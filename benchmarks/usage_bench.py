"""Ledgers used as values: for each way they are used, ratios measured in one run.

    python benchmarks/usage_bench.py [--n 100000] [--patients 10000] [--repeat 3] [--k 2000]
        [--m 10000] [--huge-sizes 20000,40000] [--budget 5] [--only SCENARIO,...] [--quick]
        [--json] [--compare REF]

Every scenario runs the workload of ``benchmarks/workload.py`` (or, for the huge patient, steps
planned here against the same ``Bare`` balances) through the public API, and compares its time
with a *baseline* measured in the same run, so the ratios mean something on a shared, noisy
machine. Each timed figure is the best of ``--repeat`` runs, but a timing is not repeated once
its runs so far took ``--budget`` seconds (the note says so): an engine a thousand times off its
target needs no third run to show it.

* ``straight``: building N mixed commands against the bare integer-cents loop; ``replay`` of its
  journal against the same loop; 2N/N build times, the ledger's against the bare loop's own.
* ``alternating``: K ``dashboard`` calls alternating between the ledger after N/2 commands and
  the one after N (both held; patients both know), against K calls on the newest one only. A
  timed loop stops after ``--budget`` seconds (the figure is per call, over the calls made).
* ``branches``: from the ledger after N/2 commands, two threads each extend their own branch by
  M commands (two different continuations of the plan, each valid on that base), against the
  same two branches built one after the other in one thread. Any refused command fails the run.
* ``huge``: payments (``--huge-sizes``) posted to ONE patient — half to no appointment, half to
  that patient's charged appointments, with refunds and ``apply_unallocated`` drawing on the
  general bucket — against the same commands spread over ``--patients`` patients: µs per command,
  and the growth between sizes (a cost per command that grows with the patient shows as 2N/N
  above the spread's; a quadratic one as 4).
* ``memory``: bytes per event (``tracemalloc``, retained after ``gc.collect`` and peak) of
  building N commands keeping only the newest ledger, keeping the first ledgers (the empty one
  and the one after 10 commands) too, and keeping every 1000th.

``--compare REF`` runs every scenario twice, each in a subprocess (``--json``): once on this
tree's ``src/`` and once on REF's, checked out with ``git worktree add --detach`` into a temporary
folder (removed afterwards) and put first on ``PYTHONPATH``. Both run this script and this
``workload.py``, so the work is identical; the two engines alternate scenario by scenario, and the
tables are printed side by side with new/old for each figure.

The targets (pass/fail in the table): building ≤ 10× the bare loop, ``replay`` ≤ 5×, the build's
2N/N ≤ 1.10× the bare loop's own; alternating reads ≤ 2× reads of the newest ledger only; two
threads ≤ 1.3× one; one patient ≤ 2× the spread cost per command, and its growth between sizes
≤ 1.10× the spread's; ≤ 500 bytes retained per event whether or not the first ledgers are held.
Figures without a target are shown for information. ``--quick`` (small sizes, one run) finishes
in about a second; ``--n 20000`` in one or two minutes.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gc
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
try:
    import patient_ledger as pl
    import workload
    from workload import START, Bare, Step, bare_loop, run_ledger, to_commands
except Exception as error:  # noqa: BLE001 - an engine mid-rewrite: --compare may still run REF
    _IMPORT_ERROR: Exception | None = error
else:
    _IMPORT_ERROR = None

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("straight", "alternating", "branches", "huge", "memory")
TITLES = {
    "straight": "1 straight line",
    "alternating": "2 alternating reads",
    "branches": "3 two threads, two branches",
    "huge": "4 one huge patient",
    "memory": "5 memory",
}
DEFAULTS = {
    "n": 100_000,
    "patients": 10_000,
    "repeat": 3,
    "k": 2_000,
    "m": 10_000,
    "huge_sizes": "20000,40000",
    "budget": 5.0,
}
QUICK = {
    "n": 2_000,
    "patients": 200,
    "repeat": 1,
    "k": 200,
    "m": 500,
    "huge_sizes": "400,800",
    "budget": 1.0,
}


# -- figures -------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the table: a value, the baseline measured beside it, and the target."""

    scenario: str
    figure: str
    value: float
    baseline: float | None = None
    ratio: float | None = None
    #: The most allowed (``None``: shown for information), of the ratio or of the value.
    target: float | None = None
    target_of: str = "ratio"
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.target_of == "ratio" else self.value
        return measured is not None and measured <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "-"
        if self.target_of == "ratio":
            return f"ratio ≤ {self.target:g}"
        return f"value ≤ {self.target:g}"


@dataclass
class Options:
    n: int
    patients: int
    repeat: int
    k: int
    m: int
    huge_sizes: list[int]
    budget: float
    only: list[str] = field(default_factory=lambda: list(SCENARIOS))


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


# -- helpers -------------------------------------------------------------------------------------


@dataclass
class Timed:
    seconds: float  # the shortest run
    result: Any  # the last run's
    runs: int


def best(o: Options, work: Callable[[], Any], before: Callable[[], object] | None = None) -> Timed:
    """The shortest of ``o.repeat`` timed runs of ``work`` (``before`` runs untimed ahead of
    each), and the last result; no further run once the runs so far took ``o.budget`` seconds."""
    times: list[float] = []
    result = None
    while len(times) < o.repeat and sum(times) < o.budget:
        if before is not None:
            before()
        gc.collect()
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return Timed(min(times), result, len(times))


def joined(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def fewer(o: Options, *timed: Timed | int) -> str:
    """A note when the budget cut the repeats short (of timings, or their numbers of runs)."""
    runs = min(t if isinstance(t, int) else t.runs for t in timed)
    return f"best of {runs} (budget {o.budget:g}s)" if runs < o.repeat else ""


def planned(n: int, patients: int) -> tuple[list[Step], list[Any]]:
    """The workload's ``n`` steps, and the same as library calls (planned afresh for each
    scenario, so that no other scenario's data is alive, and collected, while it runs)."""
    progress(f"planning {n:,} commands over {patients:,} patients")
    steps = workload.plan(n, patients)
    return steps, to_commands(steps)


def extend(ledger: pl.Ledger, commands: Sequence[Any]) -> pl.Ledger:
    """Run ``commands`` on ``ledger``, one after another (a refusal raises)."""
    for _, (command, args, kwargs) in commands:
        ledger = command(ledger, *args, **kwargs)
    return ledger


def branch(base: pl.Ledger, commands: Sequence[Any]) -> tuple[pl.Ledger, list[str]]:
    """Extend ``base`` by ``commands``; the refused ones are listed (and skipped), not raised."""
    ledger, refused = base, []
    for kind, (command, args, kwargs) in commands:
        try:
            ledger = command(ledger, *args, **kwargs)
        except pl.LedgerError as error:
            refused.append(f"{kind}: {error}")
    return ledger, refused


def bare_figures(bare: Bare, pid: str) -> tuple[int, int, int, int]:
    """A patient's Total Paid, allocated, unallocated and statement balance in ``Bare``."""
    aids = bare.appointments.get(pid, [])
    return (
        bare.paid[pid],
        sum(bare.allocated[a] for a in aids),
        bare.general[pid] + sum(bare.held[a] for a in aids),
        sum(bare.charged[a] - bare.allocated[a] for a in aids),
    )


def ledger_figures(ledger: pl.Ledger, pid: str) -> tuple[int, int, int, int]:
    """The same four figures from the ledger's dashboard, in cents."""
    d = pl.dashboard(ledger, pid)
    shown = (d.total_paid, d.allocated, d.unallocated, d.statement_balance)
    return tuple(int(m.amount * 100) for m in shown)  # type: ignore[return-value]


def check_against_bare(ledger: pl.Ledger, bare: Bare, pids: Sequence[str]) -> None:
    for pid in pids:
        if ledger_figures(ledger, pid) != bare_figures(bare, pid):
            raise AssertionError(f"patient {pid}: the ledger and the bare loop disagree")


# -- 1. straight line ----------------------------------------------------------------------------


def straight(o: Options) -> list[Figure]:
    """N and 2N commands: the ledger and ``replay`` against the bare loop, and 2N/N."""
    s = TITLES["straight"]
    times = {}
    figures = []
    for n in (o.n, 2 * o.n):
        steps, commands = planned(n, o.patients)
        progress(f"straight line, {n:,} commands: bare loop, ledger, replay")
        loop = best(o, lambda steps=steps: bare_loop(steps))
        build = best(o, lambda commands=commands: run_ledger(commands))
        ledger = build.result
        events = ledger.events
        replay = best(o, lambda events=events: pl.replay(events))
        if replay.result != ledger:
            raise AssertionError("replay(ledger.events) is not the ledger")
        t_loop, t_ledger, t_replay = loop.seconds, build.seconds, replay.seconds
        del steps, commands
        times[n] = (t_loop, t_ledger, t_replay)
        loop_us = t_loop / n * 1e6
        figures += [
            Figure(s, f"build µs/command, N={n:,}", t_ledger / n * 1e6, loop_us, t_ledger / t_loop,
                   10, note=fewer(o, loop, build)),
            Figure(s, f"replay µs/event, N={n:,} ({len(events):,} ev.)",
                   t_replay / len(events) * 1e6, loop_us, t_replay / t_loop, 5,
                   note=fewer(o, loop, replay)),
        ]  # fmt: skip
        del ledger, events, build, replay
    (loop1, build1, replay1), (loop2, build2, replay2) = times[o.n], times[2 * o.n]
    loop = loop2 / loop1
    figures += [
        Figure(s, "build 2N/N (baseline: bare loop's)", build2 / build1, loop,
               build2 / build1 / loop, 1.10),
        Figure(s, "replay 2N/N (baseline: bare loop's)", replay2 / replay1, loop,
               replay2 / replay1 / loop),
    ]  # fmt: skip
    return figures


# -- 2. alternating reads ------------------------------------------------------------------------


def timed_dashboards(
    calls: Sequence[tuple[pl.Ledger, str]], budget: float
) -> tuple[float, list[Any]]:
    """Seconds for ``dashboard`` on each (ledger, patient), stopping once ``budget`` is spent."""
    clock = time.perf_counter
    shown = []
    start = clock()
    deadline = start + budget
    for ledger, pid in calls:
        shown.append(pl.dashboard(ledger, pid))
        if clock() > deadline:
            break
    return clock() - start, shown


def alternating(o: Options) -> list[Figure]:
    """K dashboards alternating between two held ledgers N/2 commands apart, against K on the
    newest only."""
    _, commands = planned(o.n, o.patients)
    progress(f"alternating reads: building {o.n:,} commands, holding the one after {o.n // 2:,}")
    half = run_ledger(commands[: o.n // 2])
    newest = extend(half, commands[o.n // 2 :])
    known = pl.patients(half)
    rng = random.Random(11)
    pids = [rng.choice(known) for _ in range(o.k)]
    both = [(half if i % 2 == 0 else newest, pid) for i, pid in enumerate(pids)]
    only = [(newest, pid) for pid in pids]

    def settle() -> None:  # every timed loop starts with the newest ledger just read
        pl.dashboard(newest, pids[0])

    per_call, made, repeats, read = {}, {}, {}, []
    for name, calls in (("both", both), ("newest", only)):
        progress(f"alternating reads: {o.k:,} dashboards ({name})")
        runs: list[float] = []
        spent = 0.0
        while len(runs) < o.repeat and spent < o.budget:
            settle()
            gc.collect()
            seconds, shown = timed_dashboards(calls, o.budget)
            spent += seconds
            runs.append(seconds / len(shown))
        per_call[name] = min(runs)
        made[name] = len(shown)
        repeats[name] = len(runs)
        read += zip(calls, shown, strict=False)
    # Each ledger read as it was made: as a ledger replayed from its journal reads.
    fresh = (pl.replay(half.events), pl.replay(newest.events))  # each its own lineage
    for (ledger, pid), got in read:
        if got != pl.dashboard(fresh[ledger is newest], pid):
            raise AssertionError(f"a held ledger's dashboard of {pid} is not its own")
    note = ""
    if made["both"] < o.k or made["newest"] < o.k:
        note = f"{made['both']:,} / {made['newest']:,} of {o.k:,} calls (budget {o.budget:g}s)"
    if min(repeats.values()) < o.repeat:
        note = joined(note, f"best of {min(repeats.values())}")
    return [
        Figure(
            TITLES["alternating"],
            f"dashboard µs/call, 2 ledgers {o.n // 2:,} cmds apart",
            per_call["both"] * 1e6,
            per_call["newest"] * 1e6,
            per_call["both"] / per_call["newest"],
            2,
            note=note,
        )
    ]


# -- 3. two threads on two branches --------------------------------------------------------------


def _draw(planner: Any, i: int, n: int) -> Step:
    """Step ``i`` of ``planner``, drawn exactly as ``workload.plan(n, ...)`` draws it."""
    kinds = [kind for kind, _ in workload.MIX]
    weights = [weight for _, weight in workload.MIX]
    kind = planner.rng.choices(kinds, weights)[0] if planner.aids else "appointment"
    return planner.step(i, kind, START + datetime.timedelta(days=i * 365 // n))


def continuations(
    n: int, patients: int, m: int, seed: int = 7
) -> tuple[list[Step], list[Step], list[Step]]:
    """The plan's first ``n // 2`` steps (``workload.plan(n, patients, seed)[: n // 2]``), and two
    different continuations of ``m`` steps, each valid on them: the plan's own, and one drawn by a
    copy of its planner with another seed."""
    planner = workload.Planner(patients, seed)  # the plan, continued two ways
    base = [_draw(planner, i, n) for i in range(n // 2)]
    other = copy.deepcopy(planner)
    other.rng.seed(seed + 1)
    ahead = range(n // 2, n // 2 + m)
    return base, [_draw(planner, i, n) for i in ahead], [_draw(other, i, n) for i in ahead]


def two_threads(
    base: pl.Ledger, first: Sequence[Any], second: Sequence[Any]
) -> list[tuple[pl.Ledger, list[str]]]:
    """Both branches built at once, one thread each."""
    results: list[Any] = [None, None]

    def work(slot: int, commands: Sequence[Any]) -> None:
        try:
            results[slot] = branch(base, commands)
        except BaseException as error:  # noqa: BLE001 - raised again in the calling thread
            results[slot] = error

    threads = [
        threading.Thread(target=work, args=(slot, commands))
        for slot, commands in enumerate((first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def journals(tips: list[tuple[pl.Ledger, list[str]]]) -> list[tuple[Sequence[Any], list[str]]]:
    return [(tip.events, refused) for tip, refused in tips]


def branches(o: Options) -> list[Figure]:
    """Two branches of M commands from one base: two threads against one thread."""
    progress(f"two branches: planning {o.n // 2:,} + 2 x {o.m:,} commands")
    base_steps, first_steps, second_steps = continuations(o.n, o.patients, o.m)
    base = run_ledger(to_commands(base_steps))
    first, second = to_commands(first_steps), to_commands(second_steps)
    pid = pl.patients(base)[0]

    def settle() -> None:  # both ways start from the base just read
        pl.dashboard(base, pid)

    progress(f"two branches: 2 x {o.m:,} commands, one thread then two")
    # Each way keeps the branches' journals, not their ledgers: no tip is alive during the other.
    timed_one = best(o, lambda: journals([branch(base, first), branch(base, second)]), settle)
    timed_two = best(o, lambda: journals(two_threads(base, first, second)), settle)
    (t_one, one), (t_two, two) = [(t.seconds, t.result) for t in (timed_one, timed_two)]
    refused = [r for _, rs in (*one, *two) for r in rs]
    if refused:
        raise AssertionError(f"{len(refused)} commands refused; the first: {refused[0]}")
    if [events for events, _ in one] != [events for events, _ in two]:
        raise AssertionError("a branch built in a thread differs from the one built alone")
    (events_a, _), (events_b, _) = two
    if events_a == events_b or min(len(events_a), len(events_b)) <= len(base.events):
        raise AssertionError("the two branches did not grow apart")
    per = 2 * o.m / 1e6
    return [
        Figure(
            TITLES["branches"],
            f"µs/command, 2 threads x {o.m:,} (vs 1 thread)",
            t_two / per,
            t_one / per,
            t_two / t_one,
            1.3,
            note=joined(f"0 refused of {2 * o.m:,}", fewer(o, timed_one, timed_two)),
        )
    ]


# -- 4. one huge patient -------------------------------------------------------------------------


def huge_steps(payments: int, patients: int, seed: int = 5) -> tuple[list[Step], Bare]:
    """About ``payments`` payments, in blocks of 12 steps to patient ``P{b % patients}`` (block
    ``b``): 8 payments (4 to no appointment, 4 to the block's appointment), the appointment and
    its charge, an application of the general bucket to it, and a refund from that bucket. Each
    step is valid against the balances ``Bare`` holds (returned, having run them)."""
    rng = random.Random(seed)
    bare = Bare()
    steps: list[Step] = []

    def add(kind: str, *a: Any) -> None:
        getattr(bare, kind)(a)
        steps.append((kind, a))

    blocks = max(1, payments // 8)
    for b in range(blocks):
        pid, aid = f"P{b % patients}", f"A{b}"
        day = START + datetime.timedelta(days=b * 365 // blocks)
        add("pay", f"PAY{b}.1", pid, rng.randrange(500, 20_000), day, None)
        add("appointment", aid, pid, day)
        add("charge", f"C{b}", aid, rng.randrange(10_000, 40_000))
        add("pay", f"PAY{b}.2", pid, rng.randrange(500, 20_000), day, aid)
        add("pay", f"PAY{b}.3", pid, rng.randrange(500, 20_000), day, None)
        add("apply", pid, aid, day)  # as much of the general bucket as the appointment owes
        add("pay", f"PAY{b}.4", pid, rng.randrange(500, 20_000), day, None)
        add("pay", f"PAY{b}.5", pid, rng.randrange(500, 5_000), day, aid)
        add("refund", f"R{b}", pid, bare.general[pid] // 3, day)  # >= 166: PAY{b}.4 is held
        add("pay", f"PAY{b}.6", pid, rng.randrange(500, 5_000), day, aid)
        add("pay", f"PAY{b}.7", pid, rng.randrange(500, 20_000), day, None)
        add("pay", f"PAY{b}.8", pid, rng.randrange(500, 20_000), day, aid)
    return steps, bare


def huge(o: Options) -> list[Figure]:
    """Payments to one patient against the same commands spread over many."""
    s = TITLES["huge"]
    figures = []
    times: dict[int, tuple[float, float]] = {}
    for size in o.huge_sizes:
        per_way = {}
        for way, patients in (("one", 1), ("spread", o.patients)):
            steps, bare = huge_steps(size, patients)
            commands = to_commands(steps)
            progress(f"huge patient: {len(commands):,} commands, {size:,} payments, {way}")
            timed = best(o, lambda commands=commands: run_ledger(commands))
            check_against_bare(timed.result, bare, sorted(bare.paid)[:50])
            per_way[way] = timed.seconds, len(commands), timed.runs
            del timed, commands, steps, bare  # no ledger alive during the next timing
        (t_one, count, runs_one), (t_spread, _, runs_spread) = per_way["one"], per_way["spread"]
        times[size] = (t_one, t_spread)
        figures.append(
            Figure(s, f"µs/command, {size:,} payments to 1 patient", t_one / count * 1e6,
                   t_spread / count * 1e6, t_one / t_spread, 2,
                   note=joined(f"{count:,} cmds; baseline {min(o.patients, size // 8):,} patients",
                               fewer(o, runs_one, runs_spread)))
        )  # fmt: skip
    for a, b in zip(o.huge_sizes, o.huge_sizes[1:], strict=False):
        (one_a, spread_a), (one_b, spread_b) = times[a], times[b]
        figures.append(
            Figure(s, f"time {b:,}/{a:,} payments, 1 patient", one_b / one_a, spread_b / spread_a,
                   (one_b / one_a) / (spread_b / spread_a), 1.10, note="baseline: spread's")
        )  # fmt: skip
    return figures


# -- 5. memory -----------------------------------------------------------------------------------


def traced_build(
    commands: Sequence[Any],
    keep: Callable[[int], bool],
    after: Callable[[pl.Ledger], object] | None = None,
) -> tuple[float, float, int]:
    """Bytes per event retained (after ``gc.collect``) and at peak while building, keeping
    alive the ledger after each ``i`` commands for which ``keep(i)`` (and running ``after`` on
    the newest); and how many were kept."""
    gc.collect()
    tracemalloc.start()
    try:
        ledger = pl.Ledger.empty("USD")
        kept = [ledger] if keep(0) else []
        for i, (_, (command, args, kwargs)) in enumerate(commands, 1):
            ledger = command(ledger, *args, **kwargs)
            if keep(i):
                kept.append(ledger)
        if after is not None:
            after(ledger)
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    events = len(ledger.events)
    return retained / events, peak / events, len(kept)


def checkpoints(ledger: pl.Ledger) -> None:
    """Every checkpoint a dated view of the whole journal would keep (at most 8), made as
    ``views.as_of`` makes them (this workload posts charges late: its dated views refuse)."""
    try:
        from patient_ledger import _dated  # noqa: PLC0415 - an engine from before has none
    except ImportError:
        return
    _dated.state_at(ledger, _dated.index(ledger, lambda _: 0), len(ledger.events))


def memory(o: Options) -> list[Figure]:
    """Bytes per event of a build, holding the newest, the first, or every 1000th ledger."""
    s = TITLES["memory"]
    _, commands = planned(o.n, o.patients)
    ways = (
        ("newest ledger only", lambda _: False, None),
        ("the first (empty, 10th) held too", lambda i: i in {0, 10}, None),
        ("every 1000th held too", lambda i: 0 < i < len(commands) and i % 1000 == 0, None),
        ("dated views' checkpoints held too", lambda _: False, checkpoints),
    )
    measured = {}
    for name, keep, after in ways:
        progress(f"memory: {o.n:,} commands, {name}")
        measured[name] = traced_build(commands, keep, after)
    newest, newest_peak, _ = measured["newest ledger only"]
    figures = []
    for name, (retained, _, kept) in measured.items():
        first = name == "newest ledger only"
        figures.append(
            Figure(s, f"bytes/event retained, {name}", retained, None if first else newest,
                   None if first else retained / newest,
                   None if name.startswith(("every", "dated")) else 500, "value",
                   note="" if first else f"{kept:,} older ledgers held")
        )  # fmt: skip
    for name, (_, peak, _) in measured.items():
        first = name == "newest ledger only"
        figures.append(
            Figure(s, f"bytes/event at peak, {name}", peak, None if first else newest_peak,
                   None if first else peak / newest_peak)
        )  # fmt: skip
    return figures


RUNS: dict[str, Callable[[Options], list[Figure]]] = {
    "straight": straight,
    "alternating": alternating,
    "branches": branches,
    "huge": huge,
    "memory": memory,
}


def run(o: Options) -> list[Figure]:
    """Every chosen scenario, in order."""
    return [figure for name in o.only for figure in RUNS[name](o)]


# -- the tables ----------------------------------------------------------------------------------


def num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.2f}"


def verdict(passed: bool | None) -> str:
    return {None: "", True: "pass", False: "FAIL"}[passed]


def table(figures: Sequence[Figure]) -> str:
    """Scenario, figure, value, baseline, ratio, target, pass/fail (and a note)."""
    head = ("scenario", "figure", "value", "baseline", "ratio", "target", "", "note")
    rows = [
        (f.scenario, f.figure, num(f.value), num(f.baseline), num(f.ratio), f.target_text(),
         verdict(f.passed), f.note)
        for f in figures
    ]  # fmt: skip
    return _columns(head, rows, right={2, 3, 4})


def side_by_side(new: Sequence[Figure], old: Sequence[Figure], labels: tuple[str, str]) -> str:
    """The two runs' figures, matched by scenario and figure, with new/old of value and ratio."""
    olds = {(f.scenario, f.figure): f for f in old}
    news = {(f.scenario, f.figure): f for f in new}
    keys = list(news) + [key for key in olds if key not in news]
    a, b = labels
    head = ("scenario", "figure", "target", f"{a}: value", "baseline", "ratio", "",
            f"{b}: value", "baseline", "ratio", "", "value n/o", "ratio n/o")  # fmt: skip
    rows = []
    for key in keys:
        n, o = news.get(key), olds.get(key)
        some = n or o
        assert some is not None
        rows.append(
            (*key, some.target_text(),
             *((num(n.value), num(n.baseline), num(n.ratio), verdict(n.passed)) if n else
               ("missing", "", "", "")),
             *((num(o.value), num(o.baseline), num(o.ratio), verdict(o.passed)) if o else
               ("missing", "", "", "")),
             num(_quotient(n and n.value, o and o.value)),
             num(_quotient(n and n.ratio, o and o.ratio)))
        )  # fmt: skip
    return _columns(head, rows, right={3, 4, 5, 7, 8, 9, 11, 12})


def _quotient(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None or y == 0 else x / y


def _columns(head: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(str(row[i])) for row in (head, *rows)) for i in range(len(head))]
    lines = []
    for row in (head, *rows):
        cells = [
            str(cell).rjust(width) if i in right else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# -- where the engine comes from, and --compare --------------------------------------------------


def git(folder: Path, *args: str) -> str:
    """What ``git -C folder args...`` prints; a failure raises, with git's message."""
    done = subprocess.run(  # noqa: S603 - git itself, with arguments built here
        [shutil.which("git") or "git", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def engine() -> dict[str, str]:
    """The imported engine: its folder, and the commit (and edits) of the tree it is in."""
    src = Path(pl.__file__).resolve().parent
    info = {"engine": str(src), "commit": "?"}
    try:
        edited = git(src, "status", "--porcelain", "--", ".")
        info["commit"] = git(src, "rev-parse", "--short", "HEAD") + (
            " + uncommitted edits" if edited else ""
        )
    except (OSError, RuntimeError):
        pass
    return info


def header(o: Options, info: dict[str, str]) -> str:
    return (
        f"engine {info.get('engine')} ({info.get('commit')}); python {sys.version.split()[0]}\n"
        f"N={o.n:,}  patients={o.patients:,}  K={o.k:,}  M={o.m:,}  "
        f"huge sizes={','.join(f'{x:,}' for x in o.huge_sizes)}  best of {o.repeat}; "
        f"µs = microseconds; ratio = value / baseline"
    )


def option_args(o: Options) -> list[str]:
    """The command-line options that give ``o`` (for a subprocess)."""
    return [
        "--n", str(o.n), "--patients", str(o.patients), "--repeat", str(o.repeat),
        "--k", str(o.k), "--m", str(o.m), "--budget", str(o.budget),
        "--huge-sizes", ",".join(map(str, o.huge_sizes)),
    ]  # fmt: skip


def child(src: Path, o: Options, scenario: str) -> dict[str, Any] | None:
    """This script's figures of one scenario, with the engine in ``src`` (None if it failed)."""
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, str(Path(__file__).resolve()), "--json", "--only", scenario]
    done = subprocess.run(  # noqa: S603 - this script, with options built here
        [*command, *option_args(o)], env=env, stdout=subprocess.PIPE, text=True, check=False
    )
    if done.returncode:
        progress(f"{scenario} with {src} failed (exit {done.returncode}): see above")
        return None
    out = json.loads(done.stdout)
    if not Path(out["engine"]).is_relative_to(src.resolve()):
        raise RuntimeError(f"asked for the engine in {src}, ran {out['engine']}")
    return out


def compare(o: Options, ref: str, as_json: bool) -> int:
    """Each scenario on this tree's engine and on REF's, alternately; the tables side by side."""
    commit = git(REPO, "rev-parse", "--short", f"{ref}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix="usage_bench_"))
    tree = folder / commit
    try:
        git(REPO, "worktree", "add", "--detach", "--quiet", str(tree), commit)
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    sides: dict[str, dict[str, Any]] = {
        side: {"engine": "-", "commit": "-", "figures": [], "failed": []} for side in ("new", "old")
    }
    try:
        for scenario in o.only:
            for side, src in (("new", REPO / "src"), ("old", tree / "src")):
                progress(f"--- {scenario} on the {side} engine ({src})")
                out = child(src, o, scenario)
                if out is None:
                    sides[side]["failed"].append(scenario)
                else:
                    sides[side]["figures"] += out["figures"]
                    sides[side].update(engine=out["engine"], commit=out["commit"])
    finally:
        try:
            git(REPO, "worktree", "remove", "--force", str(tree))
        except RuntimeError as error:
            progress(f"{error}: remove it with `git worktree remove --force {tree}`")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    failed = sides["new"]["failed"] + sides["old"]["failed"]
    if as_json:
        print(json.dumps(sides))
        return 1 if failed else 0
    for side, label in (("new", "new (this tree)"), ("old", f"old ({ref})")):
        print(f"{label}: engine {sides[side]['engine']} ({sides[side]['commit']})")
    print(header(o, {}).split("\n", 1)[1])
    print()
    new = [Figure(**f) for f in sides["new"]["figures"]]
    old = [Figure(**f) for f in sides["old"]["figures"]]
    print(side_by_side(new, old, ("new", "old")))
    for side in sides:
        if sides[side]["failed"]:
            print(f"\n{side} engine FAILED: {', '.join(sides[side]['failed'])} (see stderr)")
    return 1 if failed else 0


# -- main ----------------------------------------------------------------------------------------


def options(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="commands of the straight line (100000)")
    parser.add_argument("--patients", type=int, help="patients of the workload (10000)")
    parser.add_argument("--repeat", type=int, help="best of how many runs (3)")
    parser.add_argument("--k", type=int, help="dashboard calls of alternating reads (2000)")
    parser.add_argument("--m", type=int, help="commands of each branch (10000)")
    parser.add_argument(
        "--huge-sizes", help="payments to the huge patient, comma-separated (20000,40000)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds: a timed dashboard loop stops after it, and no timing is repeated once "
        "its runs so far took it (5)",
    )
    parser.add_argument("--only", help=f"comma-separated scenarios (of {','.join(SCENARIOS)})")
    parser.add_argument("--quick", action="store_true", help="small sizes: a run of seconds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--compare", metavar="REF", help="also run REF's engine, side by side")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else DEFAULTS
    given = {key: getattr(args, key) for key in DEFAULTS}
    chosen = {key: base[key] if value is None else value for key, value in given.items()}
    only = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    sizes = [int(x) for x in str(chosen.pop("huge_sizes")).split(",") if x.strip()]
    o = Options(**chosen, huge_sizes=sizes, only=only)
    if o.n < 4 or o.m < 1 or o.k < 2 or o.repeat < 1 or not sizes or min(sizes) < 8:
        parser.error("sizes too small: --n >= 4, --m >= 1, --k >= 2, huge sizes >= 8")
    return o, args


def main(argv: Sequence[str] | None = None) -> int:
    o, args = options(argv)
    if args.compare:
        return compare(o, args.compare, args.json)
    if _IMPORT_ERROR is not None:
        raise _IMPORT_ERROR
    figures = run(o)
    info = engine()
    if args.json:
        print(json.dumps({**info, "figures": [asdict(f) for f in figures]}))
        return 0
    print(header(o, info))
    print()
    print(table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
