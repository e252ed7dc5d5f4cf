import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.releases import services
from apps.releases.models import BreakGlass

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_requester_breaks_glass_on_an_unapproved_emergency_to_production(
    page, sign_in, developer, ci, leadership, make_release, prod_policy
):
    release = make_release(
        hours_from_now=-0.25,
        change_type="emergency",
        justification="Checkout is down for every customer",
    )
    services.release_check_report(actor=ci, release=release, name="tests", status="passed")
    services.release_submit(actor=developer, release=release)
    services.release_begin(release=release)  # held: no independent approval

    sign_in(developer)
    page.goto(f"/releases/{release.pk}/")
    expect(page.get_by_role("status")).to_contain_text("Independent approval")
    expect(page.locator("[data-gate=independent_approval]")).to_have_class(re.compile("bad"))
    expect(page.get_by_role("region", name="What ships")).to_contain_text("by ci-payments")

    # A click without a reason: the browser confirms, the server refuses naming the field.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Break glass").click()
    expect(page.get_by_text(re.compile("at least 20 characters")).first).to_be_visible()
    assert not BreakGlass.objects.exists()

    # Dismissing the confirmation sends nothing.
    reason = "Payments fail for everyone and no release manager answers the phone."
    page.get_by_label("Why it cannot wait for an independent approval").fill(reason)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Break glass").click()
    assert not BreakGlass.objects.exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Break glass").click()
    expect(page.get_by_test_id("break-glass-flag")).to_be_visible()
    expect(page.get_by_test_id("break-glass")).to_contain_text(reason)
    expect(page.get_by_test_id("break-glass")).to_contain_text("Paged: lee")
    expect(page.get_by_test_id("retrospective")).to_contain_text("due")
    expect(page.locator("[data-gate=independent_approval]")).to_have_class(re.compile("ok"))
    expect(page.get_by_role("button", name="Break glass")).to_have_count(0)
    glass = BreakGlass.objects.get()
    assert glass.actor == developer and glass.reason == reason and glass.paged == ["lee"]

    started, release = services.release_begin(release=release, now=timezone.now())
    assert started
