"""Hops someone waits for (a rollout's start, a promote, a resume, a rollback) are prompt: on
Redis they go ahead of the next steps and polls of rollouts already running, so a burst of
starts reaches the cluster without queueing behind everything those rollouts still do."""

import uuid

import pytest

from apps.core import outbox
from apps.rollouts import services
from apps.rollouts.models import RolloutState
from apps.rollouts.tasks import rollout_advance_task
from portal.celery import app
from tests.brokers import routed
from tests.rollouts.executing import drive, release_of


@pytest.fixture
def sent(monkeypatch):
    """The hops published, as (rollout id, priority), once their transaction commits."""
    hops = []
    send = outbox.send_task_quietly

    def spy(task_name, *, args=(), countdown=0, priority=None):
        if task_name == rollout_advance_task.name:
            hops.append((args[0], priority))
        return send(task_name, args=args, countdown=countdown, priority=priority)

    monkeypatch.setattr(outbox, "send_task_quietly", spy)
    return hops


@pytest.mark.django_db
def test_a_start_a_promote_and_a_rollback_are_prompt_the_steps_between_are_not(
    cluster, shop, developer, sent, django_capture_on_commit_callbacks
):
    params = {"steps": [{"set_weight": 50}, {"pause": {}}, {"set_weight": 100}]}
    service = shop("canary", params)
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        rollout = services.rollout_start(
            actor=developer, release=release_of(service, "shop:2", actor=developer)
        )
    assert sent[-1] == (rollout.pk, None)  # the start: prompt
    with django_capture_on_commit_callbacks(execute=True):
        services.rollout_advance(rollout.pk)
    assert sent[-1] == (rollout.pk, services.LATER_HOP_PRIORITY)  # its next step
    rollout = drive(rollout)
    assert rollout.state == RolloutState.PAUSED
    with django_capture_on_commit_callbacks(execute=True):
        services.rollout_promote(actor=developer, rollout=rollout)
    assert sent[-1] == (rollout.pk, None)
    rollout = drive(rollout)
    assert rollout.state == RolloutState.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        rollback = services.rollout_rollback(actor=developer, rollout=rollout, reason="latency")
    assert sent[-1] == (rollback.pk, None)


def test_on_redis_a_prompt_hop_is_taken_before_later_hops_sent_earlier(settings):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("priorities are Redis's")
    queue = f"test-hops-{uuid.uuid4().hex[:10]}"
    with routed({rollout_advance_task.name: queue}):
        for rollout_id in (1, 2):
            outbox.send_task_quietly(
                rollout_advance_task.name,
                args=[rollout_id, "due"],
                priority=services.LATER_HOP_PRIORITY,
            )
        outbox.send_task_quietly(rollout_advance_task.name, args=[3, "due"])
        taken = []
        with app.connection_for_read() as broker, broker.SimpleQueue(queue, no_ack=True) as hops:
            for _ in range(3):
                args, _kwargs, _ = hops.get(timeout=5).decode()
                taken.append(args[0])
            broker.default_channel.queue_delete(queue)
    assert taken == [3, 1, 2]
