import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.releases.calendar import services
from apps.releases.models import ChangeWindow, Freeze, WindowScope

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def incident_freeze(release_manager) -> Freeze:
    now = timezone.now()
    return services.freeze_create(
        actor=release_manager,
        name="Incident 4711",
        reason="Payments outage",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=6),
        scope=WindowScope.ORGANISATION,
    )


def test_a_release_manager_previews_and_creates_a_window_then_ends_a_freeze_early(
    page, sign_in, release_manager, incident_freeze
):
    release_manager.time_zone = "America/New_York"
    release_manager.save(update_fields=["time_zone"])
    sign_in(release_manager)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Windows & freezes"
    ).click()
    expect(page.get_by_role("heading", name="Change windows")).to_be_visible()
    page.get_by_role("link", name="New window").click()

    page.get_by_label("Name").fill("Berlin mornings")
    page.get_by_label("Allow or deny").select_option("allow")
    page.get_by_label("Rule (RRULE)").fill("FREQ=DAILY")
    page.get_by_label("First occurrence").fill("2030-03-25T09:00")
    page.get_by_label("Duration (minutes)").fill("60")
    page.get_by_label("Time zone").select_option("Europe/Berlin")

    preview = page.get_by_test_id("preview")
    rows = preview.get_by_test_id("occurrences").locator("tbody tr")
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Mon 25 Mar 2030 09:00")
    expect(rows.first).to_contain_text("Mon 25 Mar 2030 04:00")  # New York
    expect(rows.nth(6)).to_contain_text("Sun 31 Mar 2030 03:00")  # Europe's clocks moved
    assert not ChangeWindow.objects.exists()  # a preview saves nothing

    page.get_by_label("Rule (RRULE)").fill("FREQ=SECONDLY")
    expect(page.get_by_test_id("preview-errors")).to_contain_text("hourly at the finest")
    page.get_by_label("Rule (RRULE)").fill("FREQ=DAILY")
    expect(rows).to_have_count(10)

    page.get_by_role("button", name="Create window").click()
    expect(page.get_by_role("heading", name="Berlin mornings")).to_be_visible()
    expect(page.get_by_test_id("rule-state")).to_have_text("Upcoming")
    assert ChangeWindow.objects.get().time_zone == "Europe/Berlin"

    page.get_by_role("link", name="Change windows").click()
    page.get_by_role("link", name="Freezes", exact=True).click()
    page.get_by_role("link", name="Incident 4711").click()
    expect(page.get_by_test_id("rule-state")).to_have_text("Active now")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Why it ends early").fill("Outage resolved, payments healthy")
    page.get_by_role("button", name="End the freeze now").click()

    expect(page.get_by_test_id("rule-state")).to_have_text("Ended")
    expect(page.get_by_test_id("ended-early")).to_contain_text("Outage resolved")
    expect(page.get_by_role("button", name="End the freeze now")).to_have_count(0)
    incident_freeze.refresh_from_db()
    assert incident_freeze.end_reason == "Outage resolved, payments healthy"
    assert re.search(r"ended", page.locator(".toasts").inner_text(), re.I)
