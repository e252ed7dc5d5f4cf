"""Writes for the release calendar: change windows, freezes and calendar feeds.

A calendar feed is a secret URL that calendar clients subscribe to. Its token is the only
credential a calendar client has, so it is long and random. It is kept as it is (not hashed)
because the calendar page shows each feed's URL again whenever asked; revoking a feed is how a
leaked URL is stopped.
"""

import secrets
from datetime import UTC, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Team, validate_time_zone
from apps.audit.services import audit_record, snapshot
from apps.releases.models import CalendarFeed, ChangeWindow, Freeze, WindowScope
from apps.releases.windows import parse_rrule

TOKEN_BYTES = 32  # 43 URL-safe characters, within CalendarFeed.token's 64
MAX_FREEZE_SPAN = timedelta(days=366)
MAX_WINDOW_MINUTES = 31 * 24 * 60


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


# --- Change windows and freezes -------------------------------------------------------------


def _require_calendar_rights(actor) -> None:
    permissions.require(
        permissions.can_manage_change_calendar(actor),
        "Only release managers and platform admins manage windows and freezes.",
    )


def _validate_scope(obj) -> None:
    needs = {
        WindowScope.TEAM: "team",
        WindowScope.SERVICE: "service",
        WindowScope.ENVIRONMENT: "environment_kind",
    }
    field = needs.get(obj.scope)
    if field and not getattr(obj, field if field == "environment_kind" else f"{field}_id"):
        scope = obj.get_scope_display().lower()
        raise ValidationError({field: f"A {scope} window names its {field.replace('_', ' ')}."})


@transaction.atomic
def change_window_create(*, actor, **fields) -> ChangeWindow:
    _require_calendar_rights(actor)
    window = ChangeWindow(**fields)
    if window.starts_at_local and timezone.is_naive(window.starts_at_local):
        # Wall-clock time in the window's zone, kept in a UTC-labelled column.
        window.starts_at_local = window.starts_at_local.replace(tzinfo=UTC)
    validate_time_zone_field(window.time_zone)
    if window.duration_minutes and window.duration_minutes > MAX_WINDOW_MINUTES:
        raise ValidationError(
            {"duration_minutes": f"A window lasts at most {MAX_WINDOW_MINUTES // 1440} days."}
        )
    if window.starts_at_local is not None:
        parse_rrule(window.rrule or "", window.starts_at_local)
    _validate_scope(window)
    window.full_clean()
    window.save()
    audit_record(
        actor=actor,
        action="change_window.create",
        target=window,
        after=snapshot(
            window,
            ("name", "kind", "rrule", "starts_at_local", "duration_minutes", "time_zone", "scope"),
        ),
    )
    return window


@transaction.atomic
def freeze_create(*, actor, **fields) -> Freeze:
    _require_calendar_rights(actor)
    freeze = Freeze(created_by=actor, **fields)
    if freeze.starts_at and freeze.ends_at and freeze.ends_at <= freeze.starts_at:
        raise ValidationError({"ends_at": "The end must be after the start."})
    if freeze.starts_at and freeze.ends_at and freeze.ends_at - freeze.starts_at > MAX_FREEZE_SPAN:
        raise ValidationError({"ends_at": f"A freeze lasts at most {MAX_FREEZE_SPAN.days} days."})
    _validate_scope(freeze)
    freeze.full_clean()
    freeze.save()
    audit_record(
        actor=actor,
        action="freeze.create",
        target=freeze,
        after=snapshot(freeze, ("name", "reason", "starts_at", "ends_at", "scope")),
    )
    return freeze


def validate_time_zone_field(value: str) -> None:
    try:
        validate_time_zone(value)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from None
