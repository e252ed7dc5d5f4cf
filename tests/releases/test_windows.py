"""Change windows, freezes and daylight saving: checked at submission and again at the start."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.releases import services
from apps.releases.calendar import services as calendar_services
from apps.releases.models import ChangeWindow, Freeze, ReleaseState, WindowScope
from apps.releases.windows import when_allowed, window_occurrences


def berlin_weekday_window(**fields):
    return ChangeWindow.objects.create(
        name="Berlin office hours",
        kind=ChangeWindow.Kind.ALLOW,
        rrule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        starts_at_local=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        duration_minutes=8 * 60,
        time_zone="Europe/Berlin",
        scope=WindowScope.ORGANISATION,
        **fields,
    )


@pytest.mark.django_db
def test_a_window_keeps_its_wall_clock_hours_across_daylight_saving():
    window = berlin_weekday_window()
    # Friday before and Monday after the last Sunday of March 2026 (clocks go forward).
    winter = window_occurrences(
        window, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC)
    )
    summer = window_occurrences(
        window, datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert winter == [
        (datetime(2026, 3, 27, 8, 0, tzinfo=UTC), datetime(2026, 3, 27, 16, 0, tzinfo=UTC))
    ]
    assert summer == [
        (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), datetime(2026, 3, 30, 15, 0, tzinfo=UTC))
    ]


@pytest.mark.django_db
def test_a_window_spanning_the_autumn_change_lasts_its_wall_clock_length():
    window = ChangeWindow.objects.create(
        name="Night",
        kind="allow",
        rrule="FREQ=DAILY",
        starts_at_local=datetime(2026, 10, 1, 22, 0, tzinfo=UTC),
        duration_minutes=6 * 60,
        time_zone="Europe/Berlin",
        scope=WindowScope.ORGANISATION,
    )
    # 22:00 CEST on 24 Oct to 04:00 CET on 25 Oct: seven real hours.
    ((start, end),) = window_occurrences(
        window, datetime(2026, 10, 24, 21, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC)
    )
    assert start == datetime(2026, 10, 24, 20, 0, tzinfo=UTC)
    assert end == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_no_allow_window_in_scope_means_allowed(web, prod):
    now = timezone.now()
    assert when_allowed(web, prod, now, now + timedelta(hours=1)).allowed


@pytest.mark.django_db
def test_outside_an_allow_window_is_refused(web, prod):
    berlin_weekday_window()
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    verdict = when_allowed(web, prod, saturday, saturday + timedelta(hours=1))
    assert not verdict.allowed
    assert "Outside the allowed windows" in verdict.reason
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert when_allowed(web, prod, tuesday, tuesday + timedelta(hours=1)).allowed


@pytest.mark.django_db
def test_deny_wins_over_allow(web, prod):
    berlin_weekday_window()
    ChangeWindow.objects.create(
        name="Friday afternoon",
        kind="deny",
        rrule="FREQ=WEEKLY;BYDAY=FR",
        starts_at_local=datetime(2026, 1, 2, 14, 0, tzinfo=UTC),
        duration_minutes=180,
        time_zone="Europe/Berlin",
        scope=WindowScope.ENVIRONMENT,
        environment_kind="production",
    )
    friday = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 15:00 in Berlin
    verdict = when_allowed(web, prod, friday, friday + timedelta(minutes=30))
    assert not verdict.allowed and "Friday afternoon" in verdict.reason
    staging = web.environments.get(name="staging")
    assert when_allowed(web, staging, friday, friday + timedelta(minutes=30)).allowed


@pytest.mark.django_db
def test_windows_of_other_teams_do_not_apply(web, prod, search):
    ChangeWindow.objects.create(
        name="Search never",
        kind="deny",
        rrule="FREQ=DAILY",
        starts_at_local=datetime(2026, 1, 1, tzinfo=UTC),
        duration_minutes=1440,
        time_zone="UTC",
        scope=WindowScope.TEAM,
        team=search,
    )
    now = timezone.now()
    assert when_allowed(web, prod, now, now + timedelta(hours=1)).allowed


@pytest.mark.django_db
def test_a_release_planned_in_a_freeze_is_refused_with_its_name_and_end(
    make_release, developer, release_manager
):
    start = timezone.now() + timedelta(days=2)
    freeze = calendar_services.freeze_create(
        actor=release_manager,
        name="Black Friday",
        starts_at=start - timedelta(days=1),
        ends_at=start + timedelta(days=2),
        scope=WindowScope.ORGANISATION,
    )
    release = make_release(planned_start=start, planned_end=start + timedelta(hours=1))
    with pytest.raises(ValidationError) as error:
        services.release_submit(actor=developer, release=release)
    message = error.value.message_dict["planned_start"][0]
    assert "Black Friday" in message
    assert f"{freeze.ends_at:%Y-%m-%d %H:%M}" in message
    release.refresh_from_db()
    assert release.state == ReleaseState.DRAFT


@pytest.mark.django_db
def test_a_freeze_created_after_approval_still_stops_the_start(
    make_release, developer, release_manager, web
):
    from apps.releases.models import Release

    staging = make_release(web.environments.get(name="staging"))
    Release.objects.filter(pk=staging.pk).update(state=ReleaseState.SUCCEEDED)
    release = services.release_submit(actor=developer, release=make_release(hours_from_now=-1))
    assert release.state == ReleaseState.SCHEDULED
    calendar_services.freeze_create(
        actor=release_manager,
        name="Incident 4711",
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=5),
        scope=WindowScope.SERVICE,
        service=web,
    )
    ok, release = services.release_begin(release=release)
    assert not ok
    assert "Freeze “Incident 4711”" in release.hold_reason
    assert release.state == ReleaseState.SCHEDULED


@pytest.mark.django_db
def test_an_emergency_overrides_a_freeze_and_the_override_is_audited(
    make_release, developer, release_manager
):
    from apps.audit.models import AuditEvent

    start = timezone.now() + timedelta(hours=1)
    Freeze.objects.create(
        name="Holiday",
        starts_at=start - timedelta(days=1),
        ends_at=start + timedelta(days=1),
        scope=WindowScope.ORGANISATION,
    )
    release = make_release(
        planned_start=start,
        change_type="emergency",
        justification="Security fix for an exploited CVE",
    )
    services.release_submit(actor=developer, release=release)
    event = AuditEvent.objects.get(action="release.window_override")
    assert "Holiday" in event.after["blocked_by"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "BYDAY=MO"}, "rrule"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"scope": WindowScope.TEAM}, "team"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(release_manager, fields, field):
    base = {
        "name": "W",
        "kind": "allow",
        "rrule": "FREQ=DAILY",
        "starts_at_local": datetime(2026, 1, 1, 9, tzinfo=UTC),
        "duration_minutes": 60,
        "time_zone": "UTC",
        "scope": WindowScope.ORGANISATION,
    }
    with pytest.raises(ValidationError) as error:
        calendar_services.change_window_create(actor=release_manager, **{**base, **fields})
    assert field in error.value.message_dict
    assert not ChangeWindow.objects.exists()


@pytest.mark.django_db
def test_a_freeze_ending_before_it_starts_is_refused(release_manager):
    now = timezone.now()
    with pytest.raises(ValidationError) as error:
        calendar_services.freeze_create(
            actor=release_manager,
            name="F",
            starts_at=now,
            ends_at=now - timedelta(hours=1),
            scope=WindowScope.ORGANISATION,
        )
    assert "ends_at" in error.value.message_dict


@pytest.mark.django_db
def test_developers_cannot_create_freezes(developer):
    from django.core.exceptions import PermissionDenied

    now = timezone.now()
    with pytest.raises(PermissionDenied):
        calendar_services.freeze_create(
            actor=developer,
            name="F",
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            scope=WindowScope.ORGANISATION,
        )
