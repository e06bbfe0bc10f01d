"""Data drift of a monitoring batch against the training reference, column by column.

`build_reference` prepares the training side once (sorted numeric values, category counts, quantile
edges for PSI, standard deviations, missing counts); `DriftReference.to_frame` / `from_frame` store
it as a long-format table (Parquet-friendly) so it can be an asset. `compute_drift` compares a batch
with it and returns a `DriftReport`.

Tests follow Evidently's defaults, which users already know. The deciding test is chosen by column
type and reference size: with at most `small_sample_rows` (1000) non-missing reference values,
numeric columns use the two-sample Kolmogorov-Smirnov test and categorical columns the chi-squared
test (p < alpha is drift); with more, numeric columns use the Wasserstein distance divided by the
reference standard deviation and categorical columns the Jensen-Shannon distance (distance >= 0.1 is
drift), because with large samples every p-value test flags differences too small to matter. Numeric
columns with at most five distinct values are tested as categorical. Every statistic of the column's
family is still computed and reported in `all_stats` (KS, Wasserstein, PSI; or chi-squared, JS,
PSI). Besides the features, the report covers missing-value drift (the missing / present indicator
of each feature, same selection rule, so chi-squared = the two-proportion z-test on small samples),
prediction drift (the score column, numeric rule) and target drift (categorical rule) when labels
are present.

Multiple testing: each column is tested at `alpha`, as Evidently does, so with many undrifted
columns about alpha of them are flagged by chance. The dataset decision therefore does not rest on
any single p-value: the dataset drifts when the share of drifted feature columns (numeric and
categorical, not missing / prediction / target rows) reaches `drift_share` (0.5). Every report also
carries a Benjamini-Hochberg adjusted p-value per tested row (`scipy.stats.false_discovery_control`,
one family = all tested rows of the report except those with a single category on both sides, such
as missing-value rows of columns without missing values, which cannot reject), and
`multiple_testing="bh"` makes p-value tests decide on the adjusted values, which keeps the expected
share of false discoveries among flagged columns at most alpha (for independent or positively
dependent columns). Distance tests are thresholds, not tests, and are never adjusted.

Modules: `config` (thresholds), `reference` (the training side) and `frame` (its stored table),
`stats` (the fast statistics), `columns` and `compute` (the comparison), `report` (its result),
`charts` and `page` (PNG and HTML views; import them from their modules, they load matplotlib
and Jinja2).
"""

from churn_assets.ml.drift.compute import compute_drift
from churn_assets.ml.drift.config import DriftConfig
from churn_assets.ml.drift.reference import ColumnReference, DriftReference, build_reference
from churn_assets.ml.drift.report import ColumnDrift, DriftReport

__all__ = [
    "ColumnDrift",
    "ColumnReference",
    "DriftConfig",
    "DriftReference",
    "DriftReport",
    "build_reference",
    "compute_drift",
]
