"""Where the local deployment keeps its files; standard library only, so `churn-assets` can read
it before importing Dagster."""

import os
from pathlib import Path


def local_data_dir() -> Path:
    """Where the local deployment keeps its files (CHURN_HOME, default ./.local)."""
    return Path(os.environ.get("CHURN_HOME", ".local")).resolve()
