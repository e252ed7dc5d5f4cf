"""The API as the official `kubernetes` client sees it: shapes, status codes and concurrency."""

import json
import urllib.error
import urllib.request

import pytest
from kubernetes import watch
from kubernetes.client.rest import ApiException

from tests.simulator.helpers import (
    conditions,
    deployment_manifest,
    eventually,
    rolled_out,
    service_manifest,
)

MERGE_PATCH = "application/merge-patch+json"


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def raw(cluster, method: str, path: str, body=None, content_type="application/json"):
    """A request the typed client would refuse to send; returns (code, decoded body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(cluster.url + path, data=data, method=method)
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_created_deployment_reads_back_with_identity_and_defaults(cluster):
    created = cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())

    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.generation == 1
    assert int(created.metadata.resource_version) > 0
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.strategy.rolling_update.max_unavailable == "25%"
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    read = cluster.apps.read_namespaced_deployment("web", cluster.namespace)
    assert read.metadata.uid == created.metadata.uid
    assert read.spec == created.spec


def test_a_deployment_converges_like_kubernetes(cluster):
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())

    d = eventually(lambda: rolled_out(cluster, "web"))

    assert d.status.observed_generation == d.metadata.generation
    assert d.status.replicas == d.status.updated_replicas == d.status.available_replicas == 3
    assert d.status.ready_replicas == 3
    assert d.status.unavailable_replicas is None  # zero is omitted on the wire
    assert conditions(d) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    (rs,) = cluster.apps.list_namespaced_replica_set(cluster.namespace).items
    pod_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.metadata.owner_references[0].uid == d.metadata.uid
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    pods = cluster.core.list_namespaced_pod(cluster.namespace).items
    assert len(pods) == 3
    for pod in pods:
        assert pod.metadata.labels == {"app": "web", "pod-template-hash": pod_hash}
        assert pod.status.phase == "Running"
        assert pod.status.container_statuses[0].ready is True


def test_reading_a_missing_object_is_404_not_found(cluster):
    with pytest.raises(ApiException) as missing_deployment:
        cluster.apps.read_namespaced_deployment("nope", cluster.namespace)
    with pytest.raises(ApiException) as missing_service:
        cluster.core.read_namespaced_service("nope", cluster.namespace)

    assert missing_deployment.value.status == 404
    body = status_of(missing_deployment.value)
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    assert missing_service.value.status == 404
    assert status_of(missing_service.value)["message"] == 'services "nope" not found'


def test_creating_an_existing_object_is_409_already_exists(cluster):
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())

    with pytest.raises(ApiException) as exc:
        cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())

    assert exc.value.status == 409
    assert status_of(exc.value)["reason"] == "AlreadyExists"


def test_a_replace_with_a_stale_resource_version_is_409_conflict(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    first = eventually(lambda: rolled_out(cluster, "web"))  # the controller has gone quiet
    second = cluster.apps.patch_namespaced_deployment(
        "web", ns, {"metadata": {"labels": {"a": "b"}}}
    )
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)

    first.spec.replicas = 5
    with pytest.raises(ApiException) as exc:
        cluster.apps.replace_namespaced_deployment("web", ns, first)

    assert exc.value.status == 409
    assert status_of(exc.value)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(exc.value)["message"]
    current = cluster.apps.read_namespaced_deployment("web", ns)
    current.spec.replicas = 5
    replaced = cluster.apps.replace_namespaced_deployment("web", ns, current)
    assert replaced.spec.replicas == 5
    assert int(replaced.metadata.resource_version) > int(current.metadata.resource_version)


def test_a_patch_carrying_a_stale_resource_version_is_409_conflict(cluster):
    ns = cluster.namespace
    created = cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    cluster.apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 2}})

    stale = {"metadata": {"resourceVersion": created.metadata.resource_version}}
    with pytest.raises(ApiException) as exc:
        cluster.apps.patch_namespaced_deployment("web", ns, {**stale, "spec": {"replicas": 4}})

    assert exc.value.status == 409
    assert cluster.apps.read_namespaced_deployment("web", ns).spec.replicas == 2


def test_a_selector_that_does_not_match_the_template_is_422_invalid(cluster):
    manifest = deployment_manifest()
    manifest["spec"]["selector"] = {"matchLabels": {"app": "other"}}

    with pytest.raises(ApiException) as exc:
        cluster.apps.create_namespaced_deployment(cluster.namespace, manifest)

    assert exc.value.status == 422
    body = status_of(exc.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "Deployment"
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.template.metadata.labels"]
    assert "`selector` does not match template `labels`" in body["message"]


def test_a_deployment_without_a_selector_is_422_invalid(cluster):
    # The typed client refuses to send this, so it goes over plain HTTP.
    manifest = deployment_manifest()
    del manifest["spec"]["selector"]
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = ""

    code, body = raw(
        cluster, "POST", f"/apis/apps/v1/namespaces/{cluster.namespace}/deployments", manifest
    )

    assert code == 422
    assert body["reason"] == "Invalid"
    fields = {cause["field"]: cause["reason"] for cause in body["details"]["causes"]}
    assert fields == {
        "spec.selector": "FieldValueRequired",
        "spec.template.spec.containers[0].image": "FieldValueRequired",
    }
    with pytest.raises(ApiException):
        cluster.apps.read_namespaced_deployment("web", cluster.namespace)


def test_the_selector_of_a_deployment_cannot_change(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    patch = {
        "spec": {
            "selector": {"matchLabels": {"app": "web", "tier": "x"}},
            "template": {"metadata": {"labels": {"tier": "x"}}},
        }
    }

    with pytest.raises(ApiException) as exc:
        cluster.apps.patch_namespaced_deployment("web", ns, patch)

    assert exc.value.status == 422
    assert "spec.selector: Invalid value" in status_of(exc.value)["message"]
    assert "field is immutable" in status_of(exc.value)["message"]


def test_generation_rises_on_spec_changes_only(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    created = eventually(lambda: rolled_out(cluster, "web"))  # the controller has gone quiet

    labelled = cluster.apps.patch_namespaced_deployment(
        "web", ns, {"metadata": {"labels": {"x": "1"}}}
    )
    unchanged = cluster.apps.patch_namespaced_deployment(
        "web", ns, {"metadata": {"labels": {"x": "1"}}}
    )
    scaled = cluster.apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 4}})

    assert labelled.metadata.generation == created.metadata.generation == 1
    assert int(labelled.metadata.resource_version) > int(created.metadata.resource_version)
    assert unchanged.metadata.resource_version == labelled.metadata.resource_version
    assert scaled.metadata.generation == 2


def test_a_strategic_merge_patch_merges_containers_by_name(cluster):
    ns = cluster.namespace
    manifest = deployment_manifest()
    manifest["spec"]["template"]["spec"]["containers"].append(
        {
            "name": "sidecar",
            "image": "registry.local/proxy:1.0",
            "env": [{"name": "A", "value": "1"}],
        }
    )
    cluster.apps.create_namespaced_deployment(ns, manifest)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "env": [{"name": "B", "value": "2"}]},
                        {"name": "app", "image": "registry.local/web:2.0"},
                    ]
                }
            }
        }
    }

    patched = cluster.apps.patch_namespaced_deployment("web", ns, patch)

    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["app"].image == "registry.local/web:2.0"
    assert containers["sidecar"].image == "registry.local/proxy:1.0"
    assert [(e.name, e.value) for e in containers["sidecar"].env] == [("A", "1"), ("B", "2")]


def test_a_merge_patch_replaces_lists_and_a_json_patch_applies_operations(cluster):
    ns = cluster.namespace
    manifest = deployment_manifest()
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "s:1"})
    cluster.apps.create_namespaced_deployment(ns, manifest)

    merged = cluster.apps.patch_namespaced_deployment(
        "web",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "w:2"}]}}}},
        _content_type=MERGE_PATCH,
    )
    operations = [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 2},
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
    ]
    patched = cluster.apps.patch_namespaced_deployment("web", ns, operations)

    assert [c.name for c in merged.spec.template.spec.containers] == ["app"]
    assert patched.spec.replicas == 2
    assert patched.metadata.labels == {"app": "web", "tier": "front"}


def test_a_json_patch_that_cannot_apply_is_422_and_changes_nothing(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    operations = [
        {"op": "replace", "path": "/spec/replicas", "value": 9},
        {"op": "test", "path": "/spec/replicas", "value": 3},
    ]

    with pytest.raises(ApiException) as exc:
        cluster.apps.patch_namespaced_deployment("web", ns, operations)

    assert exc.value.status == 422
    assert cluster.apps.read_namespaced_deployment("web", ns).spec.replicas == 3


def test_an_unknown_patch_type_is_415(cluster):
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())
    path = f"/apis/apps/v1/namespaces/{cluster.namespace}/deployments/web"

    code, body = raw(
        cluster, "PATCH", path, {"spec": {}}, content_type="application/apply-patch+yaml"
    )

    assert code == 415
    assert body["reason"] == "UnsupportedMediaType"


def test_the_scale_subresource_reads_and_sets_replicas(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest(replicas=2))
    eventually(lambda: rolled_out(cluster, "web"))

    scale = cluster.apps.read_namespaced_deployment_scale("web", ns)
    patched = cluster.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}})

    assert (scale.kind, scale.api_version) == ("Scale", "autoscaling/v1")
    assert scale.spec.replicas == 2
    assert scale.status.replicas == 2
    assert scale.status.selector == "app=web"
    assert patched.spec.replicas == 5
    d = eventually(lambda: rolled_out(cluster, "web"))
    assert d.status.available_replicas == 5
    assert d.metadata.generation == 2
    assert len(cluster.apps.list_namespaced_replica_set(ns).items) == 1


def test_a_negative_scale_is_422(cluster):
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())
    path = f"/apis/apps/v1/namespaces/{cluster.namespace}/deployments/web/scale"

    code, body = raw(cluster, "PATCH", path, {"spec": {"replicas": -1}}, MERGE_PATCH)

    assert code == 422
    assert body["details"]["causes"][0]["field"] == "spec.replicas"


def test_a_service_gets_a_cluster_ip_and_its_selector_can_be_patched(cluster):
    ns = cluster.namespace
    created = cluster.core.create_namespaced_service(ns, service_manifest())
    assert created.spec.cluster_ip.startswith("10.96.")
    assert created.spec.type == "ClusterIP"
    assert created.spec.ports[0].protocol == "TCP"

    merged = cluster.core.patch_namespaced_service(
        "web", ns, {"spec": {"selector": {"colour": "blue"}}}
    )
    replaced = cluster.core.patch_namespaced_service(
        "web",
        ns,
        [{"op": "replace", "path": "/spec/selector", "value": {"app": "web", "colour": "green"}}],
    )

    assert merged.spec.selector == {"app": "web", "colour": "blue"}
    assert replaced.spec.selector == {"app": "web", "colour": "green"}
    assert replaced.spec.cluster_ip == created.spec.cluster_ip
    body = cluster.core.read_namespaced_service("web", ns)
    body.spec.cluster_ip = None
    body.spec.cluster_ips = None
    assert (
        cluster.core.replace_namespaced_service("web", ns, body).spec.cluster_ip
        == created.spec.cluster_ip
    )


def test_a_service_without_ports_is_422(cluster):
    manifest = service_manifest()
    manifest["spec"]["ports"] = []

    with pytest.raises(ApiException) as exc:
        cluster.core.create_namespaced_service(cluster.namespace, manifest)

    assert exc.value.status == 422
    assert status_of(exc.value)["details"]["causes"][0]["field"] == "spec.ports"


def test_lists_filter_by_label_and_field_selectors(cluster):
    ns = cluster.namespace
    for name, tier in (("web", "front"), ("api", "back"), ("jobs", None)):
        manifest = deployment_manifest(name, replicas=1)
        if tier:
            manifest["metadata"]["labels"]["tier"] = tier
        cluster.apps.create_namespaced_deployment(ns, manifest)

    def names(**kwargs):
        return [
            d.metadata.name for d in cluster.apps.list_namespaced_deployment(ns, **kwargs).items
        ]

    assert names() == ["api", "jobs", "web"]
    assert names(label_selector="tier=front") == ["web"]
    assert names(label_selector="tier in (front, back)") == ["api", "web"]
    assert names(label_selector="tier notin (front)") == ["api", "jobs"]
    assert names(label_selector="tier!=front,app") == ["api", "jobs"]
    assert names(label_selector="!tier") == ["jobs"]
    assert names(field_selector="metadata.name=api") == ["api"]
    assert names(field_selector="spec.unknown=1") == ["api", "jobs", "web"]
    eventually(lambda: len(cluster.core.list_namespaced_pod(ns).items) == 3)
    pods = cluster.core.list_namespaced_pod(ns, label_selector="app=web").items
    assert [p.metadata.labels["app"] for p in pods] == ["web"]
    assert cluster.apps.list_deployment_for_all_namespaces().items


def test_deleting_a_deployment_takes_its_replicasets_and_pods_along(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    eventually(lambda: rolled_out(cluster, "web"))

    cluster.apps.delete_namespaced_deployment("web", ns)

    with pytest.raises(ApiException) as exc:
        cluster.apps.read_namespaced_deployment("web", ns)
    assert exc.value.status == 404
    eventually(lambda: not cluster.apps.list_namespaced_replica_set(ns).items)
    eventually(lambda: not cluster.core.list_namespaced_pod(ns).items)


def test_a_deleted_pod_is_replaced_by_its_replicaset(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest(replicas=2))
    eventually(lambda: rolled_out(cluster, "web"))
    victim = cluster.core.list_namespaced_pod(ns).items[0].metadata.name

    cluster.core.delete_namespaced_pod(victim, ns)

    def replaced():
        names = {p.metadata.name for p in cluster.core.list_namespaced_pod(ns).items}
        return len(names) == 2 and victim not in names

    eventually(replaced)


def test_the_main_resource_ignores_status_and_the_status_subresource_ignores_spec(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest(paused=True))

    via_main = cluster.apps.patch_namespaced_deployment(
        "web", ns, {"status": {"replicas": 42}}, _content_type=MERGE_PATCH
    )
    via_status = cluster.apps.patch_namespaced_deployment_status(
        "web",
        ns,
        {"spec": {"replicas": 9}, "status": {"collisionCount": 1}},
        _content_type=MERGE_PATCH,
    )

    assert via_main.status.replicas != 42
    assert via_status.spec.replicas == 3
    assert via_status.status.collision_count == 1


def test_namespaces_are_created_on_first_use(cluster):
    cluster.core.create_namespaced_service("brand-new", service_manifest())

    namespace = cluster.core.read_namespace("brand-new")

    assert namespace.status.phase == "Active"
    assert namespace.metadata.labels["kubernetes.io/metadata.name"] == "brand-new"


def test_discovery_describes_the_served_resources(cluster):
    def get(path):
        with urllib.request.urlopen(cluster.url + path, timeout=10) as response:
            return json.loads(response.read())

    assert get("/version")["major"] == "1"
    assert get("/api")["versions"] == ["v1"]
    assert [g["name"] for g in get("/apis")["groups"]] == ["apps"]
    apps = {r["name"]: r for r in get("/apis/apps/v1")["resources"]}
    assert {"deployments", "deployments/scale", "deployments/status", "replicasets"} <= set(apps)
    assert apps["deployments"]["shortNames"] == ["deploy"]
    core = {r["name"] for r in get("/api/v1")["resources"]}
    assert {"pods", "services", "namespaces"} <= core


def test_a_watch_streams_the_changes_after_a_resource_version(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest(paused=True))
    listed = cluster.apps.list_namespaced_deployment(ns)
    cluster.apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 1}})

    seen = []
    stream = watch.Watch().stream(
        cluster.apps.list_namespaced_deployment,
        ns,
        resource_version=listed.metadata.resource_version,
        timeout_seconds=10,
    )
    for event in stream:
        seen.append((event["type"], event["object"].spec.replicas))
        if event["object"].spec.replicas == 1:
            break

    assert seen[-1] == ("MODIFIED", 1)
