"""Pods as a client sees them: how images that start slowly or find no node behave, and how
pods are listed by label and point to their ReplicaSet."""

import json
import time
import urllib.request

from simulator.kubelet import SLOW_START
from tests.simulator.helpers import (
    READY_DELAY,
    conditions,
    deployment_manifest,
    eventually,
    rolled_out,
)


def only_pod(cluster):
    pods = cluster.core.list_namespaced_pod(cluster.namespace).items
    return pods[0] if len(pods) == 1 else None


def pod_conditions(pod) -> dict:
    return {c.type: c for c in pod.status.conditions or []}


def is_ready(pod) -> bool:
    ready = pod_conditions(pod).get("Ready")
    return ready is not None and ready.status == "True"


# --- slowstart ---------------------------------------------------------------------------------


def test_a_slow_starting_image_becomes_ready_after_ten_ready_delays_and_meets_a_long_deadline(
    cluster,
):
    ns = cluster.namespace
    started = time.monotonic()
    cluster.apps.create_namespaced_deployment(
        ns,
        deployment_manifest(
            replicas=1, image="registry.local/web:2.0-slowstart", progressDeadlineSeconds=30
        ),
    )

    pod = eventually(lambda: (p := only_pod(cluster)) and p.status.container_statuses and p)
    running = eventually(
        lambda: (
            (p := cluster.core.read_namespaced_pod(pod.metadata.name, ns))
            and p.status.container_statuses[0].state.running
            and p
        )
    )
    (container,) = running.status.container_statuses
    assert running.status.phase == "Running" and container.started is True
    assert container.ready is False and not is_ready(running)
    assert pod_conditions(running)["Ready"].reason == "ContainersNotReady"
    time.sleep(max(0.0, started + SLOW_START / 2 * READY_DELAY - time.monotonic()))
    assert not is_ready(cluster.core.read_namespaced_pod(pod.metadata.name, ns))

    d = eventually(lambda: rolled_out(cluster, "web"))

    assert time.monotonic() - started >= SLOW_START * READY_DELAY
    assert is_ready(cluster.core.read_namespaced_pod(pod.metadata.name, ns))
    assert conditions(d)["Progressing"] == ("True", "NewReplicaSetAvailable")


def test_a_slow_starting_image_misses_a_short_deadline_then_completes_like_kubernetes(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns,
        deployment_manifest(
            replicas=1, image="registry.local/web:2.0-slowstart", progressDeadlineSeconds=1
        ),
    )

    d = eventually(
        lambda: (
            (d := cluster.apps.read_namespaced_deployment("web", ns))
            and conditions(d).get("Progressing") == ("False", "ProgressDeadlineExceeded")
            and d
        )
    )

    assert d.status.ready_replicas is None
    assert not is_ready(only_pod(cluster))
    # The Deployment controller reports a rollout that completes after its deadline as complete.
    eventually(lambda: rolled_out(cluster, "web"))


# --- unschedulable -----------------------------------------------------------------------------


def test_an_unschedulable_pod_stays_pending_unbound_with_the_schedulers_reason(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest(replicas=1, image="registry.local/web:2.0-unschedulable")
    )

    pod = eventually(lambda: (p := only_pod(cluster)) and p.status.conditions and p)
    time.sleep(2 * READY_DELAY)  # past the time a schedulable pod would be ready

    pod = cluster.core.read_namespaced_pod(pod.metadata.name, ns)
    assert pod.status.phase == "Pending"
    assert pod.spec.node_name is None
    (scheduled,) = pod.status.conditions
    assert (scheduled.type, scheduled.status, scheduled.reason) == (
        "PodScheduled",
        "False",
        "Unschedulable",
    )
    assert scheduled.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    assert scheduled.last_transition_time is not None
    assert pod.status.container_statuses is None
    assert pod.status.start_time is None
    assert pod.status.host_ip is None and pod.status.pod_ip is None
    d = cluster.apps.read_namespaced_deployment("web", ns)
    assert d.status.ready_replicas is None and d.status.unavailable_replicas == 1
    assert cluster.core.list_namespaced_pod(ns, field_selector="status.phase=Pending").items


def test_a_schedulable_pod_is_bound_to_the_node_and_runs(cluster):
    cluster.apps.create_namespaced_deployment(
        cluster.namespace, deployment_manifest(replicas=1, image="registry.local/web:2.0")
    )

    eventually(lambda: rolled_out(cluster, "web"))

    pod = only_pod(cluster)
    assert pod.spec.node_name == "runway-sim-node"
    assert pod_conditions(pod)["PodScheduled"].status == "True"


# --- listing by label, owners ------------------------------------------------------------------

CANARY = {"app": "web", "runway.dev/track": "canary"}
STABLE = {"app": "web", "runway.dev/track": "stable"}


def test_pods_are_listed_by_a_label_selector_and_point_to_their_replicaset(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest("web-canary", replicas=1, labels=CANARY)
    )
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest("web", replicas=2, labels=STABLE)
    )
    eventually(lambda: len(cluster.core.list_namespaced_pod(ns).items) == 3)

    canary = cluster.core.list_namespaced_pod(
        ns, label_selector="app=web,runway.dev/track=canary"
    ).items
    web = cluster.core.list_namespaced_pod(ns, label_selector="app=web").items

    assert len(canary) == 1 and len(web) == 3
    (pod,) = canary
    (rs,) = cluster.apps.list_namespaced_replica_set(
        ns, label_selector="runway.dev/track=canary"
    ).items
    assert rs.metadata.owner_references[0].name == "web-canary"
    assert pod.metadata.name.startswith(f"{rs.metadata.name}-")
    assert pod.metadata.labels == {
        **CANARY,
        "pod-template-hash": rs.metadata.labels["pod-template-hash"],
    }
    (owner,) = pod.metadata.owner_references
    assert (owner.api_version, owner.kind, owner.name, owner.uid) == (
        "apps/v1",
        "ReplicaSet",
        rs.metadata.name,
        rs.metadata.uid,
    )
    assert owner.controller is True and owner.block_owner_deletion is True


def test_the_http_api_takes_a_label_selector_as_written(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest("web-canary", replicas=1, labels=CANARY)
    )
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest("web", replicas=1, labels=STABLE)
    )
    eventually(lambda: len(cluster.core.list_namespaced_pod(ns).items) == 2)

    url = f"{cluster.url}/api/v1/namespaces/{ns}/pods?labelSelector=app=web,runway.dev/track=canary"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())

    assert body["kind"] == "PodList"
    (pod,) = body["items"]
    assert pod["metadata"]["labels"]["runway.dev/track"] == "canary"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
