"""Recurrence rules of change windows: refused when they would cost unbounded work, and evaluated
near the instant asked about, with the same occurrences dateutil finds walking from the start."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.releases.calendar import services as calendar_services
from apps.releases.models import ChangeWindow, Release, WindowScope
from apps.releases.rules import MAX_SPAN, compile_rule
from apps.releases.windows import when_allowed

REPRODUCTION = {
    "name": "Runaway",
    "kind": "deny",
    "rrule": "FREQ=SECONDLY",
    "starts_at_local": "0001-01-01T00:00:00",
    "duration_minutes": 1,
    "time_zone": "UTC",
    "scope": "service",
    "service": "web",
    "is_active": True,
}


@pytest.mark.django_db
def test_a_secondly_rule_from_the_year_one_is_refused_naming_the_rule(api_as, release_manager, web):
    response = api_as(release_manager).post("/api/v1/change-windows/", REPRODUCTION, format="json")
    assert response.status_code == 400
    assert "hourly at the finest" in str(response.json()["rrule"])
    assert not ChangeWindow.objects.exists()
    assert not AuditEvent.objects.filter(action="change_window.create").exists()


@pytest.mark.parametrize(
    ("rule", "start", "field", "says"),
    [
        ("FREQ=MINUTELY", datetime(2026, 1, 1), "rrule", "hourly at the finest"),
        ("FREQ=DAILY;INTERVAL=0", datetime(2026, 1, 1), "rrule", "INTERVAL must be between"),
        ("FREQ=DAILY;INTERVAL=x", datetime(2026, 1, 1), "rrule", "whole number"),
        ("FREQ=DAILY;COUNT=999999999", datetime(2026, 1, 1), "rrule", "COUNT must be between"),
        ("FREQ=HOURLY;BYSECOND=0,1,2", datetime(2026, 1, 1), "rrule", "BYSECOND"),
        ("FREQ=HOURLY;BYMINUTE=0,30", datetime(2026, 1, 1), "rrule", "once an hour"),
        ("FREQ=DAILY;FREQ=WEEKLY", datetime(2026, 1, 1), "rrule", "Not a valid RRULE part"),
        ("FREQ=DAILY\nDTSTART:00010101T000000", datetime(2026, 1, 1), "rrule", "One rule"),
        ("FREQ=DAILY;BYDAY=XX", datetime(2026, 1, 1), "rrule", "Not a valid RRULE"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", datetime(2026, 1, 1), "rrule", "never occurs"),
        ("FREQ=YEARLY;COUNT=20", datetime(2026, 1, 1), "rrule", "not used up"),
        ("FREQ=DAILY", datetime(1999, 12, 31), "starts_at_local", "between 2000 and 2099"),
        ("FREQ=DAILY", datetime(9999, 1, 1), "starts_at_local", "between 2000 and 2099"),
    ],
)
def test_a_rule_that_would_cost_unbounded_work_is_refused(rule, start, field, says):
    with pytest.raises(ValidationError) as error:
        compile_rule(rule, start)
    assert says in " ".join(error.value.message_dict[field])


def test_the_bounds_themselves_are_accepted():
    compile_rule("FREQ=HOURLY;INTERVAL=1000;BYMINUTE=30", datetime(2000, 1, 1))
    compile_rule("RRULE:FREQ=WEEKLY;COUNT=520;BYDAY=MO", datetime(2099, 12, 31, 23, 59))


# Rules whose occurrences depend on where the start falls: month ends, leap days, intervals
# counted from the start, positions within a period, week starts, ends by UNTIL and by COUNT.
RULES = [
    "FREQ=HOURLY",
    "FREQ=HOURLY;INTERVAL=5;BYMINUTE=15",
    "FREQ=HOURLY;INTERVAL=7;BYDAY=SA,SU",
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3;BYHOUR=9,17",
    "FREQ=WEEKLY",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;WKST=SU",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,TH;BYHOUR=6,18;BYMINUTE=0",
    "FREQ=MONTHLY",
    "FREQ=MONTHLY;INTERVAL=5",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=YEARLY",
    "FREQ=YEARLY;INTERVAL=3;BYMONTH=3;BYDAY=-1SU",
    "FREQ=YEARLY;BYWEEKNO=1,27;BYDAY=MO",
    "FREQ=DAILY;UNTIL=20260710T000000",
    "FREQ=WEEKLY;COUNT=400;BYDAY=WE",
    "FREQ=MONTHLY;INTERVAL=2;COUNT=20",
]


def test_occurrences_near_an_instant_are_the_ones_found_walking_from_the_start():
    rng = random.Random(12052026)
    starts = [datetime(2024, 1, 31, 9, 30), datetime(2024, 2, 29, 23, 0), datetime(2025, 8, 31)]
    checked = 0
    for text in RULES:
        for start in starts:
            walked = rrulestr(text, dtstart=start)  # dateutil alone: the reference
            rule = compile_rule(text, start)
            for _ in range(5):
                after = datetime(2026, 1, 1) + timedelta(minutes=rng.randrange(0, 600_000))
                before = after + timedelta(minutes=rng.choice([1, 90, 3000, 50_000]))
                assert rule.between(after, before) == walked.between(after, before, inc=True), (
                    text,
                    start,
                    after,
                )
                checked += 1
    assert checked == len(RULES) * 15


def test_a_check_starts_at_most_two_periods_before_the_instant_whatever_the_rules_age():
    near = datetime(2026, 12, 5, 12, 0)
    for text, period in [
        ("FREQ=HOURLY;INTERVAL=3", timedelta(hours=3)),
        ("FREQ=DAILY", timedelta(days=1)),
        ("FREQ=WEEKLY;INTERVAL=2", timedelta(weeks=2)),
        ("FREQ=MONTHLY", timedelta(days=31)),
        ("FREQ=YEARLY", timedelta(days=366)),
    ]:
        rule = compile_rule(text, datetime(2000, 1, 1, 0, 7))
        assert near - 2 * period <= rule.anchor(near) <= near, text


def test_a_span_longer_than_the_calendar_ever_asks_for_is_not_evaluated():
    rule = compile_rule("FREQ=DAILY", datetime(2026, 1, 1))
    after = datetime(2026, 1, 1)
    assert len(rule.between(after, after + MAX_SPAN)) == MAX_SPAN.days + 1
    with pytest.raises(ValueError, match="not evaluated"):
        rule.between(after, after + MAX_SPAN + timedelta(days=1))


@pytest.mark.django_db
def test_a_stored_deny_window_that_fails_the_checks_denies_rather_than_hangs(web, prod):
    ChangeWindow.objects.create(  # saved before the checks existed
        name="Runaway",
        kind=ChangeWindow.Kind.DENY,
        rrule="FREQ=SECONDLY",
        starts_at_local=datetime(1, 1, 1, tzinfo=UTC),
        duration_minutes=1,
        scope=WindowScope.SERVICE,
        service=web,
    )
    now = timezone.now()
    verdict = when_allowed(web, prod, now, now + timedelta(hours=1))
    assert not verdict.allowed
    assert verdict.reason == "Deny window “Runaway” has a rule to fix"


@pytest.mark.django_db
def test_a_window_lasting_over_a_month_is_refused(release_manager):
    with pytest.raises(ValidationError) as error:
        calendar_services.change_window_create(
            actor=release_manager,
            name="Forever",
            kind="deny",
            rrule="FREQ=YEARLY",
            starts_at_local=datetime(2026, 1, 1),
            duration_minutes=31 * 24 * 60 + 1,
            time_zone="UTC",
            scope=WindowScope.ORGANISATION,
        )
    assert "at most 31 days" in error.value.message_dict["duration_minutes"][0]


@pytest.mark.django_db
def test_a_freeze_from_the_year_one_to_9999_is_refused(api_as, release_manager):
    response = api_as(release_manager).post(
        "/api/v1/freezes/",
        {
            "name": "Always",
            "starts_at": "0001-01-01T00:00:00Z",
            "ends_at": "9999-12-31T00:00:00Z",
            "scope": "organisation",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "at most 366 days" in str(response.json()["ends_at"])


@pytest.mark.django_db
def test_a_release_planned_for_over_a_month_is_refused(api_as, developer, web):
    response = api_as(developer).post(
        "/api/v1/releases/",
        {
            "service": "web",
            "environment": "prod",
            "version": "registry/web:1.4.0",
            "title": "For ever",
            "planned_start": "0001-01-01T00:00:00Z",
            "planned_end": "9999-12-31T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "at most 31 days" in str(response.json()["planned_end"])
    assert not Release.objects.exists()
