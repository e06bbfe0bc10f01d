"""Train/test split and the unfitted preprocessing every model Pipeline starts with.

Nothing here is fitted on data: `build_preprocessor` returns an unfitted scikit-learn Pipeline
(engineered features, then a ColumnTransformer) that the training step puts in front of each
estimator, so imputation, encoding and scaling learn from the training rows only and the holdout
never leaks into them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_assets.ml.sources import SPLIT_COLUMN
from churn_assets.ml.spec import DatasetSpec
from churn_assets.ml.validation import TARGET, ColumnTypes
from churn_assets.ml.validation_base import PROVENANCE, SPLIT  # SPLIT: "train" | "test"


@dataclass(frozen=True)
class FeatureSpec:
    """The raw input columns a model takes, and the engineered features added in the Pipeline."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ratios: tuple[tuple[str, str, str], ...] = ()  # (name, numerator, denominator)
    buckets: tuple[tuple[str, str, tuple[float, ...]], ...] = ()  # (name, column, bins)
    sums: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, columns)

    @property
    def inputs(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def engineered(self) -> list[str]:
        return (
            [r[0] for r in self.ratios] + [s[0] for s in self.sums] + [b[0] for b in self.buckets]
        )

    def to_dict(self) -> dict:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "ratios": [list(r) for r in self.ratios],
            "buckets": [[n, c, list(b)] for n, c, b in self.buckets],
            "sums": [[n, list(cols)] for n, cols in self.sums],
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(
            numeric=tuple(data["numeric"]),
            categorical=tuple(data["categorical"]),
            ratios=tuple(tuple(r) for r in data.get("ratios", [])),
            buckets=tuple((n, c, tuple(b)) for n, c, b in data.get("buckets", [])),
            sums=tuple((n, tuple(cols)) for n, cols in data.get("sums", [])),
        )


def feature_spec(spec: DatasetSpec, types: ColumnTypes) -> FeatureSpec:
    """The FeatureSpec for a dataset: its typed columns plus the engineered features that apply.

    Engineered features whose source columns are absent are skipped, so one spec format serves
    tables with and without, e.g., a tenure column.
    """
    numeric = set(types.numeric)
    ratios = tuple(
        (name, num, den)
        for name, (num, den) in spec.ratio_features.items()
        if num in numeric and den in numeric
    )
    buckets = tuple(
        (name, b.column, tuple(b.bins))
        for name, b in spec.bucket_features.items()
        if b.column in numeric
    )
    # Sums matter to trees: the BigML table's total charge is four columns a tree cannot add up.
    sums = tuple(
        (name, tuple(cols))
        for name, cols in spec.sum_features.items()
        if all(c in numeric for c in cols)
    )
    return FeatureSpec(tuple(types.numeric), tuple(types.categorical), ratios, buckets, sums)


class EngineeredFeatures(TransformerMixin, BaseEstimator):
    """Adds ratio and bucket columns; stateless, so fitting learns nothing from the data."""

    def __init__(self, ratios=(), buckets=(), sums=()):
        self.ratios = ratios
        self.buckets = buckets
        self.sums = sums

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        # Recorded so the Pipeline reports the raw input columns it takes (feature_names_in_).
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        # A shallow copy: the engineered columns are added to it, never written into `X`'s own
        # arrays, so the raw columns need no second copy (416 MiB at 4M rows, during every fit).
        X = X.copy(deep=False)
        for name, num, den in self.ratios:
            # +1 keeps brand-new customers (tenure 0) finite: charges per month of tenure.
            X[name] = X[num].astype(float) / (X[den].astype(float).clip(lower=0) + 1.0)
        # Models saved before `sums` existed load without the attribute; they have no sums.
        for name, cols in getattr(self, "sums", ()):
            X[name] = X[list(cols)].astype(float).sum(axis=1, min_count=len(cols))
        for name, col, bins in self.buckets:
            edges = [-np.inf, *bins, np.inf]
            codes = pd.Series(pd.cut(X[col].astype(float), edges, labels=False), index=X.index)
            X[name] = codes.map({i: f"b{i}" for i in range(len(edges))}).astype(object)
        return X


def build_preprocessor(features: FeatureSpec) -> Pipeline:
    """Unfitted preprocessing: engineered features, then impute/scale numeric and one-hot encode
    categorical columns (unseen categories at scoring time are ignored, rare ones grouped)."""
    numeric = [*features.numeric, *(r[0] for r in features.ratios), *(s[0] for s in features.sums)]
    categorical = [*features.categorical, *(b[0] for b in features.buckets)]
    numeric_steps = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            (
                "encode",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10),
            ),
        ]
    )
    columns = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)],
        remainder="drop",
        sparse_threshold=0.0,
        verbose_feature_names_out=False,
    )
    engineered = EngineeredFeatures(
        ratios=features.ratios, buckets=features.buckets, sums=features.sums
    )
    return Pipeline([("engineer", engineered), ("columns", columns)])


def split_rows(
    valid: pd.DataFrame, spec: DatasetSpec, test_size: float | None = None, seed: int | None = None
) -> pd.Series:
    """Assign each validated row to "train" or "test".

    Precedence: a publisher's split (the spec's `split.test_path`), then a time-based split when
    a `date_column` is declared (the latest rows are the test set), else a seeded stratified
    split. Raises ValueError when either side would be empty or lack a class.
    """
    test_size = spec.split.test_size if test_size is None else test_size
    seed = spec.split.random_state if seed is None else seed
    if SPLIT_COLUMN in valid.columns:
        split = valid[SPLIT_COLUMN].astype(str)
    elif spec.date_column:
        order = valid[spec.date_column].rank(method="first")
        split = pd.Series(
            np.where(order > len(valid) * (1 - test_size), "test", "train"), index=valid.index
        )
    else:
        counts = valid[TARGET].value_counts()
        n_test = int(np.ceil(test_size * len(valid)))
        if len(counts) < 2 or counts.min() < 2 or min(n_test, len(valid) - n_test) < len(counts):
            raise ValueError(
                f"cannot split: the validated rows have class counts {counts.to_dict()} in "
                f"'{TARGET}' ({len(valid)} rows, test_size {test_size}); a stratified split "
                "needs at least 2 rows of each class and one of each class on both sides; "
                "give the source more rows"
            )
        _, test_index = train_test_split(
            valid.index, test_size=test_size, random_state=seed, stratify=valid[TARGET]
        )
        split = pd.Series("train", index=valid.index)
        split.loc[test_index] = "test"
    for side in ("train", "test"):
        classes = valid.loc[split == side, TARGET].nunique()
        if classes < 2:
            raise ValueError(
                f"the {side} split has {int((split == side).sum())} rows and {classes} class(es); "
                "both splits need churners and non-churners"
            )
    return split


def build_features(
    valid: pd.DataFrame, spec: DatasetSpec, features: FeatureSpec, id_name: str
) -> pd.DataFrame:
    """The features table: id, the raw model inputs, the 0/1 target and the split column."""
    split = split_rows(valid, spec)
    columns = [id_name, *features.inputs, TARGET]
    columns += [PROVENANCE] if PROVENANCE in valid.columns else []  # outcome rows say so
    table = valid[columns].copy()
    table[SPLIT] = split.to_numpy()
    return table


def split_xy(table: pd.DataFrame, spec: FeatureSpec, side: str) -> tuple[pd.DataFrame, pd.Series]:
    """The raw model inputs and the 0/1 target of one side ("train" or "test") of a features
    table. Raises ValueError naming the missing columns when the table does not fit the spec."""
    missing = [c for c in [*spec.inputs, TARGET, SPLIT] if c not in table.columns]
    if missing:
        raise ValueError(
            f"the features table lacks columns {missing} of its feature spec; rematerialize "
            "`feature_spec` and `features` together"
        )
    rows = table[SPLIT] == side
    # One selection of rows and columns: one copy of the inputs, not a copy of the whole table
    # first (the ID and every other column) and then of its inputs.
    return table.loc[rows, spec.inputs], table.loc[rows, TARGET].astype(int)


def labeled_xy(table: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Every labeled row (the training split, then the holdout) as raw inputs and 0/1 target,
    for the final fit. Raises ValueError as `split_xy` does."""
    parts = [split_xy(table, spec, side) for side in ("train", "test")]
    X = pd.concat([x for x, _ in parts])
    y = pd.concat([y for _, y in parts])
    return X, y  # the two halves are freed here, before the caller fits on X
