"""Runway behind several web processes: the live status a browser follows on one process hears of
a change made through another, and a session and the cache are the same on both, since neither
lives in a process's memory (sessions in the database, the cache in Redis)."""

import http.client
import os
import queue
import threading

import pytest
from django.db import connection

from apps.accounts import services as account_services
from apps.catalog.models import Environment
from apps.rollouts import selectors
from apps.rollouts.models import Rollout, RolloutState
from portal import processes
from tests.brokers import free_port
from tests.factories import ServiceFactory
from tests.processes import database_url_of_test_db
from tests.rollouts.builders import rollout_row

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_web_processes(settings, tmp_path):
    """Two uvicorn processes on the test database, with the Redis the test process uses for
    live updates and Redis as their cache."""
    if connection.vendor != "postgresql":
        pytest.skip("web processes need a database they can share: PostgreSQL")
    redis_url = settings.LIVE_UPDATES_REDIS_URL
    if not redis_url:
        pytest.skip("live updates across processes need Redis (CELERY_BROKER_URL=redis://...)")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "LIVE_UPDATES_REDIS_URL": redis_url,
        "CACHE_URL": redis_url,
    }
    ports = [free_port(), free_port()]
    started = []
    try:
        for index, port in enumerate(ports):
            started.append(processes.web(port=port, env=env, log=tmp_path / f"web-{index}.log"))
        yield ports
    finally:
        for process in started:
            processes.stop(process, timeout=10)


def follow(port: int, path: str, cookie: str) -> "queue.Queue[str]":
    """Lines of an event stream on `port`, as they arrive; the first is the stream's retry hint,
    sent once the process listens for changes."""
    lines: queue.Queue[str] = queue.Queue()
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stream.request("GET", path, headers={"Cookie": cookie, "Accept": "text/event-stream"})
    response = stream.getresponse()
    assert response.status == 200, response.read()

    def read():
        try:
            while line := response.readline():
                lines.put(line.decode().rstrip("\n"))
        except OSError:
            pass

    threading.Thread(target=read, daemon=True).start()
    return lines


def next_event(lines: "queue.Queue[str]", timeout: float = 15) -> str:
    while True:
        line = lines.get(timeout=timeout)
        if line.startswith("event: "):
            return line.removeprefix("event: ")


def test_a_stream_on_one_web_process_hears_a_pause_made_through_another(
    two_web_processes, client, developer, payments
):
    """And the session made here is signed in on both (one test: each start costs seconds)."""
    watched_on, changed_on = two_web_processes
    service = ServiceFactory(name="two-webs", owner=payments)
    environment = Environment.objects.create(
        service=service, name="dev", kind="development", order=1
    )
    rollout = rollout_row(service=service, environment=environment, requester=developer)
    client.force_login(developer)  # a session in the database, valid on every process
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    since = selectors.rollout_version(rollout_id=rollout.pk)
    for port in two_web_processes:
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        page.request("GET", "/", headers={"Cookie": cookie})
        response = page.getresponse()
        assert response.status == 200, (port, response.status)  # not sent to sign in
        assert developer.display_name.encode() in response.read()

    lines = follow(watched_on, f"/rollouts/{rollout.pk}/stream/?since={since}", cookie)
    assert lines.get(timeout=15).startswith("retry: ")

    _, key = account_services.api_token_create(actor=developer, name="two webs")
    api = http.client.HTTPConnection("127.0.0.1", changed_on, timeout=30)
    api.request(
        "POST",
        f"/api/v1/rollouts/{rollout.pk}/pause/",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response = api.getresponse()
    assert response.status == 200, response.read()

    assert next_event(lines) == "changed"
    assert Rollout.objects.get(pk=rollout.pk).state == RolloutState.PAUSED
