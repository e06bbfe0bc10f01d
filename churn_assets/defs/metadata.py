"""Small helpers that turn frames and figures into metadata a person reads in the UI, and give
outputs Dagster data versions."""

import base64
from typing import Any

import pandas as pd
from dagster import DataVersion, MetadataValue, Output

from churn_assets.ml.versions import content_version
from churn_assets.resources.parquet_io import versioned_bytes


def preview(frame: pd.DataFrame, rows: int = 5) -> MetadataValue:
    """The first rows as a markdown table."""
    return MetadataValue.md(frame.head(rows).to_markdown(index=False))


def table_md(frame: pd.DataFrame, floatfmt: str = ".4g") -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False, floatfmt=floatfmt))


def versioned(value: Any, metadata: dict[str, Any], **output: Any) -> Output:
    """An Output whose Dagster data version is the content hash of `value` (a frame or a dict).

    Rematerializing with the same content keeps the version, so nothing downstream turns stale;
    new content marks every downstream asset stale in the UI. `output` goes to Output
    (e.g. `output_name` in a multi-asset).
    """
    if isinstance(value, pd.DataFrame):
        # The IO manager stores these same bytes: one Parquet encoding per table, not two.
        version = DataVersion(versioned_bytes(value)[0])
    else:
        version = DataVersion(content_version(value))
    return Output(value, data_version=version, metadata=metadata, **output)


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
