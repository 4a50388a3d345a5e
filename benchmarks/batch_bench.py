"""Every patient's dashboard from shard files: serial against a 2-worker local Dask cluster.

python benchmarks/batch_bench.py [--commands 200000] [--patients 20000] [--shards 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench import plan, run_ledger, to_commands
from patient_ledger.adapters import batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args(argv)
    import distributed  # noqa: PLC0415 - the dask extra

    ledger = run_ledger(to_commands(plan(args.commands, args.patients)))
    paths = batch.write_shards(ledger, tempfile.mkdtemp(), args.shards)
    start = time.perf_counter()
    serial = batch.dashboards(paths)
    t_serial = time.perf_counter() - start
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(lambda: None)  # workers up before the clock starts
        start = time.perf_counter()
        parallel = batch.dashboards_on_dask(paths, client)
        t_dask = time.perf_counter() - start
    assert parallel == serial
    print(f"{len(ledger.events):,} events, {len(serial):,} patients, {args.shards} shards")
    print(
        f"serial: {t_serial:.2f} s; Dask, 2 workers: {t_dask:.2f} s; "
        f"speed-up {t_serial / t_dask:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
