"""The embedded default deployment: a local DAGSTER_HOME with SQLite storage, no servers."""

import os
import shutil
from pathlib import Path

from churn_assets.resources.local_home import local_data_dir

TEMPLATE = Path(__file__).resolve().parent / "local_dagster.yaml"


def ensure_local_home() -> Path:
    """Point DAGSTER_HOME at <CHURN_HOME>/dagster_home (unless set) and give it a dagster.yaml.

    The top-level dagster.yaml is the production instance and is never used here.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or local_data_dir() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    use_local_mlflow()
    return home


def use_local_mlflow() -> None:
    """MLflow's local store sits beside the Dagster instance, so `make run` needs no server; an
    MLFLOW_TRACKING_URI already set wins. Writes nothing (the model server may run read-only)."""
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{local_data_dir() / 'mlflow.db'}")
