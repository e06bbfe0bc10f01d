"""Reading outcome files and the scored batch files a retrain learns from.

`read_outcome_files` is shared by the `churn_outcomes` asset and the retraining set, so both
see the same rows and refuse the same files. `OutcomeRows` is what `DatasetResource` holds
when retraining should learn from outcomes (both deployments set it; see `deployment.py`).
"""

import pandas as pd
from dagster import ConfigurableResource, ResourceDependency
from pydantic import Field

from churn_assets.ml.outcomes import COLUMNS, OutcomeError, check_columns
from churn_assets.ml.sources import SourceError, file_format, parse_table
from churn_assets.ml.spec import DatasetSpec, SourceSpec
from churn_assets.resources.landing import LandingResource

DEFAULT_WINDOW_DAYS = 180.0


def read_outcome_files(
    landing: LandingResource,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Every outcome file in `landing` as text columns `id, churned, observed_at`, and the files
    refused whole (file name -> why: it does not parse, or lacks a column)."""
    frames, refused = {}, {}
    for name in landing.list_batches():
        where = landing.uri(name)
        try:
            frame = parse_table(
                landing.read(name), where, SourceSpec(kind="file", path=where),
                file_format(name), text_columns=COLUMNS,
            )  # fmt: skip
            frames[name] = check_columns(frame, where)
        except (SourceError, OutcomeError) as exc:
            refused[name] = str(exc)
    return frames, refused


class OutcomeRows(ConfigurableResource):
    """Where a retrain finds scored batches (`landing`) and their outcomes (`outcomes_landing`),
    and how far back outcomes count."""

    landing: ResourceDependency[LandingResource]
    outcomes_landing: ResourceDependency[LandingResource]
    window_days: float | None = Field(
        DEFAULT_WINDOW_DAYS,
        gt=0,
        description="Outcomes observed within this many days of the newest one count; "
        "None: all of them.",
    )

    def read_batches(self, names: list[str], spec: DatasetSpec) -> dict[str, pd.DataFrame]:
        """The named batch files as read for scoring (the id as text); raises SourceError
        naming a file that no longer parses, FileNotFoundError for one that is gone."""
        text = (spec.id_column,) if spec.id_column else ()
        return {
            name: parse_table(
                self.landing.read(name),
                self.landing.uri(name),
                spec.source,
                file_format(name),
                text_columns=text,
            )  # fmt: skip
            for name in names
        }
