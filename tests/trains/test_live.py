"""The train page follows its train live: the stream (the rollouts' own, keyed by train) says
`changed` when the train or a member's rollout changes, and the page re-fetches its status
part. Streams are read through Django's AsyncClient, as in tests/rollouts/test_stream.py."""

import uuid

import pytest
from asgiref.sync import sync_to_async

from apps.rollouts import live, selectors
from apps.rollouts.models import Rollout
from apps.trains.models import TrainState
from apps.trains.transitions import train_transition
from tests.rollouts.test_stream import next_event, open_stream, run
from tests.trains.live import member, rolling_out, running, succeed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_channel(monkeypatch):
    # Redis pub/sub channels are server-wide: another test run must not wake these streams.
    monkeypatch.setattr(live, "CHANNEL", f"runway:rollouts:test-{uuid.uuid4().hex}")


@pytest.fixture
def train(make_train, diamond):
    return running(make_train("abcde", submit=True))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run `change` as a service would: its transaction committed, its notices published."""

    def run_committed(change, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            change(*args, **kwargs)

    return sync_to_async(run_committed)


def as_announced(rollout: Rollout, given: str) -> Rollout | int:
    if given == "id":
        return rollout.pk
    if given == "rollout read with its train":  # as the executor's step reads it
        return Rollout.objects.select_related("release__train_membership").get(pk=rollout.pk)
    return Rollout.objects.get(pk=rollout.pk)


@pytest.mark.parametrize("given", ["id", "rollout read with its train", "rollout alone"])
def test_a_member_rollout_change_reaches_its_train_stream_and_no_other_trains(
    developer, train, make_train, committed, given
):
    other = running(make_train("de", name="Other train"))
    mine = as_announced(rolling_out(member(train, "d")), given)
    theirs = as_announced(rolling_out(member(other, "e")), given)

    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/trains/{train.pk}/stream/")
        assert response["Content-Type"] == "text/event-stream"
        chunks = aiter(response.streaming_content)
        await anext(chunks)  # subscribed
        await committed(live.announce, theirs)  # the other train's member
        await committed(live.announce, mine)
        seen = await next_event(chunks, "changed")
        assert seen[-1].endswith(f"event: changed\ndata: {train.pk}\n\n")
        assert sum("event: changed" in chunk for chunk in seen) == 1
        await chunks.aclose()

    run(scenario)


def test_a_train_state_change_reaches_its_stream(developer, train, committed):
    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/trains/{train.pk}/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        await committed(
            train_transition, train=train, to_state=TrainState.HALTED, actor=None, reason="b failed"
        )
        seen = await next_event(chunks, "changed")
        version = await sync_to_async(selectors.train_version)(train_id=train.pk)
        assert f"id: {version}\n" in seen[-1]
        await chunks.aclose()

    run(scenario)


def test_without_redis_the_train_stream_polls_its_members(developer, train, settings, monkeypatch):
    from apps.rollouts import stream

    settings.LIVE_UPDATES_REDIS_URL = ""
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.05)
    rollout = rolling_out(member(train, "d"))

    async def scenario():
        _, response = await open_stream(developer, f"/rollouts/trains/{train.pk}/stream/")
        chunks = aiter(response.streaming_content)
        await anext(chunks)
        await sync_to_async(succeed)(rollout)
        seen = await next_event(chunks, "changed")
        assert f"data: {train.pk}\n" in seen[-1]
        await chunks.aclose()

    run(scenario)


def test_the_train_version_moves_with_the_train_its_members_and_their_rollouts(train):
    before = selectors.train_version(train_id=train.pk)
    rollout = rolling_out(member(train, "d"))
    started = selectors.train_version(train_id=train.pk)
    succeed(rollout)
    done = selectors.train_version(train_id=train.pk)
    assert len({before, started, done}) == 3
    assert selectors.train_version(train_id=999_999) is None


def test_an_anonymous_request_gets_no_train_stream_and_an_unknown_train_none(developer, train):
    async def scenario():
        _, anonymous = await open_stream(None, f"/rollouts/trains/{train.pk}/stream/")
        assert anonymous.status_code == 401 and not anonymous.streaming
        _, unknown = await open_stream(developer, "/rollouts/trains/999999/stream/")
        assert unknown.status_code == 404

    run(scenario)


def test_the_page_follows_its_train_and_htmx_gets_the_status_part(client_as, developer, train):
    rollout = rolling_out(member(train, "d"))
    client = client_as(developer)
    page = client.get(f"/trains/{train.pk}/").content.decode()
    version = selectors.train_version(train_id=train.pk)
    assert f'sse-connect="/rollouts/trains/{train.pk}/stream/?since={version}"' in page
    assert 'hx-trigger="sse:changed' in page

    part = client.get(f"/trains/{train.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in part and "sse-connect" not in part
    assert f'href="/rollouts/{rollout.pk}/"' in part
    assert "Step 2 of 6: Send 20% of traffic to the canary" in " ".join(part.split())
    assert "Wave 1: d, e" in part and "(1 in progress, 1 approved)" in part


def test_the_status_part_reads_a_fixed_number_of_queries_however_many_members(
    client_as, developer, prod_services, make_train, django_assert_max_num_queries
):
    names = [f"svc-{number:02}" for number in range(30)]
    prod_services(names)
    train = running(make_train(members=[{"service": n, "version": f"{n}:2"} for n in names]))
    for name in names[:20]:
        rolling_out(member(train, name))
    client = client_as(developer)
    with django_assert_max_num_queries(12):
        part = client.get(f"/trains/{train.pk}/", HTTP_HX_REQUEST="true")
    assert part.status_code == 200
    assert part.content.decode().count('data-testid="member-rollout-state"') == 20
