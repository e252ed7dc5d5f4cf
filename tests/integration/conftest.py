"""Shared by the worker tests: the brokers they run on (the configured Redis, then RabbitMQ),
the cluster simulator in its own process, and rollout workers on a queue of the test's own."""

import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection
from kombu import Connection

from tests.brokers import free_port, publishing_to, routed
from tests.integration.workers import (
    ROOT,
    delete_queue,
    purge_queue,
    start_worker,
    stop_worker,
    wait_for,
)

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def broker_answers(url: str) -> bool:
    try:
        with Connection(url, connect_timeout=2) as broker:
            broker.ensure_connection(max_retries=0)
    except Exception:
        return False
    return True


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request, settings) -> str:
    """Redis is the configured broker (CELERY_BROKER_URL; TEST_BROKER_URL in `make test`);
    RabbitMQ is at TEST_RABBITMQ_URL. A test on a broker that is not there is skipped, except
    under CI, where it fails."""
    if request.param == "redis":
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            pytest.skip(f"the configured broker is not Redis ({url}): set CELERY_BROKER_URL")
    else:
        url = RABBITMQ_URL
    if not broker_answers(url):
        if os.environ.get("CI"):
            pytest.fail(f"no {request.param} broker answers at {url}: CI has both brokers")
        pytest.skip(f"no {request.param} broker answers at {url}")
    return url


@pytest.fixture
def simulator(tmp_path):
    """The simulator in a process of its own; its requests are logged to
    `tmp_path / "simulator-requests.log"`."""
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(free_port()),
            "--ready-delay",
            "0.3",
            "--tick",
            "0.05",
            "--kubeconfig-out",
            str(kubeconfig),
            "--request-log",
            str(tmp_path / "simulator-requests.log"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_for(kubeconfig.exists, timeout=20), "the simulator did not start"
    yield kubeconfig
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def workers(simulator, settings, broker_url, tmp_path):
    """Start workers on a queue of this test's own, on each broker; every task this process
    sends is routed to it, on the same broker. `start(env={...})` adds to a worker's
    environment; each worker logs to `worker.log_path`. `start.purge()` empties the queue (of
    hops this process sent while it ran rollouts itself)."""
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a database they can share: PostgreSQL")
    queue = f"test-rollouts-{uuid.uuid4().hex[:10]}"
    settings.KUBECONFIG = str(simulator)
    base_env = {
        "KUBECONFIG": str(simulator),
        # Kubernetes gives up on a version that makes no progress for this long.
        "ROLLOUT_PROGRESS_DEADLINE_SECONDS": "3",
    }
    started = []

    def start(env: dict | None = None):
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = start_worker(
            broker_url=broker_url,
            queue=queue,
            log=log_path,
            env={**base_env, **(env or {})},
            name=f"{queue}-{len(started)}",
        )
        worker.log_path = log_path
        started.append(worker)
        return worker

    start.purge = lambda: purge_queue(broker_url, queue)
    with publishing_to(broker_url), routed({"*": queue}):
        yield start
    for worker in started:
        stop_worker(worker)
    delete_queue(broker_url, queue)
