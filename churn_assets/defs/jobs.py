"""Jobs over the asset graph."""

from dagster import AssetSelection, HookContext, define_asset_job, failure_hook, success_hook

from churn_assets.constants import OPERATION_TAG
from churn_assets.resources.memory import release_memory


@success_hook(name="release_memory_after_step")
def release_after_success(context: HookContext) -> None:
    """After each step: free what it left behind (see `resources/memory.py`), so the next step of
    the same process (`churn-assets run`) does not start on top of it."""
    release_memory()


@failure_hook(name="release_memory_after_failure")
def release_after_failure(context: HookContext) -> None:
    """The same after a failed step (the run's other branches go on in the process)."""
    release_memory()


RELEASE_MEMORY = {release_after_success, release_after_failure}

data_job = define_asset_job(
    "data_job",
    selection=AssetSelection.groups("ingestion", "validation", "features"),
    description="Load, validate and split: raw_dataset -> validated_dataset -> features.",
    hooks=RELEASE_MEMORY,
)

training_job = define_asset_job(
    "training_job",
    selection=AssetSelection.groups("ingestion", "validation", "features", "training", "registry")
    | AssetSelection.assets("drift_reference", "explain_baseline"),
    description="The whole training lineage: raw data to the promoted model.",
    tags={OPERATION_TAG: "training"},
    hooks=RELEASE_MEMORY,
)

monitoring_job = define_asset_job(
    "monitoring_job",
    selection=AssetSelection.assets(
        "customer_batch", "batch_quarantine", "batch_predictions", "drift_report"
    ),
    description="One incoming batch: validate, score with the champion, report drift.",
    tags={OPERATION_TAG: "monitoring"},
)

deployment_job = define_asset_job(
    "deployment_job",
    selection=AssetSelection.groups("deployment"),
    description="Roll the registry's champion out to the model server, smoke-test, roll back. "
    "Not part of training_job: a local run must not start servers as a side effect.",
    tags={"churn/operation": "deployment"},
)
