"""The tables of the leadership pages: the four keys and the scorecard per team and per service,
and the services most in need of attention.

Each table takes a fixed number of queries however many teams, services and deployments there
are: the DORA figures are grouped by team or service in the database (medians by
percentile_cont ... GROUP BY, or its SQLite fallback), then put together with the same code as
the DORA report (dora.build_report), so a row agrees exactly with dora_report for its team or
service and window. Services without a scorecard evaluation count as level 0 (no level).

The services needing attention need counts only, no medians: they are ranked and cut in the
database, in one query over the catalog, the scores and the daily roll-up, whatever the size of
the catalog."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Count, F, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek

from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.insights import dora
from apps.insights.models import Level, ServiceScore
from apps.insights.selectors import (
    commits_counted_between,
    day_bounds,
    dora_window,
    incidents_resolved_between,
    production_rollups,
    rollbacks_finished_between,
    scope_filters,
)
from apps.releases.selectors import needing_retrospective

LEVELS = tuple(Level.values)  # 0 (no level) .. 3 (gold)


@dataclass(frozen=True)
class TeamRow:
    slug: str
    name: str
    services: int
    deployments: int  # production deployments finished in the window
    deployments_per_week: float | None
    frequency_bucket: str | None  # daily | weekly | monthly | yearly
    frequency_tier: str | None  # elite | high | medium | low
    failures: int
    change_failure_rate: float | None  # failures / deployments, 4 decimals
    change_failure_tier: str | None
    lead_time_median_seconds: float | None
    lead_time_commits: int
    lead_time_tier: str | None
    recovery_median_seconds: float | None
    recoveries: int  # incidents resolved + rollbacks finished in the window
    recovery_tier: str | None
    level_counts: dict[int, int]  # {0: services with no level or no score, 1: bronze, ...}


@dataclass(frozen=True)
class ServiceRow:
    name: str
    title: str
    team_slug: str
    team_name: str
    tier: int  # the catalog's criticality tier
    level: int  # scorecard level; 0 without a score
    level_label: str
    scored: bool  # has a scorecard evaluation
    rules_passed: int
    rules_total: int
    deployments: int
    deployments_per_week: float | None
    frequency_bucket: str | None
    frequency_tier: str | None
    failures: int
    change_failure_rate: float | None
    change_failure_tier: str | None
    lead_time_median_seconds: float | None
    lead_time_commits: int
    lead_time_tier: str | None
    recovery_median_seconds: float | None
    recoveries: int
    recovery_tier: str | None


@dataclass(frozen=True)
class AttentionRow:
    service: str
    title: str
    team_slug: str
    team_name: str
    level: int
    level_label: str
    change_failure_rate: float | None
    failing_rules: int
    open_emergencies: int  # emergency changes still waiting for their retrospective review
    deployments: int
    reasons: tuple[str, ...]  # short phrases, most telling first


# --- The four keys, grouped -------------------------------------------------------------------


def _dora_figures_by(group: str, start: date, end: date, filters: dict) -> dict[Any, dict]:
    """{team or service id: the DORA fields of a row} for `group` "owner_id" (teams) or "id"
    (services), over the rows `filters` (a scope_filters dict) select. Three queries; groups
    without any data are absent (see _no_figures)."""
    lower, upper = day_bounds(start, end)
    weekly_rows = defaultdict(list)
    # Summed by day first, then by week, counting the days: a count of distinct days per week
    # would sort every roll-up row of the window.
    daily, params = (
        production_rollups(start, end, filters)
        .values("day", g=F(f"service__{group}"), week=TruncWeek("day"))
        .annotate(deployments=Sum("deployments"), failures=Sum("failures"))
        .order_by()
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        # A week's first day with deployments stands for the week: a date is quicker to read
        # than the database's truncated timestamp, hundreds of teams times every week.
        cursor.execute(
            # `daily` is what the ORM compiled: every value in it is a parameter.
            "SELECT d.g, MIN(d.day), SUM(d.deployments), SUM(d.failures), COUNT(*) "  # noqa: S608
            f"FROM ({daily}) AS d GROUP BY d.g, d.week",
            params,
        )
        for g, day, deployments, failures, days in cursor.fetchall():
            weekly_rows[g].append(
                {
                    "week": dora.monday_of(dora.as_week(day)),
                    "deployments": deployments,
                    "failures": failures,
                    "days": days,
                }
            )
    lead_times = dora.grouped_percentiles_and_counts(
        commits_counted_between(lower, upper, filters).values(
            g=F(f"service__{group}"), v=F("seconds")
        ),
        (0.5,),
    )
    recoveries = dora.grouped_percentiles_and_counts(
        incidents_resolved_between(lower, upper, filters)
        .values(g=F(f"service__{group}"), v=F("recovery_seconds"))
        .union(
            rollbacks_finished_between(lower, upper, filters).values(
                g=F(f"service__{group}"), v=F("recovery_seconds")
            ),
            all=True,
        ),
        (0.5,),
    )
    return {
        key: _figures(
            start, end, weekly_rows.get(key, ()), lead_times.get(key), recoveries.get(key)
        )
        for key in {*weekly_rows, *lead_times, *recoveries}
    }


def _figures(start: date, end: date, weekly_rows, lead_time, recovery) -> dict:
    (lead_median,), commits = lead_time or ((None,), 0)
    (recovery_median,), recoveries = recovery or ((None,), 0)
    # The report's own arithmetic (rounding, buckets, tiers). Its split of recovery into
    # incidents and rollbacks is not part of a row, so it is left empty here.
    report = dora.build_report(
        scope="",
        name="",
        start=start,
        end=end,
        weekly=dora.fill_weeks(start, end, weekly_rows),
        lead_time_median=lead_median,
        commits=commits,
        recovery_median=recovery_median,
        incidents=0,
        incident_median=None,
        rollbacks=0,
        rollback_median=None,
    )
    frequency, cfr = report.deployment_frequency, report.change_failure_rate
    return {
        "deployments": frequency.deployments,
        "deployments_per_week": frequency.per_week,
        "frequency_bucket": frequency.bucket,
        "frequency_tier": frequency.tier,
        "failures": cfr.failures,
        "change_failure_rate": cfr.rate,
        "change_failure_tier": cfr.tier,
        "lead_time_median_seconds": report.lead_time.median_seconds,
        "lead_time_commits": report.lead_time.commits,
        "lead_time_tier": report.lead_time.tier,
        "recovery_median_seconds": report.recovery.median_seconds,
        "recoveries": recoveries,
        "recovery_tier": report.recovery.tier,
    }


def _no_figures(start: date, end: date) -> dict:
    return _figures(start, end, (), None, None)


# --- Teams ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamOutline:
    """What the catalog alone says of a team: enough to order and page the team table before
    any DORA figure is read."""

    pk: int
    slug: str
    name: str
    services: int
    level_counts: dict[int, int]  # as TeamRow's


def team_outlines() -> list[TeamOutline]:
    """Every team, by name, with its services and their levels. Two queries."""
    levels: dict[int, dict[int, int]] = defaultdict(lambda: dict.fromkeys(LEVELS, 0))
    for row in (
        Service.objects.values("owner_id", lvl=Coalesce(F("scorecard__level"), Value(0)))
        .annotate(services=Count("pk"))
        .order_by()
    ):
        levels[row["owner_id"]][row["lvl"]] += row["services"]
    return [
        TeamOutline(
            pk=team["pk"],
            slug=team["slug"],
            name=team["name"],
            services=sum(levels[team["pk"]].values()),
            level_counts=dict(levels[team["pk"]]),
        )
        for team in Team.objects.order_by("name", "slug").values("pk", "slug", "name")
    ]


def team_table(
    *,
    start: date | None = None,
    end: date | None = None,
    teams: Sequence[TeamOutline] | None = None,
) -> list[TeamRow]:
    """Every team, by name, with or without services and deployments, over start..end
    (default: the last 90 days). Five queries: the teams, their services' levels, and the
    grouped roll-up, lead-time medians and recovery medians.

    Given `teams` (from team_outlines: a page of them), the rows of those teams alone, in the
    order given, whose figures alone are read: three queries (none for no teams)."""
    start, end = dora_window(start, end)
    if teams is None:
        teams, filters = team_outlines(), {}
    elif not teams:
        return []
    else:
        filters = {"service__owner_id__in": [team.pk for team in teams]}
    figures = _dora_figures_by("owner_id", start, end, filters)
    empty = _no_figures(start, end)
    return [
        TeamRow(
            slug=team.slug,
            name=team.name,
            services=team.services,
            level_counts=dict(team.level_counts),
            **figures.get(team.pk, empty),
        )
        for team in teams
    ]


# --- Services ---------------------------------------------------------------------------------


def _service_rows(team_slug: str | None, start: date, end: date) -> list[tuple[int, ServiceRow]]:
    """(service id, row) for the services of a team or all, by name: four queries, five for a
    team (its lookup)."""
    filters, _ = scope_filters("team", team_slug) if team_slug else ({}, "")
    in_scope = Service.objects.all()
    if filters:
        in_scope = in_scope.filter(owner_id=filters["service__owner_id"])
    services = list(
        in_scope.order_by("name").values(
            "pk",
            "name",
            "title",
            "tier",
            "owner__slug",
            "owner__name",
            "scorecard__pk",
            "scorecard__level",
            "scorecard__passed",
            "scorecard__total",
        )
    )
    figures = _dora_figures_by("id", start, end, filters)
    empty = _no_figures(start, end)
    rows = []
    for service in services:
        level = service["scorecard__level"] or Level.NONE
        rows.append(
            (
                service["pk"],
                ServiceRow(
                    name=service["name"],
                    title=service["title"],
                    team_slug=service["owner__slug"],
                    team_name=service["owner__name"],
                    tier=service["tier"],
                    level=level,
                    level_label=Level(level).label,
                    scored=service["scorecard__pk"] is not None,
                    rules_passed=service["scorecard__passed"] or 0,
                    rules_total=service["scorecard__total"] or 0,
                    **figures.get(service["pk"], empty),
                ),
            )
        )
    return rows


def service_table(
    *, team_slug: str | None = None, start: date | None = None, end: date | None = None
) -> list[ServiceRow]:
    """Every service of a team (by slug; ScopeNotFound when there is none) or of the whole
    catalog, by name, with its four keys over start..end (default: the last 90 days) and its
    scorecard. Four queries; five for a team."""
    start, end = dora_window(start, end)
    return [row for _, row in _service_rows(team_slug, start, end)]


# --- Attention --------------------------------------------------------------------------------


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _reasons(
    *,
    level: int,
    scored: bool,
    failures: int,
    deployments: int,
    failing: int,
    emergencies: int,
    days: int,
) -> tuple[str, ...]:
    reasons = []
    if level == Level.NONE:
        reasons.append("No level" if scored else "Not scored yet")
    if dora.change_failure_tier(failures, deployments) == dora.LOW:
        reasons.append(f"Change failure rate {failures / deployments:.0%}")
    if failing:
        reasons.append(_plural(failing, "failing rule", "failing rules"))
    if emergencies == 1:
        reasons.append("Open emergency change without retrospective")
    elif emergencies:
        reasons.append(f"{emergencies} open emergency changes without retrospective")
    if not deployments:
        reasons.append(f"No production deployment in {days} days")
    return tuple(reasons)


def _compiled(queryset) -> tuple[str, tuple]:
    return queryset.query.sql_with_params()


# Ranked in the database: only the shown rows leave it. The rate ranks rounded to 4 decimals,
# as the DORA report rounds it, so services whose rates read the same tie on it (the database
# rounds an exact half up where Python's round() may not: 1 in 32 ranks as 0.0313; the row
# still shows Python's 0.0312, as every other table does). A `* 1.0` makes the division exact
# (numeric in PostgreSQL, real in SQLite); names compare by code point (COLLATE "C" in
# PostgreSQL), as Python compares strings.
_ATTENTION_SQL = """
WITH deployed AS ({deployed}), emergencies AS ({emergencies}),
ranked AS (
    SELECT s.name, s.title, t.slug AS team_slug, t.name AS team_name,
        COALESCE(sc.level, 0) AS level, sc.id IS NOT NULL AS scored,
        COALESCE(sc.total, 0) - COALESCE(sc.passed, 0) AS failing,
        COALESCE(d.deployments, 0) AS deployments, COALESCE(d.failures, 0) AS failures,
        COALESCE(e.releases, 0) AS emergencies,
        ROUND(d.failures * 1.0 / NULLIF(d.deployments, 0), 4) AS rate
    FROM {service} s
    JOIN {team} t ON t.id = s.owner_id
    LEFT JOIN {score} sc ON sc.service_id = s.id
    LEFT JOIN deployed d ON d.service_id = s.id
    LEFT JOIN emergencies e ON e.service_id = s.id
    WHERE {in_scope}
)
SELECT name, title, team_slug, team_name, level, scored, failing, deployments, failures,
    emergencies
FROM ranked
WHERE level = 0 OR failing > 0 OR emergencies > 0 OR deployments = 0
    OR failures * 100 > {low_failure_above} * deployments
ORDER BY level, COALESCE(rate, 0) DESC, failing DESC, emergencies DESC, name{collate}
LIMIT %s
"""


def services_needing_attention(
    *,
    team_slug: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 10,
) -> list[AttentionRow]:
    """The services (of a team, or all) most in need of attention, at most `limit`, with why.

    A service needs attention for any of: no scorecard level (or no evaluation yet); a change
    failure rate in the DORA low tier (above 15%); failing scorecard rules; emergency changes
    still waiting for their retrospective review (releases.selectors.needing_retrospective);
    no production deployment in the window. Services with none of these are not listed.

    Ranking, most in need first: the lowest scorecard level; then the highest change failure
    rate (none counts as 0); then the most failing rules; then the most open emergencies; then
    by name. One query over the catalog, the scores and the daily roll-up, ranked and cut in the
    database however many services there are; two for a team (its lookup, ScopeNotFound when
    there is none)."""
    start, end = dora_window(start, end)
    filters, _ = scope_filters("team", team_slug) if team_slug else ({}, "")
    team = {"service__owner_id": filters["service__owner_id"]} if filters else {}
    deployed, deployed_params = _compiled(
        production_rollups(start, end, filters)
        .values("service_id")
        .annotate(deployments=Sum("deployments"), failures=Sum("failures"))
        .order_by()
    )
    emergencies, emergency_params = _compiled(
        needing_retrospective()
        .filter(**team)
        .values("service_id")
        .annotate(releases=Count("pk"))
        .order_by()
    )
    sql = _ATTENTION_SQL.format(
        deployed=deployed,
        emergencies=emergencies,
        service=Service._meta.db_table,
        team=Team._meta.db_table,
        score=ServiceScore._meta.db_table,
        in_scope="s.owner_id = %s" if team else "TRUE",
        collate=' COLLATE "C"' if connection.vendor == "postgresql" else "",
        # dora.change_failure_tier's LOW, as _reasons() reads it for the rows shown.
        low_failure_above=int(dora.LOW_CHANGE_FAILURE_ABOVE_PERCENT),
    )
    params = [*deployed_params, *emergency_params, *team.values(), max(limit, 0)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    days = (end - start).days + 1
    return [
        AttentionRow(
            service=name,
            title=title,
            team_slug=team_slug_,
            team_name=team_name,
            level=Level(level),
            level_label=Level(level).label,
            change_failure_rate=dora.change_failure_rate(failures, deployments),
            failing_rules=failing,
            open_emergencies=emergencies_,
            deployments=deployments,
            reasons=_reasons(
                level=level,
                scored=bool(scored),
                failures=failures,
                deployments=deployments,
                failing=failing,
                emergencies=emergencies_,
                days=days,
            ),
        )
        for (
            name,
            title,
            team_slug_,
            team_name,
            level,
            scored,
            failing,
            deployments,
            failures,
            emergencies_,
        ) in found
    ]
