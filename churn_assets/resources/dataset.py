"""The dataset resource: which spec is in use, and reading its source."""

import pandas as pd
from dagster import ConfigurableResource
from pydantic import Field

from churn_assets.ml.sources import describe_source, load_table
from churn_assets.ml.spec import DatasetSpec, load_spec


class DatasetResource(ConfigurableResource):
    """The dataset spec (a packaged name like `synthetic` or a YAML path) and its source.

    Defaults to the CHURN_DATASET_SPEC environment variable; a run can override it in run config
    (`resources: {dataset: {config: {spec: path/to/spec.yaml}}}`).
    """

    spec: str = Field("synthetic", description="Packaged spec name or path to a spec YAML file.")
    n_rows: int | None = Field(None, description="Override the synthetic generator's row count.")

    def load_spec(self) -> DatasetSpec:
        spec = load_spec(self.spec)
        if self.n_rows is not None and spec.source.kind == "synthetic":
            synthetic = spec.source.synthetic.model_copy(update={"n_rows": self.n_rows})
            source = spec.source.model_copy(update={"synthetic": synthetic})
            spec = spec.model_copy(update={"source": source})
        return spec

    def load_table(self, spec: DatasetSpec) -> pd.DataFrame:
        return load_table(spec)

    def describe(self, spec: DatasetSpec) -> str:
        return describe_source(spec)
