"""The one Definitions of the code location; resources come from the deployment."""

from dagster import Definitions, load_assets_from_modules

from churn_assets.defs import evaluation, features, ingestion, registry, training, validation
from churn_assets.defs.jobs import data_job, training_job
from churn_assets.resources.deployment import build_resources

defs = Definitions(
    assets=load_assets_from_modules(
        [ingestion, validation, features, training, evaluation, registry]
    ),
    asset_checks=[registry.champion_loads_and_scores, registry.champion_meets_thresholds],
    jobs=[data_job, training_job, registry.promote_model, registry.rollback_model],
    resources=build_resources(),
)
