"""The MLflow model registry: versions, `champion`/`challenger` aliases and the gate around them.

Aliases, not the deprecated stages, say which version serves. `champion` only ever moves to a
version that has just been loaded back from the registry and scored, so it never points at a
version that does not load. Each move is recorded in the registered model's `champion_history`
tag, which `rollback` walks back.
"""

import json
import logging
from typing import Any

import pandas as pd

from churn_assets.constants import CHALLENGER, CHAMPION
from churn_assets.ml.evaluation import holdout_metrics
from churn_assets.ml.promotion import GateConfig, bootstrap_auc_difference, decide_promotion
from churn_assets.ml.promotion.segment_gate import segment_rule
from churn_assets.resources.model_evidence import load_evidence_model
from churn_assets.resources.promotion_outcome import PromotionOutcome
from churn_assets.resources.registry_lock import registry_lock
from churn_assets.resources.score_checks import check_scores, is_number

log = logging.getLogger(__name__)
HISTORY_TAG = "champion_history"


class RegistryError(RuntimeError):
    """A registry operation that cannot be done as asked."""


class ModelRegistry:
    """Registry operations on one registered model through an MlflowClient."""

    def __init__(self, client, name: str):
        self.client = client
        self.name = name

    def register(self, model_uri: str, run_id: str, tags: dict[str, str]) -> str:
        """Register `model_uri` as a new version (creating the model on first use)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            self.client.create_registered_model(self.name)
        # MLflow 3 logged models live at models:/m-<id>; a tracking server wants that id too.
        model_id = (
            model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        )
        version = self.client.create_model_version(
            self.name,
            model_uri,
            run_id=run_id,
            tags={k: str(v) for k, v in tags.items()},
            model_id=model_id,
        )
        return str(version.version)

    def alias_version(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def versions(self) -> list[dict[str, Any]]:
        """Every version with its aliases and tags, newest first."""
        found = self.client.search_model_versions(f"name='{self.name}'")
        # search_model_versions leaves `aliases` empty; the registered model holds them.
        aliases: dict[str, list[str]] = {}
        for alias, version in self._aliases().items():
            aliases.setdefault(str(version), []).append(alias)
        rows = [
            {
                "version": str(v.version),
                "aliases": sorted(aliases.get(str(v.version), [])),
                "run_id": v.run_id,
                "tags": dict(v.tags),
            }
            for v in found
        ]
        return sorted(rows, key=lambda r: int(r["version"]), reverse=True)

    def _aliases(self) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        try:
            return dict(self.client.get_registered_model(self.name).aliases)
        except MlflowException:  # no registered model yet: no aliases
            return {}

    def version_tags(self, version: str) -> dict[str, str]:
        return dict(self.client.get_model_version(self.name, version).tags)

    def describe(self, version: str) -> dict[str, Any]:
        """The run id, tags and holdout metrics of a version (tags `holdout_<metric>`, written
        at promotion; the run's `test_<metric>` metrics when the version was never judged)."""
        found = self.client.get_model_version(self.name, version)
        tags = dict(found.tags)
        metrics = {
            k.removeprefix("holdout_"): float(v)
            for k, v in tags.items()
            if k.startswith("holdout_") and is_number(v)
        }
        if not metrics and found.run_id:
            run_metrics = self.client.get_run(found.run_id).data.metrics
            metrics = {
                k.removeprefix("test_"): float(v)
                for k, v in run_metrics.items()
                if k.startswith("test_")
            }
        return {
            "version": str(found.version),
            "run_id": found.run_id,
            "tags": tags,
            "metrics": metrics,
        }

    def tag_version(self, version: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.name, version, key, str(value))

    def load(self, version: str):
        """The fitted Pipeline of a version; raises RegistryError when it does not load."""
        import mlflow

        try:
            # The version's own storage location, read through this client: a `models:/` URI
            # would resolve through MLflow's process-wide registry URI, which may point elsewhere.
            uri = self.client.get_model_version_download_uri(self.name, version)
            return mlflow.sklearn.load_model(uri)
        except Exception as exc:  # any failure to load means "not servable", whatever its type
            raise RegistryError(
                f"version {version} of '{self.name}' does not load: {str(exc).splitlines()[0]}"
            ) from exc

    def history(self) -> list[str]:
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(self.name).tags
        except MlflowException:  # no registered model yet: no history
            return []
        return json.loads(tags.get(HISTORY_TAG, "[]"))

    def _move_champion(self, version: str, history: list[str]) -> None:
        self.client.set_registered_model_alias(self.name, CHAMPION, version)
        self.client.set_registered_model_tag(self.name, HISTORY_TAG, json.dumps(history))

    def promote(self, *args, **kwargs) -> PromotionOutcome:
        """`_promote` under the registry lock: one champion move at a time (registry_lock.py)."""
        with registry_lock(self.client, self.name):
            return self._promote(*args, **kwargs)

    def _promote(
        self,
        version: str,
        X_holdout: pd.DataFrame,
        y_holdout: pd.Series,
        threshold: float,
        gate: GateConfig,
        force: bool = False,
        segments: pd.DataFrame | None = None,
    ) -> PromotionOutcome:
        """Score `version` and the champion on the same holdout and apply the gate.

        Each is scored by its evidence model (`load_evidence_model`), never by a model refitted
        on the holdout rows. The registered challenger and its evidence model must load and give
        in-range, non-constant probabilities, else it is refused whatever `force` says. A
        champion that no longer loads is reported and the challenger is judged on the
        thresholds alone. A champion that cannot score the holdout (its input columns are not
        the table's: a model of another dataset) refuses the challenger with that reason, so a
        switched dataset never replaces a serving champion silently. `force` skips the gate
        and is recorded.
        """
        self.client.set_registered_model_alias(self.name, CHALLENGER, version)
        previous = self.alias_version(CHAMPION)
        try:
            check_scores(self.load(version).predict_proba(X_holdout)[:, 1])  # what would serve
            proba = load_evidence_model(self, version).predict_proba(X_holdout)[:, 1]
            check_scores(proba)
        except (RegistryError, ValueError) as exc:
            return self._record(version, False, f"refused: {exc}", previous, False, {}, {})
        metrics = holdout_metrics(y_holdout, proba, threshold)
        comparison, notes, champion_proba = None, {}, None
        if previous is not None and previous != version:
            try:
                champion_model = load_evidence_model(self, previous)
                champion_proba = champion_model.predict_proba(X_holdout)[:, 1]
                comparison = bootstrap_auc_difference(
                    y_holdout,
                    proba,
                    champion_proba,
                    n_resamples=gate.n_resamples,
                    random_state=gate.random_state,
                    confidence=gate.confidence,
                )
            except RegistryError as exc:
                notes["champion_unloadable"] = str(exc)
            except KeyError as exc:  # it takes columns this table lacks: another table's model
                notes["champion_other_table"] = (
                    f"champion v{previous} of '{self.name}' cannot score this holdout "
                    f"({exc.args[0]}): it was trained on another table, and a challenger is "
                    "compared with the champion on the same rows. Give this dataset its own "
                    "registered model (the mlflow_tracking resource's registered_model_name) "
                    "or its own CHURN_HOME, or promote this version with force"
                )
        by_segment = segment_rule(gate, y_holdout, proba, champion_proba, segments)
        decision = decide_promotion(metrics, gate, comparison, by_segment)
        evidence = {**decision.evidence, **notes}
        promote, reason = decision.promote, decision.reason
        if "champion_other_table" in notes:
            promote, reason = False, f"refused: {notes['champion_other_table']}"
        elif notes:
            reason = f"{reason} (champion v{previous} does not load; judged on thresholds only)"
        if force and not promote:
            promote, reason = True, f"forced by operator; the gate said: {reason}"
        if promote and previous != version:
            self._move_champion(version, [*self.history(), version])
        outcome = self._record(version, promote, reason, previous, force, metrics, evidence)
        outcome.scores = proba
        return outcome

    def _record(self, version, promoted, reason, previous, forced, metrics, evidence):
        champion = self.alias_version(CHAMPION)
        self.tag_version(
            version,
            {
                "promotion_decision": "promoted" if promoted else "refused",
                "promotion_reason": reason[:4000],
                "previous_champion": previous or "none",
                "forced": forced,
                **{f"holdout_{k}": round(v, 6) for k, v in metrics.items()},
            },
        )
        return PromotionOutcome(
            version, promoted, reason, champion, previous, forced, metrics, evidence
        )

    def rollback(self) -> tuple[str, str]:
        """Move `champion` back to the previous champion that still loads; returns (from, to)."""
        with registry_lock(self.client, self.name):
            return self._rollback()

    def _rollback(self) -> tuple[str, str]:
        current = self.alias_version(CHAMPION)
        if current is None:
            raise RegistryError(f"'{self.name}' has no champion to roll back")
        history = [v for v in self.history() if v != current]
        while history:
            candidate = history[-1]
            try:
                self.load(candidate)
            except RegistryError as exc:
                log.warning("skipping v%s in rollback: %s", candidate, exc)
                history.pop()
                continue
            self._move_champion(candidate, history)
            self.tag_version(candidate, {"rolled_back_from": current})
            return current, candidate
        raise RegistryError(
            f"'{self.name}' has no earlier champion that loads; champion stays at v{current}"
        )

    def attach_card(self, version: str, run_id: str, card: str) -> None:
        """The model card as `model_card.md` of the version's run and as its description."""
        self.client.log_text(run_id, card, "model_card.md")
        self.client.update_model_version(self.name, version, description=card[:5000])

    def versions_table(self) -> pd.DataFrame:
        """Version, aliases, family, gate decision and holdout ROC AUC, newest first."""
        return pd.DataFrame(
            [
                {
                    "version": r["version"],
                    "aliases": ",".join(r["aliases"]),
                    "family": r["tags"].get("family", ""),
                    "decision": r["tags"].get("promotion_decision", ""),
                    "roc_auc": r["tags"].get("holdout_roc_auc", ""),
                }
                for r in self.versions()
            ],
            columns=["version", "aliases", "family", "decision", "roc_auc"],
        )

    def restore_champion(self, version: str | None, failed: str, reason: str) -> str:
        """After `failed` failed its deployment, point `champion` back at `version` (what the
        server serves after its rollback) or, when None, at the previous champion that loads.

        Under the registry lock, like every champion move, and only while `champion` is still
        `failed`: a promotion that moved the alias meanwhile is kept (the next `deployed_model`
        deploys it). `failed` is tagged `deployment_failed` either way. Returns what was done,
        in words; raises RegistryError when there is nothing earlier to go back to.
        """
        with registry_lock(self.client, self.name):
            self.tag_version(failed, {"deployment_failed": reason[:4000]})
            current = self.alias_version(CHAMPION)
            if current != failed:
                return (
                    f"champion alias left at v{current}: it moved from v{failed} while the "
                    "deployment ran (that move is kept)"
                )
            if version is None:
                before, after = self._rollback()
                return f"champion alias rolled back from v{before} to v{after}"
            history = [v for v in self.history() if v != failed]
            if not history or history[-1] != version:
                history.append(version)
            self._move_champion(version, history)
            self.tag_version(version, {"rolled_back_from": failed})
            return f"champion alias restored to v{version}"
