"""Real Celery worker processes for the integration tests, and the waits that watch them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection
from kombu import Connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_of_test_db() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def start_worker(
    *,
    broker_url: str,
    queue: str,
    log: Path,
    include: str = "",
    env: dict | None = None,
    name: str = "",
) -> subprocess.Popen:
    """A solo worker on a queue of its own, against the test database; its output goes to
    `log` (a pipe nobody reads would block it once full)."""
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo"]
    command += ["--without-gossip", "--without-mingle", "--loglevel=INFO"]
    command += ["-n", f"{name or queue}@%h"]
    if include:
        command += ["--include", include]
    with log.open("a") as output:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": database_url_of_test_db(),
                "CELERY_BROKER_URL": broker_url,
                "CELERY_QUEUE": queue,
                **(env or {}),
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def delete_queue(broker_url: str, queue: str) -> None:
    """Queues are durable: remove a test's own queue from the shared broker once it is done."""
    with Connection(broker_url, connect_timeout=2) as broker:
        broker.default_channel.queue_delete(queue)


def purge_queue(broker_url: str, queue: str) -> None:
    with Connection(broker_url, connect_timeout=2) as broker:
        broker.default_channel.queue_purge(queue)
