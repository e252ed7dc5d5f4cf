"""Drills: the broker goes away under a worker that holds a delayed task, then comes back. The
worker must stay up, and every task, the delayed one included, must run exactly once."""

import shutil
import subprocess
import time
import uuid

import pytest
from django.db import connection

from portal.celery import app
from tests.brokers import RedisServer
from tests.processes import RABBITMQ_URL, broker_answers, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 6  # how long Redis stays down
DELAY_SECONDS = OUTAGE_SECONDS + 2  # the delayed task falls due once the broker is back


class Drill:
    """A worker on a queue of its own, running tests.drill.record (each run is a line)."""

    def __init__(self, broker_url: str, tmp_path):
        if connection.vendor != "postgresql":
            pytest.skip("the worker process needs a database it can share: PostgreSQL")
        self.broker_url = broker_url
        self.queue = f"test-drill-{uuid.uuid4().hex[:10]}"
        self.runs = tmp_path / "runs"
        self.runs.touch()
        self.log = tmp_path / "worker.log"
        self.worker = start_worker(
            broker_url=broker_url,
            queue=self.queue,
            log=self.log,
            include="tests.integration.drill_tasks",
        )

    def send(self, token: str, countdown: float | None = None) -> str:
        with app.connection_for_write(self.broker_url) as broker:
            result = app.send_task(
                "tests.drill.record",
                args=[str(self.runs), token],
                queue=self.queue,
                countdown=countdown,
                connection=broker,
            )
        return result.id

    def ran(self) -> list[str]:
        return self.runs.read_text().split()

    def received(self, task_id: str) -> bool:
        return f"[{task_id}] received" in self.log.read_text()

    def alive(self) -> bool:
        return self.worker.poll() is None

    def output(self) -> str:
        return self.log.read_text()[-5000:]

    def hold_a_delayed_task(self) -> None:
        """Two tasks run, a third waits in the worker, unacknowledged, until it is due. Its
        countdown starts once the worker is seen working: a worker slow to start on a busy
        machine would otherwise get it already due, and run it before the broker goes."""
        self.send("first")
        self.send("second")
        assert wait_for(lambda: {"first", "second"} <= set(self.ran()), timeout=60), self.output()
        delayed = self.send("delayed", countdown=DELAY_SECONDS)
        assert wait_for(lambda: self.received(delayed), timeout=DELAY_SECONDS / 2), self.output()

    def stop(self) -> None:
        stop_worker(self.worker)


def test_a_worker_outlives_a_redis_restart_and_runs_every_task_once(tmp_path):
    redis = RedisServer(directory=tmp_path / "redis").start()
    drill = Drill(redis.url, tmp_path)
    try:
        drill.hold_a_delayed_task()
        started = time.monotonic()
        redis.kill()
        time.sleep(OUTAGE_SECONDS)
        assert drill.alive(), drill.output()
        redis.start()
        drill.send("after")

        def settled():
            with redis.client() as client:
                idle = client.llen(drill.queue) == 0 and client.hlen("unacked") == 0
            return idle and len(drill.ran()) >= 4

        assert wait_for(settled, timeout=DELAY_SECONDS + 60), drill.output()
        assert drill.alive(), drill.output()
        assert sorted(drill.ran()) == ["after", "delayed", "first", "second"], drill.output()
        print(f"redis drill: outage {OUTAGE_SECONDS} s, all ran {time.monotonic() - started:.1f} s")
    finally:
        drill.stop()
        redis.kill()


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


@pytest.fixture
def rabbitmq_vhost():
    """A virtual host of this test's own: its connections can be closed without touching
    anyone else's on the shared RabbitMQ."""
    if not shutil.which("rabbitmqctl") or not broker_answers(RABBITMQ_URL):
        pytest.skip("the RabbitMQ drill needs a local RabbitMQ and rabbitmqctl")
    vhost = f"test-drill-{uuid.uuid4().hex[:10]}"
    try:
        rabbitmqctl("add_vhost", vhost)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"rabbitmqctl cannot manage this RabbitMQ: {exc}")
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield vhost
    rabbitmqctl("delete_vhost", vhost)


def test_a_worker_outlives_its_rabbitmq_connections_closing_and_runs_every_task_once(
    tmp_path, rabbitmq_vhost
):
    base = RABBITMQ_URL.rstrip("/")
    drill = Drill(f"{base}/{rabbitmq_vhost}", tmp_path)
    try:
        drill.hold_a_delayed_task()
        started = time.monotonic()
        rabbitmqctl("close_all_connections", "--vhost", rabbitmq_vhost, "broker drill")
        drill.send("after")

        def settled():
            counts = rabbitmqctl(
                "list_queues", "--no-table-headers", "-p", rabbitmq_vhost, "messages"
            )
            idle = all(count == "0" for count in counts.split())
            return idle and len(drill.ran()) >= 4

        assert wait_for(settled, timeout=DELAY_SECONDS + 60), drill.output()
        assert drill.alive(), drill.output()
        assert sorted(drill.ran()) == ["after", "delayed", "first", "second"], drill.output()
        print(f"rabbitmq drill: all ran {time.monotonic() - started:.1f} s after the close")
    finally:
        drill.stop()
