"""The data assets through Dagster: materializations, metadata, blocking checks, real data."""

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, load_assets_from_modules, materialize

from churn_assets.defs import features, ingestion, validation
from churn_assets.ml.features import SPLIT
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.parquet_io import LocalParquetIOManager

ASSETS = load_assets_from_modules([ingestion, validation, features])


def run(tmp_path, spec="synthetic", n_rows=3_000, run_config=None):
    return materialize(
        ASSETS,
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(tmp_path / "assets")),
            "dataset": DatasetResource(spec=spec, n_rows=n_rows),
            "metrics": MetricsResource(deployment="test"),
        },
        instance=DagsterInstance.ephemeral(),
        run_config=run_config,
        raise_on_error=False,
    )


def materializations(result) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def test_pipeline_materializes_with_metadata_and_passing_checks(tmp_path):
    result = run(tmp_path)
    assert result.success
    meta = materializations(result)
    spec = meta.pop("feature_spec")  # a JSON record: the columns every model takes
    assert spec["numeric_features"] and spec["categorical_features"]
    assert set(meta) == {"raw_dataset", "validated_dataset", "quarantined_rows", "features"}
    for key, md in meta.items():
        assert md["dagster/row_count"] > 0, key
        assert len(md["data_version"]) == 16
        assert md["dagster/column_schema"].columns
    raw, valid, quarantined = (
        meta["raw_dataset"],
        meta["validated_dataset"],
        meta["quarantined_rows"],
    )
    assert raw["dagster/row_count"] == 3_000
    assert valid["dagster/row_count"] + quarantined["dagster/row_count"] == 3_000
    assert "source" in raw and "preview" in raw
    assert meta["features"]["train_rows"] + meta["features"]["test_rows"] == valid["rows_kept"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == set(validation.CHECKS)
    assert all(c.passed for c in checks.values())
    for check in checks.values():
        assert {"observed", "threshold"} <= set(check.metadata)
    stored = pd.read_parquet(tmp_path / "assets" / "quarantined_rows.parquet")
    assert (
        len(stored) == quarantined["dagster/row_count"] and stored["_reasons"].str.len().gt(0).all()
    )


def test_a_failing_blocking_check_stops_the_features(tmp_path):
    result = run(
        tmp_path,
        run_config={"ops": {"validate_dataset": {"config": {"min_quality_score": 99.99}}}},
    )
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["quality_score"]
    assert failed[0].metadata["threshold"].value == 99.99
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert AssetKey("features") not in materialized


def test_a_source_error_fails_the_run_with_the_file_named(tmp_path):
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: broken\ntarget_column: churn\nsource: {kind: file, path: nowhere.csv}\n")
    result = run(tmp_path, spec=str(spec), n_rows=None)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "source file not found" in str(failure.event_specific_data.error)
    assert "nowhere.csv" in str(failure.event_specific_data.error)


def test_real_public_churn_table_end_to_end(tmp_path, bigml_data):
    result = run(tmp_path, spec="bigml_telecom", n_rows=None)
    assert result.success
    meta = materializations(result)
    assert meta["raw_dataset"]["dagster/row_count"] == 2666 + 667
    assert meta["quarantined_rows"]["dagster/row_count"] == 0
    assert meta["features"]["train_rows"] == 2666 and meta["features"]["test_rows"] == 667
    table = pd.read_parquet(tmp_path / "assets" / "features.parquet")
    assert table["churned"].sum() == 388 + 95
    assert table.loc[table[SPLIT] == "test", "churned"].sum() == 95
    assert (
        table["Area code"].map(type).eq(str).all()
    )  # declared categorical though it looks numeric
    assert set(table["International plan"]) == {"Yes", "No"}


@pytest.mark.parametrize("bad", ["missing_values", "target_balance"])
def test_checks_fail_on_real_problems(tmp_path, bad):
    data = pd.DataFrame(
        {
            "id": range(200),
            "x": [1.0] * 200,
            "mostly_empty": [None] * 190 + [1.0] * 10,
            "churn": (["Yes"] + ["No"] * 199) if bad == "target_balance" else ["Yes", "No"] * 100,
        }
    )
    if bad == "target_balance":
        data = data.drop(columns="mostly_empty")
    data.to_csv(tmp_path / "d.csv", index=False)
    spec = tmp_path / "d.yaml"
    spec.write_text(
        "name: d\nid_column: id\ntarget_column: churn\nsource: {kind: file, path: d.csv}\n"
    )
    result = run(tmp_path, spec=str(spec), n_rows=None)
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) >= {bad}
    assert not result.success
