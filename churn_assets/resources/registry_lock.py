"""One champion move at a time: a lock held in the MLflow registry itself.

Moving `champion` reads the current champion and its history, judges, then writes the alias and
the history tag: two promotions interleaved would leave the alias on one version and the history
on another, and neither judged against the other. MLflow has no transactions, but creating a
registered model is atomic (its name is unique in the store), so the lock is a registered model
`<name>.promotion-lock`, created to take it and deleted to release it. It works wherever the
registry is (a sqlite file, a tracking server behind several pods), which a Dagster pool or a file
lock would not: promotions, rollbacks and deployment restores run in different processes/pods.

A lock left by a killed process is taken over once it is older than `stale_after` seconds.
"""

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)
LOCK_SUFFIX = ".promotion-lock"


class RegistryBusyError(RuntimeError):
    """Another promotion held the registry lock for longer than we were willing to wait."""


def _code(exc: Exception) -> str:
    return str(getattr(exc, "error_code", "") or "")


@contextmanager
def registry_lock(
    client, name: str, timeout: float = 300.0, stale_after: float = 1800.0, poll: float = 0.2
) -> Iterator[str]:
    """Hold the promotion lock of registered model `name` for the block; yields the lock's name.

    Raises RegistryBusyError naming the holder when it is not free within `timeout` seconds.
    """
    from mlflow.exceptions import MlflowException

    lock = f"{name}{LOCK_SUFFIX}"
    holder = f"pid {os.getpid()} on {socket.gethostname()}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_registered_model(lock, description=f"held by {holder}")
            break
        except MlflowException as exc:
            # MLflow's SQL store answers a taken name by looking the model up; when the holder
            # released it in between, that lookup says "not found": the lock is free, try again.
            if _code(exc) == "RESOURCE_DOES_NOT_EXIST":
                continue
            if _code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
        try:
            held = client.get_registered_model(lock)
        except MlflowException:  # released between our two calls: try again at once
            continue
        age = time.time() - held.creation_timestamp / 1000
        if age > stale_after:
            log.warning("taking over %s (%s, %.0f s old)", lock, held.description, age)
            _release(client, lock)
            continue
        if time.monotonic() > deadline:
            raise RegistryBusyError(
                f"the registry lock {lock} is {held.description or 'held'} for {age:.0f} s; "
                f"retry later, or delete the registered model '{lock}' if that process is gone"
            )
        time.sleep(poll)
    try:
        yield lock
    finally:
        _release(client, lock)


def _release(client, lock: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.delete_registered_model(lock)
    except MlflowException as exc:
        if _code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise
