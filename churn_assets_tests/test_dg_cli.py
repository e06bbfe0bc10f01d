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
from churn_assets.resources.local_server import LocalModelServer
from churn_assets_tests.integration.services import free_port

ROOT = Path(__file__).resolve().parents[1]  # where pyproject.toml's [tool.dg] is
DG = Path(sys.executable).parent / "dg"
# The smallest search a family trains with: two candidates, two folds, few trees.
SMALL_SEARCH = "\n".join(
    f"  trained_models__{family}: {{config: {{n_iter: 2, cv_folds: 2, search_trees: 10,"
    " refit_trees: 20}}"
    for family in FAMILIES
)
RUN_CONFIG = f"resources:\n  dataset:\n    config:\n      n_rows: 2000\nops:\n{SMALL_SEARCH}\n"
LINEAGE_ROWS = 800
# One process per step, four at once: the four family steps create the MLflow store together.
# Forked from a server that imported the project once, not each importing dagster, sklearn
# and MLflow again (a minute per step on a busy machine).
CONCURRENT = """\
execution:
  config:
    multiprocess:
      max_concurrent: 4
      start_method:
        forkserver:
          preload_modules: [churn_assets.definitions, sklearn.ensemble, mlflow.sklearn]
"""
# The same steps in the launching process: no per-step interpreter importing dagster and sklearn.
IN_PROCESS = "execution:\n  config:\n    in_process: {}\n"
BATCH = "batch_001.csv"


def dg(home: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `dg` in the project folder against the local deployment under `home`."""
    env = {
        **os.environ,
        "CHURN_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "PYTHONPATH": str(ROOT),  # this checkout, whatever the venv was installed from
        # deployed_model starts `churn-assets serve` (LocalModelServer): not on 8080, where a
        # server of the user's may run; the test stops it (stop_model_server).
        "CHURN_SERVE_PORT": str(free_port()),
    }
    env.pop("MLFLOW_TRACKING_URI", None)  # the store under CHURN_HOME, not the caller's
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    (home / "dagster_home" / "dagster.yaml").touch()
    return subprocess.run(
        [str(DG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def stop_model_server(home: Path) -> None:
    """Stop the model server a `deployed_model` step under `home` left running (if any)."""
    server = LocalModelServer(state_dir=str(home / "serving"))
    server.stop()
    assert server.served_version() is None


def test_dg_check_defs(tmp_path):
    out = dg(tmp_path, "check", "defs", timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "All definitions loaded successfully" in out.stdout + out.stderr


def test_dg_launch_runs_a_job_with_config(tmp_path):
    config = tmp_path / "run.yaml"
    # In process: the job and its config are the point; test_lineage_selections_run_on_a_fresh_
    # instance launches with step processes (357 s here with one process per step under load).
    config.write_text(RUN_CONFIG.split("ops:")[0] + IN_PROCESS)
    out = dg(tmp_path, "launch", "--job", "data_job", "--config", str(config), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "assets" / "features.parquet").exists()
    assert (tmp_path / "assets" / "feature_spec.json").exists()


@pytest.mark.slow
def test_lineage_selections_run_on_a_fresh_instance(tmp_path):
    """The selections of the README, through `dg launch --assets`. `*promoted_model` and
    `*drift_report` each start from an empty instance and an empty MLflow store; in the first,
    the four family steps run in four processes at once and so create that store at once.
    `features+` selects no upstream, so it runs where `*drift_report` left the stored assets.
    The two later selections run in process: what they prove is the selection, not concurrency.
    """
    small = RUN_CONFIG.replace("n_rows: 2000", f"n_rows: {LINEAGE_ROWS}")
    dataset = DatasetResource(spec="synthetic", n_rows=300)
    batch = dataset.load_table(dataset.load_spec()).drop(columns=["churn"])
    try:
        for selection, home_name, partitioned, execution in (
            ("*promoted_model", "promoted_model", False, CONCURRENT),
            ("*drift_report", "drift_report", True, IN_PROCESS),
            ("features+", "drift_report", False, IN_PROCESS),
        ):
            home = tmp_path / home_name
            home.mkdir(parents=True, exist_ok=True)
            config = tmp_path / f"run-{selection.strip('*+')}.yaml"
            config.write_text(small + execution)
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
            if execution is CONCURRENT:  # each family step in a process of its own
                for family in FAMILIES:
                    assert f'subprocess for "trained_models__{family}"' in out.stderr, family
    finally:
        for home in tmp_path.iterdir():
            if home.is_dir():
                stop_model_server(home)
