"""kubectl against the simulator: what a person debugging a rollout would type.

kubectl comes with the development and CI machines. Where it is missing, Debian's package brings
it (`apt-get install -y kubernetes-client`); outside CI these tests then skip, in CI they fail.
"""

import os
import shutil
import subprocess

import pytest

from tests.simulator.helpers import deployment_manifest, eventually, rolled_out

INSTALL = "apt-get install -y kubernetes-client"
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")


@pytest.fixture
def kubectl(cluster, tmp_path):
    if KUBECTL is None:
        message = f"kubectl is not installed: `{INSTALL}` (Debian's package) brings it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [
            KUBECTL,
            "--kubeconfig",
            cluster.kubeconfig,
            "--cache-dir",
            str(tmp_path / "kube-cache"),
            "--namespace",
            cluster.namespace,
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    return run


def test_kubectl_lists_the_deployments(cluster, kubectl):
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())
    eventually(lambda: rolled_out(cluster, "web"))

    result = kubectl("get", "deployments", "-n", cluster.namespace)

    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row.split()[:4] == ["web", "3/3", "3", "3"]


def test_kubectl_waits_for_a_rollout_to_finish(cluster, kubectl):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    eventually(lambda: rolled_out(cluster, "web"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "w:2"}]}}}}
    cluster.apps.patch_namespaced_deployment("web", ns, patch)

    result = kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")

    assert result.returncode == 0, result.stderr
    assert 'deployment "web" successfully rolled out' in result.stdout
    assert rolled_out(cluster, "web")


def test_kubectl_reports_a_missed_progress_deadline(cluster, kubectl):
    manifest = deployment_manifest(image="registry.local/web:crashloop", progressDeadlineSeconds=3)
    cluster.apps.create_namespaced_deployment(cluster.namespace, manifest)

    result = kubectl("rollout", "status", "deployment/web", "--timeout=30s")

    assert result.returncode != 0
    assert 'deployment "web" exceeded its progress deadline' in result.stderr


def test_kubectl_applies_a_manifest_and_undoes_a_rollout(cluster, kubectl, tmp_path):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
        "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
        "      labels: {app: web}\n    spec:\n      containers:\n"
        "      - {name: app, image: 'registry.local/web:1.0'}\n"
    )

    applied = kubectl("apply", "-f", str(manifest))
    assert applied.returncode == 0, applied.stderr
    assert kubectl("rollout", "status", "deployment/web", "--timeout=30s").returncode == 0
    kubectl("set", "image", "deployment/web", "app=registry.local/web:2.0")
    assert kubectl("rollout", "status", "deployment/web", "--timeout=30s").returncode == 0
    undone = kubectl("rollout", "undo", "deployment/web")
    assert undone.returncode == 0, undone.stderr

    d = eventually(lambda: rolled_out(cluster, "web"))
    assert d.spec.template.spec.containers[0].image == "registry.local/web:1.0"
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert len(cluster.apps.list_namespaced_replica_set(cluster.namespace).items) == 2
