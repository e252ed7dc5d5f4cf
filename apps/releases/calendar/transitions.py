"""What may be done with a change window or a freeze now, after the shape of
apps/releases/transitions.py: a state, the actions each state allows, the one function that
locks the row, and `available_actions(obj, user)` that the pages, the API and the services
all read.

Their state is not a column: it is when their occurrences fall (active now, upcoming, ended),
a window's switch (inactive), a rule that no longer passes the checks, or a deletion.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from apps.accounts import permissions
from apps.core.exceptions import Gone
from apps.releases.models import ChangeWindow, Freeze
from apps.releases.windows import UNREADABLE, has_ended, next_spans


class RuleState(models.TextChoices):
    ACTIVE = "active", "Active now"
    UPCOMING = "upcoming", "Upcoming"
    ENDED = "ended", "Ended"
    INACTIVE = "inactive", "Inactive"
    INVALID = "invalid", "Rule to fix"
    DELETED = "deleted", "Deleted"


_WINDOW_IN_FORCE = frozenset({"edit", "deactivate", "delete"})
WINDOW_ACTIONS: dict[str, frozenset[str]] = {
    RuleState.ACTIVE: _WINDOW_IN_FORCE,
    RuleState.UPCOMING: _WINDOW_IN_FORCE,
    RuleState.ENDED: _WINDOW_IN_FORCE,
    RuleState.INVALID: _WINDOW_IN_FORCE,
    RuleState.INACTIVE: frozenset({"edit", "reactivate", "delete"}),
    RuleState.DELETED: frozenset(),
}
# An ended freeze is kept as it was: it is the record of a period that stopped changes.
FREEZE_ACTIONS: dict[str, frozenset[str]] = {
    RuleState.ACTIVE: frozenset({"edit", "end_now", "extend", "delete"}),
    RuleState.UPCOMING: frozenset({"edit", "extend", "delete"}),
    RuleState.ENDED: frozenset({"delete"}),
    RuleState.INVALID: frozenset({"edit", "delete"}),
    RuleState.DELETED: frozenset(),
}
REFUSED = "Only release managers and platform admins manage windows and freezes."


def state_of(obj: ChangeWindow | Freeze, now: datetime | None = None) -> str:
    now = now or timezone.now()
    if obj.deleted_at is not None:
        return RuleState.DELETED
    if isinstance(obj, ChangeWindow) and not obj.is_active:
        return RuleState.INACTIVE
    try:
        spans = next_spans(obj, now, 1)
        if spans:
            return RuleState.ACTIVE if spans[0][0] <= now else RuleState.UPCOMING
        return RuleState.ENDED if has_ended(obj, now) else RuleState.UPCOMING
    except UNREADABLE:
        return RuleState.INVALID


def _edges(obj) -> dict[str, frozenset[str]]:
    return FREEZE_ACTIONS if isinstance(obj, Freeze) else WINDOW_ACTIONS


def _refusal(obj: ChangeWindow | Freeze, action: str, state: str) -> tuple[str, str] | None:
    """(field, why) when `action` is not possible in `state`, whoever asks; None when it is."""
    name = f"“{obj.name}”"
    if isinstance(obj, Freeze) and action == "extend" and obj.rrule:
        return "ends_at", (
            "A recurring freeze is not extended: edit its first occurrence's end, which every "
            "occurrence follows."
        )
    if action in _edges(obj)[state]:
        return None
    if state == RuleState.DELETED:
        return "deleted_at", f"{name} was deleted."
    if action == "deactivate":
        return "is_active", f"Window {name} is already inactive."
    if action == "reactivate":
        return "is_active", f"Window {name} is already active."
    if action == "end_now":
        return "ends_at", (
            f"Freeze {name} has not started yet: edit or delete it instead."
            if state == RuleState.UPCOMING
            else f"Freeze {name} is not under way: there is nothing to end."
        )
    return "ends_at", f"Freeze {name} has ended and is kept as it was: make a new freeze instead."


def available_actions(obj: ChangeWindow | Freeze, user, now: datetime | None = None):
    """What `user` may do with the window or freeze now: the pages' buttons, the API's
    `actions` and the services' own check (`require_action`) are this one answer."""
    if not permissions.can_manage_change_calendar(user):
        return frozenset()
    state = state_of(obj, now)
    return frozenset(action for action in _edges(obj)[state] if not _refusal(obj, action, state))


def require_action(obj: ChangeWindow | Freeze, user, action: str, now=None) -> None:
    """Refuse what `available_actions` does not offer: 403 for who, a ValidationError naming
    the field for when."""
    permissions.require(permissions.can_manage_change_calendar(user), REFUSED)
    refusal = _refusal(obj, action, state_of(obj, now))
    if refusal:
        raise ValidationError({refusal[0]: refusal[1]})


def lock_window(pk: int) -> ChangeWindow:
    """The window's row, locked for this transaction; Gone (404) once it is deleted."""
    window = ChangeWindow.objects.select_for_update().filter(pk=pk).first()
    if window is None or window.deleted_at is not None:
        raise Gone("That change window was deleted.")
    return window


def lock_freeze(pk: int) -> Freeze:
    """The freeze's row, locked for this transaction; Gone (404) once it is deleted."""
    freeze = Freeze.objects.select_for_update().filter(pk=pk).first()
    if freeze is None or freeze.deleted_at is not None:
        raise Gone("That freeze was deleted.")
    return freeze
