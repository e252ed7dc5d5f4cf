"""Periodic tasks are sent once per period however many beats run (apps/core/beat.py): two real
Celery schedulers race for the same entries and publish to the real broker."""

import threading
import uuid
from datetime import timedelta

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import crontab, schedule
from django.db import connections
from django.utils import timezone

from apps.core.beat import ClaimingScheduler, claim, claim_window
from apps.core.models import BeatClaim
from portal.celery import app
from tests.brokers import routed
from tests.core.test_outbox import published

pytestmark = pytest.mark.django_db(transaction=True)

PING = "tests.beat.ping"  # a task nobody runs: the tests read it off the queue


@pytest.fixture
def queue():
    name = f"test-beat-{uuid.uuid4().hex[:10]}"
    with routed({PING: name}):
        yield name
    with app.connection_for_read() as broker:
        broker.default_channel.queue_delete(name)


def beat(tmp_path, name: str) -> ClaimingScheduler:
    return ClaimingScheduler(app, schedule_filename=str(tmp_path / f"{name}-schedule"))


def entry(every: float = 60) -> ScheduleEntry:
    return ScheduleEntry(name="ping-every-minute", task=PING, schedule=schedule(every), app=app)


def test_a_period_is_claimed_once_and_claimed_again_once_it_has_passed():
    window = timedelta(seconds=54)
    assert claim("audit-seal", window) is True
    assert claim("audit-seal", window) is False
    assert claim("audit-checkpoint", window) is True  # another entry, another claim

    BeatClaim.objects.filter(name="audit-seal").update(
        claimed_at=timezone.now() - timedelta(seconds=55)
    )
    assert claim("audit-seal", window) is True
    assert claim("audit-seal", window) is False


def test_a_claim_holds_for_most_of_an_interval_and_a_minute_of_a_crontab():
    assert claim_window(schedule(10)) == timedelta(seconds=9)
    assert claim_window(schedule(timedelta(hours=1))) == timedelta(minutes=54)
    assert claim_window(crontab(minute=30, hour=2)) == timedelta(seconds=50)


def test_two_beats_ticking_at_once_send_a_due_task_once(tmp_path, queue):
    beats = [beat(tmp_path, "a"), beat(tmp_path, "b")]
    start = threading.Barrier(len(beats))
    sent = []

    def tick(scheduler):
        try:
            start.wait(timeout=10)
            with app.producer_or_acquire() as producer:
                sent.append(scheduler.apply_async(entry(), producer=producer))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick, args=(b,)) for b in beats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(sent) == 2
    assert sum(result is not None for result in sent) == 1
    assert [name for name, _, _ in published(queue)] == [PING]


def test_the_next_period_is_sent_again_by_whichever_beat_is_first(tmp_path, queue):
    first, second = beat(tmp_path, "a"), beat(tmp_path, "b")
    with app.producer_or_acquire() as producer:
        assert first.apply_async(entry(), producer=producer) is not None
        assert second.apply_async(entry(), producer=producer) is None
        BeatClaim.objects.update(claimed_at=timezone.now() - timedelta(minutes=1))
        assert second.apply_async(entry(), producer=producer) is not None
        assert first.apply_async(entry(), producer=producer) is None

    assert [name for name, _, _ in published(queue)] == [PING, PING]


def test_runway_beat_uses_the_claiming_scheduler():
    assert app.conf.beat_scheduler == "apps.core.beat:ClaimingScheduler"
