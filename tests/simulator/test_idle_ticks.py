"""A tick does no work for what has settled: a Deployment whose last sync wrote nothing is not
synced again until it or one of its ReplicaSets changes, nor is a pod whose status no longer
moves with time until it is written; what waits on the clock (a crash loop, a rollout under its
progress deadline) is looked at on every tick. Ticks here are run by the test, on its clock."""

import pytest
from kubernetes import client, config

from simulator import write_kubeconfig
from simulator.server import Simulator
from tests.simulator.helpers import READY_DELAY, deployment_manifest

NAMESPACE = "idle"


class Counting:
    def __init__(self, target, name: str, monkeypatch):
        self.calls = 0
        original = getattr(target, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, counted)

    def taken(self) -> int:
        calls, self.calls = self.calls, 0
        return calls


@pytest.fixture
def simulator(tmp_path):
    now = [1_800_000_000.0]
    # The controller's own thread waits an hour before its first tick: the test ticks.
    simulator = Simulator(port=0, tick=3600, ready_delay=READY_DELAY, clock=lambda: now[0])
    simulator.start()
    configuration = client.Configuration()
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig.yaml", simulator.url)
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    simulator.apps = client.AppsV1Api(api)

    def tick(times: int = 1) -> None:
        for _ in range(times):
            now[0] += READY_DELAY
            simulator.controller.tick()

    simulator.run = tick
    yield simulator
    api.close()
    simulator.stop()


def ready(simulator, name: str) -> int:
    deployment = simulator.apps.read_namespaced_deployment(name, NAMESPACE)
    return deployment.status.ready_replicas or 0


def test_settled_objects_take_no_work_until_they_change(simulator, monkeypatch):
    simulator.apps.create_namespaced_deployment(NAMESPACE, deployment_manifest("web", replicas=3))
    simulator.run(12)
    assert ready(simulator, "web") == 3
    syncs = Counting(simulator.controller.deployments, "sync", monkeypatch)
    statuses = Counting(simulator.controller.kubelet, "pod_status", monkeypatch)
    version = simulator.store.resource_version

    simulator.run(5)
    assert (syncs.taken(), statuses.taken()) == (0, 0)
    assert simulator.store.resource_version == version

    simulator.apps.patch_namespaced_deployment("web", NAMESPACE, {"spec": {"replicas": 5}})
    simulator.run(12)
    assert ready(simulator, "web") == 5  # the change is taken up as before
    assert syncs.taken() > 0 and statuses.taken() > 0
    simulator.run(5)
    assert (syncs.taken(), statuses.taken()) == (0, 0)


def test_what_waits_on_the_clock_is_looked_at_every_tick(simulator, monkeypatch):
    simulator.apps.create_namespaced_deployment(
        NAMESPACE,
        deployment_manifest(
            "loop", image="registry.local/loop:crashloop", replicas=1, progressDeadlineSeconds=60
        ),
    )
    simulator.run(6)
    syncs = Counting(simulator.controller.deployments, "sync", monkeypatch)
    statuses = Counting(simulator.controller.kubelet, "pod_status", monkeypatch)

    simulator.run(5)
    assert (syncs.taken(), statuses.taken()) == (5, 5)

    simulator.run(int(60 / READY_DELAY) + 2)  # past the progress deadline
    deployment = simulator.apps.read_namespaced_deployment("loop", NAMESPACE)
    progressing = {c.type: c.reason for c in deployment.status.conditions}["Progressing"]
    assert progressing == "ProgressDeadlineExceeded"
    syncs.taken(), statuses.taken()
    simulator.run(3)
    assert syncs.taken() == 0  # a rollout out of time waits on nothing more
    assert statuses.taken() == 3  # its pod goes on crashing
