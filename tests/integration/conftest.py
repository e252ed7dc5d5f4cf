"""Shared by the worker tests: the brokers they run on (the configured Redis, then RabbitMQ),
the cluster simulator in its own process, and rollout workers on a queue of the test's own."""

import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection
from kombu import Connection

from portal.celery import app
from tests.brokers import free_port, publishing_to
from tests.integration.workers import ROOT, database_url_of_test_db, delete_queue, wait_for

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
    RabbitMQ is at TEST_RABBITMQ_URL. A test on a broker that is not there is skipped."""
    if request.param == "redis":
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            pytest.skip(f"the configured broker is not Redis ({url}): set CELERY_BROKER_URL")
    else:
        url = RABBITMQ_URL
    if not broker_answers(url):
        pytest.skip(f"no {request.param} broker answers at {url}")
    return url


@pytest.fixture
def simulator(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apps.rollouts.simulator",
            "--port",
            str(free_port()),
            "--ready-delay",
            "0.3",
            "--tick",
            "0.05",
            "--kubeconfig-out",
            str(kubeconfig),
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
def workers(simulator, settings, broker_url):
    """Start workers on a queue of this test's own, on each broker; rollouts tasks are routed to
    it, and this process publishes to the same broker. `start(env={...})` adds to a worker's
    environment."""
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need a database they can share: PostgreSQL")
    queue = f"test-rollouts-{uuid.uuid4().hex[:10]}"
    settings.KUBECONFIG = str(simulator)
    previous_routes = app.conf.task_routes
    app.conf.task_routes = {"rollouts.*": {"queue": queue}}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    base_env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "KUBECONFIG": str(simulator),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": queue,
        # Kubernetes gives up on a version that makes no progress for this long.
        "ROLLOUT_PROGRESS_DEADLINE_SECONDS": "3",
    }
    started = []

    def start(env: dict | None = None):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
                "-n",
                f"{queue}-{len(started)}@%h",
            ],
            cwd=ROOT,
            env={**base_env, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(worker)
        return worker

    with publishing_to(broker_url):
        yield start
    for worker in started:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    app.conf.task_routes = previous_routes
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
    delete_queue(broker_url, queue)
