"""A developer sets an environment's rings from the service page: a cluster twice refused next
to its row without the page reloading, then the rings saved and shown in the Rings panel."""

import pytest
from playwright.sync_api import expect

from apps.catalog.models import Cluster
from apps.rollouts.models import Ring

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_developer_sets_prods_rings_from_the_service_page(page, sign_in, developer, web, prod):
    for name in ("eu-1", "eu-2"):
        Cluster.objects.create(name=name)
    sign_in(developer)
    page.goto(f"/catalog/services/{web.name}/")
    page.get_by_role("link", name="Set rings of prod").click()
    page.evaluate("window.notReloaded = true")

    first, second = page.get_by_role("group", name="A new ring").all()
    first.get_by_label("Cluster").select_option(label="eu-1")
    first.get_by_label("Soak after it (seconds)").fill("600")
    second.get_by_label("Cluster").select_option(label="eu-1")
    page.get_by_role("button", name="Save rings").click()
    expect(page.locator('[data-row="1"]')).to_contain_text("Ring 1: cluster eu-1 is already")
    assert page.evaluate("window.notReloaded") is True
    assert not Ring.objects.exists()

    page.locator('[data-row="1"]').get_by_label("Cluster").select_option(label="eu-2")
    page.get_by_role("button", name="Save rings").click()
    page.wait_for_url(f"**/catalog/services/{web.name}/")
    panel = page.locator('[data-panel="rings"]').get_by_role("row").filter(has_text="prod")
    expect(panel).to_contain_text("eu-1 then soak 600 s")
    expect(panel).to_contain_text("eu-2")
    assert list(Ring.objects.values_list("position", "cluster__name")) == [(0, "eu-1"), (1, "eu-2")]


@pytest.fixture
def sign_in(page, password):
    def _sign_in(user):
        page.goto("/accounts/login/")
        page.get_by_label("Username or e-mail").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url("**/")
        return page

    return _sign_in
