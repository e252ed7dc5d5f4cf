import re

import pytest
from playwright.sync_api import expect

from apps.catalog.models import Service

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_developer_onboards_a_service_through_the_wizard(page, sign_in, developer):
    sign_in(developer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Onboard").click()
    expect(page.get_by_role("heading", name="Onboard a service")).to_be_visible()
    page.evaluate("window.__marker = 'same-page'")
    panel = page.locator("#wizard-panel")
    current = panel.locator('[aria-current="step"]')
    expect(current).to_contain_text("Basics")

    # Basics, with one mistake: the name is checked as it is typed and again on Next.
    page.get_by_label("Name:", exact=True).press_sequentially("Bad Name!")
    expect(page.locator("#name-status")).to_contain_text("lowercase letters")
    page.get_by_label("Title").fill("Ledger")
    page.get_by_label("Description").fill("Keeps the books.")
    page.get_by_label("Tier").select_option(label="Tier 2")
    page.get_by_label("Tags").fill("python, money")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#id_name_error")).to_contain_text("lowercase letters")
    expect(page.get_by_label("Name:", exact=True)).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.__marker") == "same-page"

    page.get_by_label("Name:", exact=True).clear()
    page.get_by_label("Name:", exact=True).press_sequentially("ledger")
    expect(page.locator("#name-status")).to_contain_text("available")
    expect(page.get_by_label("Owner team")).to_have_value(str(developer.teams.get().pk))
    page.get_by_role("button", name="Next").click()

    # Runtime
    expect(current).to_contain_text("Runtime")
    page.get_by_label("Container image").fill("registry.example.com/ledger:1.0.0")
    page.get_by_label("Replicas").fill("3")
    page.get_by_label("Autoscale up to (HPA)").fill("6")
    page.get_by_role("button", name="Next").click()

    # Delivery: a canary, whose steps appear once it is chosen.
    expect(current).to_contain_text("Delivery")
    # The strategy select redraws the step through htmx: let htmx finish settling the new
    # panel first, or a change made under load can reach a select htmx has not wired up yet.
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
    )
    page.get_by_label("Strategy").select_option(label="Canary")
    expect(page.get_by_label("Canary step 5: Value")).to_have_value("100", timeout=15_000)
    page.get_by_role("button", name="Remove environment 2").click()
    expect(page.get_by_label("Environment 2: Name", exact=True)).to_have_value("prod")
    page.get_by_role("button", name="Next").click()

    # Operations
    expect(current).to_contain_text("Operations")
    page.get_by_label("Runbook URL").fill("https://wiki.example.com/ledger")
    page.get_by_label("On call").fill("#payments-oncall")
    page.get_by_label("Link 1: Title").fill("Dashboard")
    page.get_by_label("Link 1: URL").fill("https://grafana.example.com/d/ledger")
    page.get_by_role("button", name="Next").click()

    # Review: the manifests and catalog-info.yaml the catalog will keep.
    expect(current).to_contain_text("Review")
    expect(page.get_by_test_id("manifests-yaml")).to_contain_text("kind: Deployment")
    expect(page.get_by_test_id("manifests-yaml")).to_contain_text("kind: HorizontalPodAutoscaler")
    expect(page.get_by_test_id("catalog-info-yaml")).to_contain_text("name: ledger")
    assert page.evaluate("window.__marker") == "same-page"
    page.get_by_role("button", name="Create service").click()

    expect(page).to_have_url(re.compile(r"/catalog/services/ledger/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ledger")
    assert Service.objects.get(name="ledger").environments.count() == 2

    page.goto("/catalog/")
    expect(page.get_by_role("link", name="ledger", exact=True)).to_be_visible()
