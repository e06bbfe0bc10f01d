"""The first step of a registered model: tables as users have them, cast as validation casts.

A model is trained on validated rows (numeric columns as float, categorical columns as stripped
text), but users score it with `pd.read_csv` of the source file, where `tenure` is int64 and an
area code `415` is a number. `TableInput` turns such a frame into the validated form before the
Pipeline sees it, so int and float columns score alike and numbers used as categories match the
categories the model learned. Fitting learns nothing the
transform uses; it records the training ranges, categories and typical values the server reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from churn_assets.ml.explain import baseline_values


def category_text(values: pd.Series) -> pd.Series:
    """Values as the stripped text validation stores: 415 and 415.0 -> "415"; blanks -> None."""

    def one(value: object) -> object:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        text = str(value).strip()
        return text or None

    uniques = pd.unique(values.to_numpy(dtype=object))
    mapping = {u: one(u) for u in uniques if not _is_missing(u)}
    mapped = [mapping.get(v) if not _is_missing(v) else None for v in values.to_numpy(object)]
    return pd.Series(mapped, index=values.index, dtype=object)


def _is_missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


class TableInput(TransformerMixin, BaseEstimator):
    """Selects the model's raw columns and casts them: numeric to float, categorical to text.

    `transform` raises ValueError naming the column (and the first bad value) when a numeric
    column holds text that is not a number, and KeyError naming the missing columns.
    """

    def __init__(self, numeric=(), categorical=()):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X, y=None):
        """Record the columns, and what the server reports against: the training ranges of the
        numeric columns, the categories seen, and the typical values reasons compare with."""
        self.feature_names_in_ = np.asarray([*self.numeric, *self.categorical], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        cast = self.transform(X)
        self.ranges_ = {
            c: [float(cast[c].min()), float(cast[c].max())]
            for c in self.numeric
            if cast[c].notna().any()
        }
        self.categories_ = {c: sorted(set(cast[c].dropna())) for c in self.categorical}
        self.baseline_ = {
            c: (v.item() if isinstance(v, np.generic) else v)
            for c, v in baseline_values(cast).items()
        }
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless: usable in a Pipeline assembled from already fitted steps

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in (*self.numeric, *self.categorical) if c not in X.columns]
        if missing:
            raise KeyError(f"missing input columns: {', '.join(map(str, missing))}")
        out = {}
        for col in self.numeric:
            values = X[col]
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                out[col] = values.astype(float)
                continue
            parsed = pd.to_numeric(values, errors="coerce")
            bad = parsed.isna() & values.notna() & (values.astype(str).str.strip() != "")
            if bad.any():
                raise ValueError(
                    f"column '{col}': value {values[bad].iloc[0]!r} is not a number; "
                    "send a number or leave it empty"
                )
            out[col] = parsed.astype(float)
        for col in self.categorical:
            out[col] = category_text(X[col])
        return pd.DataFrame(out, index=X.index)
