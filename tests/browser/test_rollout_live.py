"""A rollout page follows its rollout by itself. The live server here is uvicorn serving Runway's
ASGI application, as in production: pytest-django's WSGI live server cannot stream."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from apps.catalog.models import Environment, Strategy
from apps.rollouts import live, services, stream
from apps.rollouts.models import Rollout, RolloutEvent, RolloutState, StepState
from tests.browser.conftest import refused_by_the_csp, serving_asgi
from tests.factories import ServiceFactory
from tests.processes import wait_for
from tests.rollouts.builders import rollout_row

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]

QUICK = 8_000  # ms: "by itself, within a few seconds", on a busy 2-core machine too
WORKER = 30_000  # ms: a worker process on a shared machine, waiting for pods to be ready


@pytest.fixture
def asgi_server(transactional_db):
    with serving_asgi() as url:
        yield url


@pytest.fixture
def page(browser, asgi_server):
    context = browser.new_context(base_url=asgi_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    refused = refused_by_the_csp(context)
    page = context.new_page()
    yield page
    context.close()
    assert refused == [], "the page did something its Content-Security-Policy refuses"


@pytest.fixture(autouse=True)
def _own_channel(monkeypatch):
    # Redis pub/sub channels are server-wide: another test run must not wake this page.
    monkeypatch.setattr(live, "CHANNEL", f"runway:rollouts:test-{uuid.uuid4().hex}")


@pytest.fixture(params=["redis", "polling"])
def feed(request, settings):
    if request.param == "polling":
        settings.LIVE_UPDATES_REDIS_URL = ""
    return request.param


@pytest.fixture
def rollout(web, prod, developer):
    """A canary waiting at its first weight (step 2 of 6)."""
    return rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.RUNNING,
        current_step=1,
    )


def finish_step(rollout: Rollout, index: int, message: str) -> None:
    """What the executor does when a step is done, in one transaction, announced on commit."""
    with transaction.atomic():
        step = rollout.steps.get(index=index)
        step.state, step.message, step.finished_at = StepState.SUCCEEDED, message, timezone.now()
        step.save()
        rollout.refresh_from_db()
        rollout.current_step = index + 1
        rollout.save()
        RolloutEvent.objects.create(rollout=rollout, step_index=index, message=message)
        live.announce(rollout.pk)


def step_state(page, index):
    return page.locator(f'tr[data-step="{index}"] [data-testid="step-state"]')


def test_the_rollout_page_follows_each_step_without_reloading(
    page, sign_in, developer, rollout, feed
):
    sign_in(developer)
    page.goto(f"/rollouts/{rollout.pk}/")
    expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    expect(step_state(page, 1)).to_have_text("Running")
    page.evaluate("window.__marker = 'same-page'")

    finish_step(rollout, 1, "Weight 20% (1 canary, 4 stable): 1/1 available")
    expect(step_state(page, 1)).to_have_text("Succeeded", timeout=QUICK)
    expect(page.get_by_text("Weight 20% (1 canary, 4 stable): 1/1 available").first).to_be_visible()

    finish_step(rollout, 2, "Paused 30 s")
    expect(step_state(page, 2)).to_have_text("Succeeded", timeout=QUICK)
    expect(page.locator("progress.rollout-progress")).to_have_attribute("value", "50")
    assert page.evaluate("window.__marker") == "same-page"  # never reloaded


def test_a_running_pause_says_when_it_began_and_ends_and_counts_down(
    page, sign_in, developer, web, prod
):
    plan = [("canary_start", {}), ("set_weight", {"weight": 50}), ("pause", {"seconds": 150})]
    rollout = rollout_row(
        service=web, environment=prod, requester=developer, current_step=2, plan=plan
    )
    began = timezone.now() - timedelta(seconds=20)
    rollout.steps.filter(index=2).update(state=StepState.WAITING, started_at=began)
    sign_in(developer)
    page.goto(f"/rollouts/{rollout.pk}/")

    window = page.get_by_test_id("pause-window")
    ends = began + timedelta(seconds=150)
    expect(window).to_contain_text(
        f"Paused since {timezone.localtime(began):%H:%M:%S}, "
        f"until {timezone.localtime(ends):%H:%M:%S}"
    )
    countdown = window.locator("time[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^2 min \d+ s$"))
    first = seconds_in(countdown.text_content())
    assert 120 < first <= 130
    expect(countdown).not_to_have_text(countdown.text_content(), timeout=QUICK)
    assert seconds_in(countdown.text_content()) < first  # by itself: the page was not reloaded


def seconds_in(countdown: str) -> int:
    """The seconds a countdown such as "2 min 5 s" or "1 h 0 min 3 s" shows."""
    units = {"h": 3600, "min": 60, "s": 1}
    return sum(
        int(value) * units[unit] for value, unit in re.findall(r"(\d+) (h|min|s)", countdown)
    )


def test_the_rollouts_list_follows_without_reloading(page, sign_in, developer, rollout):
    sign_in(developer)
    page.goto("/rollouts/")
    row = page.locator(f'tr[data-rollout="{rollout.pk}"]')
    expect(row.get_by_test_id("rollout-state")).to_have_text("Running")
    expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    page.evaluate("window.__marker = 'same-page'")
    held = []  # the list's own refresh, held back to look at the page while it is on its way
    page.route(
        "**/rollouts/",
        lambda route: (
            held.append(route) if route.request.headers.get("hx-request") else route.continue_()
        ),
    )

    with transaction.atomic():
        Rollout.objects.filter(pk=rollout.pk).update(
            state=RolloutState.PAUSED, updated_at=timezone.now()
        )
        live.announce(rollout.pk)
    refreshing = page.locator("#rollout-list.htmx-request")
    expect(refreshing).to_have_count(1, timeout=QUICK)
    # Nobody asked for this refresh: the list is not dimmed, so its text keeps its contrast.
    assert refreshing.evaluate("e => getComputedStyle(e).opacity") == "1"
    held[0].continue_()
    expect(row.get_by_test_id("rollout-state")).to_have_text("Paused", timeout=QUICK)
    assert page.evaluate("window.__marker") == "same-page"


def test_a_person_steers_and_every_page_follows(page, sign_in, developer, rollout):
    sign_in(developer)
    page.goto(f"/rollouts/{rollout.pk}/")
    expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    other = page.context.new_page()
    other.goto(f"/rollouts/{rollout.pk}/")
    expect(other.locator("[data-live]")).to_have_attribute("data-live-state", "live")

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_test_id("rollout-state")).to_have_text("Paused")
    expect(page.locator("#toasts")).to_contain_text(f"Rollout #{rollout.pk} paused.")
    expect(other.get_by_test_id("rollout-state")).to_have_text("Paused", timeout=QUICK)

    page.once("dialog", lambda dialog: dialog.accept("error budget burnt"))
    page.get_by_role("button", name="Abort").click()
    expect(page.get_by_test_id("rollout-state")).to_have_text("Rolling back")
    expect(other.get_by_test_id("failure-reason")).to_contain_text(
        "Aborted by dana: error budget burnt", timeout=QUICK
    )


def test_after_signing_out_elsewhere_the_page_stops_listening(
    page, sign_in, developer, rollout, monkeypatch
):
    monkeypatch.setattr(stream, "HEARTBEAT_SECONDS", 0.5)
    sign_in(developer)
    page.clock.install()  # the page's timers (back-off, polling) run when the test says
    page.goto(f"/rollouts/{rollout.pk}/")
    live_region = page.locator("[data-live]")
    expect(live_region).to_have_attribute("data-live-state", "live")
    # The parts the page loads at first (the pods) are in: one still on its way once the
    # session is gone would take the page to the sign-in form instead.
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
    )
    streams = []
    page.on("request", lambda r: streams.append(r.url) if "/stream/" in r.url else None)

    from django.contrib.sessions.models import Session

    Session.objects.all().delete()  # signed out in another tab
    expect(live_region).to_have_attribute("data-live-state", "stopped", timeout=QUICK)
    expect(page.get_by_text("Signed out: live updates stopped")).to_be_visible()
    page.clock.run_for(120_000)  # two minutes of back-off and polling timers: none reconnects
    page.evaluate("1")  # a round trip, so requests those timers made have been reported
    assert streams == []


def test_when_the_stream_keeps_failing_the_page_polls(page, sign_in, developer, rollout):
    sign_in(developer)
    page.route(re.compile(r".*/stream/.*"), lambda route: route.fulfill(status=503, body="down"))
    page.goto(f"/rollouts/{rollout.pk}/")
    expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "polling")
    finish_step(rollout, 1, "Weight 20%: 1/1 available")
    expect(step_state(page, 1)).to_have_text("Succeeded", timeout=8_000)  # polls every 5 s


# --- A real worker against the cluster simulator ---------------------------------------------


@pytest.fixture
def worker(workers, monkeypatch):
    """A Celery worker process (tests/processes.py, on Redis) executing against the simulator.
    It announces changes on Runway's own channel, so this page listens there."""
    monkeypatch.setattr(live, "CHANNEL", "runway:rollouts")
    return workers()


def release_to_dev(service, version, actor):
    from apps.releases import services as release_services

    start = timezone.now() - timedelta(minutes=1)
    release = release_services.release_create(
        actor=actor,
        service=service,
        environment=service.environments.get(name="dev"),
        version=version,
        title=version,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    return release_services.release_submit(actor=actor, release=release)


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_a_canary_run_by_a_worker_shows_live_on_its_page(
    page, sign_in, developer, payments, worker
):
    service = ServiceFactory(
        name="shop",
        owner=payments,
        strategy=Strategy.CANARY,
        strategy_params={"steps": [{"set_weight": 50}, {"pause": {}}]},
        container_port=8080,
    )
    Environment.objects.create(
        service=service, name="dev", kind="development", order=1, namespace="shop", replicas=2
    )
    first = services.rollout_start(
        actor=developer, release=release_to_dev(service, "shop:1", developer)
    )
    assert wait_for(lambda: Rollout.objects.get(pk=first.pk).state == RolloutState.SUCCEEDED)

    rollout = services.rollout_start(
        actor=developer, release=release_to_dev(service, "shop:2", developer)
    )
    sign_in(developer)
    page.goto(f"/rollouts/{rollout.pk}/")
    expect(page.locator("[data-live]")).to_have_attribute("data-live-state", "live")
    page.evaluate("window.__marker = 'same-page'")

    expect(page.get_by_test_id("rollout-state")).to_have_text("Paused", timeout=WORKER)
    expect(page.get_by_test_id("canary-weight")).to_have_text("50%")
    canary = page.locator('#rollout-pods tr[data-deployment="shop-canary"]')
    expect(canary).to_contain_text("shop:2", timeout=QUICK)
    # Two canary pods beside the two stable ones: 50% of pods, ready, from the cluster.
    expect(canary.locator("td").nth(4)).to_have_text("2", timeout=WORKER)
    expect(page.get_by_test_id("canary-share")).to_have_text("50% of pods")

    page.get_by_role("button", name="Promote", exact=True).click()
    expect(page.get_by_test_id("rollout-state")).to_have_text("Succeeded", timeout=WORKER)
    expect(step_state(page, 2)).to_have_text("Skipped")
    assert page.evaluate("window.__marker") == "same-page"
