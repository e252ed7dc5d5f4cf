"""Change windows and freezes: may a change to this service and environment run at this time?

Windows recur by an RFC 5545 RRULE expanded in the window's own time zone, so "weekdays
09:00-17:00 Europe/Berlin" stays 09:00-17:00 on both sides of a daylight-saving change.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from apps.catalog.models import Environment, Service
from apps.releases.models import ChangeWindow, Freeze, WindowScope

MAX_OCCURRENCES = 2000


def parse_rrule(text: str, starts_at_local: datetime):
    """The rule, or a ValidationError on `rrule` saying what is wrong with it."""
    try:
        rule = rrulestr(text.strip(), dtstart=starts_at_local.replace(tzinfo=None))
    except (ValueError, TypeError) as exc:
        raise ValidationError({"rrule": f"Not a valid RRULE: {exc}"}) from None
    if not text.strip().upper().startswith(("FREQ=", "RRULE:")):
        raise ValidationError({"rrule": "Start with FREQ=…, e.g. FREQ=WEEKLY;BYDAY=MO,TU"})
    return rule


def window_occurrences(window: ChangeWindow, start: datetime, end: datetime):
    """(start, end) pairs in UTC of the window's occurrences that overlap [start, end)."""
    zone = ZoneInfo(window.time_zone)
    duration = timedelta(minutes=window.duration_minutes)
    rule = parse_rrule(window.rrule, window.starts_at_local)
    local_from = start.astimezone(zone).replace(tzinfo=None) - duration
    local_to = end.astimezone(zone).replace(tzinfo=None)
    spans = []
    for occurrence in rule.between(local_from, local_to, inc=True)[:MAX_OCCURRENCES]:
        # Wall-clock start and end, each placed in the zone: DST shifts the UTC instants.
        begins = occurrence.replace(tzinfo=zone).astimezone(UTC)
        ends = (occurrence + duration).replace(tzinfo=zone).astimezone(UTC)
        if begins < end and ends > start:
            spans.append((begins, ends))
    return spans


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
        spans = window_occurrences(window, start, end)
        if spans:
            return WindowVerdict(
                False, f"Deny window “{window.name}” from {spans[0][0]:%Y-%m-%d %H:%M} UTC"
            )
    allow = [w for w in windows if w.kind == ChangeWindow.Kind.ALLOW]
    if allow and not any(
        begins <= start < ends
        for window in allow
        for begins, ends in window_occurrences(window, start, start + timedelta(seconds=1))
    ):
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
