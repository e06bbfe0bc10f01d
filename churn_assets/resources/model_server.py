"""Where `deployed_model` rolls a model version out, and the smoke test of the server there.

`ModelServerTarget` is the interface; `LocalModelServer` (resources/local_server.py) is a
server process on this machine and `KubernetesModelServer` (resources/kubernetes.py) the model
server Deployment of a cluster. The deployment (`CHURN_DEPLOYMENT`) picks one. The smoke test is
the same HTTP conversation with either: GET /ready, GET /model, POST /predict.
"""

import time
from dataclasses import dataclass
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field


class RolloutError(RuntimeError):
    """A rollout or a rollback that did not complete; the message says why."""


@dataclass
class SmokeAnswers:
    """What the server answered; None where a request failed (the reason is in `errors`)."""

    ready_status: int
    model_info: dict[str, Any] | None
    predictions: dict[str, Any] | None
    errors: list[str]


class ModelServerTarget(ConfigurableResource):
    """A place the model server runs: which version serves, roll to a version, roll back."""

    rollout_timeout_seconds: float = Field(
        300.0, gt=0, description="How long a rollout (or rollback) may take before it failed."
    )
    request_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one smoke-test request."
    )
    ready_wait_seconds: float = Field(
        30.0, ge=0, description="How long the smoke test waits for GET /ready to answer 200."
    )

    def describe(self) -> str:
        """Where this target is, for metadata and messages."""
        raise NotImplementedError

    def base_url(self) -> str:
        """The server's base URL as the smoke test reaches it."""
        raise NotImplementedError

    def served_version(self) -> str | None:
        """The model version the server is pinned to now; None when nothing is pinned."""
        raise NotImplementedError

    def roll_to(self, version: str) -> str:
        """Serve `version` and wait until the rollout completes; returns what happened.
        Raises RolloutError when it does not complete within the timeout."""
        raise NotImplementedError

    def roll_back(self, previous_version: str | None) -> str:
        """Go back to what served before the last `roll_to`; returns what happened.
        Raises RolloutError when that is impossible or does not complete."""
        raise NotImplementedError

    def smoke(self, records: list[dict[str, Any]]) -> SmokeAnswers:
        """Ask the server: GET /ready (waiting up to `ready_wait_seconds` for a 200), GET
        /model, POST /predict with `records`. Never raises for an HTTP failure: it is reported
        in `errors` and the answer is None."""
        import httpx

        errors: list[str] = []
        with httpx.Client(base_url=self.base_url(), timeout=self.request_timeout_seconds) as http:
            ready_status = self._wait_ready(http, errors)

            def ask(method: str, path: str, **kwargs) -> dict | None:
                try:
                    response = http.request(method, path, **kwargs)
                    response.raise_for_status()
                    return response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    errors.append(f"{method} {path}: {exc}")
                    return None

            model_info = ask("GET", "/model")
            predictions = ask("POST", "/predict", json=records)
        return SmokeAnswers(ready_status, model_info, predictions, errors)

    def _wait_ready(self, http, errors: list[str]) -> int:
        import httpx

        deadline = time.monotonic() + self.ready_wait_seconds
        status, last_error = 0, ""
        while True:
            try:
                status = http.get("/ready").status_code
                last_error = ""
            except httpx.HTTPError as exc:
                status, last_error = 0, f"GET /ready: {exc}"
            if status == 200 or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if last_error:
            errors.append(last_error)
        return status
