"""The compiled serving path: a fitted Pipeline's preprocessing as array operations.

`compile_pipeline` reads the fitted steps (`TableInput`, `EngineeredFeatures`, a
`ColumnTransformer` of `SimpleImputer`/`StandardScaler` and `SimpleImputer`/`OneHotEncoder`
pipelines) and returns a scorer that builds the estimator's input matrix straight from parsed
`Rows`: no DataFrame, no per-step validation. Categories are looked up in tables made by probing
the fitted encoder itself, so unseen, infrequent and missing values land where the Pipeline puts
them. A `CalibratedPipeline`'s map is applied after the estimator, as its `predict_proba` does.
Any step it does not know makes it return None with the reason, and the server scores
through the Pipeline instead (and says so in `/model`). The test checks both agree to 1e-9.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_assets.ml.features import EngineeredFeatures
from churn_assets.ml.models.calibration import calibrator_of
from churn_assets.ml.table_input import TableInput
from churn_assets.serving.direct import direct_proba
from churn_assets.serving.schema import InputSchema, Rows

_UNSEEN = "\x00unseen-category\x00"
SMALL_BATCH = 16


class NotCompilable(ValueError):
    """A step the compiled path does not know; the message says which."""


@dataclass
class _Block:
    kind: str  # "numeric" | "categorical"
    columns: list[int]  # indices into the extended numeric or categorical matrix
    fill: np.ndarray | None = None  # numeric imputation values
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    lookups: list[dict] | None = None  # categorical: value -> output offset (-1: none)
    unseen: list[int] | None = None
    offsets: list[int] | None = None
    width: int = 0


class CompiledScorer:
    """`predict(rows)` -> churn probabilities, equal to the Pipeline's `predict_proba[:, 1]`."""

    def __init__(
        self,
        schema: InputSchema,
        engineer,
        blocks: list[_Block],
        estimator: Any,
        calibrator: Any = None,
    ):
        self.schema = schema
        self.ratios = [(self._num(num), self._num(den)) for _, num, den in engineer["ratios"]]
        self.sums = [[self._num(c) for c in cols] for _, cols in engineer["sums"]]
        self.buckets = [
            (self._num(col), np.asarray(bins, float)) for _, col, bins in engineer["buckets"]
        ]
        self.blocks = blocks
        self.estimator = estimator
        self.width = sum(b.width for b in blocks)
        # Python lists of the same numbers, for `_transform_few`.
        self.few_buckets = [(col, bins.tolist()) for col, bins in self.buckets]
        self.few_numeric = [
            tuple(None if a is None else a.tolist() for a in (b.fill, b.mean, b.scale))
            for b in blocks
        ]
        # The estimator's own cheapest exact call on the laid-out matrix (serving/direct.py).
        self.proba, self.estimator_call = direct_proba(estimator, self.width)
        # The Pipeline's calibration map after the estimator (a CalibratedPipeline's): the
        # served score is `predict_proba` of the logged model, calibrated.
        self.calibrator = calibrator
        if calibrator is not None:
            self.estimator_call += f", then {calibrator.method} calibration"

    def _num(self, name: str) -> int:
        if name not in self.schema.numeric:
            raise NotCompilable(f"engineered feature uses '{name}', not a numeric input")
        return self.schema.numeric.index(name)

    def transform(self, rows: Rows) -> np.ndarray:
        """The estimator's input matrix for `rows`."""
        if len(rows) <= SMALL_BATCH:
            return self._transform_few(rows)
        x = rows.numeric
        extra = [x[:, n] / (np.clip(x[:, d], 0, None) + 1.0) for n, d in self.ratios]
        extra += [x[:, cols].sum(axis=1) for cols in self.sums]
        num = np.column_stack([x, *extra]) if extra else x
        cats = rows.categorical
        if self.buckets:
            coded = []
            for col, bins in self.buckets:
                values = x[:, col]
                codes = np.searchsorted(bins, values, side="left")
                coded.append(
                    [None if v != v else f"b{c}" for v, c in zip(values, codes, strict=True)]
                )
            cats = np.column_stack([cats, np.asarray(coded, dtype=object).T])
        out = np.zeros((len(rows), self.width))
        start = 0
        for block in self.blocks:
            if block.kind == "numeric":
                part = num[:, block.columns]
                if block.fill is not None:
                    part = np.where(np.isnan(part), block.fill, part)
                if block.mean is not None:
                    part = part - block.mean
                if block.scale is not None:
                    part = part / block.scale
                out[:, start : start + block.width] = part
            else:
                for k, col in enumerate(block.columns):
                    lookup, unseen, offset = block.lookups[k], block.unseen[k], block.offsets[k]
                    hits = np.fromiter(
                        (lookup.get(v, unseen) for v in cats[:, col]), int, len(rows)
                    )
                    where = np.flatnonzero(hits >= 0)
                    out[where, start + offset + hits[where]] = 1.0
            start += block.width
        return out

    def _transform_few(self, rows: Rows) -> np.ndarray:
        """`transform` in plain Python, row by row: for a few rows numpy's per-call cost is most
        of the time. The same float operations in the same order, so the same numbers."""
        matrix = []
        for x, cats in zip(rows.numeric.tolist(), rows.categorical.tolist(), strict=True):
            num = x + [x[n] / ((0.0 if x[d] < 0 else x[d]) + 1.0) for n, d in self.ratios]
            num += [sum(x[c] for c in cols) for cols in self.sums]
            for col, bins in self.few_buckets:
                value = x[col]
                cats.append(None if value != value else f"b{bisect_left(bins, value)}")
            out = [0.0] * self.width
            start = 0
            for block, (fill, mean, scale) in zip(self.blocks, self.few_numeric, strict=True):
                if block.kind == "numeric":
                    for k, col in enumerate(block.columns):
                        value = num[col]
                        if fill is not None and value != value:
                            value = fill[k]
                        if mean is not None:
                            value = value - mean[k]
                        if scale is not None:
                            value = value / scale[k]
                        out[start + k] = value
                else:
                    for k, col in enumerate(block.columns):
                        hit = block.lookups[k].get(cats[col], block.unseen[k])
                        if hit >= 0:
                            out[start + block.offsets[k] + hit] = 1.0
                start += block.width
            matrix.append(out)
        return np.array(matrix, dtype=float)

    def predict(self, rows: Rows) -> np.ndarray:
        scores = self.proba(self.transform(rows))
        return scores if self.calibrator is None else self.calibrator.transform(scores)


def _steps(pipeline) -> list:
    """The Pipeline's steps with nested Pipelines flattened."""
    flat = []
    for _, step in pipeline.steps:
        flat.extend(_steps(step) if isinstance(step, Pipeline) else [step])
    return flat


def _numeric_block(steps: list, columns: list[int]) -> _Block:
    block = _Block("numeric", columns, width=len(columns))
    for step in steps:
        if isinstance(step, SimpleImputer) and block.mean is None and block.fill is None:
            fill = np.asarray(step.statistics_, dtype=float)
            if np.isnan(fill).any() or step.add_indicator:
                raise NotCompilable("a numeric imputer drops or flags columns")
            block.fill = fill
        elif isinstance(step, StandardScaler) and block.mean is None:
            block.mean = step.mean_ if step.with_mean else None
            block.scale = step.scale_ if step.with_std else None
        else:
            raise NotCompilable(f"numeric step {type(step).__name__} is not compiled")
    return block


def _categorical_block(transformer, names: list[str], columns: list[int], missing: list) -> _Block:
    """Probe the fitted categorical transformer: each known category, missing and unseen."""
    steps = _steps(transformer) if isinstance(transformer, Pipeline) else [transformer]
    encoder = steps[-1]
    if not isinstance(encoder, OneHotEncoder) or encoder.drop_idx_ is not None:
        raise NotCompilable("categorical columns must end in a OneHotEncoder without drop")
    if not all(isinstance(s, SimpleImputer) for s in steps[:-1]):
        raise NotCompilable("categorical steps other than SimpleImputer are not compiled")
    widths = getattr(encoder, "_n_features_outs", None)
    if widths is None:
        raise NotCompilable("this scikit-learn's OneHotEncoder does not give its output widths")
    candidates = [
        [*cats, miss, _UNSEEN] for cats, miss in zip(encoder.categories_, missing, strict=True)
    ]
    depth = max(len(c) for c in candidates)
    probe = pd.DataFrame(
        {
            n: [c[min(i, len(c) - 1)] for i in range(depth)]
            for n, c in zip(names, candidates, strict=True)
        },
        dtype=object,
    )
    encoded = transformer.transform(probe)
    encoded = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
    block = _Block("categorical", columns, lookups=[], unseen=[], offsets=[])
    offset = 0
    for k, cands in enumerate(candidates):
        part = encoded[:, offset : offset + widths[k]]
        hit = [int(np.argmax(part[i])) if part[i].any() else -1 for i in range(len(cands))]
        lookup = {v: h for v, h in zip(cands[:-2], hit[:-2], strict=True)}
        lookup[None] = hit[-2]
        block.lookups.append(lookup)
        block.unseen.append(hit[-1])
        block.offsets.append(offset)
        offset += widths[k]
    block.width = offset
    return block


def compile_pipeline(pipeline, schema: InputSchema) -> CompiledScorer:
    """The compiled scorer of a fitted Pipeline; raises NotCompilable naming the unknown step."""
    if not isinstance(pipeline, Pipeline):
        raise NotCompilable(f"{type(pipeline).__name__} is not a scikit-learn Pipeline")
    *steps, estimator = _steps(pipeline)
    engineer = {"ratios": (), "sums": (), "buckets": ()}
    columns = None
    for step in steps:
        if isinstance(step, TableInput) and columns is None:
            continue
        if isinstance(step, EngineeredFeatures) and columns is None:
            engineer = {
                "ratios": step.ratios,
                "sums": getattr(step, "sums", ()),
                "buckets": step.buckets,
            }
        elif isinstance(step, ColumnTransformer) and columns is None:
            columns = step
        else:
            raise NotCompilable(f"step {type(step).__name__} is not compiled")
    if columns is None or getattr(columns, "sparse_output_", False):
        raise NotCompilable("no dense ColumnTransformer before the estimator")
    numeric = [
        *schema.numeric,
        *(r[0] for r in engineer["ratios"]),
        *(s[0] for s in engineer["sums"]),
    ]
    categorical = [*schema.categorical, *(b[0] for b in engineer["buckets"])]
    # What reaches the encoder for a missing value: None from the request, NaN from a bucket.
    missing_of = {c: None for c in schema.categorical} | {b[0]: np.nan for b in engineer["buckets"]}
    blocks = []
    for name, transformer, cols in columns.transformers_:
        if transformer == "drop" or len(cols) == 0:
            continue
        cols = [str(c) for c in cols]
        if name == "remainder":
            raise NotCompilable("a ColumnTransformer remainder other than drop")
        if all(c in numeric for c in cols) and not _ends_in_encoder(transformer):
            steps_ = _steps(transformer) if isinstance(transformer, Pipeline) else [transformer]
            blocks.append(_numeric_block(steps_, [numeric.index(c) for c in cols]))
        elif all(c in categorical for c in cols):
            idx = [categorical.index(c) for c in cols]
            blocks.append(_categorical_block(transformer, cols, idx, [missing_of[c] for c in cols]))
        else:
            raise NotCompilable(f"transformer '{name}' mixes or misses columns")
    if not hasattr(estimator, "predict_proba"):
        raise NotCompilable(f"{type(estimator).__name__} has no predict_proba")
    return CompiledScorer(schema, engineer, blocks, estimator, calibrator_of(pipeline))


def _ends_in_encoder(transformer) -> bool:
    steps = _steps(transformer) if isinstance(transformer, Pipeline) else [transformer]
    return isinstance(steps[-1], OneHotEncoder)
