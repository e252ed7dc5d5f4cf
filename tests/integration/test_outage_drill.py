"""Drill: the broker is down for 30 s while people approve, request and start releases and
rollouts are under way. A private redis-server (kept on disk, as a production broker is) plays
the broker; a real worker runs the rollouts and sends the notifications, by e-mail to files and
by webhook to a server of the test's own. Nothing that was saved may answer 500, no release may
be made twice, every notification goes out exactly once, every rollout finishes, and every
finished release reaches the reports once."""

import email
import email.policy
import json
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Role
from apps.catalog.models import Environment
from apps.core import outbox
from apps.core.models import OutboxMessage
from apps.insights.models import DeploymentFact
from apps.releases import notifications
from apps.releases.models import ApprovalPolicy, ApprovalRule, Release, ReleaseState
from apps.releases.tasks import releases_due_start_task
from apps.rollouts import services
from apps.rollouts.models import Rollout, RolloutState
from tests.brokers import RedisServer
from tests.factories import ServiceFactory
from tests.integration.test_rollout_drills import ended, run_here, start_all
from tests.processes import wait_for
from tests.rollouts.executing import release_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 30
PLAN = {"steps": [{"set_weight": 50}, {"pause": {"seconds": 4}}, {"set_weight": 100}]}


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(directory=tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def broker_url(broker):
    """The workers fixture's broker: the private one, which this drill stops."""
    return broker.url


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((body["release"], body["event"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def emails_sent(directory) -> list[str]:
    """Subjects of the messages Django's file backend wrote (one file per connection, messages
    separated by a line of dashes)."""
    subjects = []
    for path in sorted(directory.glob("*.log")):
        for raw in path.read_bytes().split(b"-" * 79):
            if raw.strip():
                message = email.message_from_bytes(raw.strip(), policy=email.policy.default)
                subjects.append(message["Subject"].strip())
    return subjects


class Beat:
    """The test plays beat, each second: the outbox, due releases, dispatch and the reconciler,
    in this process (publishing to the private broker, failing quietly while it is down)."""

    def __init__(self):
        self.last = 0.0

    def __call__(self):
        if time.monotonic() - self.last < 1:
            return
        outbox.outbox_flush()
        releases_due_start_task()
        services.rollouts_dispatch()
        services.rollouts_reconcile(stale_after=timedelta(seconds=2))
        self.last = time.monotonic()


def answers(responses: list, response, label: str):
    responses.append((label, response.status_code))
    return response


def test_thirty_seconds_without_a_broker_lose_nothing_and_double_nothing(
    workers, broker, webhook, developer, release_manager, payments, tmp_path
):
    mail_dir = tmp_path / "mail"
    policy = ApprovalPolicy.objects.create(name="Staging", environment_kind="staging")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=1
    )
    fleet = []
    for index in range(4):
        service = ServiceFactory(
            name=f"out{index}", owner=payments, strategy="canary", strategy_params=PLAN
        )
        for order, (name, kind) in enumerate([("dev", "development"), ("stage", "staging")]):
            Environment.objects.create(
                service=service, name=name, kind=kind, order=order, namespace=name, replicas=2
            )
        fleet.append(service)
    # The version everything starts from, rolled out here before the worker starts.
    run_here(start_all(fleet, lambda i: "outage:1", developer))
    for service in fleet:
        release = release_of(service, "outage:1", env="stage", actor=developer)
        release.refresh_from_db()
        assert release.state == ReleaseState.PENDING_APPROVAL
    outbox.outbox_flush()

    worker = workers(
        env={
            # django-environ takes the path after a third slash: then an absolute one.
            "EMAIL_URL": f"filemail:///{mail_dir}",
            "RELEASE_WEBHOOK_URL": f"http://127.0.0.1:{webhook.server_port}/",
            "ROLLOUT_PROGRESS_DEADLINE_SECONDS": "60",
            "ROLLOUT_MAX_COUNTDOWN_SECONDS": "2",
        }
    )
    # Under way when the broker goes: two rollouts to dev, in their canary pause.
    in_flight = start_all(fleet[:2], lambda i: "outage:2", developer)
    assert wait_for(lambda: all(r.steps.filter(state="waiting").exists() for r in in_flight))

    manager, requester = Client(), Client()
    manager.force_login(release_manager)
    requester.force_login(developer)
    beat, responses, slowest = Beat(), [], 0.0
    broker.kill()
    went_down = time.monotonic()

    # Approvals in the browser: each starts a rollout at beat's next round.
    for release in Release.objects.filter(state=ReleaseState.PENDING_APPROVAL).order_by("pk"):
        started = time.monotonic()
        answers(
            responses, manager.post(f"/releases/{release.pk}/approve/", {"comment": "ok"}), "ok"
        )
        slowest = max(slowest, time.monotonic() - started)
        beat()
    # Create-and-submit in the browser, then "start now".
    requested = []
    for service in fleet[2:]:
        start = timezone.localtime() + timedelta(minutes=5)
        started = time.monotonic()
        response = requester.post(
            "/releases/new/",
            {
                "service": service.name,
                "environment": service.environments.get(name="dev").pk,
                "version": "outage:2",
                "title": "During the outage",
                "change_type": "normal",
                "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
                "planned_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                "submit": "1",
            },
        )
        answers(responses, response, "request")
        requested.append(int(response["Location"].strip("/").split("/")[-1]))
        answers(responses, requester.post(f"/rollouts/start/{requested[-1]}/"), "start")
        slowest = max(slowest, time.monotonic() - started)
        beat()
    while time.monotonic() - went_down < OUTAGE_SECONDS:
        assert worker.poll() is None, worker.log_path.read_text()[-3000:]
        beat()
        time.sleep(0.2)
    assert OutboxMessage.objects.filter(sent_at__isnull=True).exists()  # held back, not lost

    broker.start()
    came_back = time.monotonic()
    rollouts = Rollout.objects.filter(is_rollback=False)

    def settled() -> bool:
        beat()
        return (
            ended(list(rollouts))
            and not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
            and len(webhook.received)
            >= OutboxMessage.objects.filter(task_name="releases.notify").count()
        )

    assert wait_for(settled, timeout=120), worker.log_path.read_text()[-3000:]
    time.sleep(2)  # anything sent twice would arrive now

    assert {status for _, status in responses} == {302}, responses
    assert worker.poll() is None
    assert "Unrecoverable error" not in worker.log_path.read_text()
    assert Release.objects.filter(environment__name="dev", version="outage:2").count() == 4
    assert sorted(
        Release.objects.filter(title="During the outage").values_list("pk", flat=True)
    ) == (requested)
    assert set(rollouts.values_list("state", flat=True)) == {RolloutState.SUCCEEDED}
    assert rollouts.count() == 4 + 4 + 4  # the first versions, then four to dev, four to stage

    # Every transition's notification exactly once on each channel.
    expected = Counter(
        (message.args[0], message.args[1])
        for message in OutboxMessage.objects.filter(task_name="releases.notify")
    )
    assert max(expected.values()) == 1
    assert Counter(webhook.received) == expected
    releases = Release.objects.in_bulk([release_id for release_id, _ in expected])
    subjects = Counter(
        "[Runway] " + notifications.message(releases[release_id], event)[0]
        for release_id, event in expected
    )
    assert Counter(emails_sent(mail_dir)) == subjects
    assert {event for _, event in expected} >= {"submitted", "approved", "started", "finished"}
    # Every finished release reached the reports once, its recording held back like the rest.
    finished = {
        f"release/{pk}"
        for pk in Release.objects.filter(state="succeeded").values_list("pk", flat=True)
    }
    recorded = DeploymentFact.objects.filter(source="runway").values_list("external_id", flat=True)
    assert wait_for(lambda: sorted(recorded) == sorted(finished), timeout=30)
    assert len(finished) == rollouts.count()
    print(
        f"outage drill: broker down {OUTAGE_SECONDS} s, {len(responses)} requests answered "
        f"(slowest {slowest:.2f} s), {rollouts.count()} rollouts, {sum(expected.values())} "
        f"notifications, all settled {time.monotonic() - came_back:.1f} s after it came back"
    )
