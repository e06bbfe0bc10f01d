"""Jobs and the sensor that carry outcome files to `realized_performance`, and what the
retraining sensor reads from it.

Two steps, both in `outcomes_sensor`: (1) a new or changed file in the outcomes landing requests
one `outcomes_job` run (all files are merged again); (2) each new `churn_outcomes`
materialization names, per batch, a fingerprint of that batch's outcomes; a batch whose
fingerprint changed gets a `realized_job` run for its partition, so late and partial outcomes
re-materialize the same partition.
"""

import hashlib
import json

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from churn_assets.constants import OPERATION_TAG
from churn_assets.defs.monitoring.outcomes import OUTCOMES_ASSET
from churn_assets.defs.monitoring.realized import REALIZED_ASSET
from churn_assets.resources.landing import LandingResource

MAX_RUNS_PER_TICK = 10

outcomes_job = define_asset_job(
    "outcomes_job",
    selection=[OUTCOMES_ASSET, "outcome_quarantine"],
    description="Merge every outcome file: the newest outcome per scored id, the rest quarantined.",
    tags={OPERATION_TAG: "outcomes"},
)
realized_job = define_asset_job(
    "realized_job",
    selection=[REALIZED_ASSET],
    description="One batch judged on the outcomes that arrived: realized AUC, calibration, lift.",
    tags={OPERATION_TAG: "monitoring"},
)


@sensor(
    jobs=[outcomes_job, realized_job],
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="New outcome files -> outcomes_job; batches with new outcomes -> realized_job.",
)
def outcomes_sensor(context: SensorEvaluationContext, outcomes_landing: LandingResource):
    """Cursor: JSON {"files": {name: stamp}, "event_id": last churn_outcomes record read,
    "batches": {partition: fingerprint requested}}. Run keys carry the stamps/fingerprints, so
    a restarted daemon never requests the same work twice."""
    state = json.loads(context.cursor) if context.cursor else {}
    files, seen = outcomes_landing.list_batches(), state.get("files", {})
    requests = []
    if files != seen:
        stamp = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        changed = sorted(n for n in files if seen.get(n) != files[n])
        requests.append(
            RunRequest(
                job_name=outcomes_job.name,
                run_key=f"outcomes:{stamp}",
                tags={"churn/outcome_files": ",".join(changed)[:200] or "(files removed)"},
            )
        )
        state["files"] = files
    latest = _latest_outcomes(context.instance, state.get("event_id", 0))
    done = state.setdefault("batches", {})
    if latest is not None:
        wanted = latest.asset_materialization.metadata["batch_outcomes"].value
        stale = [b for b, v in sorted(wanted.items()) if done.get(b) != v["fingerprint"]]
        for batch in stale[:MAX_RUNS_PER_TICK]:
            fingerprint = wanted[batch]["fingerprint"]
            done[batch] = fingerprint
            requests.append(
                RunRequest(
                    job_name=realized_job.name,
                    run_key=f"realized:{batch}:{fingerprint}",
                    partition_key=batch,
                    tags={"churn/batch": batch},
                )
            )
        if len(stale) <= MAX_RUNS_PER_TICK:  # else read the same record again next tick
            state["event_id"] = latest.storage_id
    if not requests:
        return SkipReason(f"no new outcome files ({len(files)} known), no new outcomes merged")
    return SensorResult(run_requests=requests, cursor=json.dumps(state, sort_keys=True))


def _latest_outcomes(instance: DagsterInstance, after: int):
    """The newest churn_outcomes materialization after storage id `after`, or None; each one
    carries the fingerprints of every batch, so only the newest matters."""
    found = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(OUTCOMES_ASSET), after_storage_id=after),
        limit=1,
        ascending=False,
    ).records
    return found[0] if found else None


def decayed_batches(instance: DagsterInstance, after: int) -> tuple[int, list[tuple[int, str]]]:
    """New `realized_performance` materializations after storage id `after` whose realized AUC
    decayed: (the last storage id read, [(storage id, reason in words)])."""
    fresh = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(REALIZED_ASSET), after_storage_id=after),
        limit=100,
        ascending=True,
    ).records
    decays = []
    for record in fresh:
        md = record.asset_materialization.metadata
        if md.get("decayed") is not None and md["decayed"].value:
            batch = md["batch"].value if "batch" in md else record.partition_key
            decays.append((record.storage_id, f"realized AUC decay in batch {batch}: "
                           f"{md['reason'].value}"))  # fmt: skip
    return (max((r.storage_id for r in fresh), default=after), decays)
