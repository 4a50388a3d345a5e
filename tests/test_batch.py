"""adapters.batch: dashboards from a journal split by patient, serially and on Dask."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import patient_ledger as pl
from patient_ledger.adapters import batch
from patient_ledger.cli.demo import month_at_the_practice, play, seed_walkthrough
from patient_ledger.testing import assert_invariants, ledgers


def sample() -> pl.Ledger:
    ledger = pl.Ledger.empty()
    for _, ledger in play(seed_walkthrough() + month_at_the_practice()):  # noqa: B007
        pass
    return ledger


def whole(ledger: pl.Ledger) -> dict[str, pl.Dashboard]:
    return {pid: pl.dashboard(ledger, pid) for pid in pl.patients(ledger)}


def test_shards_give_the_same_dashboards_and_keep_transfers_together() -> None:
    ledger = sample()
    shards = batch.partition(ledger, 4)
    assert len(shards) == 4
    assert batch.dashboards(shards) == whole(ledger)
    for shard in shards:
        assert_invariants(shard)
    holding = [shard for shard in shards if "KID" in pl.patients(shard)]
    assert len(holding) == 1
    assert "PARENT" in pl.patients(holding[0])  # linked by a transfer
    with pytest.raises(pl.InvalidInputError):
        batch.partition(ledger, 0)


@settings(max_examples=30, deadline=None)
@given(ledgers())
def test_any_ledger_splits_without_changing_a_dashboard(ledger: pl.Ledger) -> None:
    assert batch.dashboards(batch.partition(ledger, 3)) == whole(ledger)


def test_shard_files_serially(tmp_path: Path) -> None:
    ledger = sample()
    paths = batch.write_shards(ledger, tmp_path, 3)
    assert [p.name for p in paths] == ["shard-000.jsonl", "shard-001.jsonl", "shard-002.jsonl"]
    assert batch.dashboards(paths) == whole(ledger)


@pytest.mark.filterwarnings("ignore")  # the scheduler's own deprecations and resource notes
def test_on_a_local_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    ledger = sample()
    paths = batch.write_shards(ledger, tmp_path, 4)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert batch.dashboards_on_dask(paths, client) == whole(ledger)
