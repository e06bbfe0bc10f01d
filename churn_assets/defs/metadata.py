"""Small helpers that turn frames and figures into metadata a person reads in the UI."""

import base64

import pandas as pd
from dagster import MetadataValue


def preview(frame: pd.DataFrame, rows: int = 5) -> MetadataValue:
    """The first rows as a markdown table."""
    return MetadataValue.md(frame.head(rows).to_markdown(index=False))


def table_md(frame: pd.DataFrame, floatfmt: str = ".4g") -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False, floatfmt=floatfmt))


def upstream_data_version(context, key: str) -> str:
    """The `data_version` the IO manager recorded on the latest materialization of `key`."""
    from dagster import AssetKey

    event = context.instance.get_latest_materialization_event(AssetKey(key))
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("data_version") if materialization else None
    if value is None:
        raise ValueError(f"asset '{key}' has no recorded data_version; rematerialize it")
    return str(value.value)


def push_metrics(context, what: str, push) -> dict:
    """Call a metrics push; a Pushgateway that is down is logged and shown, never hidden.

    Observability must not stop a promotion or a scoring run, so the failure is a warning in the
    log and `metrics_pushed: false` with the error in the materialization's metadata (and the
    ChurnPushgatewayDown alert fires).
    """
    from churn_assets.resources.metrics import MetricsPushError

    try:
        result = push()
    except MetricsPushError as exc:
        context.log.warning(f"{what} metrics not pushed: {exc}")
        return {"metrics_pushed": False, "metrics_error": str(exc)}
    return {"metrics_pushed": result.pushed}


def png(image: bytes, alt: str) -> MetadataValue:
    """A PNG shown inline in the Dagster UI (markdown with a data URI)."""
    encoded = base64.b64encode(image).decode()
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")
