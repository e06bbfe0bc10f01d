"""The model server Deployment of a Kubernetes cluster, through the official `kubernetes` client.

A rollout pins the version on the Deployment's pod template (env CHURN_MODEL_VERSION and the
annotation `churn-assets/model-version`, one JSON patch), then waits as `kubectl rollout status`
does. A rollback is what `kubectl rollout undo` does: the previous revision's ReplicaSet
template put back with a JSON patch, then the same wait. The decisions are in
`churn_assets.rollout`; this module only talks to the API server.
"""

import time
from typing import Any

from pydantic import Field, PrivateAttr

from churn_assets import rollout
from churn_assets.resources.model_server import ModelServerTarget, RolloutError


class KubernetesModelServer(ModelServerTarget):
    """The model server Deployment `deployment_name` in `namespace`, reached at `service_url`."""

    namespace: str = Field("churn", description="Namespace of the model server Deployment.")
    deployment_name: str = Field("churn-model-server", description="The Deployment's name.")
    container_name: str = Field("model-server", description="The server's container in the pod.")
    service_url: str = Field(
        "http://churn-model-server.churn.svc.cluster.local:8080",
        description="Base URL of the server's Service, as the step pod reaches it.",
    )
    kubeconfig_file: str | None = Field(
        None, description="A kubeconfig; unset means in-cluster config (the step pod's account)."
    )
    context: str | None = Field(None, description="kubeconfig context; unset means current.")
    poll_seconds: float = Field(2.0, gt=0, description="Interval between rollout status reads.")
    _api_client: Any = PrivateAttr(None)

    def describe(self) -> str:
        return f"Deployment {self.namespace}/{self.deployment_name}"

    def base_url(self) -> str:
        return self.service_url

    def _apps(self):
        """An AppsV1Api on a client of its own (never the process-wide default configuration)."""
        from kubernetes import client, config

        if self._api_client is None:
            if self.kubeconfig_file:
                self._api_client = config.new_client_from_config(
                    config_file=self.kubeconfig_file, context=self.context
                )
            else:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                self._api_client = client.ApiClient(configuration)
        return client.AppsV1Api(self._api_client)

    def _read(self) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            found = self._apps().read_namespaced_deployment(self.deployment_name, self.namespace)
        except ApiException as exc:
            raise RolloutError(
                f"cannot read {self.describe()}: {exc.status} {exc.reason}; apply "
                "deploy/k8s/model-server.yaml and grant the step's service account "
                "get/patch on deployments (deploy/k8s/rbac.yaml)"
            ) from exc
        return self._api_client.sanitize_for_serialization(found)

    def _patch(self, operations: list[dict]) -> None:
        from kubernetes.client.exceptions import ApiException

        try:  # a list body is sent as application/json-patch+json
            self._apps().patch_namespaced_deployment(
                self.deployment_name, self.namespace, operations
            )
        except ApiException as exc:
            raise RolloutError(
                f"patching {self.describe()} failed: {exc.status} {exc.reason}: {exc.body}"
            ) from exc

    def served_version(self) -> str | None:
        return rollout.template_version(self._read()["spec"]["template"], self.container_name)

    def roll_to(self, version: str) -> str:
        deployment = self._read()
        template = deployment["spec"]["template"]
        if rollout.template_version(template, self.container_name) == str(version):
            return f"{self.describe()} already pins v{version}; " + self.wait()
        try:
            operations = rollout.version_patch(template, self.container_name, str(version))
        except ValueError as exc:
            raise RolloutError(f"{self.describe()}: {exc}") from exc
        self._patch(operations)
        return f"{self.describe()} patched to v{version}; " + self.wait()

    def wait(self) -> str:
        """Poll the Deployment until the rollout is done; returns kubectl's message.
        Raises RolloutError on ProgressDeadlineExceeded or after `rollout_timeout_seconds`."""
        deadline = time.monotonic() + self.rollout_timeout_seconds
        while True:
            status = rollout.rollout_status(self._read())
            if status.done:
                return status.message
            if status.failed:
                raise RolloutError(status.message)
            if time.monotonic() >= deadline:
                raise RolloutError(
                    f"rollout of {self.describe()} not done after "
                    f"{self.rollout_timeout_seconds:g}s: {status.message}"
                )
            time.sleep(self.poll_seconds)

    def roll_back(self, previous_version: str | None) -> str:
        """`kubectl rollout undo`: the previous revision's template back, then wait."""
        deployment = self._read()
        current = rollout.revision(deployment)
        selector = deployment["spec"]["selector"].get("matchLabels") or {}
        found = self._apps().list_namespaced_replica_set(
            self.namespace, label_selector=",".join(f"{k}={v}" for k, v in selector.items())
        )
        uid = deployment["metadata"]["uid"]
        owned = [
            rs
            for rs in self._api_client.sanitize_for_serialization(found)["items"]
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
        ]
        previous = rollout.previous_replica_set(owned, current)
        if previous is None:
            raise RolloutError(f"{self.describe()} has no revision before {current} to go back to")
        template = rollout.undo_template(previous)
        self._patch([{"op": "replace", "path": "/spec/template", "value": template}])
        restored = rollout.template_version(template, self.container_name)
        return (
            f"{self.describe()} rolled back from revision {current} to revision "
            f"{rollout.revision(previous)} (v{restored}); " + self.wait()
        )
