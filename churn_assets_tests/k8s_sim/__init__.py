"""A loopback Kubernetes API simulator for tests: Jobs, Pods, Pod logs.

What it does and does not simulate: deploy/k8s/SIMULATOR.md.
"""

from churn_assets_tests.k8s_sim.server import (
    ApiError,
    KubernetesSimulator,
    RecordedRequest,
    write_kubeconfig,
)

__all__ = ["ApiError", "KubernetesSimulator", "RecordedRequest", "write_kubeconfig"]
