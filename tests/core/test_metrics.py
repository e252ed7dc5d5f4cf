"""/metrics for Prometheus (apps/core/metrics.py): off without a token, refused with a wrong one,
and with the right one the installation's state (rollouts by state, the outbox backlog, queue
depths on the real broker) beside each process's own figures (request latency per view, task
durations from a real worker)."""

import uuid
from urllib.request import urlopen

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from apps.catalog.models import Environment
from apps.core.models import OutboxMessage
from apps.rollouts.models import RolloutState
from portal.celery import app
from tests.brokers import free_port, routed
from tests.factories import ServiceFactory
from tests.processes import delete_queue, start_worker, stop_worker, wait_for
from tests.rollouts.builders import rollout_row

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests-0123456789"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return samples(response.content.decode())

    return scrape


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization", ["", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
def test_metrics_refuse_a_scraper_without_the_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"runway_" not in response.content


def test_metrics_count_rollouts_by_state_and_the_outbox_backlog_in_two_queries(
    scrape, developer, payments, django_assert_max_num_queries
):
    states = [RolloutState.RUNNING] * 3 + [RolloutState.PAUSED] + [RolloutState.SUCCEEDED] * 2
    for index, state in enumerate(states):  # a service each: one active rollout per environment
        service = ServiceFactory(name=f"metrics-{index}", owner=payments)
        environment = Environment.objects.create(
            service=service, name="dev", kind="development", order=1
        )
        rollout_row(service=service, environment=environment, requester=developer, state=state)
    OutboxMessage.objects.create(task_name="core.heartbeat")
    OutboxMessage.objects.create(task_name="core.heartbeat")
    sent = OutboxMessage.objects.create(task_name="core.heartbeat")
    OutboxMessage.objects.filter(pk=sent.pk).update(sent_at=sent.created_at)

    with django_assert_max_num_queries(2):
        figures = scrape()

    assert figures[("runway_rollouts", (("state", "running"),))] == 3
    assert figures[("runway_rollouts", (("state", "paused"),))] == 1
    assert figures[("runway_rollouts", (("state", "succeeded"),))] == 2
    assert figures[("runway_rollouts", (("state", "rolled_back"),))] == 0
    assert figures[("runway_outbox_backlog", ())] == 2


def test_metrics_give_each_queue_its_depth_on_either_broker(scrape, settings, broker_url):
    base = f"test-metrics-{uuid.uuid4().hex[:10]}"
    settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_BROKER_URL = base, broker_url
    rollouts, notifications = f"{base}.rollouts", f"{base}.notifications"
    try:
        routes = {"tests.metrics.step": rollouts, "tests.metrics.notice": notifications}
        with routed(routes), app.connection_for_write(broker_url) as broker:
            for _ in range(3):
                app.send_task("tests.metrics.step", connection=broker)
            app.send_task("tests.metrics.notice", connection=broker)
        figures = scrape()
    finally:
        delete_queue(broker_url, base)

    assert figures[("runway_queue_depth", (("queue", rollouts),))] == 3
    assert figures[("runway_queue_depth", (("queue", notifications),))] == 1
    assert figures[("runway_queue_depth", (("queue", f"{base}.insights"),))] == 0
    assert figures[("runway_queue_depth", (("queue", base),))] == 0


def test_metrics_time_requests_per_view(scrape, client):
    before = scrape().get(healthz_count(), 0)
    client.get("/healthz")
    client.get("/healthz")
    assert scrape()[healthz_count()] == before + 2


def healthz_count():
    return (
        "django_http_requests_latency_seconds_by_view_method_count",
        (("method", "GET"), ("view", "healthz")),
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_a_worker_serves_the_durations_of_the_tasks_it_ran(broker_url, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share: PostgreSQL")
    queue, port = f"test-metrics-{uuid.uuid4().hex[:10]}", free_port()
    worker = start_worker(
        broker_url=broker_url,
        queue=queue,
        log=tmp_path / "worker.log",
        env={"WORKER_METRICS_PORT": str(port)},
    )
    count = ("runway_task_duration_seconds_count", (("task", "core.heartbeat"),))
    try:
        with app.connection_for_write(broker_url) as broker:
            for _ in range(2):
                app.send_task("core.heartbeat", queue=queue, connection=broker)
        assert wait_for(lambda: worker_figures(port).get(count) == 2, timeout=60), (
            tmp_path / "worker.log"
        ).read_text()[-2000:]
    finally:
        stop_worker(worker)
        delete_queue(broker_url, queue)


def worker_figures(port: int) -> dict:
    try:
        with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return samples(response.read().decode())
    except OSError:
        return {}
