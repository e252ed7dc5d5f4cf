"""The Deployment and ReplicaSet controllers, observed through the API like a client would."""

import pytest
from kubernetes import client

from tests.simulator.helpers import (
    READY_DELAY,
    conditions,
    deployment_manifest,
    eventually,
    rolled_out,
)

REVISION = "deployment.kubernetes.io/revision"


def set_image(cluster, image: str, name: str = "web"):
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
    return cluster.apps.patch_namespaced_deployment(name, cluster.namespace, patch)


def replica_sets(cluster) -> dict:
    """revision -> ReplicaSet."""
    items = cluster.apps.list_namespaced_replica_set(cluster.namespace).items
    return {int(rs.metadata.annotations[REVISION]): rs for rs in items}


def is_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


@pytest.mark.parametrize(
    ("replicas", "max_surge", "max_unavailable", "most", "fewest_ready"),
    [
        (4, 1, 1, 5, 3),
        (8, "25%", "25%", 10, 6),
        (4, 0, 1, 4, 3),
        (3, 2, 0, 5, 3),
    ],
)
def test_a_rolling_update_respects_max_surge_and_max_unavailable_at_every_tick(
    cluster, replicas, max_surge, max_unavailable, most, fewest_ready
):
    ns = cluster.namespace
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
    }
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest(replicas=replicas, strategy=strategy)
    )
    eventually(lambda: rolled_out(cluster, "web"))

    set_image(cluster, "registry.local/web:2.0")

    samples = []
    while not rolled_out(cluster, "web"):
        pods = cluster.core.list_namespaced_pod(ns, label_selector="app=web").items
        ready = sum(is_ready(pod) for pod in pods)
        wanted = sum(rs.spec.replicas for rs in replica_sets(cluster).values())
        samples.append((len(pods), ready, wanted))
        assert len(pods) <= most, samples
        assert ready >= fewest_ready, samples
        assert wanted <= most, samples
        assert len(samples) < 2000, "the rollout did not finish"
    assert len(samples) >= 5  # the rollout was watched, not just its end
    by_revision = replica_sets(cluster)
    assert sorted(by_revision) == [1, 2]
    assert by_revision[2].spec.replicas == replicas
    assert by_revision[2].status.available_replicas == replicas
    assert by_revision[1].spec.replicas == 0
    assert by_revision[2].spec.template.spec.containers[0].image == "registry.local/web:2.0"
    d = cluster.apps.read_namespaced_deployment("web", ns)
    assert d.metadata.annotations[REVISION] == "2"
    assert d.metadata.generation == 2
    assert d.status.observed_generation == 2
    progressing = next(c for c in d.status.conditions if c.type == "Progressing")
    assert (
        progressing.message
        == f'ReplicaSet "{by_revision[2].metadata.name}" has successfully progressed.'
    )


def test_a_new_template_creates_a_replicaset_with_the_next_revision(cluster):
    cluster.apps.create_namespaced_deployment(cluster.namespace, deployment_manifest())
    eventually(lambda: rolled_out(cluster, "web"))

    set_image(cluster, "registry.local/web:2.0")

    new = eventually(lambda: replica_sets(cluster).get(2))
    d = cluster.apps.read_namespaced_deployment("web", cluster.namespace)
    assert d.metadata.annotations[REVISION] == "2"
    assert replica_sets(cluster)[1].metadata.annotations[REVISION] == "1"
    assert new.metadata.name == f"web-{new.metadata.labels['pod-template-hash']}"
    assert (
        new.spec.selector.match_labels["pod-template-hash"]
        == new.metadata.labels["pod-template-hash"]
    )


def test_recreate_stops_every_old_pod_before_starting_new_ones(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest(replicas=3, strategy={"type": "Recreate"})
    )
    eventually(lambda: rolled_out(cluster, "web"))

    set_image(cluster, "registry.local/web:2.0")

    while not rolled_out(cluster, "web"):
        pods = cluster.core.list_namespaced_pod(ns).items
        hashes = {pod.metadata.labels["pod-template-hash"] for pod in pods}
        assert len(hashes) <= 1, "old and new pods ran side by side"
    assert {p.spec.containers[0].image for p in cluster.core.list_namespaced_pod(ns).items} == {
        "registry.local/web:2.0"
    }


def test_going_back_to_an_earlier_template_reuses_its_replicaset_under_a_new_revision(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    first = eventually(lambda: rolled_out(cluster, "web"))
    # As the executor keeps it: the template read back through the client, as plain JSON.
    previous_template = client.ApiClient().sanitize_for_serialization(first.spec.template)
    set_image(cluster, "registry.local/web:2.0")
    eventually(lambda: rolled_out(cluster, "web") and len(replica_sets(cluster)) == 2)
    original = replica_sets(cluster)[1]

    cluster.apps.patch_namespaced_deployment(
        "web", ns, [{"op": "replace", "path": "/spec/template", "value": previous_template}]
    )

    d = eventually(lambda: rolled_out(cluster, "web"))
    by_revision = replica_sets(cluster)
    assert sorted(by_revision) == [2, 3]
    assert by_revision[3].metadata.name == original.metadata.name
    assert by_revision[3].metadata.uid == original.metadata.uid
    assert by_revision[3].metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert by_revision[3].spec.replicas == 3
    assert by_revision[2].spec.replicas == 0
    assert d.metadata.annotations[REVISION] == "3"
    assert d.spec.template.spec.containers[0].image == "registry.local/web:1.0"


def test_a_crashlooping_image_never_becomes_ready_and_exceeds_its_progress_deadline(cluster):
    ns = cluster.namespace
    manifest = deployment_manifest(
        replicas=2, image="registry.local/web:crashloop", progressDeadlineSeconds=3
    )
    cluster.apps.create_namespaced_deployment(ns, manifest)

    d = eventually(
        lambda: (
            (d := cluster.apps.read_namespaced_deployment("web", ns))
            and conditions(d).get("Progressing") == ("False", "ProgressDeadlineExceeded")
            and d
        )
    )

    assert conditions(d)["Available"] == ("False", "MinimumReplicasUnavailable")
    assert d.status.available_replicas is None
    assert d.status.unavailable_replicas == 2
    progressing = next(c for c in d.status.conditions if c.type == "Progressing")
    assert progressing.message.endswith("has timed out progressing.")
    pods = cluster.core.list_namespaced_pod(ns).items
    assert len(pods) == 2
    for pod in pods:
        (container,) = pod.status.container_statuses
        assert container.ready is False
        assert container.state.waiting.reason == "CrashLoopBackOff"
        assert container.last_state.terminated.exit_code == 1
        assert container.restart_count >= 1
    before = pods[0].status.container_statuses[0].restart_count
    eventually(
        lambda: (
            cluster.core.read_namespaced_pod(pods[0].metadata.name, ns)
            .status.container_statuses[0]
            .restart_count
            > before
        )
    )


def test_a_bad_update_keeps_the_old_pods_serving_and_times_out(cluster):
    ns = cluster.namespace
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    manifest = deployment_manifest(replicas=4, strategy=strategy, progressDeadlineSeconds=3)
    cluster.apps.create_namespaced_deployment(ns, manifest)
    eventually(lambda: rolled_out(cluster, "web"))

    set_image(cluster, "registry.local/web:2.0-crashloop")

    d = eventually(
        lambda: (
            (d := cluster.apps.read_namespaced_deployment("web", ns))
            and conditions(d).get("Progressing") == ("False", "ProgressDeadlineExceeded")
            and d
        )
    )
    assert conditions(d)["Available"] == ("True", "MinimumReplicasAvailable")
    assert d.status.available_replicas == 3
    assert d.status.updated_replicas == 2
    by_revision = replica_sets(cluster)
    assert by_revision[1].status.ready_replicas == 3
    assert by_revision[2].status.ready_replicas is None


@pytest.mark.parametrize(
    ("tag", "phase", "reasons"),
    [
        ("unready", "Running", None),
        ("imagepull", "Pending", {"ErrImagePull", "ImagePullBackOff"}),
    ],
)
def test_unready_and_unpullable_images_never_become_ready(cluster, tag, phase, reasons):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest(replicas=1, image=f"registry.local/web:{tag}")
    )

    def started(pod) -> bool:
        statuses = pod.status.container_statuses or []
        waiting = statuses and statuses[0].state.waiting
        return bool(statuses) and not (waiting and waiting.reason == "ContainerCreating")

    pod = eventually(
        lambda: next((p for p in cluster.core.list_namespaced_pod(ns).items if started(p)), None)
    )
    cluster.clock.advance(10 * READY_DELAY)  # well past the ready delay

    pod = cluster.core.read_namespaced_pod(pod.metadata.name, ns)
    (container,) = pod.status.container_statuses
    assert pod.status.phase == phase
    assert container.ready is False
    assert not is_ready(pod)
    if reasons is None:
        assert container.state.running is not None
        assert container.started is True
    else:
        assert container.state.waiting.reason in reasons
    d = cluster.apps.read_namespaced_deployment("web", ns)
    assert d.status.ready_replicas is None
    assert conditions(d)["Progressing"] == ("True", "ReplicaSetUpdated")


def test_a_paused_deployment_rolls_out_only_once_resumed(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest())
    eventually(lambda: rolled_out(cluster, "web"))
    cluster.apps.patch_namespaced_deployment("web", ns, {"spec": {"paused": True}})

    set_image(cluster, "registry.local/web:2.0")

    d = eventually(
        lambda: (
            (d := cluster.apps.read_namespaced_deployment("web", ns))
            and d.status.observed_generation == d.metadata.generation
            and d
        )
    )
    assert conditions(d)["Progressing"] == ("Unknown", "DeploymentPaused")
    cluster.clock.advance(60)  # a paused Deployment waits however long it is left
    assert sorted(replica_sets(cluster)) == [1]
    cluster.apps.patch_namespaced_deployment("web", ns, {"spec": {"paused": False}})
    eventually(lambda: rolled_out(cluster, "web"))
    assert sorted(replica_sets(cluster)) == [1, 2]


def test_scaling_in_the_middle_of_a_rollout_scales_both_replicasets(cluster):
    ns = cluster.namespace
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest(replicas=4, strategy=strategy)
    )
    eventually(lambda: rolled_out(cluster, "web"))
    set_image(cluster, "registry.local/web:2.0-unready")  # stuck half-way
    eventually(lambda: replica_sets(cluster).get(2) and replica_sets(cluster)[2].spec.replicas == 2)
    eventually(lambda: replica_sets(cluster)[1].spec.replicas == 3)

    cluster.apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 8}})

    def grown():
        by_revision = replica_sets(cluster)
        return by_revision[1].spec.replicas > 3 and by_revision[2].spec.replicas > 2 and by_revision

    by_revision = eventually(grown)
    assert by_revision[1].spec.replicas + by_revision[2].spec.replicas == 8 + 1  # maxSurge 1


def test_old_replicasets_beyond_the_history_limit_are_deleted(cluster):
    cluster.apps.create_namespaced_deployment(
        cluster.namespace, deployment_manifest(replicas=1, revisionHistoryLimit=1)
    )
    for version in ("2.0", "3.0", "4.0"):
        eventually(lambda: rolled_out(cluster, "web"))
        set_image(cluster, f"registry.local/web:{version}")

    eventually(lambda: rolled_out(cluster, "web"))
    eventually(lambda: sorted(replica_sets(cluster)) == [3, 4])
