"""The one Definitions of the code location; resources come from the deployment."""

from dagster import Definitions, load_assets_from_modules

from churn_assets.defs import (
    deployment,
    evaluation,
    features,
    ingestion,
    monitoring,
    promotion_jobs,
    registry,
    sensors,
    training,
    validation,
)
from churn_assets.defs.jobs import data_job, deployment_job, monitoring_job, training_job
from churn_assets.defs.monitoring import outcome_sensors, outcomes, realized
from churn_assets.resources.deployment import build_executor, build_resources

defs = Definitions(
    assets=load_assets_from_modules(
        [ingestion, validation, features, training, evaluation, registry, monitoring, deployment]
        + [outcomes, realized]
    ),
    asset_checks=[registry.champion_loads_and_scores, registry.champion_meets_thresholds],
    jobs=[
        data_job,
        training_job,
        monitoring_job,
        outcome_sensors.outcomes_job,
        outcome_sensors.realized_job,
        deployment_job,
        promotion_jobs.promote_model,
        promotion_jobs.rollback_model,
    ],
    sensors=[
        sensors.landing_sensor,
        sensors.drift_retraining_sensor,
        outcome_sensors.outcomes_sensor,
        sensors.run_failure_alert,
        sensors.run_success_metrics,
        sensors.daily_data_schedule,  # cron triggers (defs/catch_up.py), not schedules
        sensors.weekly_training_schedule,
    ],
    resources=build_resources(),
    executor=build_executor(),
)
