"""`dg`, the documented CLI, on a fresh local instance: the definitions check, a job launch, and
lineage selections (`*promoted_model`, `*drift_report`, `features+`) that must run as a user
types them. `dagster job execute` keeps working too (test_definitions.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance

from churn_assets.ml.models import FAMILIES
from churn_assets.resources.dataset import DatasetResource

ROOT = Path(__file__).resolve().parents[1]  # where pyproject.toml's [tool.dg] is
DG = Path(sys.executable).parent / "dg"
SMALL_SEARCH = "\n".join(
    f"  trained_models__{family}: {{config: {{n_iter: 2, cv_folds: 3}}}}" for family in FAMILIES
)
RUN_CONFIG = f"resources:\n  dataset:\n    config:\n      n_rows: 2000\nops:\n{SMALL_SEARCH}\n"
BATCH = "batch_001.csv"


def dg(home: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `dg` in the project folder against the local deployment under `home`."""
    env = {
        **os.environ,
        "CHURN_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the venv was installed from
    }
    env.pop("MLFLOW_TRACKING_URI", None)  # the store under CHURN_HOME, not the caller's
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    (home / "dagster_home" / "dagster.yaml").touch()
    return subprocess.run(
        [str(DG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_dg_check_defs(tmp_path):
    out = dg(tmp_path, "check", "defs", timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "All definitions loaded successfully" in out.stdout + out.stderr


def test_dg_launch_runs_a_job_with_config(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(RUN_CONFIG.split("ops:")[0])
    out = dg(tmp_path, "launch", "--job", "data_job", "--config", str(config), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "assets" / "features.parquet").exists()
    assert (tmp_path / "assets" / "feature_spec.json").exists()


@pytest.mark.slow
def test_lineage_selections_run_on_a_fresh_instance(tmp_path):
    """The selections of the README, through `dg launch --assets`. `*promoted_model` and
    `*drift_report` each start from an empty instance and an empty MLflow store (the four family
    steps then create it at once); `features+` selects no upstream, so it runs where
    `*drift_report` left the stored assets."""
    config = tmp_path / "run.yaml"
    config.write_text(RUN_CONFIG)
    dataset = DatasetResource(spec="synthetic", n_rows=300)
    batch = dataset.load_table(dataset.load_spec()).drop(columns=["churn"])
    for selection, home_name, partitioned in (
        ("*promoted_model", "promoted_model", False),
        ("*drift_report", "drift_report", True),
        ("features+", "drift_report", False),
    ):
        home = tmp_path / home_name
        home.mkdir(parents=True, exist_ok=True)
        args = ["launch", "--assets", selection, "--config", str(config)]
        if partitioned:
            (home / "landing").mkdir()
            batch.to_csv(home / "landing" / BATCH, index=False)
            (home / "dagster_home").mkdir(parents=True)
            (home / "dagster_home" / "dagster.yaml").touch()
            with DagsterInstance.from_config(str(home / "dagster_home")) as instance:
                instance.add_dynamic_partitions("customer_batches", [BATCH])
            args += ["--partition", BATCH]
        out = dg(home, *args)
        assert out.returncode == 0, (selection, out.stderr[-4000:])
        assert "RUN_SUCCESS" in out.stderr + out.stdout, selection
