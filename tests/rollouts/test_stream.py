"""The live stream, read through Django's AsyncClient: each test is a sync test that runs one
async scenario, so the stream's database reads share the test's transaction."""

import asyncio
import time
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.test import AsyncClient

from apps.rollouts import live, selectors, stream
from tests.brokers import RedisServer
from tests.rollouts.builders import rollout_row

TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _own_channel(monkeypatch):
    # Redis pub/sub channels are server-wide: another test run must not wake these streams.
    monkeypatch.setattr(live, "CHANNEL", f"runway:rollouts:test-{uuid.uuid4().hex}")


@pytest.fixture
def polling(settings, monkeypatch):
    settings.LIVE_UPDATES_REDIS_URL = ""
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.05)


@pytest.fixture
def rollout(web, prod, developer):
    return rollout_row(service=web, environment=prod, requester=developer)


@pytest.fixture
def other(web, developer):
    return rollout_row(
        service=web, environment=web.environments.get(name="dev"), requester=developer
    )


@pytest.fixture
def announce(django_capture_on_commit_callbacks):
    """live.announce as a service calls it, its transaction then committed."""

    def announce_committed(rollout_id):
        with django_capture_on_commit_callbacks(execute=True):
            live.announce(rollout_id)

    return sync_to_async(announce_committed)


@sync_to_async
def touch(rollout):
    """A change the polling stream notices: the rollout row is saved, as every service does."""
    rollout.current_step += 1
    rollout.save()


async def open_stream(user, url):
    client = AsyncClient()
    if user is not None:
        await client.aforce_login(user)
    return client, await client.get(url)


async def next_event(chunks, name: str, timeout: float = TIMEOUT) -> list[str]:
    """The chunks read up to and including the first event called `name`."""
    seen = []

    async def read():
        while True:
            seen.append((await anext(chunks)).decode())
            if f"event: {name}\n" in seen[-1]:
                return seen

    return await asyncio.wait_for(read(), timeout)


def run(scenario):
    async_to_sync(scenario)()


@pytest.mark.django_db
def test_the_stream_is_an_event_stream_that_proxies_pass_on(developer, rollout):
    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/{rollout.pk}/stream/")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        assert response["X-Accel-Buffering"] == "no"
        chunks = aiter(response.streaming_content)
        first = (await anext(chunks)).decode()
        assert (
            first.startswith("retry: ") and f"\nid: {selectors.rollout_stamp(rollout)}\n" in first
        )
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
def test_a_change_announced_through_redis_reaches_the_stream(developer, rollout, other, announce):
    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/{rollout.pk}/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)  # subscribed: the first chunk is sent after subscribing
        await announce(other.pk)  # another rollout: not this page's business
        await announce(rollout.pk)
        seen = await next_event(chunks, "changed")
        assert seen[-1].endswith(f"event: changed\ndata: {rollout.pk}\n\n")
        assert sum("event: changed" in chunk for chunk in seen) == 1
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
def test_without_redis_the_stream_polls_the_rollout(developer, rollout, polling):
    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/{rollout.pk}/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        await touch(rollout)
        seen = await next_event(chunks, "changed")
        assert f"id: {selectors.rollout_stamp(rollout)}\n" in seen[-1]
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
@pytest.mark.parametrize("feed", ["redis", "polling"])
def test_the_list_stream_says_when_any_rollout_changes(
    developer, rollout, other, announce, feed, request
):
    if feed == "polling":
        request.getfixturevalue("polling")

    async def scenario():
        _, response = await open_stream(developer, "/rollouts/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        await touch(other)
        await announce(other.pk)
        seen = await next_event(chunks, "changed")
        assert "data: rollouts\n" in seen[-1]
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
def test_a_page_older_than_the_rollout_is_told_at_once(developer, rollout):
    rendered = selectors.rollout_stamp(rollout)
    rollout.save()  # changed after the page was rendered, before it connected

    async def scenario():
        url = f"/rollouts/{rollout.pk}/stream/?since={rendered}"
        _, response = await open_stream(developer, url)
        chunks = aiter(response.streaming_content)
        seen = await next_event(chunks, "changed", timeout=1)
        assert len(seen) == 2  # the retry hint, then at once the change
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
def test_a_current_page_is_not_told_anything_on_reconnecting(developer, rollout, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.2)

    async def scenario():
        client = AsyncClient()
        await client.aforce_login(developer)
        response = await client.get(
            f"/rollouts/{rollout.pk}/stream/",
            headers={"Last-Event-ID": selectors.rollout_stamp(rollout)},
        )
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        assert (await asyncio.wait_for(anext(chunks), TIMEOUT)).decode() == ": ping\n\n"
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
def test_the_heartbeat_keeps_a_signed_in_stream_open(developer, rollout, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.1)

    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/{rollout.pk}/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        for _ in range(3):
            assert (await asyncio.wait_for(anext(chunks), TIMEOUT)).decode() == ": ping\n\n"
        await chunks.aclose()

    run(scenario)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/rollouts/{pk}/stream/", "/rollouts/stream/"])
def test_after_signing_out_the_stream_says_so_and_ends(developer, rollout, monkeypatch, url):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.1)

    async def scenario():
        client, response = await open_stream(developer, url.format(pk=rollout.pk))
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        await client.alogout()
        seen = await next_event(chunks, "signed-out")
        assert seen[-1] == "event: signed-out\ndata: Signed out\n\n"
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(chunks), TIMEOUT)

    run(scenario)


@pytest.mark.django_db
def test_a_deactivated_user_is_signed_out_of_the_stream(developer, rollout, monkeypatch):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.1)

    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/{rollout.pk}/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        developer.is_active = False
        await developer.asave()
        assert "event: signed-out" in (await next_event(chunks, "signed-out"))[-1]

    run(scenario)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/rollouts/{pk}/stream/", "/rollouts/stream/"])
def test_an_anonymous_request_gets_no_stream(rollout, url):
    async def scenario():
        _, response = await open_stream(None, url.format(pk=rollout.pk))
        assert response.status_code == 401
        assert not response.streaming and response["Content-Type"].startswith("text/plain")

    run(scenario)


@pytest.mark.django_db
def test_an_unknown_rollout_has_no_stream(developer):
    async def scenario():
        _, response = await open_stream(developer, "/rollouts/999999/stream/")
        assert response.status_code == 404

    run(scenario)


@pytest.mark.django_db
def test_watchers_of_a_rollout_share_one_read_of_each_change(
    developer, rollout, announce, monkeypatch
):
    reads = []
    version = selectors.rollout_version

    def counted(**kwargs):
        reads.append(kwargs)
        return version(**kwargs)

    monkeypatch.setattr(selectors, "rollout_version", counted)

    async def scenario():
        streams = []
        for _ in range(5):
            _, response = await open_stream(developer, f"/rollouts/{rollout.pk}/stream/")
            chunks = aiter(response.streaming_content)
            await anext(chunks)
            streams.append(chunks)
        opened = len(reads)
        await announce(rollout.pk)
        for chunks in streams:
            seen = await next_event(chunks, "changed")
            assert seen[-1].endswith(f"data: {rollout.pk}\n\n")
        assert len(reads) == opened + 1  # one read for five watchers
        for chunks in streams:
            await chunks.aclose()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_redis_is_down_is_only_logged(settings, caplog):
    redis = RedisServer().start()
    settings.LIVE_UPDATES_REDIS_URL = redis.url
    redis.kill()
    started = time.monotonic()
    with transaction.atomic():
        live.announce(42)  # publishes once the transaction has committed
    assert time.monotonic() - started < 1.0
    assert "could not publish rollout 42 change" in caplog.text


@pytest.fixture
def private_redis(settings):
    """A redis-server of the test's own for the notices, which the test may stop."""
    redis = RedisServer().start()
    settings.LIVE_UPDATES_REDIS_URL = redis.url
    yield redis
    redis.kill()


def subscribed(watcher):
    subscription = watcher.pubsub()
    subscription.subscribe(live.CHANNEL)
    subscription.get_message(timeout=TIMEOUT)  # the subscription's confirmation
    return subscription


@pytest.mark.django_db(transaction=True)
def test_notices_share_one_kept_connection_that_outlives_a_redis_restart(private_redis):
    with private_redis.client() as watcher:
        subscription = subscribed(watcher)

        def notices(count: int) -> list[dict]:
            for rollout_id in range(count):
                with transaction.atomic():
                    live.announce(rollout_id)
            return [subscription.get_message(timeout=TIMEOUT) for _ in range(count)]

        assert [m and m["data"] for m in notices(3)] == [
            b'{"rollout": 0}',
            b'{"rollout": 1}',
            b'{"rollout": 2}',
        ]
        # The publisher's connection is the one it kept, not a new one per notice.
        assert len(watcher.client_list(_type="normal")) == 2  # watcher, publisher

        private_redis.kill()
        private_redis.start()  # on the same port: the publisher's kept connection is dead
        subscription = subscribed(watcher)
        assert [m and m["data"] for m in notices(1)] == [b'{"rollout": 0}']


@pytest.mark.django_db(transaction=True)
def test_rollouts_announced_together_go_out_from_one_hook_once_committed(private_redis):
    with private_redis.client() as watcher:
        subscription = subscribed(watcher)
        with transaction.atomic():
            live.announce_many([1, 2, 3])
            assert len(transaction.get_connection().run_on_commit) == 1
            assert subscription.get_message(timeout=0.2) is None  # not before the commit
        received = [subscription.get_message(timeout=TIMEOUT) for _ in range(3)]
        assert [m and m["data"] for m in received] == [
            b'{"rollout": 1}',
            b'{"rollout": 2}',
            b'{"rollout": 3}',
        ]
        stats = watcher.info("commandstats")
        assert stats["cmdstat_publish"]["calls"] == 3  # each once
