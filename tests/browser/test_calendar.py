import re
from datetime import timedelta

import pytest
from django.utils import dateformat, timezone
from playwright.sync_api import expect

from apps.catalog.models import Environment, EnvironmentKind
from apps.releases.models import Release, ReleaseState
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def release_today(developer, payments):
    service = ServiceFactory(name="checkout", owner=payments)
    production = Environment.objects.create(
        service=service,
        name="production",
        kind=EnvironmentKind.PRODUCTION,
        order=1,
        namespace="checkout-production",
    )
    start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
    return Release.objects.create(
        service=service,
        environment=production,
        requester=developer,
        version="1.4.0",
        title="Faster checkout",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        state=ReleaseState.SCHEDULED,
    )


def test_a_developer_moves_through_the_calendar_without_reloading_the_page(
    page, sign_in, developer, release_today
):
    today = timezone.now().date()  # the developer's time zone is UTC
    this_month = dateformat.format(today, "F Y")
    next_month = dateformat.format((today.replace(day=1) + timedelta(days=31)), "F Y")
    title = page.get_by_test_id("calendar-title")
    release_link = page.locator(f'[data-date="{today:%Y-%m-%d}"]').get_by_role(
        "link", name=re.compile("checkout → production")
    )

    sign_in(developer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    expect(title).to_have_text(this_month)
    expect(release_link).to_be_visible()
    expect(release_link).to_have_class(re.compile(r"\bstate-scheduled\b"))
    page.evaluate("window.__marker = 'still-here'")

    page.get_by_role("link", name="Next", exact=True).click()
    expect(title).to_have_text(next_month)
    expect(page).to_have_url(re.compile(r"view=month&date=\d{4}-\d{2}-01"))
    page.get_by_role("link", name="Previous", exact=True).click()
    expect(title).to_have_text(this_month)
    expect(release_link).to_be_visible()

    page.get_by_role("link", name="Today", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?view=month$"))
    page.get_by_role("link", name="Agenda", exact=True).click()
    expect(page).to_have_url(re.compile(r"view=agenda"))
    agenda_day = page.locator(f'.cal-agenda [data-date="{today:%Y-%m-%d}"]')
    expect(agenda_day).to_contain_text("Faster checkout")
    assert page.evaluate("window.__marker") == "still-here"

    page.go_back()  # htmx restores the month it pushed before
    expect(page).not_to_have_url(re.compile(r"view=agenda"))
    expect(title).to_have_text(this_month)


def test_a_developer_filters_the_calendar_and_makes_a_feed(
    page, sign_in, developer, release_today, search
):
    sign_in(developer)
    page.goto("/releases/calendar/")
    page.evaluate("window.__marker = 'still-here'")
    release = page.locator(".cal-grid").get_by_role("link", name=re.compile("checkout"))
    expect(release).to_be_visible()

    page.get_by_label("Team").select_option("search")
    expect(page).to_have_url(re.compile(r"team=search"))
    expect(release).to_have_count(0)
    page.get_by_label("Team").select_option("")
    expect(release).to_be_visible()

    page.get_by_role("button", name="Create feed").click()
    expect(page.get_by_test_id("new-feed")).to_be_visible()
    url = page.get_by_test_id("new-feed").get_by_label("Feed URL").input_value()
    assert re.fullmatch(r"http://[^/]+/releases/calendar/feeds/[\w-]+\.ics", url)
    assert page.evaluate("window.__marker") == "still-here"
    response = page.request.get(url)
    assert response.status == 200
    assert "BEGIN:VCALENDAR" in response.text()
