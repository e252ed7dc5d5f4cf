"""Change windows and freezes: may a change to this service and environment run at this time?

Windows recur by an RFC 5545 RRULE expanded in the window's own time zone, so "weekdays
09:00-17:00 Europe/Berlin" stays 09:00-17:00 on both sides of a daylight-saving change. What a
rule may ask for, and how it is evaluated in bounded work, is in apps/releases/rules.py.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from apps.catalog.models import Environment, Service
from apps.releases.models import ChangeWindow, Freeze, WindowScope
from apps.releases.rules import MAX_OCCURRENCES, Rule, compile_rule

log = logging.getLogger(__name__)


def parse_rrule(text: str, starts_at_local: datetime) -> Rule:
    """The window's rule, checked (apps/releases/rules.py), or a ValidationError on `rrule` or
    `starts_at_local` saying what is wrong with it."""
    return compile_rule(text, starts_at_local.replace(tzinfo=None))


def overlapping_spans(window: ChangeWindow, start: datetime, end: datetime) -> Iterator[tuple]:
    """(start, end) pairs in UTC of the window's occurrences that overlap [start, end), earliest
    first, lazily."""
    zone = ZoneInfo(window.time_zone)
    duration = timedelta(minutes=window.duration_minutes)
    rule = parse_rrule(window.rrule, window.starts_at_local)
    local_from = start.astimezone(zone).replace(tzinfo=None) - duration
    local_to = end.astimezone(zone).replace(tzinfo=None)
    for occurrence in islice(rule.occurrences(local_from, local_to), MAX_OCCURRENCES):
        # Wall-clock start and end, each placed in the zone: DST shifts the UTC instants.
        begins = occurrence.replace(tzinfo=zone).astimezone(UTC)
        ends = (occurrence + duration).replace(tzinfo=zone).astimezone(UTC)
        if begins < end and ends > start:
            yield begins, ends


def window_occurrences(window: ChangeWindow, start: datetime, end: datetime) -> list[tuple]:
    """Every (start, end) pair in UTC of the window's occurrences that overlap [start, end)."""
    return list(overlapping_spans(window, start, end))


def first_overlap(window: ChangeWindow, start: datetime, end: datetime):
    """The window's first occurrence overlapping [start, end) as (start, end) in UTC, or None;
    False for a stored rule that no longer passes the checks (saved before them, or written
    around the services)."""
    try:
        return next(overlapping_spans(window, start, end), None)
    except (ValidationError, ValueError) as exc:
        log.warning("change window %s cannot be evaluated: %s", window.pk, exc)
        return False


def _open_at(window: ChangeWindow, instant: datetime) -> bool:
    span = first_overlap(window, instant, instant + timedelta(seconds=1))
    return bool(span) and span[0] <= instant


def _in_scope(queryset: QuerySet, service: Service, environment: Environment) -> QuerySet:
    return queryset.filter(
        Q(scope=WindowScope.ORGANISATION)
        | Q(scope=WindowScope.TEAM, team_id=service.owner_id)
        | Q(scope=WindowScope.SERVICE, service_id=service.pk)
        | Q(scope=WindowScope.ENVIRONMENT, environment_kind=environment.kind)
    )


def freezes_overlapping(service: Service, environment: Environment, start, end) -> list[Freeze]:
    return list(
        _in_scope(Freeze.objects.all(), service, environment)
        .filter(starts_at__lt=end, ends_at__gt=start)
        .order_by("starts_at")
    )


@dataclass(frozen=True)
class WindowVerdict:
    allowed: bool
    reason: str = ""
    freeze: Freeze | None = None


def when_allowed(service: Service, environment: Environment, start, end) -> WindowVerdict:
    """May a change run from start to end? Freezes and deny windows overlapping it say no;
    if allow windows exist in scope, the start must fall inside one."""
    for freeze in freezes_overlapping(service, environment, start, end):
        return WindowVerdict(
            False,
            f"Freeze “{freeze.name}” until {freeze.ends_at:%Y-%m-%d %H:%M} UTC",
            freeze,
        )
    windows = list(_in_scope(ChangeWindow.objects.filter(is_active=True), service, environment))
    for window in (w for w in windows if w.kind == ChangeWindow.Kind.DENY):
        span = first_overlap(window, start, end)
        if span is False:  # a deny window that cannot be read denies: it fails closed
            return WindowVerdict(False, f"Deny window “{window.name}” has a rule to fix")
        if span:
            return WindowVerdict(
                False, f"Deny window “{window.name}” from {span[0]:%Y-%m-%d %H:%M} UTC"
            )
    allow = [w for w in windows if w.kind == ChangeWindow.Kind.ALLOW]
    if allow and not any(_open_at(window, start) for window in allow):
        names = ", ".join(f"“{w.name}”" for w in allow)
        return WindowVerdict(False, f"Outside the allowed windows ({names})")
    return WindowVerdict(True)


def calendar_spans(windows, start: datetime, end: datetime) -> list[dict]:
    """Occurrences of several windows between two instants, for the calendar."""
    spans = []
    for window in windows:
        for begins, ends in window_occurrences(window, start, end):
            spans.append({"window": window, "start": begins, "end": ends, "kind": window.kind})
    return sorted(spans, key=lambda span: span["start"])
