"""A real Celery worker process, on each real broker, runs a task against the test database."""

import uuid

import pytest
from django.db import connection

from apps.core.models import OutboxMessage, WorkerHeartbeat
from portal.celery import app
from tests.processes import (  # noqa: F401 (database_url_of_test_db: shared)
    database_url_of_test_db,
    delete_queue,
    start_worker,
    stop_worker,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_queue(broker_url, tmp_path):
    """A worker on a queue of its own, so nothing else on the shared broker reaches it."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share: PostgreSQL")
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(broker_url=broker_url, queue=queue, log=tmp_path / "worker.log")
    yield queue
    stop_worker(worker)
    delete_queue(broker_url, queue)


def test_a_real_worker_runs_the_heartbeat_task(broker_url, worker_queue):
    with app.connection_for_write(broker_url) as broker:
        app.send_task("core.heartbeat", queue=worker_queue, connection=broker)
    assert wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith=worker_queue).exists()
    )
    beat = WorkerHeartbeat.objects.get(hostname__startswith=worker_queue)
    assert beat.beats == 1


def test_a_starting_worker_publishes_what_the_outbox_kept_while_the_broker_was_down(
    broker_url, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share: PostgreSQL")
    OutboxMessage.objects.create(task_name="core.heartbeat")  # its publishing failed
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_worker(broker_url=broker_url, queue=queue, log=tmp_path / "worker.log")
    try:
        assert wait_for(lambda: WorkerHeartbeat.objects.filter(hostname__startswith=queue).exists())
        assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    finally:
        stop_worker(worker)
        delete_queue(broker_url, queue)


def test_the_worker_is_configured_for_reliable_delivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_serializer == "json"
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_connection_max_retries is None  # outlives any broker outage
    flush = app.conf.beat_schedule["outbox-flush"]
    assert flush["task"] == "core.outbox_flush" and flush["schedule"] <= 10
