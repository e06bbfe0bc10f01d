"""The S3 Parquet IO manager and the production deployment against a real moto S3 server."""

import io

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    ExecuteInProcessResult,
    MetadataValue,
    asset,
    load_assets_from_modules,
    materialize,
)
from dagster_aws.s3 import S3Resource

from churn_assets.defs import features, ingestion, validation
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.deployment import build_resources
from churn_assets.resources.parquet_io import S3ParquetIOManager, content_hash
from churn_assets.resources.storage import write_atomic

pytestmark = pytest.mark.integration

FRAME = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure": [1, 24, 60], "churned": [1, 0, 0]})


def _materializations(result: ExecuteInProcessResult) -> dict[str, dict]:
    """Asset name -> metadata of its materialization in the run."""
    return {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


def _keys(client, bucket: str, prefix: str = "") -> list[str]:
    found = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in found.get("Contents", []))


def _read_parquet(client, bucket: str, key: str) -> pd.DataFrame:
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pd.read_parquet(io.BytesIO(body))


def test_round_trip_through_s3(s3_endpoint, s3_bucket, s3_client):
    loaded: list[pd.DataFrame] = []

    @asset
    def customers() -> pd.DataFrame:
        return FRAME

    @asset
    def customer_count(customers: pd.DataFrame) -> dict:
        loaded.append(customers)
        return {"rows": len(customers)}

    io_manager = S3ParquetIOManager(
        s3=S3Resource(endpoint_url=s3_endpoint), bucket=s3_bucket, prefix="/runs/a/"
    )
    result = materialize([customers, customer_count], resources={"io_manager": io_manager})

    assert result.success
    pd.testing.assert_frame_equal(loaded[0], FRAME)
    # One object per output at prefix/<asset>.<suffix>: a single PUT, no temporary object.
    assert _keys(s3_client, s3_bucket) == ["runs/a/customer_count.json", "runs/a/customers.parquet"]
    pd.testing.assert_frame_equal(
        _read_parquet(s3_client, s3_bucket, "runs/a/customers.parquet"), FRAME
    )

    metadata = _materializations(result)["customers"]
    assert metadata["dagster/row_count"] == MetadataValue.int(3)
    schema = metadata["dagster/column_schema"].schema
    assert [(c.name, c.type) for c in schema.columns] == [
        ("customer_id", "object"),
        ("tenure", "int64"),
        ("churned", "int64"),
    ]
    assert metadata["data_version"] == MetadataValue.text(content_hash(FRAME))
    assert metadata["uri"] == MetadataValue.path(f"s3://{s3_bucket}/runs/a/customers.parquet")
    assert metadata["size_bytes"].value > 0
    assert _materializations(result)["customer_count"]["uri"] == MetadataValue.path(
        f"s3://{s3_bucket}/runs/a/customer_count.json"
    )


def test_data_job_on_production_deployment(s3_endpoint, s3_bucket, s3_client, monkeypatch):
    monkeypatch.setenv("CHURN_DEPLOYMENT", "production")
    monkeypatch.setenv("CHURN_S3_BUCKET", s3_bucket)
    monkeypatch.setenv("CHURN_S3_PREFIX", "prod")
    monkeypatch.setenv("CHURN_S3_ENDPOINT_URL", s3_endpoint)
    resources = build_resources()
    assert isinstance(resources["io_manager"], S3ParquetIOManager)
    resources["dataset"] = DatasetResource(spec="synthetic", n_rows=3000)

    assets = load_assets_from_modules([ingestion, validation, features])
    result = materialize(assets, resources=resources)

    assert result.success
    names = ["features", "quarantined_rows", "raw_dataset", "validated_dataset"]
    # feature_spec is a JSON record beside the tables (the contract between features and models)
    expected = sorted([f"prod/{name}.parquet" for name in names] + ["prod/feature_spec.json"])
    assert _keys(s3_client, s3_bucket) == expected
    metadata = _materializations(result)
    assert sorted(metadata) == sorted([*names, "feature_spec"])
    for name in names:
        frame = _read_parquet(s3_client, s3_bucket, f"prod/{name}.parquet")
        assert len(frame) == metadata[name]["dagster/row_count"].value, name
        assert metadata[name]["uri"] == MetadataValue.path(f"s3://{s3_bucket}/prod/{name}.parquet")
    assert metadata["raw_dataset"]["dagster/row_count"].value == 3000
    kept = metadata["validated_dataset"]["dagster/row_count"].value
    assert kept + metadata["quarantined_rows"]["dagster/row_count"].value == 3000
    assert metadata["features"]["dagster/row_count"].value == kept
    assert result.output_for_node("features").shape[0] == kept
    assert AssetKey("features") in {e.asset_key for e in result.get_asset_materialization_events()}


def test_missing_bucket_fails_naming_it(s3_endpoint):
    missing = "churn-no-such-bucket"

    @asset
    def customers() -> pd.DataFrame:
        return FRAME

    io_manager = S3ParquetIOManager(s3=S3Resource(endpoint_url=s3_endpoint), bucket=missing)
    result = materialize([customers], resources={"io_manager": io_manager}, raise_on_error=False)

    assert not result.success
    # found at resource setup (one HEAD request), before any step runs
    [init_failure] = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert not [e for e in result.all_events if e.event_type_value == "STEP_START"]
    [failure] = [e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE"]
    assert init_failure.event_specific_data.error.cls_name == "OSError"
    cause = failure.event_specific_data.error.cause
    assert cause is not None and cause.cls_name == "OSError"
    assert f"S3 bucket '{missing}' (root s3://{missing}/churn-assets) is not reachable" in (
        cause.message
    )
    assert "404" in cause.message and "check the bucket name" in cause.message
    assert not result.get_asset_materialization_events()


def test_a_write_to_a_bucket_gone_after_setup_still_names_the_object(s3_endpoint):
    missing = "churn-gone-bucket"
    io_manager = S3ParquetIOManager(s3=S3Resource(endpoint_url=s3_endpoint), bucket=missing)
    with pytest.raises(OSError) as raised:  # setup skipped: the write's own error names it
        write_atomic(io_manager._root() / "customers.parquet", b"x")
    assert f"s3://{missing}/churn-assets/customers.parquet" in str(raised.value)
    assert "NoSuchBucket" in str(raised.value)
