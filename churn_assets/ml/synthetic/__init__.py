"""A seeded, telco-like synthetic churn table with a known churn function.

Churn is drawn from a logistic model of the columns (`churn_logit`), so the best possible ROC AUC is
bounded well below 1.0 (about 0.85-0.90 for a good model). Rows are generated in chunks from a
`numpy.random.SeedSequence`, so any number of rows comes out with bounded memory and the same seed
always gives the same table, whatever the chunk size.

`total_charges` is text, as in the public IBM telco file: blank for brand-new customers, and the
injected faults put bad strings there, so the loader's coercion is exercised on every run.

`customers` draws the columns and holds the churn function, `stream` makes the table; the public
names are re-exported here.
"""

from churn_assets.ml.synthetic.customers import (
    CHURN_FUNCTIONS,
    DRIFT_PROFILES,
    SIGNAL,
    churn_logit,
)
from churn_assets.ml.synthetic.stream import (
    CHUNK_ROWS,
    generate_synthetic,
    iter_synthetic,
    write_synthetic,
)

__all__ = [
    "CHUNK_ROWS",
    "CHURN_FUNCTIONS",
    "DRIFT_PROFILES",
    "SIGNAL",
    "churn_logit",
    "generate_synthetic",
    "iter_synthetic",
    "write_synthetic",
]
