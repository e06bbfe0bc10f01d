"""`churn_outcomes` through Dagster without training: scored batches stored by the IO manager
(none, one, or one of two), outcome files in a folder, refused files named with why."""

import pandas as pd
import pytest
from dagster import AssetSpec, DagsterInstance, materialize

from churn_assets.defs.monitoring.batches import batches
from churn_assets.defs.monitoring.outcomes import churn_outcomes
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.parquet_io import LocalParquetIOManager

HEADER = "id,churned,observed_at\n"


def run(tmp_path, partitions: list[str], stored: dict[str, list[str]], files: dict[str, str]):
    (tmp_path / "assets" / "batch_predictions").mkdir(parents=True)
    for name, ids in stored.items():
        frame = pd.DataFrame({"customer_id": ids, "churn_probability": 0.5})
        frame.to_parquet(tmp_path / "assets" / "batch_predictions" / f"{name}.parquet")
    (tmp_path / "outcomes").mkdir()
    for name, text in files.items():
        (tmp_path / "outcomes" / name).write_text(text)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(batches.name, partitions)
    result = materialize(
        [churn_outcomes, AssetSpec("batch_predictions", partitions_def=batches)],
        selection=["churn_outcomes", "outcome_quarantine"],
        instance=instance,
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(tmp_path / "assets")),
            "dataset": DatasetResource(),
            "outcomes_landing": LocalLanding(folder=str(tmp_path / "outcomes")),
        },
    )
    meta = {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return meta["churn_outcomes"], checks


@pytest.mark.parametrize(
    ("partitions", "stored", "kept", "per_batch"),
    [
        ([], {}, 0, {}),  # nothing scored yet: every outcome is for an unknown id
        (["b1.csv"], {"b1.csv": ["C1", "C2"]}, 2, {"b1.csv": 2}),
        (["b1.csv", "b2.csv"], {"b2.csv": ["C2"]}, 1, {"b2.csv": 1}),  # b1 stopped by checks
    ],
)
def test_outcomes_join_the_scored_batches_stored_so_far(
    tmp_path, partitions, stored, kept, per_batch
):
    files = {"o.csv": HEADER + "C1,1,2026-01-01\nC2,0,2026-01-02\n"}
    meta, checks = run(tmp_path, partitions, stored, files)
    assert meta["outcomes_kept"] == kept and meta["rows_in"] == 2
    assert meta["rows_quarantined"] == 2 - kept
    assert {b: v["outcomes"] for b, v in meta["batch_outcomes"].items()} == per_batch
    assert checks["outcome_row_accounting"].passed and checks["outcome_files_readable"].passed


def test_an_unreadable_file_is_refused_whole_and_named_the_others_count(tmp_path):
    files = {
        "good.csv": HEADER + "C1,1,2026-01-01\n",
        "no_date.csv": "id,churned\nC1,0\n",
        "empty.csv": "",
    }
    meta, checks = run(tmp_path, ["b.csv"], {"b.csv": ["C1"]}, files)
    assert meta["files"] == ["good.csv"] and meta["outcomes_kept"] == 1
    check = checks["outcome_files_readable"]
    refused = check.metadata["observed"].value
    assert not check.passed and set(refused) == {"no_date.csv", "empty.csv"}
    assert "lacks column(s) ['observed_at']" in refused["no_date.csv"]
    assert "empty" in refused["empty.csv"]
