import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.releases.models import Release, ReleaseState

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_developer_submits_and_a_release_manager_approves_with_reauthentication(
    page,
    sign_in,
    developer,
    release_manager,
    second_release_manager,
    web,
    prod,
    prod_policy,
    password,
):
    # Two release managers must approve production; the second has already done so.
    sign_in(developer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Releases").click()
    page.get_by_role("link", name="Request a release").click()
    # Mid-morning, so the hour-long release never spans midnight (one agenda entry).
    start = (timezone.now() + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    # The service is searched as it is typed; its environments follow once it is chosen.
    expect(page.get_by_label("Environment")).to_contain_text("Choose a service first")
    page.get_by_label("Service").fill("we")
    expect(page.locator("#service-options option[value=web]")).to_have_count(1)
    page.get_by_label("Service").fill("web")
    page.get_by_label("Service").press("Tab")
    expect(page.get_by_label("Environment").locator("option")).to_have_text(
        ["Choose an environment", "dev", "staging", "prod"]
    )
    page.get_by_label("Environment").select_option(label="prod")
    page.get_by_label("Version").fill("registry/web:3.0.0")
    page.get_by_label("Title").fill("Checkout redesign")
    page.get_by_label("Planned start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Planned end").fill((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_test_id("release-state")).to_have_text("Pending approval")
    release = Release.objects.get()

    from apps.releases import services

    services.release_approve(actor=second_release_manager, release=release)
    page.get_by_test_id("sign-out").click()

    sign_in(release_manager)
    page.goto("/releases/inbox/")
    page.get_by_role("link", name=re.compile("Open to approve")).click()
    page.get_by_label("Comment").fill("Ship it")
    page.get_by_role("button", name="Approve").click()
    # Production: allauth asks for the password again, saying what it confirms; the approval is
    # then made as it was sent, comment and all.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    expect(page.get_by_test_id("reauthentication-purpose")).to_have_text(
        f"Confirm your password to approve release #{release.pk} of web to prod."
    )
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Confirm", re.I)).click()
    expect(page).to_have_url(re.compile(rf"/releases/{release.pk}/$"))
    expect(page.get_by_test_id("release-state")).to_have_text("Scheduled")
    expect(page.get_by_text(f"You approved release #{release.pk}.")).to_be_visible()
    expect(page.get_by_role("region", name="Approvals")).to_contain_text("Ship it")
    approval = release.approvals.get(approver=release_manager)
    assert approval.comment == "Ship it"
    release.refresh_from_db()
    assert release.state == ReleaseState.SCHEDULED

    page.goto(f"/releases/calendar/?view=agenda&date={start:%Y-%m-%d}")
    expect(page.get_by_role("link", name=re.compile("web"))).to_be_visible()
