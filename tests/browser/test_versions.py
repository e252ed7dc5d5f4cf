"""A developer holds a service's versions from its page: a pin refused in place, then made and
lifted, without the page reloading."""

import pytest
from playwright.sync_api import expect

from apps.releases.models import VersionPin

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_developer_pins_prod_from_the_service_page_and_lifts_the_pin(
    page, sign_in, developer, web
):
    sign_in(developer)
    page.goto(f"/catalog/services/{web.name}/")
    panel = page.locator("#versions-panel")
    page.evaluate("window.notReloaded = true")

    prod = panel.get_by_role("row").filter(has_text="prod")
    prod.get_by_text("Pin prod to a version").click()
    prod.get_by_label("Version").fill("web:2.0.0")
    prod.get_by_label("Why").fill("soon")
    prod.get_by_role("button", name="Pin prod").click()
    expect(prod.get_by_role("alert")).to_contain_text("Say why, in 10 characters or more")
    assert not VersionPin.objects.exists()

    prod.get_by_label("Why").fill("Holding prod while the ledger is audited")
    prod.get_by_role("button", name="Pin prod").click()
    expect(prod).to_contain_text("Pinned to")
    expect(prod).to_contain_text("Holding prod while the ledger is audited")

    prod.get_by_text("Lift the pin").click()
    prod.get_by_label("Why lift it").fill("The audit is done")
    prod.get_by_role("button", name="Lift pin").click()
    expect(panel.get_by_role("row").filter(has_text="prod")).not_to_contain_text("Pinned to")
    assert page.evaluate("window.notReloaded") is True
    assert VersionPin.objects.get().lift_reason == "The audit is done"
    page.reload()
    expect(page.get_by_role("region", name="Audit trail")).to_contain_text("version.unpin")
