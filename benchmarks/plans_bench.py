"""Payment plans (SPEC §11): what a plan command costs next to a payment, and what the plan
report costs next to building the practice.

    python benchmarks/plans_bench.py [--events 100000] [--plans 2000]

A practice of ``--events`` events (deterministic): ``--plans`` patients each with a visit, a
charge and a plan on their balance, paying it in small installments; the other events are
visits, charges and payments of patients without plans. Then, on the built ledger:

* the cost of one command of each kind (the mean of ``--ops`` commands, each on the same
  built ledger: ledgers are values, so each command is the first after the build; the best of
  three rounds, the built practice frozen out of the garbage collector) — a plan
  payment, a payment to a visit, a payment held unallocated, a plan created, an installment
  skipped, a plan cancelled; the target is a plan command within 1.5× a payment;
* ``plan_report`` over every active plan (best of 5) against the build; target ≤ 0.01×.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import time
from collections.abc import Callable

from moneyed import Money

import patient_ledger as pl

D0 = datetime.date(2025, 1, 1)


def usd(cents: int) -> Money:
    return Money(cents, "USD") / 100


def build(events: int, plans: int) -> tuple[pl.Ledger, float]:
    """The practice, and the seconds its commands took."""
    ledger = pl.Ledger.empty()
    start = time.perf_counter()
    for i in range(plans):
        pid, aid = f"PP{i}", f"PA{i}"
        ledger = pl.add_appointment(ledger, pl.Appointment(aid, pid, D0))
        ledger = pl.add_charge(ledger, pl.Charge(f"PC{i}", aid, usd(120_000)))
        ledger = pl.create_payment_plan(
            ledger, pl.PaymentPlan(f"PL{i}", pid, usd(120_000), 12, D0, D0)
        )
    n = 0
    while len(ledger.events) < events:
        day = D0 + datetime.timedelta(days=n % 300)
        if n % 2 == 0 and plans:  # a plan payment
            i = (n // 2) % plans
            payment = pl.Payment(f"PPAY{n}", f"PP{i}", usd(500), day, plan_id=f"PL{i}")
            ledger = pl.post_payment(ledger, payment)
        else:  # a visit, its charge and a payment to it
            pid, aid = f"O{n % 5000}", f"OA{n}"
            ledger = pl.add_appointment(ledger, pl.Appointment(aid, pid, day))
            ledger = pl.add_charge(ledger, pl.Charge(f"OC{n}", aid, usd(10_000)))
            payment = pl.Payment(f"OPAY{n}", pid, usd(4_000), day, appointment_id=aid)
            ledger = pl.post_payment(ledger, payment)
        n += 1
    return ledger, time.perf_counter() - start


def mean(ops: int, make: Callable[[int], Callable[[], object]]) -> float:
    """Seconds per command: ``ops`` commands, each made by ``make(k)`` (not timed)."""
    works = [make(k) for k in range(ops)]
    start = time.perf_counter()
    for work in works:
        work()
    return (time.perf_counter() - start) / ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--plans", type=int, default=2_000)
    parser.add_argument("--ops", type=int, default=2_000)
    args = parser.parse_args(argv)
    ledger, t_build = build(args.events, args.plans)
    on = D0 + datetime.timedelta(days=200)
    active = len(pl.plan_report(ledger, on=on))
    print(
        f"practice: {len(ledger.events):,} events, {active:,} active plans; build {t_build:.2f} s"
    )

    def best(work: Callable[[], object], repeat: int = 5) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            work()
            times.append(time.perf_counter() - start)
        return min(times)

    t_report = best(lambda: pl.plan_report(ledger, on=on))
    print(f"plan_report: {t_report * 1000:.1f} ms = {t_report / t_build:.4f}x the build "
          "(target <= 0.01x)")  # fmt: skip

    plans, day = args.plans, D0 + datetime.timedelta(days=301)
    ops = args.ops
    # The built practice is long-lived (as in a service): frozen out of the collector, so a
    # full collection — which would walk its millions of objects — does not land in whichever
    # command's timing happens to trigger it (a plan payment allocates more objects than a
    # payment, and such passes made it 1.3x to 1.9x a payment from run to run).
    gc.collect()
    gc.freeze()
    kinds: dict[str, Callable[[int], Callable[[], object]]] = {
        "payment to a visit": lambda k: lambda: pl.post_payment(
            ledger, pl.Payment(
                f"X{k}", f"O{(2 * k + 1) % 5000}", usd(100), day, appointment_id=f"OA{2 * k + 1}"
            )
        ),
        "payment held (general)": lambda k: lambda: pl.post_payment(
            ledger, pl.Payment(f"X{k}", f"O{(2 * k + 1) % 5000}", usd(100), day)
        ),
        "plan payment": lambda k: lambda: pl.post_payment(
            ledger, pl.Payment(f"X{k}", f"PP{k % plans}", usd(100), day, plan_id=f"PL{k % plans}")
        ),
        "create_payment_plan": lambda k: lambda: pl.create_payment_plan(
            ledger, pl.PaymentPlan(f"NEW{k}", f"O{(2 * k + 1) % 5000}", usd(100), 6, day, day)
        ),
        "skip_installment": lambda k: lambda: pl.skip_installment(
            ledger, f"PL{k % plans}", 12, on=day
        ),
        "cancel_payment_plan": lambda k: lambda: pl.cancel_payment_plan(
            ledger, f"PL{k % plans}", on=day
        ),
    }  # fmt: skip
    # Best of three rounds, the kinds taking turns: one kind's round is not another's warm-up.
    rounds = [{name: mean(ops, make) for name, make in kinds.items()} for _ in range(3)]
    costs = {name: min(r[name] for r in rounds) for name in kinds}
    payment = costs["payment to a visit"]
    for name, cost in costs.items():
        print(f"{name:<24} {cost * 1e6:8.1f} µs  {cost / payment:5.2f}x a payment to a visit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
