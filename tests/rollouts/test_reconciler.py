"""The reconciler sends overdue rollouts again, backing off as they grow later, so copies of one
hop never pile up in the queue while workers are away. The hops go to the real broker, on a
queue of this test's own."""

import uuid
from datetime import timedelta

import pytest

from apps.core import clock
from apps.rollouts import services
from apps.rollouts.models import Rollout, RolloutState
from apps.rollouts.tasks import rollout_advance_task
from portal.celery import app
from tests.brokers import routed
from tests.rollouts.builders import rollout_row

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hops():
    """Where this test's hops go; returns a function that takes them off: [(rollout, due)]."""
    name = f"test-reconcile-{uuid.uuid4().hex[:10]}"

    def taken() -> list[tuple[int, str]]:
        found = []
        with app.connection_for_read() as broker, broker.SimpleQueue(name, no_ack=True) as queue:
            while True:
                try:
                    message = queue.get(timeout=0.3)
                except queue.Empty:
                    return found
                found.append(tuple(message.decode()[0]))

    with routed({rollout_advance_task.name: name}):
        yield taken
    with app.connection_for_read() as broker:
        broker.default_channel.queue_delete(name)


@pytest.fixture
def overdue(web, prod, developer, move_clock):
    """A running rollout that fell due 30 s ago."""
    rollout = rollout_row(service=web, environment=prod, requester=developer, current_step=1)
    Rollout.objects.filter(pk=rollout.pk).update(next_run_at=clock.now() - timedelta(seconds=30))
    rollout.refresh_from_db()
    return rollout


def test_an_overdue_rollout_is_sent_again_each_time_it_has_grown_twice_as_late(
    overdue, hops, move_clock
):
    due = overdue.next_run_at.isoformat()
    assert services.rollouts_reconcile() == [overdue.pk]
    assert hops() == [(overdue.pk, due)]

    assert services.rollouts_reconcile() == []  # the next round, a moment later
    move_clock(20)  # 50 s late: not yet twice the 30 s it was
    assert services.rollouts_reconcile() == []
    move_clock(15)  # 65 s late
    assert services.rollouts_reconcile() == [overdue.pk]
    move_clock(50)  # 115 s late: the next copy waits until 130 s
    assert services.rollouts_reconcile() == []
    move_clock(20)
    assert services.rollouts_reconcile() == [overdue.pk]
    assert hops() == [(overdue.pk, due)] * 2


def test_a_long_lost_rollout_is_sent_again_at_least_every_five_minutes(overdue, hops, move_clock):
    move_clock(3600)
    assert services.rollouts_reconcile() == [overdue.pk]
    move_clock(301)
    assert services.rollouts_reconcile() == [overdue.pk]
    assert len(hops()) == 2


def test_rescheduling_starts_the_back_off_again(overdue, hops, move_clock, developer):
    services.rollouts_reconcile()
    services.rollout_pause(actor=developer, rollout=overdue)
    services.rollout_resume(actor=developer, rollout=overdue)  # due at once
    overdue.refresh_from_db()
    assert overdue.resend_after is None
    move_clock(21)
    assert services.rollouts_reconcile() == [overdue.pk]


def test_a_rollout_not_yet_late_or_not_running_is_left_alone(overdue, hops, web, prod, developer):
    Rollout.objects.filter(pk=overdue.pk).update(next_run_at=clock.now() - timedelta(seconds=5))
    done = rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.SUCCEEDED
    )
    Rollout.objects.filter(pk=done.pk).update(next_run_at=clock.now() - timedelta(hours=1))
    assert services.rollouts_reconcile() == []
    assert hops() == []
