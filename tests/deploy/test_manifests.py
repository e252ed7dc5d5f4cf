"""Each overlay renders to objects a current Kubernetes accepts, with the properties Runway's
processes depend on: one beat, probes on /healthz, sized pods, non-root, migrations first."""

import copy
import re

import kubernetes_validate
import pytest

from tests.deploy.conftest import (
    all_containers,
    base_kustomization,
    pod_spec,
    secret_example,
)

KUBERNETES_VERSION = "1.34"


def test_every_object_is_valid_for_kubernetes_in_strict_mode(rendered):
    errors = []
    for manifest in rendered.objects:
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            errors.append(
                f"{manifest['kind']} {manifest['metadata']['name']} {path}: {exc.message}"
            )
    assert errors == []


def test_the_validation_would_catch_a_misspelt_field(small):
    web = copy.deepcopy(small.get("Deployment", "runway-web"))
    web["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, KUBERNETES_VERSION, strict=True)


def test_the_example_secret_is_valid_and_stays_out_of_the_kustomization(rendered):
    kubernetes_validate.validate(secret_example(), KUBERNETES_VERSION, strict=True)
    assert rendered.of_kind("Secret") == []
    assert all("secret" not in str(path) for path in base_kustomization()["resources"])


def test_everything_but_the_rollout_rbac_lands_in_runways_namespace(rendered):
    elsewhere = {
        (o["kind"], o["metadata"]["name"])
        for o in rendered.objects
        if o["metadata"].get("namespace") != "runway"
    }
    assert elsewhere == {("Role", "runway-rollouts"), ("RoleBinding", "runway-rollouts")}
    binding = rendered.get("RoleBinding", "runway-rollouts")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runway", "namespace": "runway"}
    ]


def test_beat_runs_once_and_the_old_pod_goes_before_the_new_one_starts(rendered):
    beat = rendered.get("Deployment", "runway-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" in beat["spec"]["template"]["spec"]["containers"][0]["command"]
    autoscaled = {
        h["spec"]["scaleTargetRef"]["name"] for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    assert autoscaled == {"runway-web"}


def test_web_probes_ask_healthz_on_the_port_uvicorn_listens_on(rendered):
    web = rendered.get("Deployment", "runway-web")
    container = pod_spec(web)["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--port={ports['http']}" in container["command"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    service = rendered.get("Service", "runway-web")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]


def test_the_probes_host_is_allowed(rendered):
    """The kubelet's probe names the pod's IP as its Host; Django refuses other hosts with a 400."""
    env = {
        e["name"]: e
        for e in pod_spec(rendered.get("Deployment", "runway-web"))["containers"][0]["env"]
    }
    names = list(env)
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["ALLOWED_HOSTS"]["value"] == "$(ALLOWED_HOSTS),$(POD_IP)"
    # Kubernetes expands $(POD_IP) only from variables defined before it.
    assert names.index("POD_IP") < names.index("ALLOWED_HOSTS")


def _quantity(value: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    match = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi)?", str(value))
    assert match, value
    return float(match.group(1)) * units.get(match.group(2) or "", 1)


def test_every_container_has_requests_and_limits(rendered):
    for workload in rendered.workloads():
        for container in all_containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            for resource in ("cpu", "memory"):
                request = resources.get("requests", {}).get(resource)
                limit = resources.get("limits", {}).get(resource)
                assert request and limit, f"{where} {resource}"
                assert _quantity(request) <= _quantity(limit), f"{where} {resource}"


def test_every_pod_runs_as_non_root_on_a_read_only_root(rendered):
    for workload in rendered.workloads():
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # the Dockerfile's `runway` user
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in all_containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            # Scratch space is the one writable place.
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts


def test_the_audit_checkpoints_live_on_a_volume_every_process_shares(rendered):
    config = rendered.get("ConfigMap", "runway-config")["data"]
    directory = config["RUNWAY_AUDIT_CHECKPOINT_FILE"].rsplit("/", 1)[0]
    claim = rendered.get("PersistentVolumeClaim", "runway-audit")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for deployment in rendered.of_kind("Deployment"):
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        mounts = {
            m["mountPath"]: m["name"] for m in pod_spec(deployment)["containers"][0]["volumeMounts"]
        }
        assert volumes[mounts[directory]]["persistentVolumeClaim"]["claimName"] == "runway-audit"


def test_migrations_run_once_in_a_job_that_cleans_up_after_itself(rendered):
    job = rendered.get("Job", "runway-migrate")
    assert pod_spec(job)["containers"][0]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_every_deployment_waits_for_the_migrations_before_it_starts(rendered):
    for deployment in rendered.of_kind("Deployment"):
        (init,) = pod_spec(deployment)["initContainers"]
        script = " ".join(init["command"])
        assert "manage.py migrate --check" in script, deployment["metadata"]["name"]
        assert script.startswith("sh -c until "), "it retries until the schema matches"
        assert init["image"] == pod_spec(deployment)["containers"][0]["image"]


def test_every_process_runs_the_same_image(rendered):
    images = {c["image"] for w in rendered.workloads() for c in all_containers(w)}
    assert images == {"registry.example.com/platform/runway:latest"}


def test_web_keeps_serving_through_a_rolling_update_and_a_drain(rendered):
    web = rendered.get("Deployment", "runway-web")
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = rendered.get("PodDisruptionBudget", "runway-web")
    assert budget["spec"]["selector"] == web["spec"]["selector"]
    # With one web pod (small), minAvailable: 1 would block every node drain.
    assert budget["spec"] == {"maxUnavailable": 1, "selector": web["spec"]["selector"]}


def test_the_small_overlay_runs_one_of_each(small):
    web = small.get("Deployment", "runway-web")
    hpa = small.get("HorizontalPodAutoscaler", "runway-web")
    assert web["spec"]["replicas"] == 1
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    workers = [d for d in small.of_kind("Deployment") if "worker" in d["metadata"]["name"]]
    assert len(workers) == 4
    assert {w["spec"]["replicas"] for w in workers} == {1}


def test_the_large_overlay_runs_more_and_bigger_pods(small, large):
    web = large.get("Deployment", "runway-web")
    hpa = large.get("HorizontalPodAutoscaler", "runway-web")
    assert web["spec"]["replicas"] == 3 == hpa["spec"]["minReplicas"]
    assert hpa["spec"]["maxReplicas"] == 12
    assert large.get("Deployment", "runway-worker-rollouts")["spec"]["replicas"] == 4
    for deployment in large.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        if name == "runway-beat":
            continue
        bigger = pod_spec(deployment)["containers"][0]["resources"]
        smaller = pod_spec(small.get("Deployment", name))["containers"][0]["resources"]
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert _quantity(bigger[kind][resource]) > _quantity(smaller[kind][resource]), (
                    f"{name} {kind}.{resource}"
                )
