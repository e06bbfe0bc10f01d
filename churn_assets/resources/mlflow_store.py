"""A local (sqlite) MLflow store: the lock that serializes its creation, and creating it in a
child process while the caller does other work.

Creating a new sqlite store runs MLflow's schema migrations (alembic, about 4 s on a 2-core
machine), single-threaded. `churn-assets run` starts `prepare_local_store` before importing Dagster
and the code location, so the migrations run on the other core while this process imports and
materializes the data assets; the first step that uses MLflow then finds the store made (or waits
for it on the same lock). The store is the ordinary one the UI and the registry use.

Run as `python -m churn_assets.resources.mlflow_store <sqlite-uri>` to create a store.
"""

import fcntl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SQLITE = "sqlite:///"


def local_store_path(tracking_uri: str) -> Path | None:
    """The database file of a `sqlite:///` tracking URI; None for any other store."""
    return Path(tracking_uri.removeprefix(SQLITE)) if tracking_uri.startswith(SQLITE) else None


@contextmanager
def store_creation_lock(tracking_uri: str) -> Iterator[None]:
    """Serialize first use of a local sqlite store across processes (an flock on
    `<database>.lock`): parallel steps of the multiprocess executor, or a step and
    `prepare_local_store`'s child, otherwise race to create its tables ('table ... already
    exists') and the experiment. A server creates its own schema; nothing to hold then."""
    path = local_store_path(tracking_uri)
    if path is None:
        yield
        return
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_local_store(tracking_uri: str, log_path: Path) -> subprocess.Popen | None:
    """Start creating the sqlite store at `tracking_uri` in a child process, unless the URI is
    not a local sqlite store or its database file already exists (then None).

    The child holds `store_creation_lock` while it migrates, so whoever uses the store next waits
    for it. If the child fails, nothing is lost: the first step that uses MLflow creates the store
    itself under the same lock and reports any error; the child's own output is in `log_path`.
    The caller waits for the child (`Popen.wait`) before it exits."""
    path = local_store_path(tracking_uri)
    if path is None or path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "churn_assets.resources.mlflow_store", tracking_uri],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def create_store(tracking_uri: str) -> None:
    """Open the store at `tracking_uri` under `store_creation_lock`; MLflow creates and migrates
    a new sqlite database on first open. Raises what MLflow raises."""
    with store_creation_lock(tracking_uri):  # taken before importing MLflow: first in line
        from mlflow import MlflowClient

        MlflowClient(tracking_uri).search_experiments(max_results=1)


if __name__ == "__main__":
    create_store(sys.argv[1])
