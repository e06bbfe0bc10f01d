"""One place decides the deployment; every resource switches on it."""

import os
from typing import Literal

from dagster import EnvVar
from dagster_aws.s3 import S3Resource

from churn_assets.resources.alerts import AlertWebhook
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.kubernetes import KubernetesModelServer
from churn_assets.resources.landing import LocalLanding, S3Landing
from churn_assets.resources.local_home import local_data_dir
from churn_assets.resources.local_server import LocalModelServer
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.outcome_files import DEFAULT_WINDOW_DAYS, OutcomeRows
from churn_assets.resources.parquet_io import LocalParquetIOManager, S3ParquetIOManager
from churn_assets.resources.reports import LocalReports, S3Reports
from churn_assets.resources.retraining import DEFAULT_COOLDOWN_HOURS, RetrainingPolicy

Deployment = Literal["local", "production"]


def get_deployment() -> Deployment:
    """CHURN_DEPLOYMENT: `local` (default, no servers) or `production` (S3, Postgres, K8s)."""
    value = os.environ.get("CHURN_DEPLOYMENT", "local").strip().lower()
    if value not in ("local", "production"):
        raise ValueError(f"CHURN_DEPLOYMENT must be 'local' or 'production', got '{value}'")
    return value  # type: ignore[return-value]


def _sensor_resources() -> dict:
    """What the sensors need in both deployments: the alert webhook and the retraining policy."""
    webhook = os.getenv("CHURN_ALERT_WEBHOOK_URL")
    cooldown = os.getenv("CHURN_RETRAIN_COOLDOWN_HOURS", str(DEFAULT_COOLDOWN_HOURS))
    try:
        hours = float(cooldown)
    except ValueError:
        raise ValueError(
            f"CHURN_RETRAIN_COOLDOWN_HOURS must be a number of hours, got '{cooldown}'"
        ) from None
    return {
        "alerts": AlertWebhook(url=EnvVar("CHURN_ALERT_WEBHOOK_URL") if webhook else None),
        "retraining": RetrainingPolicy(cooldown_hours=hours),
    }


def build_resources(deployment: Deployment | None = None) -> dict:
    """The resources of a deployment, keyed as the assets and sensors expect them."""
    deployment = deployment or get_deployment()
    spec = os.environ.get("CHURN_DATASET_SPEC", "synthetic")
    git = GitResource(sha=os.environ.get("CHURN_GIT_SHA") or None)  # images carry no .git
    if deployment == "local":
        home = local_data_dir()
        landing = LocalLanding(folder=os.environ.get("CHURN_LANDING_DIR", str(home / "landing")))
        outcomes = LocalLanding(folder=os.environ.get("CHURN_OUTCOMES_DIR", str(home / "outcomes")))
        return {
            **_sensor_resources(),
            "io_manager": LocalParquetIOManager(base_dir=str(home / "assets")),
            "dataset": DatasetResource(spec=spec, outcome_rows=_outcome_rows(landing, outcomes)),
            "git": git,
            "mlflow_tracking": MlflowResource(
                tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db"),
                artifact_location=str(home / "mlartifacts"),
            ),
            "landing": landing,
            "outcomes_landing": outcomes,
            "reports": LocalReports(folder=str(home / "reports")),
            # deployed_model's target: the `make serve` process, pinned to the champion.
            "model_server": LocalModelServer(
                port=int(os.environ.get("CHURN_SERVE_PORT", "8080")),
                state_dir=str(home / "serving"),
                env={
                    "MLFLOW_TRACKING_URI": os.environ.get(
                        "MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db"
                    )
                },
            ),
            # Local runs push nowhere unless CHURN_PUSHGATEWAY_URL is set.
            "metrics": MetricsResource(
                pushgateway_url=os.environ.get("CHURN_PUSHGATEWAY_URL") or None,
                deployment="local",
            ),
        }
    # The endpoint is optional (real AWS needs none; MinIO or moto do), so it is only read when set.
    endpoint = EnvVar("CHURN_S3_ENDPOINT_URL") if os.getenv("CHURN_S3_ENDPOINT_URL") else None
    prefix = EnvVar("CHURN_S3_PREFIX") if os.getenv("CHURN_S3_PREFIX") else "churn-assets"
    pushgateway = os.getenv("CHURN_PUSHGATEWAY_URL")  # runs are short-lived pods: push, not scrape
    s3 = S3Resource(endpoint_url=endpoint)
    bucket = EnvVar("CHURN_S3_BUCKET")
    landing = S3Landing(s3=s3, bucket=bucket, prefix="landing")
    outcomes = S3Landing(s3=s3, bucket=bucket, prefix="outcomes")
    return {
        **_sensor_resources(),
        "io_manager": S3ParquetIOManager(s3=s3, bucket=bucket, prefix=prefix),
        "landing": landing,
        "outcomes_landing": outcomes,
        "reports": S3Reports(s3=s3, bucket=bucket, prefix="reports"),
        "metrics": MetricsResource(
            pushgateway_url=EnvVar("CHURN_PUSHGATEWAY_URL") if pushgateway else None,
            deployment="production",
        ),
        "dataset": DatasetResource(spec=spec, s3=s3, outcome_rows=_outcome_rows(landing, outcomes)),
        "git": git,
        # deployed_model's target: the model server Deployment (deploy/k8s/model-server.yaml).
        "model_server": KubernetesModelServer(
            namespace=os.environ.get("CHURN_K8S_NAMESPACE", "churn"),
            service_url=os.environ.get(
                "CHURN_MODEL_SERVER_URL", "http://churn-model-server.churn.svc.cluster.local:8080"
            ),
            kubeconfig_file=os.environ.get("CHURN_KUBECONFIG") or None,
        ),
        "mlflow_tracking": MlflowResource(
            tracking_uri=EnvVar("MLFLOW_TRACKING_URI"),
            artifact_location=os.environ.get("CHURN_MLFLOW_ARTIFACTS") or None,
        ),
    }


def _outcome_rows(landing, outcomes) -> OutcomeRows:
    """Retraining learns from scored batches with outcomes; CHURN_OUTCOMES_WINDOW_DAYS (default
    180, `all` for no limit) says how far back outcomes count."""
    window = os.environ.get("CHURN_OUTCOMES_WINDOW_DAYS", str(DEFAULT_WINDOW_DAYS)).strip()
    try:
        days = None if window.lower() == "all" else float(window)
    except ValueError:
        raise ValueError(
            f"CHURN_OUTCOMES_WINDOW_DAYS must be a number of days or 'all', got '{window}'"
        ) from None
    return OutcomeRows(landing=landing, outcomes_landing=outcomes, window_days=days)


def build_executor(deployment: Deployment | None = None):
    """Production runs each step in its own pod (`k8s_job_executor`); local uses the default.

    Steps without a `dagster-k8s/config` tag get the default pod size below; the training
    families name bigger pods on their assets.
    """
    if (deployment or get_deployment()) == "local":
        return None
    if os.environ.get("CHURN_EXECUTOR") == "multiprocess":  # production outside Kubernetes
        return None
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(
        {
            "max_concurrent": 4,
            "step_k8s_config": {
                "container_config": {
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "2Gi"},
                    }
                }
            },
        },
        name="churn_k8s_executor",
    )
