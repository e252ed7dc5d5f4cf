"""Real processes for the tests that need them (the drills, the browser's live rollouts): the
brokers they run on (the configured Redis, then RabbitMQ), the cluster simulator in its own
process, Celery workers on a queue of the test's own, and the waits that watch them. Workers and
the simulator are started by portal/processes.py, as the benchmark starts them."""

import os
import socket
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from kombu import Connection

from portal import processes
from portal.celery import app
from portal.queues import queue_names
from tests.brokers import free_port, publishing_to, routed

ROOT = processes.ROOT
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
# How often the tests' rollouts ask the simulator how a change goes (ROLLOUT_POLL_MILLISECONDS).
POLL_MILLISECONDS = 250


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
    **options,
):
    """A solo worker on a queue of its own, against the test database; it logs to `log`.
    `options` go to portal.processes.celery_worker (concurrency, pool, queues)."""
    return processes.celery_worker(
        log=log,
        name=name or queue,
        include=include,
        **options,
        env={
            **os.environ,
            "DATABASE_URL": database_url_of_test_db(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_QUEUE": queue,
            **(env or {}),
        },
    )


stop_worker = processes.stop


def delete_queue(broker_url: str, queue: str, *others: str) -> None:
    """Queues are durable: remove a test's own queues (the base and those named after it, which
    its workers declare, and `others`) from the shared broker once it is done."""
    with Connection(broker_url, connect_timeout=2) as broker:
        for name in [*queue_names(queue), *others]:
            broker.default_channel.queue_delete(name)


def purge_queue(broker_url: str, queue: str) -> None:
    """Tests route every task to the base queue (`routed({"*": queue})`): that one holds them."""
    with Connection(broker_url, connect_timeout=2) as broker:
        broker.default_channel.queue_purge(queue)


def take_over(worker, queue: str) -> None:
    """Have a standby worker, once booted, consume the test's queues (Celery's remote control
    `add_consumer`, sent through the broker this process publishes to)."""
    assert wait_for(lambda: "ready." in worker.log_path.read_text(), timeout=120), (
        worker.log_path.read_text()[-2000:]
    )
    for name in queue_names(queue):
        # A broadcast before the worker's control channel listens is lost: ask again.
        for _ in range(5):
            replies = app.control.add_consumer(
                name, destination=[worker.node], reply=True, timeout=5
            )
            if replies:
                break
        assert replies and "ok" in next(iter(replies[0].values())), replies


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
    under CI, where it fails. A test that needs one broker only narrows the parameter:
    `@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)`."""
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
    """The simulator's kubeconfig; its requests are logged to
    `tmp_path / "simulator-requests.log"`."""
    process = processes.simulator(
        kubeconfig=tmp_path / "kubeconfig",
        port=free_port(),
        tick=0.05,
        ready_delay=0.3,
        request_log=tmp_path / "simulator-requests.log",
        log=tmp_path / "simulator.log",
    )
    yield tmp_path / "kubeconfig"
    processes.stop(process, timeout=10)


@pytest.fixture
def workers(simulator, settings, broker_url, tmp_path):
    """Start workers on a queue of this test's own, on each broker; every task this process
    sends is routed to it, on the same broker. `start(env={...})` adds to a worker's
    environment; each worker logs to `worker.log_path`. `start.purge()` empties the queue (of
    hops this process sent while it ran rollouts itself). `start.standby(env)` boots a worker
    that waits, and `start.take_over(worker)` has it consume the queue."""
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a database they can share: PostgreSQL")
    queue = f"test-rollouts-{uuid.uuid4().hex[:10]}"
    settings.KUBECONFIG = str(simulator)
    base_env = {
        "KUBECONFIG": str(simulator),
        # Kubernetes gives up on a version that makes no progress for this long.
        "ROLLOUT_PROGRESS_DEADLINE_SECONDS": "3",
        "ROLLOUT_POLL_MILLISECONDS": str(POLL_MILLISECONDS),
    }
    started, idle_queues = [], []

    def start(env: dict | None = None, **options):
        log_path = tmp_path / f"worker-{len(started)}.log"
        name = f"{queue}-{len(started)}"
        worker = start_worker(
            broker_url=broker_url,
            queue=queue,
            log=log_path,
            env={**base_env, **(env or {})},
            name=name,
            **options,
        )
        worker.log_path, worker.node = log_path, f"{name}@{socket.gethostname()}"
        started.append(worker)
        return worker

    def standby(env: dict | None = None):
        """A worker that boots now but takes no task until `take_over(worker)`: a drill's next
        worker, there the moment the one before it is killed (a boot takes seconds)."""
        idle = f"{queue}.standby-{len(started)}"
        idle_queues.append(idle)
        return start(env, queues=idle)

    start.purge = lambda: purge_queue(broker_url, queue)
    start.standby = standby
    start.take_over = lambda worker: take_over(worker, queue)
    with publishing_to(broker_url), routed({"*": queue}):
        yield start
    for worker in started:
        stop_worker(worker)
    delete_queue(broker_url, queue, *idle_queues)
