"""Dagster data versions: content hashes on outputs, provenance on inputs, staleness as the UI
computes it (the same resolver the webserver uses)."""

from dagster import AssetKey, DagsterInstance, load_assets_from_modules, materialize
from dagster._core.definitions.data_version import (
    StaleStatus,
    extract_data_provenance_from_entry,
)
from dagster._utils.test.data_versions import get_stale_status_resolver

from churn_assets.defs import features, ingestion, validation
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.parquet_io import LocalParquetIOManager

ASSETS = load_assets_from_modules([ingestion, validation, features])
FEATURES, SPEC = AssetKey("features"), AssetKey("feature_spec")
VALID = AssetKey("validated_dataset")


def run(instance, base, n_rows: int, selection=None):
    result = materialize(
        ASSETS,
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(base)),
            "dataset": DatasetResource(spec="synthetic", n_rows=n_rows),
            "metrics": MetricsResource(),
        },
        instance=instance,
        selection=selection,
    )
    assert result.success
    return result


def versions(result) -> dict[AssetKey, str]:
    return {
        e.asset_key: e.materialization.tags["dagster/data_version"]
        for e in result.get_asset_materialization_events()
    }


def status(instance, key: AssetKey) -> StaleStatus:
    return get_stale_status_resolver(instance, ASSETS).get_status(key)


def test_content_versions_provenance_and_staleness(tmp_path):
    instance = DagsterInstance.ephemeral()
    first = versions(run(instance, tmp_path, 2_000))
    assert len(first[FEATURES]) == 16 and len(first[SPEC]) == 16  # content hashes
    # The provenance of `features` names the validated_dataset version this run produced.
    record = instance.get_latest_data_version_record(FEATURES)
    provenance = extract_data_provenance_from_entry(record.event_log_entry)
    assert provenance.input_data_versions[VALID].value == first[VALID]
    assert provenance.input_data_versions[SPEC].value == first[SPEC]
    assert status(instance, FEATURES) == StaleStatus.FRESH

    # Other rows upstream: what was built from the old ones is stale, as the UI shows it.
    run(instance, tmp_path, 2_500, selection=["raw_dataset", "validated_dataset"])
    assert status(instance, FEATURES) == StaleStatus.STALE
    assert status(instance, SPEC) == StaleStatus.STALE

    # The same rows again: the same content gives the same versions, so nothing is stale.
    again = versions(run(instance, tmp_path, 2_000))
    assert again[FEATURES] == first[FEATURES] and again[SPEC] == first[SPEC]
    assert again[VALID] == first[VALID]
    assert status(instance, FEATURES) == StaleStatus.FRESH
