"""The dataset resource: which spec is in use, and reading its source."""

import pandas as pd
from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource
from pydantic import Field

from churn_assets.ml.sources import (
    check_columns,
    combine_split,
    file_format,
    read_bytes,
    require_rows,
)
from churn_assets.ml.spec import DatasetSpec, SourceSpec, load_spec
from churn_assets.ml.synthetic import generate_synthetic
from churn_assets.resources.outcome_files import OutcomeRows
from churn_assets.resources.sources import fetch_bytes, read_sql, redact


class DatasetResource(ConfigurableResource):
    """The dataset spec (a packaged name like `synthetic` or a YAML path) and its source.

    Defaults to the CHURN_DATASET_SPEC environment variable; a run can override it in run config
    (`resources: {dataset: {config: {spec: path/to/spec.yaml}}}`). `s3` reads `s3://` sources;
    the deployment passes the same `S3Resource` (endpoint, credentials) the IO manager uses.
    """

    spec: str = Field("synthetic", description="Packaged spec name or path to a spec YAML file.")
    n_rows: int | None = Field(None, description="Override the synthetic generator's row count.")
    s3: S3Resource | None = Field(
        None, description="Client for s3:// sources; None means S3Resource() from the AWS env."
    )
    outcome_rows: OutcomeRows | None = Field(
        None, description="Scored batches with outcomes to add to the source; None: source only."
    )

    def load_spec(self) -> DatasetSpec:
        spec = load_spec(self.spec)
        if self.n_rows is not None and spec.source.kind == "synthetic":
            synthetic = spec.source.synthetic.model_copy(update={"n_rows": self.n_rows})
            source = spec.source.model_copy(update={"synthetic": synthetic})
            spec = spec.model_copy(update={"source": source})
        return spec

    def load_table(self, spec: DatasetSpec) -> pd.DataFrame:
        """Read the rows the spec names, unchanged but for parsing.

        When the spec names a separate test file its rows are appended, and `_source_split` says
        which file each row came from. Raises SourceError naming the source when it cannot be
        read, is empty or header-only, or has ambiguous column names.
        """
        src = spec.source
        if src.kind == "synthetic":
            s = src.synthetic
            return generate_synthetic(
                s.n_rows, seed=s.seed, churn_rate=s.churn_rate, fault_rate=s.fault_rate,
                drift=s.drift,
            )  # fmt: skip
        if src.kind == "sql":
            where = self.describe(spec)
            frame = check_columns(read_sql(src), where)
            require_rows(frame, where)
            return frame
        text = (spec.id_column,) if spec.id_column else ()
        frame = self.read_location(src.path or "", src, text)
        if spec.split.test_path:
            test = self.read_location(spec.split.test_path, src, text)
            frame = combine_split(frame, test, spec.split.test_path)
        return frame

    def read_location(
        self, location: str, source: SourceSpec, text_columns: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """One file (path or URL) parsed with the spec's CSV options; raises SourceError."""
        payload = fetch_bytes(location, (self.s3 or S3Resource()).get_client)
        fmt = file_format(location, source.format)
        return read_bytes(payload, location, fmt, source, text_columns)

    def describe(self, spec: DatasetSpec) -> str:
        """A one-line description of where the rows come from, for metadata and messages."""
        src = spec.source
        if src.kind == "synthetic":
            s = src.synthetic
            return f"synthetic(n_rows={s.n_rows}, seed={s.seed}, drift={s.drift})"
        if src.kind == "sql":
            return f"sql({redact(src.sql_url or '')}): {src.query}"
        return str(src.path)
