"""A train page follows its waves by itself, through the rollouts' live stream, served by
uvicorn as in production (pytest-django's WSGI live server cannot stream)."""

import uuid

import pytest
from django.db import transaction
from playwright.sync_api import expect

from apps.rollouts import live
from apps.trains.models import TrainState
from apps.trains.transitions import train_transition
from tests.trains.live import member, rolling_out, running, succeed

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

QUICK = 8_000  # ms: "by itself, within a few seconds", on a busy 2-core machine too


@pytest.fixture
def page(streaming_page):
    return streaming_page


@pytest.fixture(autouse=True)
def _own_channel(monkeypatch):
    # Redis pub/sub channels are server-wide: another test run must not wake this page.
    monkeypatch.setattr(live, "CHANNEL", f"runway:rollouts:test-{uuid.uuid4().hex}")


def test_the_train_page_shows_a_member_succeed_and_the_train_finish_without_reloading(
    page, sign_in, developer, make_train, prod_services
):
    prod_services("ab", {"a": "b"})
    train = running(make_train("ab", submit=True))
    rollout = rolling_out(member(train, "b"))
    sign_in(developer)
    page.goto(f"/trains/{train.pk}/")
    expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    row = page.locator('tr[data-member="b"]')
    expect(row.get_by_test_id("member-rollout-state")).to_have_text("Running")
    expect(row.get_by_test_id("member-rollout-step")).to_contain_text("Step 2 of 6")
    page.evaluate("window.__marker = 'same-page'")

    with transaction.atomic():
        succeed(rollout)
        live.announce(rollout.pk)
    expect(row.get_by_test_id("member-rollout-state")).to_have_text("Succeeded", timeout=QUICK)
    expect(row.get_by_test_id("member-state")).to_have_text("Succeeded")
    expect(page.locator('li[data-wave="1"]')).to_contain_text("(1 succeeded)")

    train_transition(train=train, to_state=TrainState.HALTED, actor=None, reason="a failed")
    expect(page.get_by_test_id("train-state")).to_have_text("Halted", timeout=QUICK)
    assert page.evaluate("window.__marker") == "same-page"  # never reloaded
