"""Cost per command at practice scale, against a bare loop over integer cents.

    python benchmarks/bench.py [--n 100000] [--patients 5000] [--repeat 3]

Builds ledgers of N and 2N mixed commands over many patients and prints µs per command, µs per
event for replay, the 2N/N ratio of build times, and a *baseline* measured in the same run: a
bare loop over integer cents in dicts doing the same balance arithmetic (the floor for pure
Python). Machines here are shared and noisy: compare ratios from one run, not absolute times.
Each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moneyed import Money

import patient_ledger as pl

Plan = list[tuple[str, tuple[Any, ...]]]
START = datetime.date(2025, 1, 1)


def plan(n: int, patients: int, seed: int = 7) -> Plan:
    """A deterministic mix of n commands, valid against the balances they build."""
    rng = random.Random(seed)
    appointments: list[tuple[str, str]] = []  # (appointment id, patient id)
    general: dict[str, int] = {}
    known: set[str] = set()
    steps: Plan = []
    for i in range(n):
        pid = f"P{rng.randrange(patients)}"
        roll = rng.random()
        day = START + datetime.timedelta(days=i * 365 // n)
        if roll < 0.15 or not appointments:
            aid = f"A{i}"
            known.add(pid)
            appointments.append((aid, pid))
            steps.append(("appointment", (aid, pid, day)))
        elif roll < 0.40:
            aid, _ = appointments[rng.randrange(len(appointments))]
            steps.append(("charge", (f"C{i}", aid, rng.randrange(1000, 30000))))
        elif roll < 0.65:
            aid, owner = appointments[rng.randrange(len(appointments))]
            steps.append(("pay", (f"PAY{i}", owner, rng.randrange(500, 20000), day, aid)))
        elif roll < 0.80:
            cents = rng.randrange(500, 20000)
            known.add(pid)
            general[pid] = general.get(pid, 0) + cents
            steps.append(("pay", (f"PAY{i}", pid, cents, day, None)))
        elif roll < 0.90:
            aid, owner = appointments[rng.randrange(len(appointments))]
            steps.append(("apply", (owner, aid, day)))
            general[owner] = 0  # upper bound: the real application may take less
        elif roll < 0.95 and general.get(pid, 0) >= 200:
            cents = general[pid] // 2
            general[pid] -= cents
            steps.append(("refund", (f"R{i}", pid, cents, day)))
        elif pid in known:
            steps.append(("cancel", (pid, day)))
        else:
            known.add(pid)
            steps.append(("pay", (f"PAY{i}", pid, 1000, day, None)))
    return steps


def to_commands(
    steps: Plan,
) -> list[tuple[Callable[..., pl.Ledger], tuple[Any, ...], dict[str, Any]]]:
    """The plan as library calls, with their value objects built beforehand."""
    out: list[tuple[Callable[..., pl.Ledger], tuple[Any, ...], dict[str, Any]]] = []
    for kind, a in steps:
        if kind == "appointment":
            out.append((pl.add_appointment, (pl.Appointment(a[0], a[1], a[2]),), {}))
        elif kind == "charge":
            out.append((pl.add_charge, (pl.Charge(a[0], a[1], pl_money(a[2])),), {}))
        elif kind == "pay":
            payment = pl.Payment(a[0], a[1], pl_money(a[2]), a[3], appointment_id=a[4])
            out.append((pl.post_payment, (payment,), {}))
        elif kind == "apply":
            out.append((pl.apply_unallocated, (a[0], a[1]), {"on": a[2]}))
        elif kind == "refund":
            refund = pl.Payment(a[0], a[1], pl_money(-a[2]), a[3], type=pl.PaymentType.REFUND)
            out.append((pl.refund, (refund,), {}))
        else:
            out.append((pl.cancel_offsetting, (a[0],), {"on": a[1]}))
    return out


def pl_money(cents: int) -> Money:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return Money(f"{sign}{cents // 100}.{cents % 100:02d}", "USD")


def bare_loop(steps: Plan) -> dict[str, int]:
    """The same balance arithmetic over integer cents in plain dicts: the floor."""
    charged: dict[str, int] = {}
    allocated: dict[str, int] = {}
    held: dict[str, int] = {}
    owner: dict[str, str] = {}
    general: dict[str, int] = {}
    paid: dict[str, int] = {}
    for kind, a in steps:
        if kind == "appointment":
            aid, pid = a[0], a[1]
            owner[aid] = pid
            charged[aid] = allocated[aid] = held[aid] = 0
            general.setdefault(pid, 0)
            paid.setdefault(pid, 0)
        elif kind == "charge":
            aid = a[1]
            charged[aid] += a[2]
            take = min(held[aid], charged[aid] - allocated[aid])
            held[aid] -= take
            allocated[aid] += take
        elif kind == "pay":
            pid, cents, aid = a[1], a[2], a[4]
            paid[pid] = paid.get(pid, 0) + cents
            if aid is None:
                general[pid] = general.get(pid, 0) + cents
            else:
                take = min(cents, charged[aid] - allocated[aid])
                allocated[aid] += take
                held[aid] += cents - take
        elif kind == "apply":
            pid, aid = a[0], a[1]
            take = min(general.get(pid, 0), charged[aid] - allocated[aid])
            general[pid] = general.get(pid, 0) - take
            allocated[aid] += take
        elif kind == "refund":
            pid = a[1]
            general[pid] -= a[2]
            paid[pid] -= a[2]
    return paid


def run_ledger(
    commands: list[tuple[Callable[..., pl.Ledger], tuple[Any, ...], dict[str, Any]]],
) -> pl.Ledger:
    ledger = pl.Ledger.empty("USD")
    for command, args, kwargs in commands:
        ledger = command(ledger, *args, **kwargs)
    return ledger


def best(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


sys.path.insert(0, str(Path(__file__).parent))


def beancount_figures(
    ledger: pl.Ledger, n: int, *, t_loop: float, t_ledger: float, t_replay: float, args: Any
) -> str:
    """Time beancount building and realizing the same postings; check its balances agree."""
    import beancount_baseline as bb  # noqa: PLC0415 - only with --beancount (the bench extra)

    t_build, entries = best(args.repeat, lambda: bb.entries_from(ledger))
    t_realize, balances = best(args.repeat, lambda: bb.realize(entries))  # type: ignore[arg-type]
    assert isinstance(balances, dict)
    for pid in pl.patients(ledger):
        d = pl.dashboard(ledger, pid)
        held = -sum(v for k, v in balances.items() if k.startswith(f"Liabilities:Held:{pid}:"))
        owed = balances.get(f"Assets:Receivable:{pid}", 0)
        assert (held, owed) == (d.unallocated.amount, d.statement_balance.amount), pid
    both = t_build + t_realize
    return (
        f"{n:>9,}  build {t_build / n * 1e6:6.2f}  realize {t_realize / n * 1e6:6.2f}  "
        f"(x loop {t_build / t_loop:4.1f} + {t_realize / t_loop:4.1f})   "
        f"build+realize / our commands {both / t_ledger:4.2f};  realize / our replay "
        f"{t_realize / t_replay:4.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--beancount",
        action="store_true",
        help="also time beancount 3 building the same postings and realizing the balances "
        "(the bench extra)",
    )
    parser.add_argument(
        "--gen0",
        type=int,
        default=0,
        help="run with gc.set_threshold(GEN0, 20, 100) (default: CPython's own thresholds)",
    )
    args = parser.parse_args(argv)
    if args.gen0:
        gc.set_threshold(args.gen0, 20, 100)
    rows = []
    beancount_rows: list[str] = []
    results = {}
    for n in (args.n, 2 * args.n):
        steps = plan(n, args.patients)
        commands = to_commands(steps)
        t_loop, _ = best(args.repeat, lambda steps=steps: bare_loop(steps))
        t_ledger, ledger = best(args.repeat, lambda commands=commands: run_ledger(commands))
        assert isinstance(ledger, pl.Ledger)
        events = ledger.events
        t_replay, again = best(args.repeat, lambda events=events: pl.replay(events))
        assert again == ledger
        results[n] = (t_ledger, t_loop, t_replay, len(events))
        if args.beancount:
            beancount_rows.append(
                beancount_figures(
                    ledger, n, t_loop=t_loop, t_ledger=t_ledger, t_replay=t_replay, args=args
                )
            )
        rows.append(
            (
                f"{n:>9,}",
                f"{t_loop / n * 1e6:8.2f}",
                f"{t_ledger / n * 1e6:8.2f}",
                f"{t_ledger / t_loop:6.1f}x",
                f"{(t_ledger - t_loop) / n * 1e6:8.2f}",
                f"{t_replay / len(events) * 1e6:8.2f}",
                f"{t_replay / t_loop:6.1f}x",
            )
        )
    print(
        f"patients: {args.patients:,}; best of {args.repeat}; µs = microseconds; "
        f"gc thresholds {gc.get_threshold()}\n"
    )
    header = ("commands", "loop µs", "cmd µs", "vs loop", "extra µs", "replay µs/ev", "vs loop")
    print("  ".join(f"{h:>12}" for h in header))
    for row in rows:
        print("  ".join(f"{c:>12}" for c in row))
    if beancount_rows:
        print(
            "\nbeancount 3 on the same money movements (µs per command; ratios: beancount / ours)"
        )
        print("\n".join(beancount_rows))
    (t1, l1, r1, _), (t2, l2, r2, _) = results[args.n], results[2 * args.n]
    print(
        f"\n2N/N build time: ledger {t2 / t1:.2f}  (bare loop {l2 / l1:.2f}; replay {r2 / r1:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
