"""Work kinds on queues of their own (portal/queues.py): a worker on the rollouts queue alone, in a
thread pool as deployed at scale, runs concurrent rollouts to the end, each step once, and leaves
other work to the workers of other queues."""

import uuid

import pytest
from django.db import connection

from apps.core.models import WorkerHeartbeat
from apps.rollouts.models import RolloutEvent, RolloutState
from portal.celery import app
from portal.queues import ROUTED
from tests.brokers import publishing_to, routed
from tests.integration.test_rollout_worker import service_with, start_release, state_of
from tests.processes import delete_queue, start_worker, stop_worker, wait_for
from tests.rollouts.executing import finishes

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROLLOUTS = 6


def routes_of(base: str) -> dict[str, str]:
    """This test's own copy of Runway's routes: every kind to `<base>.<kind>`, the rest to base."""
    routes = {
        pattern: f"{base}.{kind}" for kind, patterns in ROUTED.items() for pattern in patterns
    }
    return {**routes, "*": base}


def test_a_thread_pool_worker_on_the_rollouts_queue_runs_concurrent_rollouts_each_step_once(
    broker_url, simulator, settings, developer, payments, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a database they can share: PostgreSQL")
    base = f"test-queues-{uuid.uuid4().hex[:10]}"
    settings.KUBECONFIG = str(simulator)
    worker = start_worker(
        broker_url=broker_url,
        queue=base,
        log=tmp_path / "worker.log",
        env={"KUBECONFIG": str(simulator)},
        pool="threads",
        concurrency=8,
        queues=f"{base}.rollouts",
    )
    try:
        with publishing_to(broker_url), routed(routes_of(base)):
            with app.connection_for_write(broker_url) as broker:
                app.send_task("core.heartbeat", connection=broker)  # to the base queue
            rollouts = [
                start_release(
                    service_with("rolling", {}, payments, name=f"q-{i}"), "q:1", developer
                )
                for i in range(ROLLOUTS)
            ]
            assert wait_for(
                lambda: all(state_of(r) == RolloutState.SUCCEEDED for r in rollouts), timeout=90
            ), [state_of(r) for r in rollouts]
    finally:
        stop_worker(worker)
        delete_queue(broker_url, base)

    for rollout in rollouts:
        assert len(finishes(rollout.release_id)) == 1
        transitions = rollout.events.filter(kind=RolloutEvent.Kind.TRANSITION)
        states = list(transitions.values_list("to_state", flat=True))
        assert len(states) == len(set(states)), states
    # The heartbeat waited on the base queue: no worker of the rollouts queue took it.
    assert not WorkerHeartbeat.objects.filter(hostname__startswith=base).exists()
