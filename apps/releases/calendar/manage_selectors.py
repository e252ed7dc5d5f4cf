"""Reads for the pages where release managers manage change windows and freezes: the lists,
each row's state and next occurrences, in the rule's own time zone and in the viewer's.

A list page costs the same few queries however many rows it shows: the page's rows with their
team, service and who deleted them, and their count. States and occurrences are computed in
Python (apps/releases/windows.py), a bounded few per row.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from apps.releases.calendar.selectors import zone_of
from apps.releases.calendar.transitions import RuleState, state_of
from apps.releases.models import ChangeWindow, Freeze, WindowScope
from apps.releases.windows import UNREADABLE, next_spans

LIST_OCCURRENCES = 3
DETAIL_OCCURRENCES = 10


def window_list() -> QuerySet[ChangeWindow]:
    return ChangeWindow.objects.select_related("team", "service", "deleted_by").order_by(
        "name", "pk"
    )


def freeze_list() -> QuerySet[Freeze]:
    return Freeze.objects.select_related("team", "service", "created_by", "deleted_by").order_by(
        "-starts_at", "-pk"
    )


def scope_label(rule: ChangeWindow | Freeze) -> str:
    """Whom a window or freeze applies to, in words."""
    if rule.scope == WindowScope.TEAM and rule.team is not None:
        return f"Team {rule.team.name}"
    if rule.scope == WindowScope.SERVICE and rule.service is not None:
        return f"Service {rule.service.name}"
    if rule.scope == WindowScope.ENVIRONMENT:
        return f"Every {rule.get_environment_kind_display().lower()} environment"
    return "Whole organisation"


@dataclass(frozen=True)
class Occurrence:
    """One occurrence, in the rule's own time zone and in the viewer's."""

    starts: datetime
    ends: datetime
    viewer_starts: datetime
    viewer_ends: datetime


def in_zones(spans: list[tuple], rule_zone: str, viewer_zone: ZoneInfo) -> list[Occurrence]:
    zone = ZoneInfo(rule_zone)
    return [
        Occurrence(
            starts.astimezone(zone),
            ends.astimezone(zone),
            starts.astimezone(viewer_zone),
            ends.astimezone(viewer_zone),
        )
        for starts, ends in spans
    ]


def upcoming(rule: ChangeWindow | Freeze, *, viewer_zone: ZoneInfo, now: datetime, count: int):
    """The occurrence under way and the next ones, at most `count`; [] for a rule that cannot
    be evaluated (its state says so)."""
    try:
        return in_zones(next_spans(rule, now, count), rule.time_zone, viewer_zone)
    except UNREADABLE:
        return []


def first_occurrence(rule: ChangeWindow | Freeze) -> tuple[datetime, datetime]:
    """The first occurrence's start and end (the whole of a one-off freeze) in the rule's own
    zone (UTC for a zone that no longer exists)."""
    try:
        zone = ZoneInfo(rule.time_zone)
    except UNREADABLE:
        zone = ZoneInfo("UTC")
    if isinstance(rule, Freeze):
        return rule.starts_at.astimezone(zone), rule.ends_at.astimezone(zone)
    starts = rule.starts_at_local.replace(tzinfo=zone)
    return starts, starts + timedelta(minutes=rule.duration_minutes)


def with_schedule(rows: list, *, user, now: datetime | None = None, count=LIST_OCCURRENCES):
    """Set on each window or freeze its `state`, `state_label`, `scope_label`, its first
    occurrence in its own zone (`first_local`, `first_local_end`) and its `upcoming`
    occurrences (none for a deleted one)."""
    now = now or timezone.now()
    viewer_zone = zone_of(user)
    for row in rows:
        row.first_local, row.first_local_end = first_occurrence(row)
        row.state = state_of(row, now)
        row.state_label = RuleState(row.state).label
        row.scope_label = scope_label(row)
        row.upcoming = (
            []
            if row.state == RuleState.DELETED
            else upcoming(row, viewer_zone=viewer_zone, now=now, count=count)
        )
    return rows
