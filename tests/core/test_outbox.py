"""The outbox, against the real broker: tasks of committed changes go out once, tasks of rolled
back ones never, and a broker that is down delays them without failing the change. A private
redis-server plays the broker that goes down and comes back."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Role
from apps.core import outbox
from apps.core.models import OutboxMessage
from apps.core.tasks import outbox_flush_task
from apps.releases import services as release_services
from apps.releases.models import ApprovalPolicy, ApprovalRule, NotificationDelivery
from apps.releases.tasks import release_notify_task
from portal.celery import app
from tests.brokers import RedisServer, SilencedLink, publishing_to, routed

pytestmark = pytest.mark.django_db(transaction=True)

PING = "tests.outbox.ping"  # a task nobody runs: the tests read it off the queue
# A publish to a broker that is down gives up after one bounded attempt (0.5 s), where kombu's
# own retry loop would sleep 2 s, then 4 s: a bound between the two tells them apart, however
# busy the machine.
WITHOUT_RETRY_LOOP = 5.0


@pytest.fixture
def queue():
    """A queue of this test's own; the tasks these tests send are routed to it."""
    name = f"test-outbox-{uuid.uuid4().hex[:10]}"
    with routed({PING: name, "releases.notify": name}):
        yield name
    with app.connection_for_read() as broker:
        broker.default_channel.queue_delete(name)


@pytest.fixture
def private_broker():
    """A redis-server of this test's own that the test stops and starts; everything published
    goes there meanwhile."""
    server = RedisServer().start()
    with publishing_to(server.url):
        yield server
    server.kill()


def published(queue: str) -> list[tuple[str, list, dict]]:
    """Take every message off the queue: (task name, args, kwargs) of each."""
    taken = []
    with app.connection_for_read() as broker, broker.SimpleQueue(queue, no_ack=True) as messages:
        while True:
            try:
                message = messages.get(timeout=0.5)
            except messages.Empty:
                return taken
            args, kwargs, _ = message.decode()
            taken.append((message.headers["task"], args, kwargs))


def enqueue_committed(*args, **kwargs) -> float:
    """Enqueue in a transaction of its own; returns the seconds until it had committed."""
    started = time.monotonic()
    with transaction.atomic():
        outbox.enqueue(*args, **kwargs)
    return time.monotonic() - started


def test_a_task_of_a_rolled_back_transaction_is_neither_kept_nor_published(queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(PING, args=[1])
        raise RuntimeError("the change fails")
    assert not OutboxMessage.objects.exists()
    assert published(queue) == []


def test_a_committed_task_is_published_once_and_marked_sent(queue):
    enqueue_committed(PING, args=[1, "two"], kwargs={"three": 3})
    assert published(queue) == [(PING, [1, "two"], {"three": 3})]
    assert OutboxMessage.objects.get().sent_at is not None
    assert outbox.outbox_flush() == 0
    assert published(queue) == []


def test_a_transaction_s_tasks_go_out_in_order_in_one_pass_without_those_rolled_back(queue):
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        outbox.enqueue(PING, args=[1])
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.enqueue(PING, args=[2])
            raise RuntimeError("a savepoint rolled back")
        outbox.enqueue(PING, args=[3])
        outbox.enqueue(PING, args=[4])
    assert published(queue) == [(PING, [1], {}), (PING, [3], {}), (PING, [4], {})]
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    after_commit = [q["sql"] for q in queries.captured_queries]
    after_commit = after_commit[after_commit.index("COMMIT") + 1 :]
    assert sum(sql.startswith("UPDATE") for sql in after_commit) == 1  # all marked sent at once


def test_rows_of_one_task_in_a_row_are_published_together_in_their_order(queue, monkeypatch):
    other = "tests.outbox.pong"
    sends = []
    send_all = outbox._send_all
    monkeypatch.setattr(
        outbox, "_send_all", lambda task, calls: sends.append(len(calls)) or send_all(task, calls)
    )
    with routed({PING: queue, other: queue}), transaction.atomic():
        for task, n in [(PING, 1), (PING, 2), (other, 3), (PING, 4), (PING, 5), (PING, 6)]:
            outbox.enqueue(task, args=[n])
    assert [(task, args) for task, args, _ in published(queue)] == [
        (PING, [1]),
        (PING, [2]),
        (other, [3]),
        (PING, [4]),
        (PING, [5]),
        (PING, [6]),
    ]
    assert sends == [2, 1, 3]
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0


def test_enqueue_refuses_to_run_outside_a_transaction(queue):
    with pytest.raises(TransactionManagementError, match="inside the transaction"):
        outbox.enqueue(PING)
    assert not OutboxMessage.objects.exists()


def test_the_same_key_twice_makes_one_row_and_one_task(queue):
    with transaction.atomic():
        outbox.enqueue(PING, args=[1], key="ping:1")
        outbox.enqueue(PING, args=[1], key="ping:1")
    enqueue_committed(PING, args=[1], key="ping:1")  # and again, in a later transaction
    assert OutboxMessage.objects.count() == 1
    assert published(queue) == [(PING, [1], {})]


def test_while_the_broker_is_down_the_change_commits_at_once_and_its_task_waits(
    queue, private_broker
):
    enqueue_committed(PING, args=["before"])  # leaves a connection that goes stale below
    assert published(queue) == [(PING, ["before"], {})]

    private_broker.kill()
    assert enqueue_committed(PING, args=["during"]) < WITHOUT_RETRY_LOOP
    pending = OutboxMessage.objects.get(args=["during"])
    assert pending.sent_at is None
    assert outbox.outbox_flush() == 0  # beat's round while the broker is still down

    private_broker.start()
    assert outbox.outbox_flush() == 1
    assert outbox.outbox_flush() == 0
    assert published(queue) == [(PING, ["during"], {})]
    pending.refresh_from_db()
    assert pending.sent_at is not None


@pytest.fixture
def silenced_link(broker_url, queue):
    """Everything this process publishes goes to the broker through a link the test silences."""
    link = SilencedLink(broker_url)
    with publishing_to(link.url):
        yield link
        link.speak()
        with app.connection_for_read() as broker:
            broker.default_channel.queue_delete(queue)
    link.close()


def within(seconds: float, call):
    """What `call` returns, run in a thread of its own: failing, not hanging, after `seconds`."""
    result: list = []

    def run():
        try:
            result.append(call())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"still waiting after {seconds} s"
    return result[0]


# RabbitMQ confirms a publish with a frame of 21 bytes (7 of header, 13 of payload, an end byte);
# Redis answers in a few bytes. The broker still takes what the client sends.
@pytest.mark.parametrize("after", [0, 1, 8], ids=["silent", "one byte", "mid-payload"])
def test_a_broker_that_goes_silent_delays_the_task_not_the_commit(queue, silenced_link, after):
    def before_and_during() -> float:
        # One thread, one connection: the one the first publish opens and the second finds.
        enqueue_committed(PING, args=["before"])
        silenced_link.silence(after=after)
        # Giving up on the silent connection must not wait for the broker to answer a goodbye.
        return enqueue_committed(PING, args=["during"])

    assert within(30, before_and_during) < WITHOUT_RETRY_LOOP

    silenced_link.speak()
    within(30, outbox.outbox_flush)
    assert OutboxMessage.objects.get(args=["during"]).sent_at is not None
    # At least once: a publish the broker took but never confirmed goes out again.
    before, *during = [args for _, args, _ in published(queue)]
    assert before == ["before"]
    assert during and all(args == ["during"] for args in during)


def test_sending_quietly_says_false_at_once_when_the_broker_is_down(queue, private_broker):
    assert outbox.send_task_quietly(PING, args=[1]) is True
    private_broker.kill()
    started = time.monotonic()
    assert outbox.send_task_quietly(PING, args=[2], countdown=5) is False
    assert time.monotonic() - started < WITHOUT_RETRY_LOOP
    private_broker.start()
    assert outbox.send_task_quietly(PING, args=[3]) is True
    assert [args for _, args, _ in published(queue)] == [[3]]  # the restart lost [1]


def test_many_calls_sent_quietly_go_out_together_in_order(queue, broker_url):
    """On Redis in one pipeline, the batch visible at once; on RabbitMQ one after another."""
    calls = [([n, f"due-{n}"], 0) for n in range(30)]
    with publishing_to(broker_url):
        assert outbox.send_tasks_quietly(PING, calls) is True
        assert outbox.send_tasks_quietly(PING, []) is True
        taken = published(queue)
    assert [(task, args) for task, args, _ in taken] == [(PING, args) for args, _ in calls]


def test_many_calls_sent_quietly_say_false_at_once_when_the_broker_is_down(queue, private_broker):
    private_broker.kill()
    started = time.monotonic()
    assert outbox.send_tasks_quietly(PING, [([1], 0), ([2], 5)]) is False
    assert time.monotonic() - started < WITHOUT_RETRY_LOOP
    private_broker.start()
    assert outbox.send_tasks_quietly(PING, [([3], 0), ([4], 0)]) is True
    assert [args for _, args, _ in published(queue)] == [[3], [4]]


def test_two_flushers_at_once_publish_each_row_once(queue):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent flushers need PostgreSQL's row locks")
    OutboxMessage.objects.bulk_create(OutboxMessage(task_name=PING, args=[n]) for n in range(40))
    counts, start = [], threading.Barrier(2)

    def flusher():
        try:
            start.wait()
            while published_now := outbox.outbox_flush(limit=3):
                counts.append(published_now)
        finally:
            connection.close()

    threads = [threading.Thread(target=flusher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 40
    assert sorted(args[0] for _, args, _ in published(queue)) == list(range(40))
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def test_the_flush_task_forgets_rows_sent_over_a_day_ago_and_keeps_the_rest(queue):
    day_ago = timezone.now() - timedelta(days=1, minutes=1)
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(task_name=PING, args=["old"], sent_at=day_ago),
            OutboxMessage(task_name=PING, args=["recent"], sent_at=timezone.now()),
            OutboxMessage(task_name=PING, args=["pending"]),
        ]
    )
    assert outbox_flush_task.apply().get() == 1
    assert sorted(OutboxMessage.objects.values_list("args", flat=True)) == [
        ["pending"],
        ["recent"],
    ]
    assert published(queue) == [(PING, ["pending"], {})]


# --- Through the API --------------------------------------------------------------------------


@pytest.fixture
def one_approval(db):
    policy = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=1
    )
    return policy


def test_an_approval_while_the_broker_is_down_succeeds_and_notifies_once_it_is_back(
    queue, private_broker, api_client, make_release, developer, release_manager, one_approval
):
    release = release_services.release_submit(actor=developer, release=make_release())
    assert [args[1] for _, args, _ in published(queue)] == ["submitted"]

    private_broker.kill()
    api_client.force_login(release_manager)
    started = time.monotonic()
    response = api_client.post(f"/api/v1/releases/{release.pk}/approve/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "scheduled"
    assert time.monotonic() - started < WITHOUT_RETRY_LOOP
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 1

    private_broker.start()
    outbox_flush_task.apply()  # beat's next round
    outbox_flush_task.apply()  # and a worker starting: nothing goes out twice
    (notification,) = published(queue)
    name, args, kwargs = notification
    assert (name, args[:2]) == (release_notify_task.name, [release.pk, "approved"])
    for _ in range(2):  # a redelivered task sends nothing again
        release_notify_task.apply(args=args, kwargs=kwargs)
    assert [message.subject for message in mail.outbox] == [
        f"[Runway] {release} is approved and scheduled"
    ]
    deliveries = NotificationDelivery.objects.filter(release=release)
    assert sorted(deliveries.values_list("key", flat=True)) == [
        f"{args[2]}:approved:email",
        f"{args[2]}:approved:webhook",
    ]


def test_creating_and_submitting_while_the_broker_is_down_succeeds(
    queue, private_broker, api_client, developer, web, one_approval
):
    private_broker.kill()
    api_client.force_login(developer)
    start = timezone.now() + timedelta(days=2)
    response = api_client.post(
        "/api/v1/releases/",
        {
            "service": "web",
            "environment": "prod",
            "version": "registry/web:1.4.0",
            "title": "Faster checkout",
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=1)).isoformat(),
            "submit": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending_approval"
    (pending,) = OutboxMessage.objects.all()
    assert (pending.task_name, pending.args[1], pending.sent_at) == (
        "releases.notify",
        "submitted",
        None,
    )
