"""One Celery worker Deployment per queue, each consuming the queue it is named for."""

from django.conf import settings

from tests.deploy.conftest import base_kustomization, pod_spec

QUEUES_ANNOTATION = "runway/celery-queues"


def declared_queues() -> list[str]:
    """The queues the base gives a worker each, listed once in its kustomization."""
    return base_kustomization()["metadata"]["annotations"][QUEUES_ANNOTATION].split(",")


def routed_queues(default_queue: str) -> set[str]:
    """The queues portal/settings.py sends tasks to. Until it routes any task to a queue of its
    own, the base's list stands in for the routes."""
    routes = getattr(settings, "CELERY_TASK_ROUTES", None)
    if not routes:
        return set(declared_queues())
    found = {default_queue}
    for route in routes.values() if isinstance(routes, dict) else routes:
        if isinstance(route, dict) and "queue" in route:
            found.add(route["queue"])
    return found


def worker_queues(rendered) -> dict[str, list[str]]:
    queues = {}
    for deployment in rendered.of_kind("Deployment"):
        command = pod_spec(deployment)["containers"][0]["command"]
        if command[:4] == ["celery", "-A", "portal", "worker"]:
            queues[deployment["metadata"]["name"]] = command[command.index("-Q") + 1].split(",")
    return queues


def test_each_queue_has_a_worker_of_its_own(rendered):
    queues = worker_queues(rendered)
    assert sorted(q for consumed in queues.values() for q in consumed) == sorted(declared_queues())
    for name, consumed in queues.items():
        assert name == f"runway-worker-{consumed[0]}"


def test_every_worker_consumes_a_queue_settings_send_tasks_to(rendered):
    default_queue = rendered.get("ConfigMap", "runway-config")["data"]["CELERY_QUEUE"]
    routed = routed_queues(default_queue)
    for name, consumed in worker_queues(rendered).items():
        assert set(consumed) <= routed, name


def test_the_default_queue_has_a_worker(rendered):
    """Every task settings route nowhere else goes to CELERY_QUEUE: someone must consume it."""
    default_queue = rendered.get("ConfigMap", "runway-config")["data"]["CELERY_QUEUE"]
    assert [default_queue] in worker_queues(rendered).values()


def test_rollout_steps_run_on_threads_and_the_rest_on_processes(rendered):
    for deployment in rendered.of_kind("Deployment"):
        command = pod_spec(deployment)["containers"][0]["command"]
        if "worker" not in command:
            continue
        pool = next(arg for arg in command if arg.startswith("--pool="))
        concurrency = next(arg for arg in command if arg.startswith("--concurrency="))
        if command[command.index("-Q") + 1] == "rollouts":
            assert (pool, concurrency) == ("--pool=threads", "--concurrency=16")
        else:
            assert pool == "--pool=prefork"
            # Unnamed, Celery would fork once per CPU of the node rather than of the pod.
            assert int(concurrency.split("=")[1]) <= 4
