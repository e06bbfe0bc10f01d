"""`churn-assets run`'s summary says how the best candidate's scores become probabilities."""

from types import SimpleNamespace

from churn_assets.cli import _summary


def _event(key: str, **metadata) -> SimpleNamespace:
    return SimpleNamespace(
        asset_key=SimpleNamespace(to_user_string=lambda: key),
        materialization=SimpleNamespace(
            metadata={k: SimpleNamespace(value=v) for k, v in metadata.items()}
        ),
    )


def _result(*events) -> SimpleNamespace:
    return SimpleNamespace(
        get_asset_materialization_events=lambda: list(events),
        get_asset_check_evaluations=lambda: [],
    )


def _trained(family: str, method: str, **more) -> SimpleNamespace:
    return _event(f"trained_models/{family}", calibration=method, **more)


EVALUATION = _event("model_evaluation", best="xgboost", best_roc_auc=0.91234)


def test_the_best_candidates_map_is_printed_under_it():
    lines = _summary(
        _result(
            _trained("logistic_regression", "sigmoid"),
            _trained(
                "xgboost",
                "isotonic",
                calibration_oof_log_loss_before=0.1917,
                calibration_oof_log_loss_after=0.1824,
            ),
            EVALUATION,
        )
    )
    at = lines.index("  best candidate: xgboost (holdout ROC AUC 0.9123)")
    assert lines[at + 1] == (
        "    probabilities: isotonic calibration map (out-of-fold log loss 0.1917 -> 0.1824)"
    )
    assert not any("sigmoid" in line for line in lines)


def test_no_map_and_calibration_off_are_said_in_words():
    kept = _summary(_result(_trained("xgboost", "none"), EVALUATION))
    assert "    probabilities: raw scores, no map beat them" in kept
    off = _summary(_result(_trained("xgboost", "off"), EVALUATION))
    assert "    probabilities: raw scores (calibration: none in the training config)" in off


def test_a_run_without_trained_models_prints_no_map_line():
    lines = _summary(_result(EVALUATION))
    assert not any("probabilities" in line for line in lines)


def _promoted(champion: str) -> SimpleNamespace:
    return _event(
        "promoted_model",
        version="2",
        family="random_forest",
        decision="refused",
        champion_version=champion,
        reason="Not promoted: roc_auc 0.5289 is below the minimum 0.7500.",
    )


def _promotion_line(champion: str) -> str:
    lines = _summary(_result(_promoted(champion)))
    return next(line for line in lines if line.startswith("  promoted model"))


def test_the_promotion_line_names_the_champion_or_says_there_is_none():
    assert _promotion_line("1").startswith(
        "  promoted model: v2 (random_forest) refused; champion is v1\n"
    )
    assert _promotion_line("none") == (
        "  promoted model: v2 (random_forest) refused; no champion yet\n"
        "    Not promoted: roc_auc 0.5289 is below the minimum 0.7500."
    )
