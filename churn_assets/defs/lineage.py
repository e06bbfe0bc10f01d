"""What links an MLflow run to the Dagster materialization that made it: tags, data versions."""

from dagster import AssetExecutionContext, AssetKey

CODE_VERSION = "1"  # bump when training code changes what a model is


def input_data_version(context: AssetExecutionContext, key: str) -> str:
    """The data version of the upstream asset `key` as this step loaded it.

    This is the record Dagster fetched at step start, before loading the inputs, and writes into
    this materialization's provenance (`dagster/input_data_version/<key>`), so MLflow tags and
    Dagster lineage name the same version. Raises ValueError when `key` was never materialized.
    """
    step = context.get_step_execution_context()
    info = step.maybe_fetch_and_get_input_asset_version_info(AssetKey(key))
    if info is None or info.data_version is None:
        raise ValueError(f"asset '{key}' has no recorded data version; materialize it first")
    return info.data_version.value


def run_tags(context: AssetExecutionContext, data_version: str, git_sha: str) -> dict[str, str]:
    """Tags of an MLflow run: dagster-mlflow's `dagster_run_id`, the asset, versions, commit."""
    return {
        "dagster_run_id": context.run.run_id,
        "dagster_asset_key": context.asset_key.to_user_string(),
        "data_version": data_version,
        "code_version": CODE_VERSION,
        "git_sha": git_sha,
    }
