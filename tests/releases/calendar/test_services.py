import json

import pytest
from django.core.exceptions import PermissionDenied

from apps.audit.models import AuditEvent
from apps.releases.calendar.services import calendar_feed_create, calendar_feed_revoke
from apps.releases.models import CalendarFeed

pytestmark = pytest.mark.django_db


def audit_rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_a_developer_makes_a_personal_feed_and_the_audit_log_records_it(developer):
    feed = calendar_feed_create(actor=developer)
    (row,) = audit_rows("calendar_feed.create")
    assert (feed.user, feed.team, feed.revoked_at) == (developer, None, None)
    assert (row.actor, row.target_type, row.target_id) == (
        developer,
        "releases.calendarfeed",
        str(feed.pk),
    )
    assert row.after == {"user": "dana", "team": None}


def test_the_token_is_long_random_and_kept_out_of_the_audit_log(developer):
    first, second = calendar_feed_create(actor=developer), calendar_feed_create(actor=developer)
    assert len(first.token) >= 40 and first.token != second.token
    for row in audit_rows("calendar_feed.create"):
        assert first.token not in json.dumps([row.before, row.after, row.target_label])


def test_a_developer_makes_a_feed_for_their_own_team(developer, payments):
    feed = calendar_feed_create(actor=developer, team=payments)
    assert feed.team == payments
    assert audit_rows("calendar_feed.create")[0].after == {"user": "dana", "team": "payments"}


def test_a_developer_cannot_make_a_feed_for_another_team(developer, search):
    with pytest.raises(PermissionDenied):
        calendar_feed_create(actor=developer, team=search)
    assert not CalendarFeed.objects.exists()
    assert audit_rows("calendar_feed.create") == []


def test_someone_in_no_team_can_follow_only_their_own_releases(outsider, payments):
    assert calendar_feed_create(actor=outsider).team is None
    with pytest.raises(PermissionDenied):
        calendar_feed_create(actor=outsider, team=payments)


def test_a_platform_admin_makes_a_feed_for_any_team(platform_admin, search):
    assert calendar_feed_create(actor=platform_admin, team=search).team == search


def test_an_inactive_user_cannot_make_a_feed(developer):
    developer.is_active = False
    with pytest.raises(PermissionDenied):
        calendar_feed_create(actor=developer)


def test_revoking_a_feed_stamps_it_once_and_audits_it_once(developer):
    feed = calendar_feed_create(actor=developer)
    calendar_feed_revoke(actor=developer, feed=feed)
    calendar_feed_revoke(actor=developer, feed=feed)  # a double click
    feed.refresh_from_db()
    (row,) = audit_rows("calendar_feed.revoke")
    assert feed.revoked_at is not None
    assert (row.actor, row.target_id, row.before) == (developer, str(feed.pk), {"revoked_at": None})


def test_nobody_else_revokes_my_feed_except_a_platform_admin(
    developer, other_developer, platform_admin
):
    feed = calendar_feed_create(actor=developer)
    with pytest.raises(PermissionDenied):
        calendar_feed_revoke(actor=other_developer, feed=feed)
    feed.refresh_from_db()
    assert feed.revoked_at is None
    calendar_feed_revoke(actor=platform_admin, feed=feed)
    feed.refresh_from_db()
    assert feed.revoked_at is not None
