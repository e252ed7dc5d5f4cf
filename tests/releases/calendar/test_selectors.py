from datetime import date, timedelta

import pytest

from apps.releases.calendar import selectors
from apps.releases.calendar.selectors import CalendarFilters, CalendarQuery, calendar_for
from apps.releases.models import ChangeWindow, WindowScope
from tests.releases.calendar.helpers import freeze, mondays_nine_to_five_in_berlin, utc

pytestmark = pytest.mark.django_db

MARCH = CalendarQuery(view="month", anchor=date(2025, 3, 14))


def in_zone(user, zone: str):
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    return user


def day(calendar, iso: str):
    return next(d for d in calendar.days if d.date == date.fromisoformat(iso))


def released_on(calendar, iso: str) -> list[int]:
    return [entry.release.pk for entry in day(calendar, iso).releases]


# --- Periods -------------------------------------------------------------------------------------


def test_a_month_runs_in_whole_weeks_from_the_monday_before_to_the_sunday_after():
    period = selectors.period_for("month", date(2025, 3, 14))
    assert (period.first, period.last) == (date(2025, 2, 24), date(2025, 4, 6))
    assert (period.previous, period.next) == (date(2025, 2, 1), date(2025, 4, 1))
    assert period.title == "March 2025"


def test_a_week_runs_from_monday_to_sunday():
    period = selectors.period_for("week", date(2025, 3, 14))
    assert (period.first, period.last) == (date(2025, 3, 10), date(2025, 3, 16))
    assert (period.previous, period.next) == (date(2025, 3, 3), date(2025, 3, 17))
    assert period.title == "10–16 March 2025"


def test_the_agenda_covers_the_next_thirty_days():
    period = selectors.period_for("agenda", date(2025, 12, 20))
    assert (period.first, period.last) == (date(2025, 12, 20), date(2026, 1, 18))
    assert period.next == date(2026, 1, 19)
    assert period.title == "20 December 2025 – 18 January 2026"


@pytest.mark.parametrize(
    ("params", "view", "anchor"),
    [
        ({}, "month", None),
        ({"view": "week", "date": "2025-03-14"}, "week", date(2025, 3, 14)),
        ({"view": "year", "date": "14/03/2025"}, "month", None),
        ({"view": "agenda", "date": "0001-01-01"}, "agenda", None),
    ],
)
def test_the_query_falls_back_to_this_month_on_input_it_does_not_understand(params, view, anchor):
    query = CalendarQuery.from_params(params)
    assert (query.view, query.anchor) == (view, anchor)


# --- Releases in the viewer's days ---------------------------------------------------------------


def test_a_release_at_2330_utc_is_on_the_next_day_in_berlin(developer, checkout, release_at):
    release = release_at(checkout, utc(2025, 3, 14, 23, 30))
    calendar = calendar_for(user=in_zone(developer, "Europe/Berlin"), query=MARCH)
    assert released_on(calendar, "2025-03-15") == [release.pk]
    assert released_on(calendar, "2025-03-14") == []
    assert day(calendar, "2025-03-15").releases[0].starts.strftime("%H:%M") == "00:30"


def test_the_same_release_is_on_its_utc_day_for_a_viewer_in_utc(developer, checkout, release_at):
    release = release_at(checkout, utc(2025, 3, 14, 23, 30), hours=0.25)
    calendar = calendar_for(user=developer, query=MARCH)
    assert released_on(calendar, "2025-03-14") == [release.pk]
    assert released_on(calendar, "2025-03-15") == []


def test_today_and_this_week_are_the_viewers_own(developer):
    late_friday_in_utc = utc(2025, 3, 14, 23, 30)  # already Saturday in Berlin
    calendar = calendar_for(
        user=in_zone(developer, "Europe/Berlin"),
        query=CalendarQuery(view="week"),
        now=late_friday_in_utc,
    )
    assert calendar.today == date(2025, 3, 15)
    assert [d.date for d in calendar.days if d.is_today] == [date(2025, 3, 15)]
    assert calendar.title == "10–16 March 2025"


def test_a_release_across_midnight_is_on_both_days_and_says_it_continues(
    developer, checkout, release_at
):
    release = release_at(checkout, utc(2025, 3, 14, 22), hours=4)
    calendar = calendar_for(user=developer, query=MARCH)
    first, second = day(calendar, "2025-03-14").releases, day(calendar, "2025-03-15").releases
    assert [e.release.pk for e in first + second] == [release.pk, release.pk]
    assert (first[0].starts_today, first[0].ends_today) == (True, False)
    assert (second[0].starts_today, second[0].ends_today) == (False, True)


def test_releases_outside_the_visible_weeks_are_not_read(developer, checkout, release_at):
    release_at(checkout, utc(2025, 2, 23, 12))  # the Sunday before the grid starts
    release_at(checkout, utc(2025, 4, 7, 12))  # the Monday after it ends
    inside = release_at(checkout, utc(2025, 4, 6, 12))
    calendar = calendar_for(user=developer, query=MARCH)
    assert calendar.release_count == 1
    assert released_on(calendar, "2025-04-06") == [inside.pk]
    assert day(calendar, "2025-04-06").in_period is False


def test_a_busy_month_cell_shows_four_releases_and_counts_the_rest(developer, checkout, release_at):
    for hour in range(6):
        release_at(checkout, utc(2025, 3, 12, 8 + hour))
    cell = day(calendar_for(user=developer, query=MARCH), "2025-03-12")
    assert (len(cell.month_releases), cell.more_releases) == (4, 2)


# --- Change windows across daylight saving time --------------------------------------------------


def test_a_berlin_nine_to_five_window_is_0800_utc_in_winter_and_0700_utc_in_summer(developer):
    mondays_nine_to_five_in_berlin()
    calendar = calendar_for(user=developer, query=MARCH)  # Berlin moves to summer time on 30 March
    before, after = day(calendar, "2025-03-24").windows, day(calendar, "2025-03-31").windows
    assert [(w.starts.strftime("%H:%M"), w.ends.strftime("%H:%M")) for w in before] == [
        ("08:00", "16:00")
    ]
    assert [(w.starts.strftime("%H:%M"), w.ends.strftime("%H:%M")) for w in after] == [
        ("07:00", "15:00")
    ]
    assert day(calendar, "2025-03-25").windows == []


def test_a_viewer_in_berlin_sees_the_window_at_nine_all_year(developer):
    mondays_nine_to_five_in_berlin()
    calendar = calendar_for(user=in_zone(developer, "Europe/Berlin"), query=MARCH)
    starts = {w.starts.strftime("%H:%M") for d in calendar.days for w in d.windows}
    assert starts == {"09:00"}


def test_a_window_with_a_broken_rule_is_left_out_instead_of_breaking_the_calendar(developer):
    mondays_nine_to_five_in_berlin()
    ChangeWindow.objects.create(
        name="Broken",
        kind=ChangeWindow.Kind.DENY,
        rrule="EVERY MONDAY",
        starts_at_local=utc(2025, 1, 6, 9),
        duration_minutes=60,
        time_zone="Mars/Olympus",
        scope=WindowScope.ORGANISATION,
    )
    calendar = calendar_for(user=developer, query=MARCH)
    names = {w.window.name for d in calendar.days for w in d.windows}
    assert names == {"Monday changes"}


# --- Freezes as bands ----------------------------------------------------------------------------


def week_of(calendar, iso: str):
    return next(w for w in calendar.weeks if any(d.date.isoformat() == iso for d in w.days))


def test_a_freeze_lies_across_the_days_it_covers_and_overlapping_ones_take_another_lane(
    developer,
):
    holiday = freeze("Release party", utc(2025, 3, 12, 9), utc(2025, 3, 15))  # Wed to Fri
    incident = freeze("Incident", utc(2025, 3, 13, 10), utc(2025, 3, 13, 12))  # Thursday
    later = freeze("Weekend", utc(2025, 3, 15, 8), utc(2025, 3, 16, 20))  # Sat and Sun
    week = week_of(calendar_for(user=developer, query=MARCH), "2025-03-12")
    bands = {band.freeze.pk: band for band in week.bands}
    assert (bands[holiday.pk].column, bands[holiday.pk].span, bands[holiday.pk].lane) == (3, 3, 0)
    assert (bands[incident.pk].column, bands[incident.pk].span, bands[incident.pk].lane) == (
        4,
        1,
        1,
    )
    assert (bands[later.pk].column, bands[later.pk].span, bands[later.pk].lane) == (6, 2, 0)
    assert week.lanes == 2


def test_a_freeze_over_a_weekend_continues_into_the_next_week(developer):
    freeze("Long weekend", utc(2025, 3, 14, 18), utc(2025, 3, 18, 6))  # Fri to Tue
    calendar = calendar_for(user=developer, query=MARCH)
    (first,) = week_of(calendar, "2025-03-14").bands
    (second,) = week_of(calendar, "2025-03-18").bands
    assert (first.column, first.span, first.starts_here, first.ends_here) == (5, 3, True, False)
    assert (second.column, second.span, second.starts_here, second.ends_here) == (1, 2, False, True)
    assert [f.name for f in day(calendar, "2025-03-17").freezes] == ["Long weekend"]


# --- Filters -------------------------------------------------------------------------------------


def filtered(user, **filters):
    return calendar_for(
        user=user,
        query=CalendarQuery(
            view="month", anchor=date(2025, 3, 1), filters=CalendarFilters(**filters)
        ),
    )


def shown(calendar) -> set[int]:
    return {e.release.pk for d in calendar.days for e in d.releases}


def test_releases_filter_by_team_service_and_environment(developer, checkout, indexer, release_at):
    ours = release_at(checkout, utc(2025, 3, 10, 9))
    ours_staging = release_at(checkout, utc(2025, 3, 11, 9), environment="staging")
    theirs = release_at(indexer, utc(2025, 3, 12, 9))
    assert shown(filtered(developer)) == {ours.pk, ours_staging.pk, theirs.pk}
    assert shown(filtered(developer, team="payments")) == {ours.pk, ours_staging.pk}
    assert shown(filtered(developer, service="indexer")) == {theirs.pk}
    assert shown(filtered(developer, environment="staging")) == {ours_staging.pk}
    assert shown(filtered(developer, team="search", environment="staging")) == set()


def test_freezes_and_windows_follow_the_filters_by_their_scope(
    developer, payments, search, checkout, indexer
):
    start, end = utc(2025, 3, 10), utc(2025, 3, 11)
    freeze("Everyone", start, end)
    freeze("Payments", start, end, scope=WindowScope.TEAM, team=payments)
    freeze("Search", start, end, scope=WindowScope.TEAM, team=search)
    freeze("Indexer", start, end, scope=WindowScope.SERVICE, service=indexer)
    freeze("Production", start, end, scope=WindowScope.ENVIRONMENT, environment_kind="production")
    freeze("Development", start, end, scope=WindowScope.ENVIRONMENT, environment_kind="development")
    mondays_nine_to_five_in_berlin(scope=WindowScope.TEAM, team=search)

    def frozen(**filters) -> set[str]:
        return {f.name for f in day(filtered(developer, **filters), "2025-03-10").freezes}

    def windows(**filters) -> set[str]:
        return {w.window.name for w in day(filtered(developer, **filters), "2025-03-10").windows}

    assert frozen(team="payments") == {"Everyone", "Payments", "Production"}
    assert frozen(service="indexer") == {"Everyone", "Search", "Indexer", "Production"}
    assert frozen(environment="production") == {
        "Everyone",
        "Payments",
        "Search",
        "Indexer",
        "Production",
    }
    assert windows(team="payments") == set()
    assert windows(service="indexer") == {"Monday changes"}


# --- Cost ----------------------------------------------------------------------------------------


def test_a_month_costs_seven_queries_however_many_releases_it_holds(
    developer, checkout, indexer, release_at, django_assert_num_queries
):
    mondays_nine_to_five_in_berlin()
    freeze("Everyone", utc(2025, 3, 10), utc(2025, 3, 12))
    for index in range(200):
        release_at(
            checkout if index % 2 else indexer, utc(2025, 3, 1, 6) + timedelta(hours=3 * index)
        )
    # the releases' times, the groups (trains) they belong to, then the releases the cells
    # show with their joins; freezes, windows; dependencies and overlapping open releases for
    # the conflicts
    with django_assert_num_queries(7):
        calendar = calendar_for(user=developer, query=MARCH)
        for d in calendar.days:
            for entry in d.releases:
                assert entry.release.service.owner.slug and entry.release.environment.name
                assert entry.release.requester.username
    assert calendar.release_count == 200


def test_a_month_loads_only_the_releases_its_cells_show_and_counts_the_rest(
    developer, checkout, release_at
):
    # Eight on 3 March, the first of them lasting into 4 March, where four more start later.
    first = release_at(checkout, utc(2025, 3, 3, 20), hours=6)
    rest = [release_at(checkout, utc(2025, 3, 3, 8) + timedelta(hours=i)) for i in range(7)]
    fourth_day = [release_at(checkout, utc(2025, 3, 4, 9) + timedelta(hours=i)) for i in range(4)]
    calendar = calendar_for(user=developer, query=MARCH)
    days = {day.date: day for day in calendar.days}
    third, fourth = days[date(2025, 3, 3)], days[date(2025, 3, 4)]
    assert [e.release.pk for e in third.month_releases] == [r.pk for r in rest[:4]]
    assert third.more_releases == 4
    assert [e.release.pk for e in fourth.month_releases] == [first.pk] + [
        r.pk for r in fourth_day[:3]
    ]
    assert fourth.more_releases == 1
    loaded = {e.release.pk for day in calendar.days for e in day.releases}
    assert loaded == {first.pk, *(r.pk for r in rest[:4]), *(r.pk for r in fourth_day[:3])}
    assert calendar.release_count == 12


def test_a_month_loads_only_what_its_cells_show_of_each_release(developer, checkout, release_at):
    release = release_at(checkout, utc(2025, 3, 10, 9), hours=2)
    (entry,) = day(calendar_for(user=developer, query=MARCH), "2025-03-10").releases
    # A busy month shows a hundred releases or more: their long fields stay in the database.
    assert {"description", "justification", "links", "risk_reasons", "version"} <= (
        entry.release.get_deferred_fields()
    )
    assert (entry.when, entry.url, entry.state_display) == (
        "Mon 10 Mar 09:00–11:00",
        f"/releases/{release.pk}/",
        "Approved",
    )
    assert entry.tooltip == f"#{release.pk} Faster checkout · Approved · Mon 10 Mar 09:00–11:00"
    assert (entry.name, entry.spoken) == ("checkout → production", ", Approved")


def test_each_day_is_named_once_for_the_grid(developer):
    month = calendar_for(user=developer, query=MARCH)
    first, second = day(month, "2025-03-01"), day(month, "2025-03-02")
    assert (first.name, first.weekday, first.number) == ("Saturday 1 March", "Sat", "1 Mar")
    assert (second.name, second.weekday, second.number) == ("Sunday 2 March", "Sun", "2")
    week = calendar_for(user=developer, query=CalendarQuery(view="week", anchor=date(2025, 3, 14)))
    assert [d.number for d in week.days][:2] == ["10 Mar", "11 Mar"]


def test_a_conflicting_entry_warns_in_its_tooltip_and_in_what_a_screen_reader_hears(
    developer, checkout, release_at
):
    first = release_at(checkout, utc(2025, 3, 10, 9), hours=2)
    second = release_at(checkout, utc(2025, 3, 10, 10))
    entry = next(
        e
        for e in day(calendar_for(user=developer, query=MARCH), "2025-03-10").releases
        if e.release == first
    )
    note = f"Conflicts with #{second.pk} checkout → production (same service and environment)"
    assert entry.conflict_note == note
    assert entry.tooltip.endswith(f" · Mon 10 Mar 09:00–11:00 · ⚠ {note}")
    assert entry.spoken == f", Approved. Warning: {note}"
