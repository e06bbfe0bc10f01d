"""`validate_dataset` can be subset: a lineage selection that skips the quarantine still runs."""

from dagster import AssetKey, DagsterInstance, materialize

from churn_assets.defs.ingestion import raw_dataset
from churn_assets.defs.validation import validate_dataset
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.parquet_io import LocalParquetIOManager


def test_validated_dataset_alone_runs_its_checks_without_the_quarantine(tmp_path):
    result = materialize(
        [raw_dataset, validate_dataset],
        selection=["raw_dataset", "validated_dataset"],
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(tmp_path / "assets")),
            "dataset": DatasetResource(spec="synthetic", n_rows=1_000),
            "metrics": MetricsResource(deployment="test"),
        },
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert keys == {AssetKey("raw_dataset"), AssetKey("validated_dataset")}
    assert len(result.get_asset_check_evaluations()) == 6
    assert not (tmp_path / "assets" / "quarantined_rows.parquet").exists()
