"""The one Definitions of the code location; resources come from the deployment."""

from dagster import Definitions, load_assets_from_modules

from churn_assets.defs import features, ingestion, validation
from churn_assets.defs.jobs import data_job
from churn_assets.resources.deployment import build_resources

defs = Definitions(
    assets=load_assets_from_modules([ingestion, validation, features]),
    jobs=[data_job],
    resources=build_resources(),
)
