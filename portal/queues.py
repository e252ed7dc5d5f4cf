"""Runway's Celery queues: each kind of work has its own, so a slow roll-up or a burst of
notifications never stands between a rollout and its next step.

Queue names derive from one base (CELERY_QUEUE, "runway" by default): `runway` for the rest,
`runway.rollouts`, `runway.notifications`, `runway.insights`. A worker started without `-Q`
consumes all of them (`make run`); at scale each queue gets workers of its own, the rollouts'
in a thread pool (their steps wait on Kubernetes), see deploy/kubernetes/."""

from kombu import Exchange, Queue

# kind -> the task names (or globs) routed to its queue; anything else goes to the base queue.
ROUTED = {
    "rollouts": ("rollouts.*", "releases.start_due"),
    "notifications": ("releases.notify", "core.outbox_flush"),
    "insights": ("insights.*",),
}


def queue_names(base: str) -> list[str]:
    return [base, *(f"{base}.{kind}" for kind in ROUTED)]


def task_queues(base: str) -> tuple[Queue, ...]:
    # As Celery would declare a queue it was sent to: a direct exchange of its own name.
    return tuple(Queue(name, Exchange(name), routing_key=name) for name in queue_names(base))


def task_routes(base: str) -> dict[str, dict[str, str]]:
    return {
        pattern: {"queue": f"{base}.{kind}"}
        for kind, patterns in ROUTED.items()
        for pattern in patterns
    }
