"""What a new or edited change window or freeze would do, shown on its form before it is saved:
its next occurrences in its own time zone and in the viewer's, and the releases already
planned that it would newly block or newly allow.

The work is bounded whatever is typed: the rule is checked as the services check it
(apps/releases/calendar/validation.py, apps/releases/rules.py), at most DETAIL_OCCURRENCES
occurrences are listed, and at most MAX_RELEASES releases planned in the next HORIZON are
judged, each against the windows and freezes of its own scope loaded once (three queries).
"""

import copy
import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from apps.releases.calendar.manage_selectors import DETAIL_OCCURRENCES, Occurrence, upcoming
from apps.releases.calendar.selectors import zone_of
from apps.releases.calendar.validation import clean_freeze, clean_window
from apps.releases.models import ChangeWindow, Freeze, Release, ReleaseState, WindowScope
from apps.releases.selectors import SERVICE_BULK
from apps.releases.windows import WindowVerdict, scope_of_releases, verdict_among

HORIZON = timedelta(days=90)
MAX_RELEASES = 50
NOT_STARTED = (
    ReleaseState.DRAFT,
    ReleaseState.PENDING_APPROVAL,
    ReleaseState.APPROVED,
    ReleaseState.SCHEDULED,
)


@dataclass(frozen=True)
class ReleaseEffect:
    release: Release
    before: WindowVerdict
    after: WindowVerdict


@dataclass
class Preview:
    rule_zone: str
    viewer_zone: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    occurrences: list[Occurrence] = field(default_factory=list)
    newly_blocked: list[ReleaseEffect] = field(default_factory=list)
    newly_allowed: list[ReleaseEffect] = field(default_factory=list)
    checked: int = 0  # releases judged
    more: bool = False  # more releases were planned in the horizon than were judged
    horizon_days: int = HORIZON.days
    in_force: bool = True  # False: a window switched off decides nothing


def window_candidate(fields: dict, original: ChangeWindow | None = None) -> ChangeWindow:
    """The window as it would be saved, checked; a ValidationError naming the field if not."""
    window = copy.copy(original) if original else ChangeWindow()
    for name, value in fields.items():
        setattr(window, name, value)
    clean_window(window)
    return window


def freeze_candidate(fields: dict, original: Freeze | None = None, *, creator=None) -> Freeze:
    """The freeze as it would be saved, checked; a ValidationError naming the field if not."""
    freeze = copy.copy(original) if original else Freeze(created_by=creator)
    for name, value in fields.items():
        setattr(freeze, name, value)
    clean_freeze(freeze)
    return freeze


def refused(error: ValidationError, *, rule_zone: str, viewer) -> Preview:
    """A preview that shows only what is wrong, by field."""
    errors = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
    return Preview(rule_zone=rule_zone, viewer_zone=zone_of(viewer).key, errors=errors)


def preview(
    *,
    candidate: ChangeWindow | Freeze,
    original: ChangeWindow | Freeze | None,
    viewer,
    now: datetime | None = None,
) -> Preview:
    now = now or timezone.now()
    viewer_zone = zone_of(viewer)
    shown = Preview(
        rule_zone=candidate.time_zone,
        viewer_zone=viewer_zone.key,
        occurrences=upcoming(candidate, viewer_zone=viewer_zone, now=now, count=DETAIL_OCCURRENCES),
        in_force=_in_force(candidate),
    )
    scopes = [_scope(rule) for rule in (candidate, original) if rule is not None]
    # Q() is every release (an organisation-wide rule); Q() | x would be x alone.
    where = Q() if not all(scopes) else reduce(operator.or_, scopes)
    releases = list(
        Release.objects.filter(
            where,
            state__in=NOT_STARTED,
            planned_end__gt=now,
            planned_start__lt=now + HORIZON,
        )
        .select_related("service", "environment")
        .defer(*SERVICE_BULK)
        .order_by("planned_start", "pk")[: MAX_RELEASES + 1]
    )
    shown.more, releases = len(releases) > MAX_RELEASES, releases[:MAX_RELEASES]
    shown.checked = len(releases)
    if not releases:
        return shown
    before, after = _rules_before_and_after(candidate, original, releases)
    for release in releases:
        span = (release.service, release.environment, release.planned_start, release.planned_end)
        was = verdict_among(*span, freezes=before[0], windows=before[1])
        will = verdict_among(*span, freezes=after[0], windows=after[1])
        if was.allowed and not will.allowed:
            shown.newly_blocked.append(ReleaseEffect(release, was, will))
        elif will.allowed and not was.allowed:
            shown.newly_allowed.append(ReleaseEffect(release, was, will))
    return shown


def _in_force(rule: ChangeWindow | Freeze) -> bool:
    return rule.deleted_at is None and getattr(rule, "is_active", True)


def _scope(rule: ChangeWindow | Freeze) -> Q:
    """The releases a window or freeze bears on, as a filter on releases."""
    if rule.scope == WindowScope.TEAM:
        return Q(service__owner_id=rule.team_id)
    if rule.scope == WindowScope.SERVICE:
        return Q(service_id=rule.service_id)
    if rule.scope == WindowScope.ENVIRONMENT:
        return Q(environment__kind=rule.environment_kind)
    return Q()


def _rules_before_and_after(candidate, original, releases: list[Release]):
    """(freezes, windows) in force in the releases' scopes now, and with the change made."""
    services = {release.service_id: release.service for release in releases}.values()
    environments = [release.environment for release in releases]
    scope = scope_of_releases(services, environments)
    start = min(release.planned_start for release in releases)
    end = max(release.planned_end for release in releases)
    freezes = list(Freeze.objects.in_force().overlapping(start, end).filter(scope))
    windows = list(ChangeWindow.objects.in_force().filter(scope))
    same_kind = [freezes, windows][isinstance(candidate, ChangeWindow)]
    changed = [rule for rule in same_kind if original is None or rule.pk != original.pk]
    if _in_force(candidate):
        changed.append(candidate)
    if isinstance(candidate, ChangeWindow):
        return (freezes, windows), (freezes, changed)
    return (freezes, windows), (changed, windows)
