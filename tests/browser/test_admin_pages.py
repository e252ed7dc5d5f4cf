"""A platform admin's pages: webhook sources and unmatched deliveries, and the audit log at a
laptop's width."""

import pytest
from playwright.sync_api import expect

from apps.audit.services import audit_record
from apps.insights.models import WebhookSource

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_adds_a_webhook_source_from_the_navigation_and_copies_its_secret(
    page, sign_in, platform_admin
):
    sign_in(platform_admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    page.get_by_label("Name").fill("Deploy bot")
    page.get_by_label("Kind").select_option("generic")
    page.get_by_role("button", name="Add source").click()
    secret = page.get_by_test_id("secret")
    expect(secret).to_be_visible()
    assert len(secret.inner_text()) >= 32
    expect(page.get_by_role("row").filter(has_text="Deploy bot")).to_contain_text("Active")
    assert WebhookSource.objects.get().slug == "deploy-bot"


def test_the_audit_log_fits_its_card_at_1366_pixels_and_scrolls_by_keyboard(
    page, sign_in, platform_admin
):
    long_value = {"description": "x" * 400, "rrule": "FREQ=WEEKLY;" * 20}
    for index in range(5):
        audit_record(
            actor=platform_admin,
            action="service.update",
            target=platform_admin,
            before=long_value,
            after={**long_value, "n": index},
        )
    page.set_viewport_size({"width": 1366, "height": 800})
    sign_in(platform_admin)
    page.goto("/audit/")
    region = page.get_by_role("region", name="Audit events")
    expect(region).to_have_attribute("tabindex", "0")
    widths = region.evaluate(
        "el => ({scroll: el.scrollWidth, client: el.clientWidth,"
        " page: document.documentElement.scrollWidth, view: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["client"], widths
    assert widths["page"] <= widths["view"], widths
    region.focus()
    expect(region).to_be_focused()
