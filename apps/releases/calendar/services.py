"""Writes for calendar feeds: the secret URLs that calendar clients subscribe to.

The token is the only credential a calendar client has, so it is long and random. It is kept
as it is (not hashed) because the calendar page shows each feed's URL again whenever asked;
revoking a feed is how a leaked URL is stopped.
"""

import secrets

from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.audit.services import audit_record
from apps.releases.models import CalendarFeed

TOKEN_BYTES = 32  # 43 URL-safe characters, within CalendarFeed.token's 64


@transaction.atomic
def calendar_feed_create(*, actor, team: Team | None = None) -> CalendarFeed:
    permissions.require(
        permissions.can_follow_calendar(actor, team),
        "You can make calendar feeds for yourself and for your own teams only.",
    )
    feed = CalendarFeed(user=actor, team=team, token=secrets.token_urlsafe(TOKEN_BYTES))
    feed.full_clean()
    feed.save()
    audit_record(
        actor=actor,
        action="calendar_feed.create",
        target=feed,
        # Never the token: the audit log is read by more people than the feed's owner.
        after={"user": actor.get_username(), "team": team.slug if team else None},
    )
    return feed


@transaction.atomic
def calendar_feed_revoke(*, actor, feed: CalendarFeed) -> CalendarFeed:
    feed = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
    permissions.require(
        feed.user_id == getattr(actor, "pk", None) or permissions.is_platform_admin(actor),
        "Only the feed's owner and platform admins revoke a calendar feed.",
    )
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="calendar_feed.revoke",
            target=feed,
            before={"revoked_at": None},
            after={"revoked_at": feed.revoked_at},
        )
    return feed
