"""Writes for the release calendar: change windows, freezes and calendar feeds.

A window or a freeze is checked by apps/releases/calendar/validation.py, and what may be done
with one now is apps/releases/calendar/transitions.py's answer. Deleting one keeps the row,
with who and when, and takes it out of every check.

A calendar feed is a secret URL that calendar clients subscribe to. Its token is the only
credential a calendar client has, so it is long and random. It is kept as it is (not hashed)
because the calendar page shows each feed's URL again whenever asked; revoking a feed is how a
leaked URL is stopped.
"""

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Team, User
from apps.audit.services import audit_record, snapshot
from apps.releases.calendar.transitions import (
    REFUSED,
    lock_freeze,
    lock_window,
    require_action,
)
from apps.releases.calendar.validation import MAX_FREEZE_SPAN, clean_freeze, clean_window
from apps.releases.models import CalendarFeed, ChangeWindow, Freeze

TOKEN_BYTES = 32  # 43 URL-safe characters, within CalendarFeed.token's 64


@transaction.atomic
def calendar_feed_create(*, actor: User, team: Team | None = None) -> CalendarFeed:
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
def calendar_feed_revoke(*, actor: User, feed: CalendarFeed) -> CalendarFeed:
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

WINDOW_FIELDS = (
    "name", "kind", "rrule", "starts_at_local", "duration_minutes", "time_zone", "scope", "team",
    "service", "environment_kind",
)  # fmt: skip
FREEZE_FIELDS = (
    "name", "reason", "starts_at", "ends_at", "rrule", "time_zone", "scope", "team", "service",
    "environment_kind",
)  # fmt: skip


def _require_calendar_rights(actor: User) -> None:
    permissions.require(permissions.can_manage_change_calendar(actor), REFUSED)


def _edit(obj, fields: dict, editable: tuple[str, ...], clean) -> tuple[dict, dict]:
    """Set `fields` on the locked `obj`, check it whole and return the changed fields as they
    were and as they are (the scope's cleared fields too); nothing is saved."""
    unknown = set(fields) - set(editable)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    before = snapshot(obj, editable)
    for name, value in fields.items():
        setattr(obj, name, value)
    clean(obj)
    after = snapshot(obj, editable)
    changed = [name for name in editable if before[name] != after[name]]
    return {name: before[name] for name in changed}, {name: after[name] for name in changed}


def _soft_delete(obj, *, actor: User, action: str):
    obj.deleted_at = timezone.now()
    obj.deleted_by = actor
    obj.save(update_fields=["deleted_at", "deleted_by"])
    audit_record(
        actor=actor,
        action=action,
        target=obj,
        before={"deleted_at": None},
        after={"deleted_at": obj.deleted_at, "deleted_by": actor.get_username()},
    )
    return obj


@transaction.atomic
def change_window_create(*, actor: User, **fields) -> ChangeWindow:
    _require_calendar_rights(actor)
    window = ChangeWindow(**fields)
    clean_window(window)
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
def change_window_update(*, actor: User, window: ChangeWindow, **fields) -> ChangeWindow:
    """Change the fields given (an API PATCH sends some); `is_active` switches the window as
    change_window_deactivate and _reactivate do. Nothing changed, nothing written."""
    _require_calendar_rights(actor)
    window = lock_window(window.pk)
    is_active = fields.pop("is_active", None)
    if fields:
        require_action(window, actor, "edit")
        before, after = _edit(window, fields, WINDOW_FIELDS, clean_window)
        if after:
            window.save()
            audit_record(
                actor=actor,
                action="change_window.update",
                target=window,
                before=before,
                after=after,
            )
    if is_active is not None and is_active != window.is_active:
        window = _window_switch(actor=actor, window=window, is_active=is_active)
    return window


def _window_switch(*, actor: User, window: ChangeWindow, is_active: bool) -> ChangeWindow:
    action = "reactivate" if is_active else "deactivate"
    require_action(window, actor, action)
    window.is_active = is_active
    window.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=f"change_window.{action}",
        target=window,
        before={"is_active": not is_active},
        after={"is_active": is_active},
    )
    return window


@transaction.atomic
def change_window_deactivate(*, actor: User, window: ChangeWindow) -> ChangeWindow:
    """The window stops deciding until it is reactivated; it stays listed as inactive."""
    _require_calendar_rights(actor)
    return _window_switch(actor=actor, window=lock_window(window.pk), is_active=False)


@transaction.atomic
def change_window_reactivate(*, actor: User, window: ChangeWindow) -> ChangeWindow:
    _require_calendar_rights(actor)
    return _window_switch(actor=actor, window=lock_window(window.pk), is_active=True)


@transaction.atomic
def change_window_delete(*, actor: User, window: ChangeWindow) -> ChangeWindow:
    _require_calendar_rights(actor)
    window = lock_window(window.pk)
    require_action(window, actor, "delete")
    return _soft_delete(window, actor=actor, action="change_window.delete")


@transaction.atomic
def freeze_create(*, actor: User, **fields) -> Freeze:
    _require_calendar_rights(actor)
    freeze = Freeze(created_by=actor, **fields)
    clean_freeze(freeze)
    freeze.save()
    audit_record(
        actor=actor,
        action="freeze.create",
        target=freeze,
        after=snapshot(
            freeze, ("name", "reason", "starts_at", "ends_at", "rrule", "time_zone", "scope")
        ),
    )
    return freeze


@transaction.atomic
def freeze_update(*, actor: User, freeze: Freeze, **fields) -> Freeze:
    """Change the fields given. An ended freeze stays as it was."""
    _require_calendar_rights(actor)
    freeze = lock_freeze(freeze.pk)
    require_action(freeze, actor, "edit")
    before, after = _edit(freeze, fields, FREEZE_FIELDS, clean_freeze)
    if after:
        freeze.save()
        audit_record(actor=actor, action="freeze.update", target=freeze, before=before, after=after)
    return freeze


@transaction.atomic
def freeze_end_now(*, actor: User, freeze: Freeze, reason: str) -> Freeze:
    """End the freeze under way now, saying why. A recurring freeze's current occurrence ends;
    its later occurrences still stop changes."""
    _require_calendar_rights(actor)
    freeze = lock_freeze(freeze.pk)
    now = timezone.now()
    require_action(freeze, actor, "end_now", now)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the freeze ends early."})
    if not freeze.rrule and freeze.starts_at >= now:
        raise ValidationError({"ends_at": f"Freeze “{freeze.name}” has only just started."})
    fields = ("ends_at", "ended_early_at", "end_reason")
    before = snapshot(freeze, fields)
    if not freeze.rrule:
        freeze.ends_at = now
    freeze.ended_early_at = now
    freeze.end_reason = reason
    freeze.save(update_fields=list(fields))
    audit_record(
        actor=actor,
        action="freeze.end_now",
        target=freeze,
        before=before,
        after=snapshot(freeze, fields),
    )
    return freeze


@transaction.atomic
def freeze_extend(*, actor: User, freeze: Freeze, ends_at: datetime | None) -> Freeze:
    """Move a one-off freeze's end later, within the longest a freeze may last."""
    _require_calendar_rights(actor)
    freeze = lock_freeze(freeze.pk)
    require_action(freeze, actor, "extend")
    if ends_at is None:
        raise ValidationError({"ends_at": "Give the new end."})
    if ends_at <= freeze.ends_at:
        current = f"{freeze.ends_at:%Y-%m-%d %H:%M} UTC"
        raise ValidationError({"ends_at": f"The new end must be after the current one, {current}."})
    latest = freeze.starts_at + MAX_FREEZE_SPAN
    if ends_at > latest:
        raise ValidationError(
            {
                "ends_at": f"A freeze lasts at most {MAX_FREEZE_SPAN.days} days: this one can "
                f"end by {latest:%Y-%m-%d %H:%M} UTC."
            }
        )
    before = {"ends_at": freeze.ends_at}
    freeze.ends_at = ends_at
    freeze.save(update_fields=["ends_at"])
    audit_record(
        actor=actor,
        action="freeze.extend",
        target=freeze,
        before=before,
        after={"ends_at": ends_at},
    )
    return freeze


@transaction.atomic
def freeze_delete(*, actor: User, freeze: Freeze) -> Freeze:
    """The freeze stops nothing from now on; the row stays, with who deleted it and when."""
    _require_calendar_rights(actor)
    freeze = lock_freeze(freeze.pk)
    require_action(freeze, actor, "delete")
    return _soft_delete(freeze, actor=actor, action="freeze.delete")
