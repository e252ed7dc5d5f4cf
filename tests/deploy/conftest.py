"""The Kubernetes manifests under deploy/kubernetes, rendered by kubectl's kustomize.

kubectl comes with the development and CI machines (`make test` installs Debian's package where
it is missing); outside CI these tests then skip, in CI they fail.
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("small", "large")
INSTALL = "apt-get install -y kubernetes-client"


@dataclass
class Rendered:
    overlay: str
    objects: list[dict]

    def get(self, kind: str, name: str) -> dict:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def workloads(self) -> list[dict]:
        """Every object that runs Runway's image: the Deployments and the migration Job."""
        return self.of_kind("Deployment") + self.of_kind("Job")


def render(overlay: str) -> Rendered:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if kubectl is None:
        message = f"kubectl is not installed: `{INSTALL}` (Debian's package) brings it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Rendered(overlay, [doc for doc in yaml.safe_load_all(result.stdout) if doc])


_rendered: dict[str, Rendered] = {}


@pytest.fixture(params=OVERLAYS)
def rendered(request) -> Rendered:
    """Each overlay, rendered once per test session."""
    if request.param not in _rendered:
        _rendered[request.param] = render(request.param)
    return _rendered[request.param]


@pytest.fixture
def small() -> Rendered:
    return _rendered.get("small") or _rendered.setdefault("small", render("small"))


@pytest.fixture
def large() -> Rendered:
    return _rendered.get("large") or _rendered.setdefault("large", render("large"))


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def all_containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def base_kustomization() -> dict:
    return yaml.safe_load((KUBERNETES / "base" / "kustomization.yaml").read_text())


def secret_example() -> dict:
    return yaml.safe_load((KUBERNETES / "secret.example.yaml").read_text())


def container_environment(container: dict, config: dict, secret: dict, pod_ip: str) -> dict:
    """The environment the kubelet gives the container: envFrom first, then env in order, each
    value's $(NAME) expanded from the variables before it."""
    env = {"PATH": os.environ["PATH"]}
    for _source in container.get("envFrom", []):
        env.update(config)
    for entry in container.get("env", []):
        if "value" in entry:
            value = expand(entry["value"], env)
        elif "fieldRef" in entry["valueFrom"]:
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
            value = pod_ip
        else:
            value = secret[entry["valueFrom"]["secretKeyRef"]["key"]]
        env[entry["name"]] = value
    return env


def expand(value: str, env: dict) -> str:
    """Kubernetes' $(NAME) references, in env values and command lines alike."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)
