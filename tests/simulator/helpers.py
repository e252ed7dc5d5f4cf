"""Helpers shared by the simulator tests: manifests, polling, and reading conditions."""

import threading
import time
from dataclasses import dataclass

from kubernetes import client

READY_DELAY = 0.3  # seconds from a pod's creation until it is ready, in the `cluster` fixture


@dataclass
class Cluster:
    url: str
    kubeconfig: str
    apps: client.AppsV1Api
    core: client.CoreV1Api
    namespace: str
    clock: "MovableClock"


class MovableClock:
    """The simulator controller's clock: real time plus what a test moved it by. A test that
    must see that something does not happen moves the clock past it and waits for two ticks
    (one may have read the time just before the move), instead of sleeping."""

    def __init__(self):
        self._offset = 0.0
        self._reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._reads += 1
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
            seen = self._reads
        eventually(lambda: self._reads >= seen + 2, timeout=10)


def eventually(probe, *, timeout: float = 20.0, interval: float = 0.05):
    """Call `probe` until it returns something truthy; fail with its last answer at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s; last answer: {result!r}")
        time.sleep(interval)


def deployment_manifest(
    name: str = "web",
    *,
    image: str = "registry.local/web:1.0",
    replicas: int = 3,
    labels: dict | None = None,
    strategy: dict | None = None,
    **spec,
) -> dict:
    labels = labels or {"app": name}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            **spec,
        },
    }
    if strategy is not None:
        manifest["spec"]["strategy"] = strategy
    return manifest


def service_manifest(name: str = "web", selector: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": selector or {"app": name},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }


def conditions(deployment) -> dict:
    return {c.type: (c.status, c.reason) for c in deployment.status.conditions or []}


def rolled_out(cluster: Cluster, name: str):
    """The deployment once it is complete the way `kubectl rollout status` means it."""
    d = cluster.apps.read_namespaced_deployment(name, cluster.namespace)
    s = d.status
    done = (
        (s.observed_generation or 0) >= d.metadata.generation
        and (s.updated_replicas or 0) == d.spec.replicas
        and (s.replicas or 0) == d.spec.replicas
        and (s.available_replicas or 0) == d.spec.replicas
        and conditions(d).get("Progressing") == ("True", "NewReplicaSetAvailable")
    )
    return d if done else None
