"""One Celery worker Deployment per queue that portal/settings.py routes tasks to, each
consuming exactly its own."""

import json
import subprocess
import sys

from tests.deploy.conftest import ROOT, container_environment, expand, pod_spec, secret_example

ROUTED_QUEUES = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps(sorted({r['queue'] for r in s.CELERY_TASK_ROUTES.values()} "
    "| {s.CELERY_TASK_DEFAULT_QUEUE})))"
)
_routed: dict[str, list[str]] = {}


def routed_queues(rendered) -> list[str]:
    """The queues settings send tasks to, as a worker of this overlay loads them."""
    if rendered.overlay not in _routed:
        container = pod_spec(rendered.get("Deployment", "runway-worker-default"))["containers"][0]
        config = rendered.get("ConfigMap", "runway-config")["data"]
        env = container_environment(container, config, secret_example()["stringData"], "")
        result = subprocess.run(
            [sys.executable, "-c", ROUTED_QUEUES],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        _routed[rendered.overlay] = json.loads(result.stdout)
    return _routed[rendered.overlay]


def workers(rendered) -> list[dict]:
    return [
        d
        for d in rendered.of_kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    ]


def queue_argument(worker: dict) -> str:
    command = pod_spec(worker)["containers"][0]["command"]
    assert command[:4] == ["celery", "-A", "portal", "worker"]
    return command[command.index("-Q") + 1]


def consumed_queue(rendered, worker: dict) -> str:
    config = rendered.get("ConfigMap", "runway-config")["data"]
    return expand(queue_argument(worker), config)


def test_every_queue_settings_route_to_has_one_worker_of_its_own(rendered):
    consumed = sorted(consumed_queue(rendered, worker) for worker in workers(rendered))
    assert consumed == routed_queues(rendered)
    assert "runway.rollouts" in consumed  # the routes were read, not only the default queue


def test_the_workers_queues_follow_celery_queue(rendered):
    """An installation that renames its queues (CELERY_QUEUE) need not touch the workers."""
    for worker in workers(rendered):
        assert queue_argument(worker).startswith("$(CELERY_QUEUE)")


def test_a_worker_is_named_for_the_queue_it_consumes(rendered):
    for worker in workers(rendered):
        kind = worker["metadata"]["labels"]["runway/queue"]
        assert worker["metadata"]["name"] == f"runway-worker-{kind}"
        queue = consumed_queue(rendered, worker)
        assert queue.endswith(f".{kind}") or (kind == "default" and "." not in queue)


def test_rollout_steps_run_on_threads_and_the_rest_on_processes(rendered):
    for worker in workers(rendered):
        command = pod_spec(worker)["containers"][0]["command"]
        pool = next(arg for arg in command if arg.startswith("--pool="))
        concurrency = next(arg for arg in command if arg.startswith("--concurrency="))
        if worker["metadata"]["labels"]["runway/queue"] == "rollouts":
            env = {e["name"]: e.get("value") for e in pod_spec(worker)["containers"][0]["env"]}
            assert pool == "--pool=threads"
            # A database connection ready for each thread, as benchmarks/dispatch.py measures.
            assert concurrency == f"--concurrency={env['DATABASE_POOL_SIZE']}"
        else:
            assert pool == "--pool=prefork"
            # Unnamed, Celery would fork once per CPU of the node rather than of the pod.
            assert int(concurrency.split("=")[1]) <= 4


def test_each_workers_processes_share_their_metrics_on_a_scratch_directory(rendered):
    config = rendered.get("ConfigMap", "runway-config")["data"]
    for worker in workers(rendered):
        spec = pod_spec(worker)
        container = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == int(config["WORKER_METRICS_PORT"])
        annotations = worker["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == config["WORKER_METRICS_PORT"]


def test_the_rollout_threads_each_can_borrow_a_pooled_connection(rendered):
    worker = rendered.get("Deployment", "runway-worker-rollouts")
    container = pod_spec(worker)["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    threads = next(a for a in container["command"] if a.startswith("--concurrency="))
    assert env["DATABASE_POOL_SIZE"] == threads.split("=")[1]
