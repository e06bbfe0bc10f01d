"""The registry lock's answers to MLflow's errors, with a stand-in client (the real store is
exercised by integration/faults/test_concurrent_promotions.py)."""

import time
from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2

from churn_assets.resources.registry_lock import RegistryBusyError, registry_lock


class Client:
    """Answers create_registered_model with the given errors in turn, then succeeds."""

    def __init__(self, create_errors: list[str], exists_for: float = 0.0):
        self.create_errors = list(create_errors)
        self.created, self.deleted = [], []
        self.exists_for = exists_for

    def create_registered_model(self, name, description=""):
        if self.create_errors:
            code = self.create_errors.pop(0)
            raise MlflowException(f"{code} for {name}", error_code=getattr(databricks_pb2, code))
        self.created.append(name)

    def get_registered_model(self, name):
        return SimpleNamespace(creation_timestamp=time.time() * 1000, description="held by other")

    def delete_registered_model(self, name):
        self.deleted.append(name)


def test_a_lock_released_while_mlflow_looked_it_up_is_taken_at_once():
    # MLflow's SQL store, on a duplicate name, reads the existing model; released meanwhile,
    # it raises RESOURCE_DOES_NOT_EXIST from create_registered_model (seen in CI).
    client = Client(["RESOURCE_DOES_NOT_EXIST"])
    with registry_lock(client, "m", timeout=5, poll=0.01) as lock:
        assert client.created == ["m.promotion-lock"] == [lock]
    assert client.deleted == [lock]


def test_a_held_lock_is_waited_for_then_taken():
    client = Client(["RESOURCE_ALREADY_EXISTS", "RESOURCE_ALREADY_EXISTS"])
    with registry_lock(client, "m", timeout=5, poll=0.01):
        assert client.created == ["m.promotion-lock"]


def test_a_lock_held_past_the_timeout_names_its_holder():
    client = Client(["RESOURCE_ALREADY_EXISTS"] * 1000)
    with pytest.raises(RegistryBusyError, match="held by other"):
        with registry_lock(client, "m", timeout=0.05, poll=0.01):
            pass
    assert client.created == [] and client.deleted == []


def test_any_other_registry_error_is_raised_not_retried():
    client = Client(["PERMISSION_DENIED"])
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        with registry_lock(client, "m", timeout=5, poll=0.01):
            pass
    assert client.created == []
