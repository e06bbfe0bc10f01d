"""Group monitoring: incoming batches validated, scored by the champion and compared with training.

The landing sensor adds a partition per new file and requests one `monitoring_job` run for it; the
blocking checks on `customer_batch` stop scoring and drift within that run, so a batch that failed
validation never reaches the drift report and never triggers retraining.

One module per step: `reference` (champion and training reference), `batches` (validation and
quarantine), `predictions` (scoring), `drift` (drift report). The assets are re-exported here so
`load_assets_from_modules([monitoring])` finds them.
"""

from churn_assets.defs.monitoring.batches import BATCH_CHECKS, batches, customer_batch
from churn_assets.defs.monitoring.drift import DriftSettings, drift_report
from churn_assets.defs.monitoring.predictions import ScoringConfig, batch_predictions
from churn_assets.defs.monitoring.reference import (
    drift_reference,
    explain_baseline,
    load_champion,
)

__all__ = [
    "BATCH_CHECKS",
    "DriftSettings",
    "ScoringConfig",
    "batch_predictions",
    "batches",
    "customer_batch",
    "drift_reference",
    "drift_report",
    "explain_baseline",
    "load_champion",
]
