"""Freezes that recur by RRULE in their own time zone ("every quarter end"): they stop releases
in each occurrence and not between, wherever freezes are checked, show on the calendar in every
occurrence and go out in the iCalendar feed occurrence by occurrence."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar as ICalendar

from apps.releases import services as release_services
from apps.releases.calendar import services
from apps.releases.calendar.selectors import CalendarQuery, calendar_for
from apps.releases.calendar.services import calendar_feed_create
from apps.releases.models import Freeze, Release, ReleaseState, WindowScope
from apps.releases.windows import when_allowed

pytestmark = pytest.mark.django_db

BERLIN = "Europe/Berlin"


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def quarter_end(release_manager) -> Freeze:
    """Three days from the 29th, 00:00 in Berlin, every three months from January 2027."""
    return services.freeze_create(
        actor=release_manager,
        name="Quarter end",
        starts_at=at(2027, 1, 28, 23),  # 29 January 00:00 CET
        ends_at=at(2027, 1, 31, 23),  # 1 February 00:00 CET
        rrule="FREQ=MONTHLY;INTERVAL=3",
        time_zone=BERLIN,
        scope=WindowScope.ORGANISATION,
    )


def allowed(web, prod, start: datetime, hours: float = 0.5) -> bool:
    return when_allowed(web, prod, start, start + timedelta(hours=hours)).allowed


def test_a_recurring_freeze_stops_releases_in_each_occurrence_and_not_between(
    quarter_end, web, prod
):
    # The April occurrence keeps Berlin's wall-clock times under summer time: 29 April 00:00
    # CEST is 28 April 22:00 UTC, an hour earlier in UTC than in January.
    assert not allowed(web, prod, at(2027, 4, 28, 22, 30))
    assert allowed(web, prod, at(2027, 4, 28, 21, 30), hours=0.25)
    assert not allowed(web, prod, at(2027, 5, 1, 21, 30))
    assert allowed(web, prod, at(2027, 5, 1, 22, 0))
    assert allowed(web, prod, at(2027, 3, 15, 10))  # between occurrences
    assert not allowed(web, prod, at(2027, 10, 30, 12))  # October's
    verdict = when_allowed(web, prod, at(2027, 7, 30, 9), at(2027, 7, 30, 10))
    assert verdict.reason == "Freeze “Quarter end” until 2027-07-31 22:00 UTC"


def test_a_release_planned_into_an_occurrence_is_refused_at_submission(
    release_manager, developer, make_release
):
    tomorrow = (timezone.now() + timedelta(days=1)).replace(hour=10, minute=0, second=0)
    tomorrow = tomorrow.replace(microsecond=0)
    services.freeze_create(
        actor=release_manager,
        name="Daily batch",
        starts_at=tomorrow - timedelta(days=2),
        ends_at=tomorrow - timedelta(days=2) + timedelta(hours=2),
        rrule="FREQ=DAILY",
        scope=WindowScope.ORGANISATION,
    )
    inside = make_release(
        planned_start=tomorrow + timedelta(minutes=30), planned_end=tomorrow + timedelta(hours=1)
    )
    with pytest.raises(ValidationError) as error:
        release_services.release_submit(actor=developer, release=inside)
    assert "Daily batch" in error.value.message_dict["planned_start"][0]
    between = make_release(
        planned_start=tomorrow + timedelta(hours=3),
        planned_end=tomorrow + timedelta(hours=4),
        version="registry/web:2",
    )
    submitted = release_services.release_submit(actor=developer, release=between)
    assert submitted.state != ReleaseState.DRAFT


def test_the_start_gate_honours_the_recurrence(release_manager, developer, make_release, web):
    staging = make_release(web.environments.get(name="staging"))
    Release.objects.filter(pk=staging.pk).update(state=ReleaseState.SUCCEEDED)
    release = release_services.release_submit(
        actor=developer, release=make_release(hours_from_now=-1)
    )
    now = timezone.now()
    services.freeze_create(
        actor=release_manager,
        name="Hourly maintenance",
        starts_at=now - timedelta(days=1, minutes=10),
        ends_at=now - timedelta(days=1) + timedelta(minutes=20),
        rrule="FREQ=DAILY",
        scope=WindowScope.SERVICE,
        service=web,
    )
    started, release = release_services.release_begin(release=release)
    assert not started and "Hourly maintenance" in release.hold_reason


def test_ending_a_recurring_freeze_early_ends_only_the_occurrence_under_way(
    release_manager, web, prod
):
    now = timezone.now()
    freeze = services.freeze_create(
        actor=release_manager,
        name="Nightly",
        starts_at=now - timedelta(days=3, hours=1),
        ends_at=now - timedelta(days=3) + timedelta(hours=2),
        rrule="FREQ=DAILY",
        scope=WindowScope.ORGANISATION,
    )
    assert not allowed(web, prod, timezone.now())
    services.freeze_end_now(actor=release_manager, freeze=freeze, reason="Batch finished early")
    assert allowed(web, prod, timezone.now() + timedelta(seconds=1), hours=0.25)
    assert not allowed(web, prod, now + timedelta(days=1))  # tomorrow's occurrence still stops
    freeze.refresh_from_db()
    assert freeze.ends_at == now - timedelta(days=3) + timedelta(hours=2)  # its length is kept


def test_a_deleted_recurring_freeze_stops_nothing(release_manager, quarter_end, web, prod):
    services.freeze_delete(actor=release_manager, freeze=quarter_end)
    assert allowed(web, prod, at(2027, 4, 28, 22, 30))


def test_a_stored_rule_that_no_longer_passes_the_checks_stops_every_release(web, prod):
    Freeze.objects.create(  # written around the services
        name="Broken",
        starts_at=at(2027, 1, 1),
        ends_at=at(2027, 1, 2),
        rrule="FREQ=SECONDLY",
        scope=WindowScope.ORGANISATION,
    )
    verdict = when_allowed(web, prod, at(2027, 3, 1), at(2027, 3, 1, 1))
    assert not verdict.allowed and verdict.reason == "Freeze “Broken” has a rule to fix"


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"rrule": "FREQ=MINUTELY"}, "rrule", "hourly at the finest"),
        ({"rrule": "FREQ=DAILY;COUNT=0"}, "rrule", "COUNT"),
        ({"ends_at": at(2027, 3, 1)}, "ends_at", "at most 31 days"),
        ({"starts_at": at(1990, 1, 1), "ends_at": at(1990, 1, 2)}, "starts_at", "between 2000"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA"),
    ],
)
def test_a_bad_recurring_freeze_is_refused_naming_the_field(release_manager, changes, field, says):
    fields = {
        "name": "Quarter end",
        "starts_at": at(2027, 1, 28, 23),
        "ends_at": at(2027, 1, 31, 23),
        "rrule": "FREQ=MONTHLY;INTERVAL=3",
        "time_zone": BERLIN,
        "scope": WindowScope.ORGANISATION,
        **changes,
    }
    with pytest.raises(ValidationError) as error:
        services.freeze_create(actor=release_manager, **fields)
    assert says in " ".join(error.value.message_dict[field])
    assert not Freeze.objects.exists()


def test_the_calendar_shows_every_occurrence(quarter_end, developer):
    developer.time_zone = BERLIN
    calendar = calendar_for(
        user=developer, query=CalendarQuery(view="month", anchor=date(2027, 4, 1))
    )
    frozen = [day.date.day for day in calendar.days if day.freezes and day.in_period]
    assert frozen == [29, 30]  # and 1 May, in the grid's next month (Berlin's days)
    (band,) = [b for week in calendar.weeks for b in week.bands if b.starts_here]
    assert band.starts == at(2027, 4, 28, 22) and band.ends == at(2027, 5, 1, 22)


def test_the_feed_has_each_occurrence_in_its_range_as_an_event(client, developer, release_manager):
    now = timezone.now().replace(microsecond=0)
    freeze = services.freeze_create(
        actor=release_manager,
        name="Month end",
        starts_at=now - timedelta(days=200),
        ends_at=now - timedelta(days=200) + timedelta(days=2),
        rrule="FREQ=MONTHLY",
        scope=WindowScope.ORGANISATION,
    )
    feed = calendar_feed_create(actor=developer)
    body = client.get(reverse("releases:ics", args=[feed.token])).content
    events = [e for e in ICalendar.from_ical(body).walk("VEVENT") if "freeze" in str(e["UID"])]
    starts = sorted(event.decoded("DTSTART") for event in events)
    # 90 days back to a year ahead: about fifteen months, each occurrence once.
    assert 14 <= len(events) <= 16
    assert len({str(event["UID"]) for event in events}) == len(events)
    assert all(str(event["UID"]).startswith(f"freeze-{freeze.pk}-") for event in events)
    assert starts[0] >= now - timedelta(days=92) and starts[-1] <= now + timedelta(days=366)
    assert all(e.decoded("DTEND") - e.decoded("DTSTART") == timedelta(days=2) for e in events)
