import re
from datetime import timedelta

import pytest
from django.urls import reverse

from apps.catalog.models import Dependency
from apps.releases.calendar import selectors
from apps.releases.models import CalendarFeed, ReleaseState
from tests.factories import ServiceFactory, TeamFactory
from tests.releases.calendar.helpers import day_cell, freeze, mondays_nine_to_five_in_berlin, utc

pytestmark = pytest.mark.django_db

CALENDAR = "/releases/calendar/"
FILTER_OPTIONS = "/releases/calendar/filter-options/"


def in_zone(user, zone: str):
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    return user


def page(client, **params) -> str:
    response = client.get(CALENDAR, params)
    assert response.status_code == 200
    return response.content.decode()


def filter_options(client, **params) -> str:
    response = client.get(FILTER_OPTIONS, params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    return response.content.decode()


def select(html: str, select_id: str) -> str:
    """The options of one select of a page or of the filter options."""
    return html.split(f'<select id="{select_id}"')[1].split("</select>")[0]


# --- Month, week, agenda ------------------------------------------------------------------------


def test_the_calendar_is_mounted_where_the_navigation_points():
    assert reverse("releases:calendar") == CALENDAR
    assert reverse("releases:ics", args=["abc"]) == "/releases/calendar/feeds/abc.ics"


def test_the_month_puts_each_release_in_its_day_in_the_viewers_time_zone(
    client_as, developer, checkout, release_at
):
    late = release_at(checkout, utc(2025, 3, 14, 23, 30), version="2.0.0")
    client = client_as(in_zone(developer, "Europe/Berlin"))
    html = page(client, view="month", date="2025-03-01")
    assert "March 2025" in html
    assert f'data-release="{late.pk}"' in day_cell(html, "2025-03-15")
    assert f'data-release="{late.pk}"' not in day_cell(html, "2025-03-14")
    assert ">00:30<" in day_cell(html, "2025-03-15")
    assert f'href="/releases/{late.pk}/"' in html
    assert 'class="cal-release state-approved"' in html
    assert "Times in Europe/Berlin" in html


def test_a_month_cell_escapes_what_a_release_says_of_itself(
    client_as, developer, checkout, indexer, release_at
):
    Dependency.objects.create(source=checkout, target_service=indexer)
    release = release_at(checkout, utc(2025, 3, 12, 9), title='Fix <b>"quotes"</b> & co')
    release_at(indexer, utc(2025, 3, 12, 9, 30))  # a conflict, so the badge is drawn too
    cell = day_cell(page(client_as(developer), view="month", date="2025-03-01"), "2025-03-12")
    assert f'title="#{release.pk} Fix &lt;b&gt;&quot;quotes&quot;&lt;/b&gt; &amp; co · ' in cell
    assert "<b>" not in cell
    assert 'data-testid="conflict-badge"' in cell
    assert "checkout → production" in cell and "indexer and checkout depend on each other" in cell


def test_the_week_shows_seven_days_with_times_versions_and_states(
    client_as, developer, checkout, release_at
):
    release = release_at(checkout, utc(2025, 3, 12, 9), version="1.9.3", state="pending_approval")
    html = page(client_as(developer), view="week", date="2025-03-14")
    assert "10–16 March 2025" in html
    assert re.findall(r'data-date="([\d-]+)"', html) == [f"2025-03-{d}" for d in range(10, 17)]
    cell = day_cell(html, "2025-03-12")
    assert f'data-release="{release.pk}"' in cell
    assert "09:00" in cell and "1.9.3" in cell and "Pending approval" in cell
    assert "state-pending_approval" in cell


def test_the_agenda_lists_the_next_thirty_days_that_have_something_on(
    client_as, developer, checkout, indexer, release_at
):
    soon = release_at(checkout, utc(2025, 3, 15, 9), title="Faster checkout")
    last_day = release_at(indexer, utc(2025, 4, 8, 9))
    too_late = release_at(checkout, utc(2025, 4, 9, 9))
    html = page(client_as(developer), view="agenda", date="2025-03-10")
    assert re.findall(r'data-date="([\d-]+)"', html) == ["2025-03-15", "2025-04-08"]
    assert f'data-release="{soon.pk}"' in day_cell(html, "2025-03-15")
    assert "Faster checkout" in day_cell(html, "2025-03-15")
    assert f'data-release="{last_day.pk}"' in html
    assert f'data-release="{too_late.pk}"' not in html


def test_an_empty_agenda_says_so(client_as, developer):
    html = page(client_as(developer), view="agenda", date="2025-03-10")
    assert "Nothing planned between 10 March and 8 April 2025" in html


def test_a_berlin_window_shows_at_0800_utc_in_winter_and_0700_utc_in_summer(client_as, developer):
    mondays_nine_to_five_in_berlin()
    client = client_as(developer)  # the viewer is in UTC
    winter = day_cell(page(client, view="week", date="2025-01-13"), "2025-01-13")
    summer = day_cell(page(client, view="week", date="2025-07-14"), "2025-07-14")
    assert "08:00–16:00" in winter and "cal-window-allow" in winter
    assert "07:00–15:00" in summer and "Monday changes" in summer
    month = page(client, view="month", date="2025-03-01")  # the clocks change on 30 March
    assert "08:00–16:00" in day_cell(month, "2025-03-24")
    assert "07:00–15:00" in day_cell(month, "2025-03-31")


def test_a_deny_window_is_tinted_red_and_a_freeze_lies_across_its_days(client_as, developer):
    mondays_nine_to_five_in_berlin(kind="deny")
    freeze("Spring freeze", utc(2025, 3, 12), utc(2025, 3, 15), reason="Quarter close")
    html = page(client_as(developer), view="month", date="2025-03-01")
    assert "cal-window-deny" in day_cell(html, "2025-03-10")
    (band,) = re.findall(r'<div class="cal-band[^"]*"\s+style="([^"]+)"[^>]*>❄ Spring freeze', html)
    assert band == "--column: 3; --span: 3; --lane: 0"


@pytest.mark.parametrize(
    ("params", "shown", "hidden"),
    [
        ({"team": "payments"}, "checkout", "indexer"),
        ({"service": "indexer"}, "indexer", "checkout"),
        ({"environment": "staging"}, "indexer", "checkout"),
    ],
)
def test_the_filters_narrow_the_releases(
    client_as, developer, checkout, indexer, release_at, params, shown, hidden
):
    release_at(checkout, utc(2025, 3, 10, 9))
    release_at(indexer, utc(2025, 3, 11, 9), environment="staging")
    html = page(client_as(developer), view="month", date="2025-03-01", **params)
    assert f"{shown} → " in html
    assert f"{hidden} → " not in html
    key, value = next(iter(params.items()))
    assert re.search(rf'<option value="{value}" selected>', html)
    # Moving on keeps the filter.
    assert f"date=2025-04-01&amp;{key}={value}" in html


def test_the_page_draws_only_the_chosen_team_escaped_and_selected(client_as, developer, payments):
    TeamFactory(slug="r-and-d", name="R&D <lab>")
    html = page(client_as(developer), view="month", date="2025-03-01", team="r-and-d")
    teams = select(html, "cal-team")
    assert '<option value="r-and-d" selected>R&amp;D &lt;lab&gt;</option>' in teams
    # The other teams arrive from the filter options once the page is shown.
    assert teams.count("<option") == 2  # and "All teams"
    assert 'hx-get="/releases/calendar/filter-options/?team=r-and-d" hx-trigger="load"' in html


def test_the_filter_options_list_every_team_escaped_with_the_chosen_one_selected(
    client_as, developer, payments
):
    TeamFactory(slug="r-and-d", name="R&D <lab>")
    html = filter_options(client_as(developer), team="r-and-d")
    teams = select(html, "cal-team")
    assert '<option value="r-and-d" selected>R&amp;D &lt;lab&gt;</option>' in teams
    assert '<option value="payments">Payments</option>' in teams
    assert 'hx-swap-oob="innerHTML"' in html


def test_the_service_filter_lists_the_chosen_teams_services_only(
    client_as, developer, checkout, indexer
):
    services = select(filter_options(client_as(developer), team="payments"), "cal-service")
    assert '<option value="checkout">checkout</option>' in services
    assert "indexer" not in services
    everyone = select(filter_options(client_as(developer)), "cal-service")
    assert "checkout" in everyone and "indexer" in everyone


def test_the_service_filter_lists_a_bounded_number_and_says_so(
    client_as, developer, checkout, indexer, monkeypatch
):
    monkeypatch.setattr(selectors, "FILTER_SERVICES", 1)
    services = select(filter_options(client_as(developer)), "cal-service")
    assert services.count("<option value=") == 3  # all, the first service, the note
    assert '<option value="checkout">checkout</option>' in services
    assert "… only the first 1: choose a team to list its own" in services
    # A service chosen beyond the list is still offered, selected.
    chosen = select(filter_options(client_as(developer), service="indexer"), "cal-service")
    assert '<option value="indexer" selected>indexer</option>' in chosen


def test_the_filter_options_take_four_queries_however_many_services_there_are(
    client_as, developer, payments, django_assert_num_queries
):
    for index in range(30):
        ServiceFactory(name=f"service-{index:02}", owner=payments)
    client = client_as(developer)
    # session, user; the teams; the services
    with django_assert_num_queries(4):
        services = select(filter_options(client, team="payments"), "cal-service")
    assert services.count("<option value=") == 31


def test_the_filter_options_are_for_the_signed_in_only(client):
    response = client.get(FILTER_OPTIONS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_without_javascript_a_link_lists_every_team_and_service_on_the_page(
    client_as, developer, checkout, indexer
):
    client = client_as(developer)
    html = page(client, view="month", date="2025-03-01", team="search")
    everything = f"{CALENDAR}?view=month&amp;date=2025-03-01&amp;team=search&amp;options=all"
    assert f'href="{everything}"' in html
    html = page(client, view="month", date="2025-03-01", team="search", options="all")
    assert '<option value="payments">Payments</option>' in html
    assert '<option value="search" selected>Search</option>' in html
    assert '<option value="indexer">indexer</option>' in html and "checkout" not in html
    assert '<input type="hidden" name="options" value="all">' in html  # a filter keeps them
    assert "filter-options" not in html


def test_previous_next_and_today_keep_the_view_and_move_by_its_length(client_as, developer):
    html = page(client_as(developer), view="week", date="2025-03-12", team="payments")
    assert 'href="/releases/calendar/?view=week&amp;date=2025-03-03&amp;team=payments"' in html
    assert 'href="/releases/calendar/?view=week&amp;date=2025-03-17&amp;team=payments"' in html
    assert 'href="/releases/calendar/?view=week&amp;team=payments"' in html  # today
    assert 'href="/releases/calendar/?view=agenda&amp;date=2025-03-12&amp;team=payments"' in html


def test_htmx_gets_only_the_calendar_and_pushes_its_url(client_as, developer, checkout, release_at):
    release_at(checkout, utc(2025, 3, 10, 9))
    response = client_as(developer).get(
        CALENDAR, {"view": "month", "date": "2025-03-01"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="calendar"')
    assert "<html" not in html and "Calendar feeds" not in html
    assert 'hx-push-url="true"' in html and 'hx-target="this"' in html
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(client_as, developer):
    response = client_as(developer).get(
        CALENDAR, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


def test_a_month_with_200_releases_takes_a_fixed_number_of_queries(
    client_as, developer, checkout, indexer, release_at, django_assert_max_num_queries
):
    mondays_nine_to_five_in_berlin()
    freeze("Spring freeze", utc(2025, 3, 12), utc(2025, 3, 15))
    CalendarFeed.objects.create(user=developer, token="t" * 43)
    for index in range(200):
        release_at(
            checkout if index % 2 else indexer,
            utc(2025, 3, 1) + timedelta(hours=3 * index),  # eight a day, 1 to 25 March
            state=ReleaseState.values[index % len(ReleaseState.values)],
        )
    client = client_as(developer)
    # session, user; releases, freezes, windows; dependencies and overlapping open releases for
    # the conflicts; environments to filter by (teams and services arrive later); my feeds, and
    # the teams I may make one for (my roles, my memberships, the teams); the groups (trains)
    # among them. A month reads the releases' times first, then loads only those its cells
    # show: one more.
    with django_assert_max_num_queries(14):
        html = page(client, view="month", date="2025-03-01")
    assert html.count('class="cal-release state-') == 4 * 25  # four a day in a month cell
    assert html.count(">+4 more</a>") == 25
    # The week's partial: no feeds, but the layout's navigation context still asks for roles and
    # teams; a week shows what each release replaces and its commit count, two queries more.
    with django_assert_max_num_queries(13):
        client.get(CALENDAR, {"view": "week", "date": "2025-03-10"}, headers={"HX-Request": "true"})


@pytest.mark.parametrize("persona", ["leadership", "outsider", "release_manager"])
def test_everyone_signed_in_can_open_the_calendar(client_as, request, persona):
    assert client_as(request.getfixturevalue(persona)).get(CALENDAR).status_code == 200


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client):
    response = client.get(CALENDAR)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/releases/calendar/"


# --- Conflicts ------------------------------------------------------------------------------------


def conflict_badges(html: str) -> list[str]:
    """The titles of the conflict warnings on a page, in order."""
    return re.findall(
        r'<span class="[^"]*cal-conflict" title="([^"]+)" data-testid="conflict-badge"', html
    )


@pytest.mark.parametrize("view", ["month", "week", "agenda"])
def test_two_overlapping_releases_of_one_service_and_environment_warn_of_each_other(
    client_as, developer, checkout, release_at, view
):
    first = release_at(checkout, utc(2025, 3, 12, 9), hours=2)
    second = release_at(checkout, utc(2025, 3, 12, 10), state=ReleaseState.PENDING_APPROVAL)
    html = page(client_as(developer), view=view, date="2025-03-10")
    cell = day_cell(html, "2025-03-12")
    assert conflict_badges(cell) == [
        f"Conflicts with #{second.pk} checkout → production (same service and environment)",
        f"Conflicts with #{first.pk} checkout → production (same service and environment)",
    ]
    assert cell.count("cal-release state-") == cell.count(" has-conflict") == 2


@pytest.mark.parametrize("view", ["month", "agenda"])
def test_overlapping_releases_of_services_that_depend_on_each_other_warn(
    client_as, developer, checkout, indexer, release_at, view
):
    Dependency.objects.create(source=checkout, target_service=indexer)
    mine = release_at(checkout, utc(2025, 3, 12, 9))
    theirs = release_at(indexer, utc(2025, 3, 12, 9, 30))
    html = page(client_as(developer), view=view, date="2025-03-10")
    why = "depend on each other"
    assert conflict_badges(day_cell(html, "2025-03-12")) == [
        f"Conflicts with #{theirs.pk} indexer → production (indexer and checkout {why})",
        f"Conflicts with #{mine.pk} checkout → production (checkout and indexer {why})",
    ]


@pytest.mark.parametrize("view", ["month", "agenda"])
def test_overlapping_releases_of_unrelated_services_do_not_warn(
    client_as, developer, checkout, indexer, release_at, view
):
    release_at(checkout, utc(2025, 3, 12, 9))
    release_at(indexer, utc(2025, 3, 12, 9))
    release_at(checkout, utc(2025, 3, 12, 9), environment="staging")
    html = page(client_as(developer), view=view, date="2025-03-10")
    assert day_cell(html, "2025-03-12").count("cal-release state-") == 3
    assert conflict_badges(html) == []
    assert "has-conflict" not in html


def test_finished_and_cancelled_releases_do_not_warn_nor_are_warned_of(
    client_as, developer, checkout, release_at
):
    release_at(checkout, utc(2025, 3, 12, 9), state=ReleaseState.SUCCEEDED)
    release_at(checkout, utc(2025, 3, 12, 9), state=ReleaseState.CANCELLED)
    release_at(checkout, utc(2025, 3, 12, 9), state=ReleaseState.SCHEDULED)
    html = page(client_as(developer), view="month", date="2025-03-01")
    assert conflict_badges(html) == []


def test_a_conflict_with_a_release_the_filters_hide_is_still_named(
    client_as, developer, checkout, indexer, release_at
):
    Dependency.objects.create(source=indexer, target_service=checkout)
    release_at(checkout, utc(2025, 3, 12, 9))
    hidden = release_at(indexer, utc(2025, 3, 12, 9))
    html = page(client_as(developer), view="agenda", date="2025-03-10", service="checkout")
    assert f'data-release="{hidden.pk}"' not in html
    assert conflict_badges(html) == [
        f"Conflicts with #{hidden.pk} indexer → production (indexer and checkout depend on"
        " each other)"
    ]


# --- Feeds on the calendar page -----------------------------------------------------------------


def test_the_page_lists_my_feeds_with_their_absolute_urls(client_as, developer, other_developer):
    mine = CalendarFeed.objects.create(user=developer, token="mine-" + "a" * 38)
    CalendarFeed.objects.create(user=other_developer, token="theirs-" + "b" * 36)
    CalendarFeed.objects.create(user=developer, token="old-" + "c" * 39, revoked_at=utc(2025, 1, 1))
    html = page(client_as(developer))
    assert f'value="http://testserver/releases/calendar/feeds/{mine.token}.ics"' in html
    assert f"webcal://testserver/releases/calendar/feeds/{mine.token}.ics" in html
    assert "theirs-" not in html and "old-" not in html
    assert '<option value="payments">Team Payments</option>' in html
    assert 'value="search"' not in html.split('id="feeds"')[1]


def test_a_developer_creates_a_personal_feed_without_a_reload(client_as, developer):
    response = client_as(developer).post(
        reverse("releases:feed-create"), {"team": ""}, headers={"HX-Request": "true"}
    )
    feed = CalendarFeed.objects.get(user=developer)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="feeds">')
    assert f"http://testserver/releases/calendar/feeds/{feed.token}.ics" in html
    assert 'data-testid="new-feed"' in html
    assert feed.team is None


def test_a_developer_creates_a_feed_for_their_team(client_as, developer, payments):
    client_as(developer).post(
        reverse("releases:feed-create"), {"team": "payments"}, headers={"HX-Request": "true"}
    )
    assert CalendarFeed.objects.get(user=developer).team == payments


def test_a_developer_cannot_create_a_feed_for_another_team(client_as, developer, search):
    response = client_as(developer).post(
        reverse("releases:feed-create"), {"team": "search"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    assert not CalendarFeed.objects.exists()


def test_a_feed_for_a_team_that_does_not_exist_is_404(client_as, developer):
    response = client_as(developer).post(reverse("releases:feed-create"), {"team": "nope"})
    assert response.status_code == 404
    assert not CalendarFeed.objects.exists()


def test_without_javascript_creating_a_feed_returns_to_the_calendar(client_as, developer):
    response = client_as(developer).post(reverse("releases:feed-create"), {"team": ""})
    assert response.status_code == 302 and response["Location"] == CALENDAR
    assert CalendarFeed.objects.filter(user=developer).count() == 1


def test_a_developer_revokes_their_feed_without_a_reload(client_as, developer):
    feed = CalendarFeed.objects.create(user=developer, token="d" * 43)
    response = client_as(developer).post(
        reverse("releases:feed-revoke", args=[feed.pk]), headers={"HX-Request": "true"}
    )
    feed.refresh_from_db()
    assert response.status_code == 200
    assert feed.revoked_at is not None
    assert feed.token not in response.content.decode()
    assert "No feeds yet." in response.content.decode()


def test_a_developer_cannot_revoke_someone_elses_feed(client_as, developer, other_developer):
    feed = CalendarFeed.objects.create(user=other_developer, token="e" * 43)
    response = client_as(developer).post(reverse("releases:feed-revoke", args=[feed.pk]))
    feed.refresh_from_db()
    assert response.status_code == 404
    assert feed.revoked_at is None


def test_feeds_are_only_made_and_revoked_by_post(client_as, developer):
    client = client_as(developer)
    assert client.get(reverse("releases:feed-create")).status_code == 405
    assert client.get(reverse("releases:feed-revoke", args=[1])).status_code == 405
