"""Change windows and freezes: may a change to this service and environment run at this time?

Windows recur by an RFC 5545 RRULE expanded in the window's own time zone, so "weekdays
09:00-17:00 Europe/Berlin" stays 09:00-17:00 on both sides of a daylight-saving change. A freeze
is one period, or recurs the same way (its first occurrence's wall-clock start and length, in
its own zone). What a rule may ask for, and how it is evaluated in bounded work, is in
apps/releases/rules.py.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from apps.catalog.models import Environment, Service
from apps.releases.models import ChangeWindow, Freeze, WindowScope
from apps.releases.rules import MAX_OCCURRENCES, Rule, compile_rule

log = logging.getLogger(__name__)

# What a stored rule that cannot be evaluated raises: a rule or time zone written before the
# checks, or around the services.
UNREADABLE = (ValidationError, ValueError, ZoneInfoNotFoundError, OSError, OverflowError)
# How far ahead "the next occurrences" are looked for.
LOOKAHEAD = timedelta(days=400)
_Rules = TypeVar("_Rules", bound=QuerySet)


def parse_rrule(text: str, starts_at_local: datetime) -> Rule:
    """The window's rule, checked (apps/releases/rules.py), or a ValidationError on `rrule` or
    `starts_at_local` saying what is wrong with it."""
    return compile_rule(text, starts_at_local.replace(tzinfo=None))


def _naive(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _spans(rule: Rule, zone: ZoneInfo, duration: timedelta, start: datetime, end: datetime):
    local_from = _naive(start, zone) - duration
    for occurrence in islice(rule.occurrences(local_from, _naive(end, zone)), MAX_OCCURRENCES):
        # Wall-clock start and end, each placed in the zone: DST shifts the UTC instants.
        begins = occurrence.replace(tzinfo=zone).astimezone(UTC)
        ends = (occurrence + duration).replace(tzinfo=zone).astimezone(UTC)
        if begins < end and ends > start:
            yield begins, ends


def overlapping_spans(window: ChangeWindow, start: datetime, end: datetime) -> Iterator[tuple]:
    """(start, end) pairs in UTC of the window's occurrences that overlap [start, end), earliest
    first, lazily."""
    zone = ZoneInfo(window.time_zone)
    duration = timedelta(minutes=window.duration_minutes)
    rule = parse_rrule(window.rrule, window.starts_at_local)
    yield from _spans(rule, zone, duration, start, end)


def window_occurrences(window: ChangeWindow, start: datetime, end: datetime) -> list[tuple]:
    """Every (start, end) pair in UTC of the window's occurrences that overlap [start, end)."""
    return list(overlapping_spans(window, start, end))


def freeze_rule(freeze: Freeze) -> tuple[Rule, ZoneInfo, timedelta]:
    """A recurring freeze's rule, zone and wall-clock length (from its first occurrence), or
    the ValidationError of its rule."""
    zone = ZoneInfo(freeze.time_zone)
    local_start = _naive(freeze.starts_at, zone)
    duration = _naive(freeze.ends_at, zone) - local_start
    if duration <= timedelta(0):  # a first occurrence inside a daylight-saving change
        duration = freeze.ends_at - freeze.starts_at
    return compile_rule(freeze.rrule, local_start), zone, duration


def freeze_spans(freeze: Freeze, start: datetime, end: datetime) -> Iterator[tuple]:
    """(start, end) pairs in UTC of the freeze's occurrences that overlap [start, end), earliest
    first, lazily; the occurrence it was ended early in ends then."""
    if freeze.rrule:
        spans = _spans(*freeze_rule(freeze), start, end)
    else:
        spans = iter([(freeze.starts_at, freeze.ends_at)])
    cut = freeze.ended_early_at
    for begins, ends in spans:
        if cut is not None and begins <= cut < ends:
            ends = cut
        if begins < end and ends > start and ends > begins:
            yield begins, ends


def first_overlap(window: ChangeWindow, start: datetime, end: datetime):
    """The window's first occurrence overlapping [start, end) as (start, end) in UTC, or None;
    False for a stored rule that no longer passes the checks (saved before them, or written
    around the services)."""
    try:
        return next(overlapping_spans(window, start, end), None)
    except UNREADABLE as exc:
        log.warning("change window %s cannot be evaluated: %s", window.pk, exc)
        return False


def first_freeze_overlap(freeze: Freeze, start: datetime, end: datetime):
    """As first_overlap, for a freeze."""
    try:
        return next(freeze_spans(freeze, start, end), None)
    except UNREADABLE as exc:
        log.warning("freeze %s cannot be evaluated: %s", freeze.pk, exc)
        return False


def _open_at(window: ChangeWindow, instant: datetime) -> bool:
    span = first_overlap(window, instant, instant + timedelta(seconds=1))
    return bool(span) and span[0] <= instant


# --- Scope ------------------------------------------------------------------------------------
# The same rule twice, side by side: as a query, and for rows already loaded (the preview).


def _in_scope(queryset: _Rules, service: Service, environment: Environment) -> _Rules:
    return queryset.filter(
        Q(scope=WindowScope.ORGANISATION)
        | Q(scope=WindowScope.TEAM, team_id=service.owner_id)
        | Q(scope=WindowScope.SERVICE, service_id=service.pk)
        | Q(scope=WindowScope.ENVIRONMENT, environment_kind=environment.kind)
    )


def applies_to(rule: ChangeWindow | Freeze, service: Service, environment: Environment) -> bool:
    return (
        rule.scope == WindowScope.ORGANISATION
        or (rule.scope == WindowScope.TEAM and rule.team_id == service.owner_id)
        or (rule.scope == WindowScope.SERVICE and rule.service_id == service.pk)
        or (rule.scope == WindowScope.ENVIRONMENT and rule.environment_kind == environment.kind)
    )


def scope_of_releases(services: Iterable[Service], environments: Iterable[Environment]) -> Q:
    """The windows and freezes that may bear on releases of these services and environments."""
    services, environments = list(services), list(environments)
    return (
        Q(scope=WindowScope.ORGANISATION)
        | Q(scope=WindowScope.TEAM, team_id__in={service.owner_id for service in services})
        | Q(scope=WindowScope.SERVICE, service_id__in={service.pk for service in services})
        | Q(scope=WindowScope.ENVIRONMENT, environment_kind__in={env.kind for env in environments})
    )


# --- The verdict ------------------------------------------------------------------------------


def freezes_overlapping(service: Service, environment: Environment, start, end) -> list[tuple]:
    """(freeze, span) for each freeze in force in scope with an occurrence overlapping
    [start, end), earliest first; span is False for a freeze whose rule cannot be read."""
    candidates = _in_scope(Freeze.objects.in_force(), service, environment).overlapping(start, end)
    return _overlapping(candidates, start, end)


def _overlapping(freezes: Iterable[Freeze], start, end) -> list[tuple]:
    found = [(freeze, first_freeze_overlap(freeze, start, end)) for freeze in freezes]
    found = [(freeze, span) for freeze, span in found if span is not None]
    return sorted(found, key=lambda pair: (pair[1][0] if pair[1] else start, pair[0].pk or 0))


@dataclass(frozen=True)
class WindowVerdict:
    allowed: bool
    reason: str = ""
    freeze: Freeze | None = None


def when_allowed(service: Service, environment: Environment, start, end) -> WindowVerdict:
    """May a change run from start to end? Freezes and deny windows overlapping it say no;
    if allow windows exist in scope, the start must fall inside one."""
    freezes = freezes_overlapping(service, environment, start, end)
    windows = _in_scope(ChangeWindow.objects.in_force(), service, environment)
    return verdict(start, end, freezes=freezes, windows=list(windows))


def verdict_among(
    service: Service,
    environment: Environment,
    start,
    end,
    *,
    freezes: Iterable[Freeze],
    windows: Iterable[ChangeWindow],
) -> WindowVerdict:
    """when_allowed over windows and freezes already loaded (in force, of any scope): what the
    verdict would be if these were the rules."""
    in_scope = [freeze for freeze in freezes if applies_to(freeze, service, environment)]
    return verdict(
        start,
        end,
        freezes=_overlapping(in_scope, start, end),
        windows=[window for window in windows if applies_to(window, service, environment)],
    )


def verdict(start, end, *, freezes: list[tuple], windows: list[ChangeWindow]) -> WindowVerdict:
    """The verdict from the overlapping (freeze, span) pairs and the windows in scope."""
    for freeze, span in freezes:
        if span is False:  # a freeze that cannot be read stops changes: it fails closed
            return WindowVerdict(False, f"Freeze “{freeze.name}” has a rule to fix", freeze)
        return WindowVerdict(
            False, f"Freeze “{freeze.name}” until {span[1]:%Y-%m-%d %H:%M} UTC", freeze
        )
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


# --- What comes next ---------------------------------------------------------------------------


def first_start(rule: ChangeWindow | Freeze) -> datetime:
    """The instant (UTC) of the first occurrence."""
    if isinstance(rule, Freeze):
        return rule.starts_at
    return rule.starts_at_local.replace(tzinfo=ZoneInfo(rule.time_zone)).astimezone(UTC)


def next_spans(rule: ChangeWindow | Freeze, now: datetime, count: int) -> list[tuple]:
    """The occurrence under way at `now` and those after it, at most `count`, within LOOKAHEAD
    of now (or of the first occurrence, if that is later). Raises UNREADABLE for a stored rule
    that cannot be evaluated."""
    if isinstance(rule, Freeze) and not rule.rrule:
        return list(islice(freeze_spans(rule, now, datetime.max.replace(tzinfo=UTC)), count))
    start = max(now, first_start(rule))  # nothing occurs before the first occurrence
    if isinstance(rule, Freeze):
        return list(islice(freeze_spans(rule, start, start + LOOKAHEAD), count))
    return list(islice(overlapping_spans(rule, start, start + LOOKAHEAD), count))


def has_ended(rule: ChangeWindow | Freeze, now: datetime) -> bool:
    """No occurrence under way or to come (only asked when next_spans found none)."""
    if isinstance(rule, Freeze) and not rule.rrule:
        return True
    if isinstance(rule, Freeze):
        compiled, zone, _ = freeze_rule(rule)
    else:
        zone = ZoneInfo(rule.time_zone)
        compiled = parse_rrule(rule.rrule, rule.starts_at_local)
    return compiled.until is not None and compiled.until <= _naive(now, zone)


def calendar_spans(windows, start: datetime, end: datetime) -> list[dict]:
    """Occurrences of several windows between two instants, for the calendar."""
    spans = []
    for window in windows:
        for begins, ends in window_occurrences(window, start, end):
            spans.append({"window": window, "start": begins, "end": ends, "kind": window.kind})
    return sorted(spans, key=lambda span: span["start"])


def freeze_occurrences(freezes, start: datetime, end: datetime) -> list[tuple]:
    """(freeze, start, end) for each occurrence of the freezes between two instants, earliest
    first, for the calendar and its feeds; a freeze whose rule cannot be read is left out."""
    found: list[tuple] = []
    for freeze in freezes:
        try:
            found.extend(
                (freeze, begins, ends) for begins, ends in freeze_spans(freeze, start, end)
            )
        except UNREADABLE as exc:
            log.warning("freeze %s cannot be evaluated: %s", freeze.pk, exc)
    return sorted(found, key=lambda item: (item[1], item[0].pk))
