"""Calibrated probabilities: a map from a family's scores to churn frequencies, chosen out of fold.

Class-weighted training inflates churn scores (the BigML forest's mean score is 0.19 for a churn
rate of 0.14), and batch scores are read as probabilities (expected profit, the model card).
`choose_calibration` takes a family's out-of-fold scores and labels, compares three maps by
cross-validated log loss over those scores (seeded `StratifiedKFold`; each map scored on rows
it was not fitted on) and fits the chosen one on all of them:

- `none`: the scores as they are;
- `sigmoid`: a `LogisticRegression` on the scores' log-odds (Platt scaling), scores clipped to
  [1e-6, 1 - 1e-6] first;
- `isotonic`: an `IsotonicRegression(out_of_bounds="clip")`, a non-decreasing step function,
  its values bounded to [0.001, 0.999]: a block of scores without a churner would otherwise say
  0 exactly, a claim no finite table supports, and one held-out churner there (34.5 nats at the
  1e-15 clip of the log loss) decided the comparison alone on a calibrated table. Within a
  block the raw score breaks the tie (`RANK_KEEP` times the score is added, at most 1e-6), so the
  map keeps the scores' order: a step function would rank a block's rows as equals and move ROC
  AUC by luck (on the BigML outer splits it cost the champion 0.003 on average, 0.011 on one).

The simplest map within `TIE` nats of the best wins (none, then sigmoid, then isotonic), so a
tie keeps the scores as they are; a table with fewer than `MIN_CLASS_ROWS` rows of either class
keeps them too. `CalibratedPipeline` is the fitted Pipeline with its map applied after
`predict_proba`; its steps are the Pipeline's, so the last step stays the estimator.

Why not scikit-learn's `CalibratedClassifierCV`: training already has each family's
out-of-fold scores (the threshold is chosen on them), so fitting the map on them is exactly
`CalibratedClassifierCV(ensemble=False)`'s method without refitting the family once per fold a
second time (it would double the training time), and the choice among the maps, which it does
not make, needs the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

METHODS = ("none", "sigmoid", "isotonic")  # in order of preference on a tie
SETTINGS = ("auto", "none")  # `calibration:` of the training config
CV_FOLDS = 5
MIN_CLASS_ROWS = 5 * CV_FOLDS  # fewer churners (or stayers) than this: the scores are kept
TIE = 1e-3  # nats of log loss: a map must gain more than this over a simpler one
SCORE_CLIP = 1e-6  # sigmoid: scores of 0 or 1 have infinite log-odds
ISOTONIC_BOUNDS = (1e-3, 1 - 1e-3)
RANK_KEEP = 1e-6  # isotonic: a block's ties broken by the raw score (order kept)


class ScoreCalibrator:
    """A fitted map from churn scores to calibrated probabilities (`transform`).

    Holds the fitted map's numbers, not the scikit-learn object that found them, so the map
    travels in a JSON record (`to_record`/`from_record`, the final fit takes it from there) and
    skops trusts one type: sigmoid keeps `coef` and `intercept` (p = expit(coef * logit(s) +
    intercept)); isotonic keeps its steps `x` (increasing scores) and `y` (probabilities),
    interpolated linearly and clipped at both ends, as `IsotonicRegression.predict` does.
    """

    def __init__(self, method: str = "none", params: dict[str, Any] | None = None):
        if method not in METHODS:
            raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.params = dict(params or {})

    @classmethod
    def fit(cls, method: str, scores: np.ndarray, y: np.ndarray) -> ScoreCalibrator:
        """Fit `method` on `scores` (churn scores in [0, 1]) and 0/1 labels `y`."""
        scores, y = np.asarray(scores, dtype=float), np.asarray(y, dtype=int)
        if method == "sigmoid":
            z = logit(np.clip(scores, SCORE_CLIP, 1 - SCORE_CLIP)).reshape(-1, 1)
            model = LogisticRegression(C=1e6, max_iter=1000).fit(z, y)
            params = {"coef": float(model.coef_[0, 0]), "intercept": float(model.intercept_[0])}
        elif method == "isotonic":
            model = IsotonicRegression(
                out_of_bounds="clip", y_min=ISOTONIC_BOUNDS[0], y_max=ISOTONIC_BOUNDS[1]
            ).fit(scores, y)
            params = {"x": model.X_thresholds_.tolist(), "y": model.y_thresholds_.tolist()}
        else:
            params = {}
        return cls(method, params)

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of `scores`; `none` returns them unchanged (same dtype)."""
        if self.method == "none":
            return scores
        s = np.asarray(scores, dtype=float)
        if self.method == "sigmoid":
            z = logit(np.clip(s, SCORE_CLIP, 1 - SCORE_CLIP))
            return expit(self.params["coef"] * z + self.params["intercept"])
        return np.interp(s, self.params["x"], self.params["y"]) + RANK_KEEP * s

    def to_record(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ScoreCalibrator:
        return cls(record["method"], record.get("params"))

    def __repr__(self) -> str:
        return f"ScoreCalibrator(method={self.method!r})"


class CalibratedPipeline(Pipeline):
    """A Pipeline whose `predict_proba` maps the churn column through `calibrator`.

    The steps are the inner Pipeline's (preprocessing, then the estimator last), so whatever
    reads `steps[-1]` or `named_steps["model"]` still finds the estimator. The calibrator is a
    fixed map learned from out-of-fold scores: `fit` refits the steps only (the final fit on all
    labeled rows keeps the map of the training split, as `CalibratedClassifierCV(ensemble=False)`
    does). `predict` thresholds the calibrated probability at 0.5; `decision_function`, where the
    estimator has one, stays the estimator's (uncalibrated) log-odds.
    """

    def __init__(
        self,
        steps,
        *,
        calibrator: ScoreCalibrator | None = None,
        transform_input=None,
        memory=None,
        verbose=False,
    ):
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.calibrator = calibrator

    def predict_proba(self, X, **params):
        proba = super().predict_proba(X, **params)
        scores = proba[:, 1]
        churn = calibrate(self, scores)
        if churn is scores:  # method none: the estimator's numbers, untouched
            return proba
        return np.column_stack([1.0 - churn, churn])

    def predict(self, X, **params):
        return self.classes_[(self.predict_proba(X, **params)[:, 1] >= 0.5).astype(int)]


def calibrator_of(model) -> ScoreCalibrator | None:
    """The calibrator `model` applies after its estimator (None: none)."""
    return getattr(model, "calibrator", None) if isinstance(model, CalibratedPipeline) else None


def calibrate(model, scores: np.ndarray) -> np.ndarray:
    """`scores` of `model`'s estimator as `model.predict_proba` returns them: through the
    model's calibrator, or unchanged when it has none. Every path that scores through the
    estimator directly (compiled serving, batch scoring, occlusion) goes through here."""
    found = calibrator_of(model)
    return scores if found is None else found.transform(scores)


def with_calibrator(pipeline: Pipeline, calibrator: ScoreCalibrator | None) -> Pipeline:
    """`pipeline`'s steps as a CalibratedPipeline applying `calibrator` (as is when None)."""
    if calibrator is None:
        return pipeline
    return CalibratedPipeline(list(pipeline.steps), calibrator=calibrator)


def same_kind(pipeline: Pipeline, steps: list) -> Pipeline:
    """A Pipeline of `steps` applying `pipeline`'s calibrator, if it has one."""
    return with_calibrator(Pipeline(steps), calibrator_of(pipeline))


@dataclass
class Calibration:
    """What `choose_calibration` found.

    Attributes:
        method: the chosen map (`METHODS`), or "off" when the setting is `none`.
        calibrator: the chosen map fitted on every out-of-fold score (None when off).
        scores: the out-of-fold scores after calibration, each mapped by the chosen method
            fitted on the other folds' scores (so still out of fold); the scores as given when
            the method is none or off.
        log_loss / brier: cross-validated, per method compared (empty when not compared).
        reason: why this method, in words.
    """

    method: str
    calibrator: ScoreCalibrator | None
    scores: np.ndarray
    reason: str
    log_loss: dict[str, float] = field(default_factory=dict)
    brier: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """A JSON record: the method, the reason, the evidence and the fitted map."""
        out: dict[str, Any] = {"method": self.method, "reason": self.reason}
        if self.log_loss:
            out |= {
                "oof_log_loss_before": self.log_loss["none"],
                "oof_log_loss_after": self.log_loss.get(self.method, self.log_loss["none"]),
                "oof_brier_before": self.brier["none"],
                "oof_brier_after": self.brier.get(self.method, self.brier["none"]),
                "oof_log_loss": dict(self.log_loss),
                "oof_brier": dict(self.brier),
            }
        if self.calibrator is not None:
            out["calibrator"] = self.calibrator.to_record()
        return out


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))


def _cross_fitted(method: str, scores: np.ndarray, y: np.ndarray, splits) -> np.ndarray:
    if method == "none":
        return scores
    out = np.empty(len(scores))
    for train, test in splits:
        out[test] = ScoreCalibrator.fit(method, scores[train], y[train]).transform(scores[test])
    return out


def choose_calibration(
    scores: np.ndarray, y: np.ndarray, setting: str = "auto", random_state: int = 42
) -> Calibration:
    """Choose and fit the map of a family's out-of-fold `scores` (0/1 labels `y`).

    Args:
        scores: out-of-fold churn scores in [0, 1], aligned with `y`.
        y: 0/1 labels.
        setting: "auto" (compare `METHODS`) or "none" (no calibration: `method` "off").
        random_state: seed of the `StratifiedKFold` over the scores.

    Returns:
        A `Calibration`.

    Raises:
        ValueError: an unknown setting; scores and labels of different lengths.
    """
    if setting not in SETTINGS:
        raise ValueError(f"calibration must be one of {SETTINGS}, got {setting!r}")
    scores, y = np.asarray(scores), np.asarray(y, dtype=int)
    if len(scores) != len(y):
        raise ValueError(f"{len(scores)} scores but {len(y)} labels; they must align")
    if setting == "none":
        return Calibration("off", None, scores, "calibration: none in the training config")
    minority = int(min((y == 1).sum(), (y == 0).sum()))
    if minority < MIN_CLASS_ROWS:
        reason = (
            f"too few rows to compare maps ({minority} of the smaller class < {MIN_CLASS_ROWS})"
        )
        return Calibration("none", ScoreCalibrator("none"), scores, reason)
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=random_state)
    splits = list(folds.split(scores.reshape(-1, 1), y))
    raw = np.asarray(scores, dtype=float)
    fitted = {m: _cross_fitted(m, raw, y, splits) for m in METHODS}
    losses = {m: _log_loss(y, p) for m, p in fitted.items()}
    briers = {m: float(brier_score_loss(y, p)) for m, p in fitted.items()}
    best = min(losses.values())
    method = next(m for m in METHODS if losses[m] <= best + TIE)
    shown = ", ".join(f"{m} {losses[m]:.4f}" for m in METHODS)
    reason = (
        f"{method}: {CV_FOLDS}-fold cross-validated log loss over the out-of-fold scores "
        f"({shown}; the simplest within {TIE} of the best)"
    )
    calibrator = ScoreCalibrator.fit(method, raw, y)
    chosen = scores if method == "none" else fitted[method]
    return Calibration(method, calibrator, chosen, reason, losses, briers)


def calibration_text(record: dict[str, Any]) -> str | None:
    """What the model card says of a `Calibration.record()`; None when calibration was off (or
    the record predates it), so the card keeps its caveat about class-weighted scores."""
    method = record.get("method")
    if method not in METHODS:
        return None
    if "oof_log_loss_before" not in record:
        return f"not remapped: {record.get('reason', 'no evidence recorded')}"
    figures = (
        f"out-of-fold log loss {record['oof_log_loss_before']:.4f} -> "
        f"{record['oof_log_loss_after']:.4f}, Brier {record['oof_brier_before']:.4f} -> "
        f"{record['oof_brier_after']:.4f}"
    )
    if method == "none":
        return (
            "not remapped: neither a sigmoid nor an isotonic map beat the scores themselves in "
            f"cross-validated log loss over the training split's out-of-fold scores ({figures})"
        )
    article = "an" if method == "isotonic" else "a"
    return (
        f"calibrated by {article} {method} map fitted on the training split's out-of-fold "
        f"scores, chosen by cross-validated log loss among none, sigmoid and isotonic ({figures})"
    )
