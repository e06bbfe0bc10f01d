"""Names shared across the code location, defined once.

Plain Python (no Dagster, no MLflow) so every layer, `ml/` included, may import it.
"""

# Owners of every asset and check: one team today; change it here, not per asset.
OWNERS = ["team:ml-platform"]

# The MLflow registered model the promoted versions belong to, and the experiment runs go to.
# Deployments may override both through the MLflow resource's config; these are the defaults.
REGISTERED_MODEL_NAME = "churn-classifier"
EXPERIMENT_NAME = "churn"

# Registry aliases: `champion` serves, `challenger` is the latest candidate the gate looked at.
CHAMPION = "champion"
CHALLENGER = "challenger"

# Run tag naming what a job does (training, monitoring, promotion); sensors and alerts read it.
OPERATION_TAG = "churn/operation"
