"""The production instance (top-level dagster.yaml) and the local template, loaded as Dagster does.

`InstanceRef.from_dir` validates the file against Dagster's instance schema; each configurable class
(storage, run launcher, run coordinator, compute logs) is then checked with `process_config` against
the class's own `config_type()`, which is also where `{env: VAR}` values are resolved. This is the
first half of `ConfigurableClassData.rehydrate`; the second half (constructing the class) would
connect to Postgres or the Kubernetes API, so only the run coordinator, which connects to nothing,
is built for real.
"""

import importlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import ConfigurableClassData

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_YAML = REPO / "dagster.yaml"
LOCAL_YAML = REPO / "churn_assets" / "local_dagster.yaml"

PRODUCTION_ENV = {
    "DAGSTER_PG_HOST": "churn-postgres.churn.svc.cluster.local",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_JOB_IMAGE": "ghcr.io/churn-assets/churn-assets:0.1.0",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "churn-assets-prod",
    "DAGSTER_COMPUTE_LOGS_PREFIX": "dagster/compute-logs",
}


@pytest.fixture
def production_env(monkeypatch) -> dict[str, str]:
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    return PRODUCTION_ENV


def write_home(tmp_path: Path, config: Mapping[str, Any] | None = None, source=PRODUCTION_YAML):
    """A fresh instance directory holding `source` (or `config`) as dagster.yaml."""
    home = tmp_path / "instance_under_test"
    home.mkdir()
    if config is None:
        shutil.copyfile(source, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(yaml.safe_dump(dict(config)))
    return home


def production_config() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_YAML.read_text())


def resolve(data: ConfigurableClassData) -> dict[str, Any]:
    """The class's config after Dagster's validation and env resolution; raises like rehydrate."""
    klass = getattr(importlib.import_module(data.module_name), data.class_name)
    result = process_config(resolve_to_config_type(klass.config_type()), data.config_dict)
    if not result.success:
        raise DagsterInvalidConfigError(
            f"Errors whilst loading configuration for {data.class_name}.",
            result.errors,
            data.config_dict,
        )
    return result.value


def test_production_instance_validates_and_resolves(tmp_path, production_env):
    ref = InstanceRef.from_dir(str(write_home(tmp_path)))

    assert (ref.storage_data.module_name, ref.storage_data.class_name) == (
        "dagster_postgres",
        "DagsterPostgresStorage",
    )
    for legacy in (ref.run_storage_data, ref.event_storage_data, ref.schedule_storage_data):
        assert legacy.module_name == "dagster_postgres"
    postgres = resolve(ref.storage_data)["postgres_db"]
    assert postgres["hostname"] == production_env["DAGSTER_PG_HOST"]
    assert postgres["password"] == production_env["DAGSTER_PG_PASSWORD"]
    assert postgres["port"] == 5432
    assert postgres["scheme"] == "postgresql+psycopg2"

    compute_logs = resolve(ref.compute_logs_data)
    assert ref.compute_logs_data.class_name == "S3ComputeLogManager"
    assert compute_logs["bucket"] == production_env["DAGSTER_COMPUTE_LOGS_BUCKET"]
    assert compute_logs["prefix"] == production_env["DAGSTER_COMPUTE_LOGS_PREFIX"]

    assert ref.settings["telemetry"] == {"enabled": False}
    assert ref.settings["run_monitoring"] == {
        "enabled": True,
        "start_timeout_seconds": 300,
        "cancel_timeout_seconds": 180,
        "max_resume_run_attempts": 3,
        "poll_interval_seconds": 60,
    }
    assert ref.settings["run_retries"]["enabled"] is True
    assert ref.settings["run_retries"]["max_retries"] == 2
    assert ref.settings["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_run_launcher_is_k8s_with_our_settings(tmp_path, production_env):
    ref = InstanceRef.from_dir(str(write_home(tmp_path)))
    data = ref.run_launcher_data
    assert (data.module_name, data.class_name) == ("dagster_k8s", "K8sRunLauncher")

    launcher = resolve(data)
    assert launcher["job_namespace"] == "churn"
    assert launcher["job_image"] == production_env["DAGSTER_JOB_IMAGE"]
    assert launcher["service_account_name"] == "churn-dagster"
    assert launcher["instance_config_map"] == "churn-dagster-instance"
    assert launcher["postgres_password_secret"] == "churn-dagster-postgresql-secret"
    assert launcher["env_config_maps"] == ["churn-dagster-env"]
    assert launcher["env_secrets"] == ["churn-runtime-secrets"]
    assert "CHURN_DEPLOYMENT=production" in launcher["env_vars"]
    assert launcher["load_incluster_config"] is True
    assert launcher["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert launcher["labels"]["app.kubernetes.io/part-of"] == "churn-assets"
    assert launcher["run_k8s_config"]["job_spec_config"]["ttl_seconds_after_finished"] == 86400


def test_queued_coordinator_bounds_promotion_and_training(tmp_path, production_env):
    ref = InstanceRef.from_dir(str(write_home(tmp_path)))
    coordinator = ref.run_coordinator_data.rehydrate()  # connects to nothing: build it for real

    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 6
    limits = {(lim["key"], lim.get("value")): lim["limit"] for lim in queue.tag_concurrency_limits}
    assert limits[("churn/operation", "promotion")] == 1
    assert limits[("churn/operation", "training")] == 2


def test_the_limited_tags_are_the_ones_our_jobs_carry():
    from churn_assets.defs.jobs import training_job
    from churn_assets.defs.promotion_jobs import promote_model, rollback_model

    assert training_job.tags["churn/operation"] == "training"
    assert promote_model.tags["churn/operation"] == "promotion"
    assert rollback_model.tags["churn/operation"] == "promotion"


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ((), "run_coordinator", "run_coordinater"),
        (("run_monitoring",), "start_timeout_seconds", "start_timout_seconds"),
    ],
)
def test_misspelt_instance_key_fails_at_load_naming_it(tmp_path, production_env, path, old, new):
    config = production_config()
    section = config
    for part in path:
        section = section[part]
    _rename(section, old, new)

    with pytest.raises(DagsterInvalidConfigError, match=new):
        InstanceRef.from_dir(str(write_home(tmp_path, config)))


@pytest.mark.parametrize(
    ("section", "old", "new"),
    [
        ("run_coordinator", "max_concurrent_runs", "max_concurent_runs"),
        ("run_launcher", "service_account_name", "service_acount_name"),
        ("compute_logs", "bucket", "buckett"),
    ],
)
def test_misspelt_class_config_key_fails_naming_it(tmp_path, production_env, section, old, new):
    """Class config is Permissive in the instance schema; the class's own schema must catch it."""
    config = production_config()
    _rename(config[section]["config"], old, new)
    ref = InstanceRef.from_dir(str(write_home(tmp_path, config)))
    data = {
        "run_coordinator": ref.run_coordinator_data,
        "run_launcher": ref.run_launcher_data,
        "compute_logs": ref.compute_logs_data,
    }[section]

    with pytest.raises(DagsterInvalidConfigError, match=new):
        resolve(data)


@pytest.mark.parametrize(
    ("variable", "section"),
    [
        ("DAGSTER_PG_PASSWORD", "storage_data"),
        ("DAGSTER_PG_HOST", "storage_data"),
        ("DAGSTER_JOB_IMAGE", "run_launcher_data"),
        ("DAGSTER_COMPUTE_LOGS_BUCKET", "compute_logs_data"),
    ],
)
def test_missing_environment_variable_fails_naming_it(
    tmp_path, production_env, monkeypatch, variable, section
):
    monkeypatch.delenv(variable)
    ref = InstanceRef.from_dir(str(write_home(tmp_path)))

    # Dagster's own load path: rehydrate resolves the env vars before constructing the class, so
    # this fails before any connection to Postgres, S3 or the Kubernetes API is attempted.
    with pytest.raises(DagsterInvalidConfigError, match=variable):
        getattr(ref, section).rehydrate()


def test_local_template_is_sqlite_only(tmp_path):
    text = LOCAL_YAML.read_text().lower()
    for word in ("postgres", "k8s", "kubernetes", "s3"):
        assert word not in text, f"local_dagster.yaml mentions '{word}'"

    home = write_home(tmp_path, source=LOCAL_YAML)
    ref = InstanceRef.from_dir(str(home))
    assert ref.storage_data.class_name == "DagsterSqliteStorage"
    assert ref.run_launcher_data.class_name == "DefaultRunLauncher"
    assert ref.compute_logs_data.class_name == "LocalComputeLogManager"
    assert ref.run_coordinator_data.rehydrate().get_run_queue_config().max_concurrent_runs >= 1
