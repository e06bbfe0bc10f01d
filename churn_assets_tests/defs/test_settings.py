"""Run config derived from the ml dataclasses: one definition of each setting."""

import dataclasses

import pytest
from dagster import DagsterInvalidConfigError, asset, materialize
from pydantic import ValidationError

from churn_assets.defs.monitoring import DriftSettings
from churn_assets.defs.promotion_jobs import PromoteConfig
from churn_assets.defs.registry import GateSettings
from churn_assets.defs.settings import config_from, to_dataclass
from churn_assets.ml.drift import DriftConfig
from churn_assets.ml.promotion import GateConfig
from churn_assets.ml.settings import setting


@dataclasses.dataclass(frozen=True)
class Example:
    size: int = setting(3, "How many.")
    names: dict[str, float] = setting(description="Name -> weight.", default_factory=dict)
    hidden: float = setting(0.5, "Not exposed.")

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"size must be >= 0, got {self.size}")


def _fields(config_class) -> dict:
    return config_class.to_config_schema().as_field().config_type.fields


def test_config_from_copies_names_defaults_and_descriptions():
    derived = config_from(Example, ["size", "names"], limits={"size": {"le": 10}})
    fields = _fields(derived)
    assert set(fields) == {"size", "names"}
    assert fields["size"].default_value == 3
    assert fields["size"].description == "How many (<= 10)."
    assert fields["names"].description == "Name -> weight."
    built = to_dataclass(derived(names={"a": 1.0}), Example)
    assert built == Example(size=3, names={"a": 1.0}, hidden=0.5)
    with pytest.raises(ValidationError):
        derived(size=11)
    with pytest.raises(KeyError, match="'sise' is not a field of Example"):
        config_from(Example, ["sise"])


def test_to_dataclass_keeps_the_dataclass_checks():
    derived = config_from(Example, ["size"])
    with pytest.raises(ValueError, match="size must be >= 0"):
        to_dataclass(derived(size=-1), Example)


@pytest.mark.parametrize(
    ("settings", "source", "build"),
    [
        (GateSettings, GateConfig, lambda s: s.gate()),
        (DriftSettings, DriftConfig, lambda s: s.drift_config()),
    ],
)
def test_dagster_defaults_are_the_ml_defaults(settings, source, build):
    assert build(settings()) == source()
    defaults = {f.name: f for f in dataclasses.fields(source)}
    for name, field in _fields(settings).items():
        assert field.description.startswith(defaults[name].metadata["description"].rstrip("."))


def test_gate_limits_are_checked_at_launch_and_extra_fields_are_ignored():
    seen = {}

    @asset
    def gate_probe(config: GateSettings) -> None:
        seen["gate"] = config.gate()

    materialize(
        [gate_probe],
        run_config={"ops": {"gate_probe": {"config": {"min_metrics": {"roc_auc": 0.6}}}}},
    )
    assert seen["gate"] == GateConfig(min_metrics={"roc_auc": 0.6})
    with pytest.raises(Exception, match="greater than or equal to 1000"):
        materialize(
            [gate_probe], run_config={"ops": {"gate_probe": {"config": {"n_resamples": 10}}}}
        )
    assert PromoteConfig(version="3", force=True).gate() == GateConfig()


def test_drift_multiple_testing_is_an_enum_at_launch():
    @asset
    def drift_probe(config: DriftSettings) -> None:
        pass

    with pytest.raises(DagsterInvalidConfigError, match="multiple_testing"):
        materialize(
            [drift_probe],
            run_config={"ops": {"drift_probe": {"config": {"multiple_testing": "fdr"}}}},
        )
