import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.catalog.models import Environment, EnvironmentKind
from apps.insights import services
from apps.insights.models import FactSource
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivery(payments, search):
    """checkout (payments) and finder (search) deploying to production over the last weeks."""
    now = timezone.now()
    for name, team, every in (("checkout", payments, 3), ("finder", search, 5)):
        service = ServiceFactory(name=name, owner=team)
        Environment.objects.create(
            service=service,
            name="production",
            kind=EnvironmentKind.PRODUCTION,
            order=1,
            namespace=f"{name}-production",
        )
        for days_ago in range(2, 60, every):
            finished = now - timedelta(days=days_ago)
            services.deployment_fact_record(
                service=service,
                environment="production",
                source=FactSource.GENERIC,
                external_id=f"{name}-{days_ago}",
                version=f"1.{days_ago}",
                started_at=finished - timedelta(minutes=10),
                finished_at=finished,
                result="failed" if days_ago % 4 == 0 else "succeeded",
                commits=[
                    {
                        "sha": f"{name}{days_ago:04}",
                        "committed_at": finished - timedelta(hours=days_ago % 7 + 1),
                    }
                ],
            )


def test_leadership_drills_down_from_the_organisation_to_a_service(
    page, sign_in, leadership, delivery
):
    sign_in(leadership)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery report: organisation")
    expect(page.get_by_test_id("report-window")).to_contain_text("(90 days)")

    # Charts are inline SVG images: four trend lines and the level bars.
    deployments_chart = page.get_by_test_id("trend-deployments").get_by_role("img")
    expect(deployments_chart).to_have_attribute(
        "aria-label", re.compile(r"^Production deployments per week")
    )
    expect(deployments_chart.locator("path")).to_have_count(2)  # deployments and failures
    expect(page.locator("[data-testid^=trend-] svg[role=img]")).to_have_count(4)
    expect(page.locator("[data-kpi] svg[role=img]")).to_have_count(13)  # one per platform KPI
    expect(page.get_by_test_id("level-bars").locator("svg rect[data-segment]")).to_have_count(2)
    expect(page.locator('[data-metric="deployment_frequency"] .dora-tier')).not_to_have_text(
        "No data"
    )

    teams = page.get_by_test_id("table-teams")
    teams.get_by_role("link", name="Deployments").click()
    expect(page).to_have_url(re.compile(r"sort=deployments"))
    expect(teams.locator("tbody tr").first).to_contain_text("Search")  # fewer deployments
    teams.get_by_role("link", name="Payments").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery report: Payments")
    expect(page).to_have_url(re.compile(r"/reports/teams/payments/\?from=.*&to="))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.get_by_role("link", name="Organisation")).to_be_visible()
    page.get_by_test_id("table-services").get_by_role("link", name="checkout").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Delivery report:")
    expect(page).to_have_url(re.compile(r"/reports/services/checkout/\?from="))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs).to_contain_text("Organisation / Payments / checkout")
    expect(page.get_by_test_id("trend-lead-time").get_by_role("img")).to_be_visible()
    expect(page.get_by_role("link", name="Catalog page")).to_have_attribute(
        "href", "/catalog/services/checkout/"
    )

    crumbs.get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery report: Payments")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Organisation"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery report: organisation")


def test_the_printed_report_keeps_charts_and_tables_and_drops_the_controls(
    page, sign_in, leadership, delivery
):
    sign_in(leadership)
    page.goto("/reports/?days=30")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("form", name="Report window")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.get_by_test_id("csv-teams")).to_be_hidden()
    expect(page.get_by_test_id("report-window")).to_be_visible()
    expect(page.get_by_test_id("report-window")).to_contain_text("(30 days)")
    expect(page.get_by_test_id("trend-deployments").get_by_role("img")).to_be_visible()
    expect(page.get_by_test_id("table-teams")).to_be_visible()
