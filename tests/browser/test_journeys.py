"""A day in the browser for each persona, through the pages their work needs: the developer
onboards a service on the golden path and finds their releases; the release manager picks what
to decide, manages a freeze and reads a rollout's evidence; leadership reads how rollbacks are
counted and exports a period's evidence; the platform admin manages people, webhook sources and
the deliveries nobody matched, and reads the audit log. Each journey starts from the menu."""

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.catalog.models import Service
from apps.insights.models import DeliveryStatus, WebhookDelivery
from apps.releases import services as releases
from apps.releases.models import Freeze, Release
from apps.rollouts import services as rollouts
from tests.factories import ServiceFactory
from tests.onboarding.fixtures import VERIFIED_CANARY
from tests.rollouts.builders import rollout_row

pytestmark = pytest.mark.django_db(transaction=True)


def menu(page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


@pytest.fixture
def steered(web, prod, developer, release_manager):
    """web 2.0.0 rolling out to production, paused by the release manager at its third step."""
    rollout = rollout_row(service=web, environment=prod, requester=developer)
    return rollouts.rollout_pause(actor=release_manager, rollout=rollout)


@pytest.fixture
def pending(make_release, developer, prod_policy):
    """web 2.1.0 to production, awaiting two release managers."""
    release = make_release(title="Faster search", version="registry.example.com/web:2.1.0")
    return releases.release_submit(actor=developer, release=release)


def test_a_developer_onboards_on_the_golden_path_and_finds_their_releases(
    page, sign_in, developer, golden_path, pending, other_developer, search
):
    sign_in(developer)
    menu(page, "Onboard").click()
    current = page.locator("#wizard-panel").locator('[aria-current="step"]')
    name = page.get_by_label("Name:", exact=True)

    # A name Kubernetes cannot take is refused with its length, not cut.
    name.fill("invoices-" + "x" * 55)
    page.get_by_label("Title").fill("Invoices")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#id_name_error")).to_contain_text("at most 63 characters")
    expect(page.locator("#id_name_error")).to_contain_text("this one has 64")
    expect(name).to_have_value("invoices-" + "x" * 55)
    name.fill("invoices")
    page.get_by_role("button", name="Next").click()

    # Runtime starts from the golden path, preselected with what it brings.
    expect(current).to_contain_text("Runtime")
    template = page.get_by_label("Golden-path template")
    expect(template).to_have_value(str(golden_path.pk))
    expect(template.locator("option:checked")).to_have_text(
        "Python web (python-web v2, the golden path)"
    )
    expect(page.get_by_test_id("template-strategy")).to_contain_text("canary")
    page.get_by_label("Replicas").fill("3")
    # Back keeps what this step holds.
    page.get_by_role("button", name="Back").click()
    expect(current).to_contain_text("Basics")
    expect(name).to_have_value("invoices")
    page.get_by_role("button", name="Next").click()
    expect(current).to_contain_text("Runtime")
    expect(page.get_by_label("Replicas")).to_have_value("3")
    page.get_by_role("button", name="Next").click()

    # Delivery: the golden path's canary, its verification step included.
    expect(current).to_contain_text("Delivery")
    expect(page.get_by_label("Strategy")).to_have_value("canary")
    expect(page.get_by_label("Canary step 2: Step")).to_have_value("analysis")
    expect(page.get_by_label("Canary step 2: Value")).to_have_value("success-rate")
    page.get_by_role("button", name="Next").click()

    expect(current).to_contain_text("Operations")
    page.get_by_label("Runbook URL").fill("https://runbooks.example.com/invoices")
    page.get_by_label("On call").fill("#payments-oncall")
    page.get_by_role("button", name="Next").click()
    expect(current).to_contain_text("Review")
    page.get_by_role("button", name="Create service").click()

    expect(page).to_have_url(re.compile(r"/catalog/services/invoices/$"))
    expect(page.get_by_text("python-web v2", exact=True)).to_be_visible()
    service = Service.objects.get(name="invoices")
    assert (service.template, service.strategy_params) == (golden_path, VERIFIED_CANARY)

    # Releases: "Mine" is a switch, states are chips; labels say what they keep.
    theirs = ServiceFactory(name="finder", owner=search)
    env = theirs.environments.create(name="prod", kind="production", order=1, namespace="f")
    releases.release_create(
        actor=other_developer,
        service=theirs,
        environment=env,
        version="registry.example.com/finder:9",
        title="Their change",
        planned_start=timezone.now() + timedelta(hours=2),
        planned_end=timezone.now() + timedelta(hours=3),
    )
    menu(page, "Releases").click()
    rows = page.locator("#release-list tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Mine and my teams'").check()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Faster search")
    expect(rows.first).to_contain_text("web:2.1.0")  # the tag, whole
    expect(page).to_have_url(re.compile(r"mine=on"))
    page.get_by_label("Mine and my teams'").uncheck()
    page.get_by_role("group", name="State").get_by_label("Draft").check()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Their change")
    expect(page.get_by_label("Team:", exact=True)).to_be_visible()


def test_a_release_manager_decides_manages_a_freeze_and_reads_a_rollouts_evidence(
    page, sign_in, release_manager, pending, steered
):
    release_manager.time_zone = "Europe/Berlin"
    release_manager.save(update_fields=["time_zone"])
    sign_in(release_manager)

    # What ships, before deciding: the tag, what it replaces, the commits.
    menu(page, "Releases").click()
    page.get_by_role("link", name="Awaiting my approval").click()
    item = page.get_by_role("article").filter(has_text="Faster search")
    expect(item).to_contain_text("web:2.1.0")
    expect(item).to_contain_text("commit")

    # A quarter-end freeze, previewed before it is saved.
    menu(page, "Windows & freezes").click()
    page.get_by_role("link", name="Freezes", exact=True).click()
    page.get_by_role("link", name="New freeze").click()
    page.get_by_label("Name").fill("Quarter-end close")
    page.get_by_label("Starts").fill("2030-03-29T18:00")
    page.get_by_label("Ends").fill("2030-04-01T08:00")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Repeats (RRULE)").fill("FREQ=MONTHLY;INTERVAL=3")
    rows = page.get_by_test_id("preview").get_by_test_id("occurrences").locator("tbody tr")
    expect(rows.first).to_contain_text("Fri 29 Mar 2030 18:00")
    expect(rows.nth(1)).to_contain_text("Sat 29 Jun 2030 18:00")  # a quarter later
    assert not Freeze.objects.exists()
    page.get_by_role("button", name="Create freeze").click()
    expect(page.get_by_role("heading", name="Quarter-end close")).to_be_visible()
    expect(page.get_by_test_id("rule-state")).to_have_text("Upcoming")
    assert Freeze.objects.get().rrule == "FREQ=MONTHLY;INTERVAL=3"

    # The evidence of the release being rolled out: the rollout record, who steered and when.
    page.goto(f"/releases/{steered.release_id}/")
    page.get_by_role("link", name="Evidence").click()
    record = page.locator('[data-evidence-section="rollouts"]')
    expect(record.get_by_role("heading", level=2)).to_have_text("Rollouts")
    expect(record).to_contain_text(f"Rollout #{steered.pk}: canary, paused")
    expect(record.get_by_test_id("evidence-steering")).to_contain_text(
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T: Paused by riley at step 3")
    )
    expect(record).to_contain_text("rollout.pause")
    expect(record.get_by_role("table", name=f"Steps of rollout #{steered.pk}")).to_contain_text(
        "Analysis http-ok"
    )


def test_leadership_reads_how_rollbacks_count_and_exports_a_periods_evidence(
    page, sign_in, leadership, steered
):
    sign_in(leadership)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Windows & freezes")).to_have_count(0)
    menu(page, "Releases").click()
    expect(page.get_by_role("link", name="Request a release")).to_have_count(0)

    menu(page, "Reports").click()
    page.get_by_text("How these are measured").click()
    definitions = page.locator(".dora-definitions")
    rollback = definitions.locator("dt", has_text="Rollback").locator("+ dd")
    expect(rollback).to_contain_text("A production deployment returned to the version before it")
    expect(rollback).to_contain_text("the “Rollback success rate” KPI counts Runway's own")

    menu(page, "Releases").click()
    page.get_by_role("link", name="Export evidence").click()
    # The day the steered release was planned on (a run across midnight has two days).
    planned = timezone.localdate(Release.objects.get(pk=steered.release_id).planned_start)
    page.get_by_label("Start").fill(planned.isoformat())
    page.get_by_label("End").fill(planned.isoformat())
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download ZIP").click()
    archive = zipfile.ZipFile(io.BytesIO(downloading.value.path().read_bytes()))
    index = archive.read("index.csv").decode()
    assert f"#{steered.pk} canary: paused (paused by riley)" in index
    pack = json.loads(archive.read(f"releases/release-{steered.release_id}.json"))
    assert pack["rollouts"][0]["steering"][-1]["by"] == "riley"

    page.goto("/releases/change-calendar/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("can’t do that")


def test_an_admin_manages_people_webhook_sources_and_unmatched_deliveries(
    page, sign_in, platform_admin, other_developer, web, steered
):
    sign_in(platform_admin)

    # People: a refusal says why in a toast, once however often; the next success clears it.
    menu(page, "People").click()
    own = page.locator(f"#user-{platform_admin.pk}")
    own.get_by_label(f"Role for {platform_admin.username}").select_option(label="Platform admin")
    own.get_by_role("button", name="Revoke").click()
    toasts = page.locator("#toasts [data-toast]")
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_contain_text("You cannot take away your own platform admin role.")
    # The row comes back with the role still chosen: trying again shows the same toast, once.
    expect(own.get_by_label(f"Role for {platform_admin.username}")).to_have_value("platform_admin")
    own.get_by_role("button", name="Revoke").click()
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_contain_text("own platform admin role")
    theirs = page.locator(f"#user-{other_developer.pk}")
    theirs.get_by_label(f"Role for {other_developer.username}").select_option(
        label="Release manager"
    )
    theirs.get_by_role("button", name="Grant").click()
    expect(theirs).to_contain_text("Release manager")
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_contain_text("Release manager granted to sam.")

    # Webhooks: a source, its secret shown once; a delivery nobody matched, named by hand.
    menu(page, "Webhooks").click()
    page.get_by_label("Name").fill("Deploy bot")
    page.get_by_label("Kind").select_option("generic")
    page.get_by_role("button", name="Add source").click()
    secret = page.get_by_test_id("secret").inner_text()
    now = timezone.now()
    answer = page.request.post(
        "/api/v1/events/deployments?source=deploy-bot",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        data=json.dumps(
            {
                "repository": "https://git.example.com/payments/web-frontend",
                "environment": "prod",
                "version": "2.0.0",
                "status": "success",
                "started_at": (now - timedelta(minutes=9)).isoformat(),
                "finished_at": (now - timedelta(minutes=5)).isoformat(),
            }
        ),
    )
    assert answer.status == 202, answer.text()
    page.reload()
    waiting = page.get_by_role("region", name=re.compile("Unmatched deliveries")).first
    expect(waiting).to_contain_text("git.example.com/payments/web-frontend")
    waiting.get_by_label("Service").fill("web")
    waiting.get_by_role("button", name="Record").click()
    expect(page.locator("#toasts")).to_contain_text("Recorded 1 delivery as web's.")
    expect(waiting).to_contain_text("Nothing waits")
    assert WebhookDelivery.objects.get().status == DeliveryStatus.RECORDED

    # The audit log: who paused the rollout, and when.
    menu(page, "Audit").click()
    page.get_by_label("Action").fill("rollout.pause")
    page.get_by_role("button", name="Filter").click()
    events = page.locator("#events tbody tr")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("riley")
