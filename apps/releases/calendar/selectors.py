"""Reads for the release calendar and its feeds.

A calendar page costs the same few queries however many releases it shows: one for the
releases (service, owner, environment and requester joined), one for freezes and one for change
windows, whose occurrences (a recurring freeze's too) are expanded in Python by
apps.releases.windows, and two for the
conflicts of the open releases among them (apps.releases.selectors.conflicts_for). Day
boundaries are the viewer's local midnights, so a release at 23:30 UTC falls on the next day in
Berlin.
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from types import SimpleNamespace
from typing import ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import dateformat, timezone

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.catalog.models import Environment, Service
from apps.core.lookups import AnyOf
from apps.core.urls import row_path
from apps.releases.groups import ReleaseGroup, groups_of
from apps.releases.models import CalendarFeed, ChangeWindow, Freeze, Release, WindowScope
from apps.releases.selectors import SERVICE_BULK, Conflict, conflicts_for, with_what_ships
from apps.releases.windows import UNREADABLE, calendar_spans, freeze_occurrences, parse_rrule

VIEWS = ("month", "week", "agenda")
AGENDA_DAYS = 30
MONTH_CELL_RELEASES = 4  # a busy day in the month view says "+N more" and links to its week
# What a month cell shows of a release and what its conflicts are worked out from, with who
# asked for it: a busy month loads a hundred or more, and their other fields are many.
MONTH_CELL_FIELDS = (
    "title",
    "state",
    "planned_start",
    "planned_end",
    "service__name",
    "service__owner__slug",
    "service__owner__name",
    "environment__name",
    "environment__kind",
    "requester__username",
    "requester__first_name",
    "requester__last_name",
)
# The service filter lists at most this many: an organisation has thousands of services, and a
# team hundreds. Choosing a team narrows the list to its own.
FILTER_SERVICES = 1000
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=365)
# Dates far outside this make no sense on a release calendar, and date arithmetic near
# year 1 or 9999 overflows.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


# --- What the URL asks for ----------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarFilters:
    team: str = ""  # a team slug
    service: str = ""  # a service name
    environment: str = ""  # an environment name, e.g. production

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "CalendarFilters":
        def value(name: str) -> str:
            return str(params.get(name) or "").strip()[:63]

        return cls(team=value("team"), service=value("service"), environment=value("environment"))

    def as_params(self) -> dict[str, str]:
        pairs = (("team", self.team), ("service", self.service), ("environment", self.environment))
        return {name: value for name, value in pairs if value}

    def __bool__(self) -> bool:
        return bool(self.as_params())


@dataclass(frozen=True)
class CalendarQuery:
    view: str = "month"
    anchor: date | None = None  # None: today in the viewer's time zone
    filters: CalendarFilters = field(default_factory=CalendarFilters)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "CalendarQuery":
        view = params.get("view") or "month"
        try:
            anchor = date.fromisoformat(str(params.get("date") or ""))
        except ValueError:
            anchor = None
        if anchor is not None and not EARLIEST_YEAR <= anchor.year <= LATEST_YEAR:
            anchor = None
        return cls(
            view=view if view in VIEWS else "month",
            anchor=anchor,
            filters=CalendarFilters.from_params(params),
        )


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive
    previous: date  # the anchor of the period before
    next: date
    title: str


def period_for(view: str, anchor: date) -> Period:
    """The days a view shows around a date: whole weeks from Monday for the month and the week,
    the next AGENDA_DAYS days for the agenda."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
        return Period(
            first,
            last,
            first - timedelta(days=7),
            last + timedelta(days=1),
            _span_title(first, last),
        )
    if view == "agenda":
        last = anchor + timedelta(days=AGENDA_DAYS - 1)
        step = timedelta(days=AGENDA_DAYS)
        return Period(anchor, last, anchor - step, anchor + step, _span_title(anchor, last))
    month = anchor.replace(day=1)
    next_month = (month + timedelta(days=31)).replace(day=1)
    previous_month = (month - timedelta(days=1)).replace(day=1)
    month_end = next_month - timedelta(days=1)
    first = month - timedelta(days=month.weekday())
    last = month_end + timedelta(days=6 - month_end.weekday())
    return Period(first, last, previous_month, next_month, dateformat.format(month, "F Y"))


def _span_title(first: date, last: date) -> str:
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{dateformat.format(last, 'j F Y')}"
    if first.year == last.year:
        return f"{dateformat.format(first, 'j F')} – {dateformat.format(last, 'j F Y')}"
    return f"{dateformat.format(first, 'j F Y')} – {dateformat.format(last, 'j F Y')}"


def zone_of(user) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a local day begins."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last local day that [start, end) touches."""
    last = max(start, end - timedelta(microseconds=1))
    return start.astimezone(zone).date(), last.astimezone(zone).date()


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- Queries --------------------------------------------------------------------------------------


def releases_overlapping(
    *, start: datetime, end: datetime, filters: CalendarFilters = CalendarFilters()
) -> QuerySet[Release]:
    queryset = (
        Release.objects.filter(planned_start__lt=end, planned_end__gt=start)
        .select_related("service__owner", "environment", "requester")
        .defer(*SERVICE_BULK)
        .order_by("planned_start", "pk")
    )
    if filters.team:
        queryset = queryset.filter(service__owner__slug=filters.team)
    if filters.service:
        queryset = queryset.filter(service__name=filters.service)
    if filters.environment:
        queryset = queryset.filter(environment__name=filters.environment)
    return queryset


def _scope_filter(filters: CalendarFilters) -> Q:
    """Freezes and windows that bear on what the filters show. Subqueries, not joins through
    to-many relations, so no row comes back twice. An environment-wide rule bears on them if
    an environment they show is of its kind: asked of each such rule (they are few), not by
    listing the kinds of a team's thousand environments first."""

    def kind_shown(environments: QuerySet[Environment]) -> Exists:
        return Exists(environments.filter(kind=OuterRef("environment_kind")))

    q = Q()
    if filters.team:
        q &= (
            Q(scope=WindowScope.ORGANISATION)
            | Q(
                kind_shown(Environment.objects.filter(service__owner__slug=filters.team)),
                scope=WindowScope.ENVIRONMENT,
            )
            | Q(scope=WindowScope.TEAM, team__slug=filters.team)
            | Q(scope=WindowScope.SERVICE, service__owner__slug=filters.team)
        )
    if filters.service:
        service = Service.objects.filter(name=filters.service)
        q &= (
            Q(scope=WindowScope.ORGANISATION)
            | Q(scope=WindowScope.TEAM, team_id__in=service.values("owner_id"))
            | Q(scope=WindowScope.SERVICE, service__name=filters.service)
            | Q(
                kind_shown(Environment.objects.filter(service__name=filters.service)),
                scope=WindowScope.ENVIRONMENT,
            )
        )
    if filters.environment:
        q &= ~Q(scope=WindowScope.ENVIRONMENT) | Q(
            kind_shown(Environment.objects.filter(name=filters.environment))
        )
    return q


def freezes_overlapping(
    *, start: datetime, end: datetime, filters: CalendarFilters = CalendarFilters()
) -> QuerySet[Freeze]:
    """Freezes in force that may occur between two instants (freeze_occurrences says when)."""
    return (
        Freeze.objects.in_force()
        .overlapping(start, end)
        .filter(_scope_filter(filters))
        .select_related("team", "service")
        .order_by("starts_at", "pk")
    )


def _expandable(window: ChangeWindow) -> bool:
    # Services validate windows on the way in; one bad row must still not break the calendar.
    try:
        ZoneInfo(window.time_zone)
        parse_rrule(window.rrule, window.starts_at_local)
    except UNREADABLE:
        return False
    return True


def window_spans(
    *, start: datetime, end: datetime, filters: CalendarFilters = CalendarFilters()
) -> list[dict]:
    """Occurrences of the active change windows between two instants, in UTC, sorted."""
    windows = ChangeWindow.objects.in_force().filter(_scope_filter(filters))
    return calendar_spans([w for w in windows if _expandable(w)], start, end)


def calendar_filter_choices(*, team: str = "") -> dict:
    """What the team and service filters offer: every team, and the services of the chosen team
    (of all teams, the first FILTER_SERVICES by name; `more_services` says some were left out)."""
    services = Service.objects.order_by("name")
    if team:
        services = services.filter(owner__slug=team)
    names = list(services.values_list("name", flat=True)[: FILTER_SERVICES + 1])
    return {
        "teams": list(Team.objects.order_by("name").values_list("slug", "name")),
        "services": names[:FILTER_SERVICES],
        "more_services": len(names) > FILTER_SERVICES,
    }


def calendar_team_name(*, slug: str) -> str | None:
    """The chosen team's name, for the one option a page draws before the rest arrive."""
    return Team.objects.filter(slug=slug).values_list("name", flat=True).first() if slug else None


# --- The calendar --------------------------------------------------------------------------------


def _conflict_note(conflicts: tuple[Conflict, ...]) -> str:
    """What an entry conflicts with, for a warning's title."""
    return "Conflicts with " + "; ".join(
        f"#{c.release.pk} {c.release.service.name} → {c.release.environment.name} ({c.why})"
        for c in conflicts
    )


class _Entry:
    """What a release or group entry says of its times and conflicts, worked out once per entry
    and not by the templates, which show a busy month's entries by the hundred."""

    starts: datetime
    ends: datetime
    starts_today: bool
    conflicts: tuple[Conflict, ...]

    @property
    def starts_iso(self) -> str:
        return self.starts.isoformat()

    @property
    def start_time(self) -> str:
        """Its start's time, or "…" on the days after the one it starts."""
        return f"{self.starts:%H:%M}" if self.starts_today else "…"

    @cached_property
    def conflict_note(self) -> str:
        return _conflict_note(self.conflicts)


@dataclass(frozen=True)
class ReleaseEntry(_Entry):
    release: Release
    starts: datetime  # in the viewer's zone
    ends: datetime
    starts_today: bool  # False: it began on an earlier day and continues
    ends_today: bool
    when: str  # its start's day and time, and its end's time (_Names.when)
    url: str
    state_display: str
    conflicts: tuple[Conflict, ...] = ()
    group: ClassVar[None] = None  # one release, not a group

    # What its link in a grid says, whole: to hover, to read, and to hear.
    @cached_property
    def tooltip(self) -> str:
        warning = f" · ⚠ {self.conflict_note}" if self.conflicts else ""
        return (
            f"#{self.release.pk} {self.release.title} · {self.state_display} · {self.when}{warning}"
        )

    @cached_property
    def name(self) -> str:
        return f"{self.release.service.name} → {self.release.environment.name}"

    @cached_property
    def spoken(self) -> str:
        warning = f". Warning: {self.conflict_note}" if self.conflicts else ""
        return f", {self.state_display}{warning}"


@dataclass(frozen=True)
class GroupEntry(_Entry):
    """Releases that travel together (a train) as one entry: its members are not listed."""

    group: ReleaseGroup
    starts: datetime  # in the viewer's zone
    ends: datetime
    starts_today: bool
    ends_today: bool
    when: str
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True)
class WindowEntry:
    window: ChangeWindow
    kind: str
    starts: datetime
    ends: datetime

    @property
    def times(self) -> str:
        return f"{self.starts:%H:%M}–{self.ends:%H:%M}"


@dataclass(frozen=True)
class FreezeOccurrence:
    """A freeze once: the whole of a one-off freeze, or one occurrence of a recurring one."""

    freeze: Freeze
    starts: datetime  # in the viewer's zone
    ends: datetime

    @property
    def name(self) -> str:
        return self.freeze.name


@dataclass(frozen=True)
class FreezeBand:
    """A freeze across the days of one week it covers: grid column (1 = Monday), span, lane."""

    freeze: Freeze
    starts: datetime  # this occurrence, in the viewer's zone
    ends: datetime
    column: int
    span: int
    lane: int
    starts_here: bool
    ends_here: bool


@dataclass
class CalendarDay:
    date: date
    is_today: bool
    in_period: bool  # False for the days of the neighbouring months that fill the grid
    name: str = ""  # "Tuesday 1 December"
    weekday: str = ""  # "Tue"
    number: str = ""  # in a grid's cell: "1 Dec" on the first of a month and in a week, else "2"
    releases: list[ReleaseEntry | GroupEntry] = field(default_factory=list)
    windows: list[WindowEntry] = field(default_factory=list)
    freezes: list[FreezeOccurrence] = field(default_factory=list)

    @property
    def iso(self) -> str:
        return self.date.isoformat()

    @property
    def has_entries(self) -> bool:
        return bool(self.releases or self.windows or self.freezes)

    # In the month view, how many entries the day has: only those its cell shows are loaded.
    release_total: int | None = None

    @property
    def month_releases(self) -> list[ReleaseEntry | GroupEntry]:
        return self.releases[:MONTH_CELL_RELEASES]

    @property
    def more_releases(self) -> int:
        total = len(self.releases) if self.release_total is None else self.release_total
        return max(0, total - MONTH_CELL_RELEASES)


@dataclass
class CalendarWeek:
    days: list[CalendarDay]
    bands: list[FreezeBand]

    @property
    def lanes(self) -> int:
        return max((band.lane + 1 for band in self.bands), default=0)


@dataclass
class Calendar:
    view: str
    anchor: date
    today: date
    zone_name: str
    period: Period
    filters: CalendarFilters
    days: list[CalendarDay]
    weeks: list[CalendarWeek]
    release_count: int  # releases shown by themselves
    groups: list[ReleaseGroup] = field(default_factory=list)  # each shown as one entry

    @property
    def title(self) -> str:
        return self.period.title

    @property
    def agenda_days(self) -> list[CalendarDay]:
        return [day for day in self.days if day.has_entries]

    def params(self, *, view: str | None = None, anchor: date | None = None) -> str:
        """The query string of this calendar with another view or date, filters kept."""
        params = {"view": view or self.view}
        if anchor is not None:
            params["date"] = anchor.isoformat()
        return urlencode({**params, **self.filters.as_params()})


class _Names:
    """Weekday and month names as dateformat writes them (in the active language), each formatted
    once a page and not once a day or entry: a busy month shows hundreds of entries."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], str] = {}

    def _name(self, day: date, code: str) -> str:
        key = (code, day.weekday() if code in "lD" else day.month)
        name = self._cache.get(key)
        if name is None:
            name = self._cache[key] = dateformat.format(day, code)
        return name

    def weekday(self, day: date) -> str:
        return self._name(day, "D")  # "Tue"

    def day(self, day: date) -> str:
        return f"{self._name(day, 'l')} {day.day} {self._name(day, 'F')}"  # "Tuesday 1 December"

    def short(self, day: date) -> str:
        return f"{day.day} {self._name(day, 'M')}"  # "1 Dec"

    def when(self, starts: datetime, ends: datetime) -> str:
        """An entry's start, day and time, and its end's time: "Tue 1 Dec 09:00", an en dash,
        "10:00"."""
        return f"{self.weekday(starts)} {self.short(starts)} {starts:%H:%M}–{ends:%H:%M}"


def calendar_for(*, user, query: CalendarQuery, now: datetime | None = None) -> Calendar:
    zone = zone_of(user)
    today = (now or timezone.now()).astimezone(zone).date()
    anchor = query.anchor or today
    period = period_for(query.view, anchor)
    start = local_midnight(period.first, zone)
    end = local_midnight(period.last + timedelta(days=1), zone)

    overlapping = releases_overlapping(start=start, end=end, filters=query.filters)
    if query.view == "month":
        releases, grouped, totals, ungrouped_count = _month_cells(
            overlapping, period=period, zone=zone
        )
    else:
        releases, totals = list(overlapping), {}
        with_what_ships(releases)  # a month cell has no room for what ships
        grouped = groups_of(releases)
    freezes = [
        FreezeOccurrence(freeze, begins.astimezone(zone), ends.astimezone(zone))
        for freeze, begins, ends in freeze_occurrences(
            freezes_overlapping(start=start, end=end, filters=query.filters), start, end
        )
    ]
    spans = window_spans(start=start, end=end, filters=query.filters)
    # Only open releases compete for their slot: a finished or cancelled one warns of nothing.
    conflicts = conflicts_for(release for release in releases if release.is_open)

    names = _Names()
    days = {
        day: CalendarDay(
            date=day,
            is_today=day == today,
            in_period=query.view != "month" or day.month == anchor.month,
            name=names.day(day),
            weekday=names.weekday(day),
            number=names.short(day) if day.day == 1 or query.view == "week" else str(day.day),
            release_total=totals.get(day),
        )
        for day in _days(period.first, period.last)
    }
    shown = [release for release in releases if release.pk not in grouped]
    for release in shown:
        first, last = _local_days(release.planned_start, release.planned_end, zone)
        starts, ends = release.planned_start.astimezone(zone), release.planned_end.astimezone(zone)
        url = row_path("releases:detail", release.pk)  # reversed once, not once an entry
        state_display = release.get_state_display()
        release_conflicts = tuple(conflicts.get(release.pk, ()))
        for day in _days(max(first, period.first), min(last, period.last)):
            days[day].releases.append(
                ReleaseEntry(
                    release=release,
                    starts=starts,
                    ends=ends,
                    starts_today=day == first,
                    ends_today=day == last,
                    when=names.when(starts, ends),
                    url=url,
                    state_display=state_display,
                    conflicts=release_conflicts,
                )
            )
    groups = list({group.key: group for group in grouped.values()}.values())
    for group in groups:
        first, last = _local_days(group.planned_start, group.planned_end, zone)
        starts, ends = group.planned_start.astimezone(zone), group.planned_end.astimezone(zone)
        group_conflicts = _group_conflicts(group, conflicts)
        for day in _days(max(first, period.first), min(last, period.last)):
            days[day].releases.append(
                GroupEntry(
                    group=group,
                    starts=starts,
                    ends=ends,
                    starts_today=day == first,
                    ends_today=day == last,
                    when=names.when(starts, ends),
                    conflicts=group_conflicts,
                )
            )
    for calendar_day in days.values():
        calendar_day.releases.sort(key=lambda entry: entry.starts)
    for span in spans:
        first, last = _local_days(span["start"], span["end"], zone)
        for day in _days(max(first, period.first), min(last, period.last)):
            days[day].windows.append(
                WindowEntry(
                    window=span["window"],
                    kind=span["kind"],
                    starts=span["start"].astimezone(zone),
                    ends=span["end"].astimezone(zone),
                )
            )
    for occurrence in freezes:
        first, last = _local_days(occurrence.starts, occurrence.ends, zone)
        for day in _days(max(first, period.first), min(last, period.last)):
            days[day].freezes.append(occurrence)

    ordered = list(days.values())
    weeks = []
    if query.view != "agenda":
        for index in range(0, len(ordered), 7):
            week = ordered[index : index + 7]
            weeks.append(CalendarWeek(days=week, bands=_bands(freezes, week, zone)))
    return Calendar(
        view=query.view,
        anchor=anchor,
        today=today,
        zone_name=zone.key,
        period=period,
        filters=query.filters,
        days=ordered,
        weeks=weeks,
        release_count=ungrouped_count if query.view == "month" else len(shown),
        groups=groups,
    )


def _month_cells(
    overlapping: QuerySet[Release], *, period: Period, zone: ZoneInfo
) -> tuple[list[Release], dict[int, ReleaseGroup], dict[date, int], int]:
    """What a month's cells show, however many releases the month holds: each day's first
    MONTH_CELL_RELEASES entries (a group, such as a train, is one), ordered as calendar_for
    orders them, and how many entries each day has. Times and ids come first, in one narrow
    query; then only the releases shown are loaded, with every grouped release (groups are few,
    and their members' conflicts are the group's).

    Returns the releases to load into entries, the groups by member id, the entries per day and
    how many releases the period holds that are in no group."""
    rows = list(overlapping.values_list("pk", "planned_start", "planned_end"))
    grouped = groups_of(SimpleNamespace(pk=pk) for pk, _, _ in rows)
    cells: dict[date, list[tuple[datetime, int, int]]] = defaultdict(list)
    ungrouped = [row for row in rows if row[0] not in grouped]
    for pk, starts, ends in ungrouped:  # by planned start, then id
        first, last = _local_days(starts, ends, zone)
        for day in _days(max(first, period.first), min(last, period.last)):
            cells[day].append((starts, 0, pk))
    for group in {group.key: group for group in grouped.values()}.values():
        first, last = _local_days(group.planned_start, group.planned_end, zone)
        for day in _days(max(first, period.first), min(last, period.last)):
            cells[day].append((group.planned_start, 1, 0))
    shown: set[int] = set()
    for entries in cells.values():
        # A stable sort by start, as calendar_for's: releases before groups starting with them.
        entries.sort(key=lambda entry: entry[0])
        shown.update(pk for _, kind, pk in entries[:MONTH_CELL_RELEASES] if kind == 0)
    # By id alone: the ids are those the filters found.
    releases = list(
        Release.objects.filter(AnyOf(F("pk"), shown | set(grouped)))
        .select_related("service__owner", "environment", "requester")
        .only(*MONTH_CELL_FIELDS)
        .order_by("planned_start", "pk")
    )
    totals = {day: len(entries) for day, entries in cells.items()}
    return releases, grouped, totals, len(ungrouped)


def _group_conflicts(group: ReleaseGroup, conflicts: dict) -> tuple[Conflict, ...]:
    """What the group's members conflict with outside the group, each release once."""
    found: dict[int, Conflict] = {}
    members = group.member_ids  # built on each read: once here, not once per conflict
    for member_id in sorted(members):
        for conflict in conflicts.get(member_id, ()):
            if conflict.release.pk not in members:
                found.setdefault(conflict.release.pk, conflict)
    return tuple(sorted(found.values(), key=lambda c: (c.release.planned_start, c.release.pk)))


def _bands(
    freezes: list[FreezeOccurrence], week: list[CalendarDay], zone: ZoneInfo
) -> list[FreezeBand]:
    """Lay the week's freezes out as bands, each in the first lane free over its days."""
    monday, sunday = week[0].date, week[-1].date
    lane_ends: list[date] = []  # the last day taken in each lane so far
    bands = []
    for occurrence in freezes:
        first, last = _local_days(occurrence.starts, occurrence.ends, zone)
        if last < monday or first > sunday:
            continue
        begins, ends = max(first, monday), min(last, sunday)
        lane = next((i for i, taken in enumerate(lane_ends) if taken < begins), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(ends)
        else:
            lane_ends[lane] = ends
        bands.append(
            FreezeBand(
                freeze=occurrence.freeze,
                starts=occurrence.starts,
                ends=occurrence.ends,
                column=(begins - monday).days + 1,
                span=(ends - begins).days + 1,
                lane=lane,
                starts_here=first >= monday,
                ends_here=last <= sunday,
            )
        )
    return bands


# --- Feeds ----------------------------------------------------------------------------------------


def calendar_feeds_of(*, user) -> QuerySet[CalendarFeed]:
    """The feeds a user made that still work."""
    return (
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("team")
        .order_by("-created_at", "-pk")
    )


def feed_teams_for(*, user) -> QuerySet[Team]:
    """The teams a user may make a feed for: their own, or any for platform admins."""
    teams = Team.objects.order_by("name")
    if permissions.is_platform_admin(user):
        return teams
    return teams.filter(pk__in=permissions.team_ids_of(user))


def calendar_feed_by_token(*, token: str) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.filter(token=token, revoked_at__isnull=True, user__is_active=True)
        .select_related("user", "team")
        .first()
    )


def _feed_team_ids(feed: CalendarFeed) -> list[int]:
    return [feed.team_id] if feed.team_id else sorted(permissions.team_ids_of(feed.user))


def feed_range(now: datetime) -> tuple[datetime, datetime]:
    return now - FEED_PAST, now + FEED_FUTURE


def feed_releases(*, feed: CalendarFeed, now: datetime) -> QuerySet[Release]:
    """A team feed: the releases of the team's services. A personal feed: the releases the user
    requested and those of their teams' services."""
    start, end = feed_range(now)
    queryset = releases_overlapping(start=start, end=end)
    if feed.team_id:
        return queryset.filter(service__owner_id=feed.team_id)
    return queryset.filter(
        Q(requester_id=feed.user_id) | Q(service__owner_id__in=_feed_team_ids(feed))
    )


def feed_freezes(*, feed: CalendarFeed, now: datetime) -> list[tuple]:
    """(freeze, start, end) of each occurrence in the feed's range of the freezes that stop the
    feed's teams: organisation-wide, environment-wide, theirs."""
    start, end = feed_range(now)
    team_ids = _feed_team_ids(feed)
    freezes = freezes_overlapping(start=start, end=end).filter(
        Q(scope=WindowScope.ORGANISATION)
        | Q(scope=WindowScope.ENVIRONMENT)
        | Q(scope=WindowScope.TEAM, team_id__in=team_ids)
        | Q(scope=WindowScope.SERVICE, service__owner_id__in=team_ids)
    )
    return freeze_occurrences(freezes, start, end)
