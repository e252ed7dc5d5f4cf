"""The DORA four keys: the shape of a report, the Four Keys frequency buckets, the DORA 2023
performance tiers, and medians computed by the database.

Definitions (production deployments only; a window is whole days in TIME_ZONE):
- Deployment frequency: finished production deployments (any result) per calendar week
  (Monday-Sunday; the first and last week only count their days inside the window). Bucket as
  Four Keys does: daily when the median week has deployments on 3 or more days; weekly when the
  median week has a deployment; monthly when the median week falls in a month with a deployment
  week; else yearly. The medians over weeks are taken here, over the weekly series the
  database aggregated (one number per week), never over deployments.
- Lead time for changes: the median of commit → production lead times of the commits whose
  deployment finished inside the window (see selectors.counted_commits for which count).
- Change failure rate: failed deployments / deployments. A deployment failed when it failed,
  was rolled back, or caused an incident.
- Failed deployment recovery time: the median over incidents resolved inside the window
  (resolved - opened) and rollbacks finished inside it (rollback finished - deployment
  started); each of the two medians is reported too.
- A rollback, here and in the platform KPIs: a production deployment returned to the version
  before it, counted in the window its rollback finished. Recovery counts the rollbacks that
  returned it (by Runway or another tool); the KPI "rollback success" counts Runway's own,
  those that failed too.
DORA 2023 tiers: lead time < 1 day elite, ≤ 1 week high, ≤ 1 month (30 days) medium, else low;
recovery < 1 hour elite, < 1 day high, ≤ 1 week medium, else low; change failure rate ≤ 5%
elite, ≤ 10% high, ≤ 15% medium, else low; frequency daily (on demand) elite, weekly high,
monthly medium, yearly low. With nothing to measure, a figure and its tier are None.
"""

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet

ORG, TEAM, SERVICE = "org", "team", "service"
SCOPES = (ORG, TEAM, SERVICE)

ELITE, HIGH, MEDIUM, LOW = "elite", "high", "medium", "low"
DAILY, WEEKLY, MONTHLY, YEARLY = "daily", "weekly", "monthly", "yearly"
FREQUENCY_TIERS = {DAILY: ELITE, WEEKLY: HIGH, MONTHLY: MEDIUM, YEARLY: LOW}

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY


@dataclass(frozen=True)
class WeekCount:
    week: date  # the Monday
    deployments: int
    failures: int
    days_with_deployments: int


@dataclass(frozen=True)
class DeploymentFrequency:
    deployments: int
    weeks: int
    per_week: float | None
    bucket: str | None
    tier: str | None
    weekly: list[WeekCount]


@dataclass(frozen=True)
class LeadTime:
    median_seconds: float | None
    commits: int
    tier: str | None


@dataclass(frozen=True)
class ChangeFailureRate:
    rate: float | None
    failures: int
    deployments: int
    tier: str | None


@dataclass(frozen=True)
class Recovery:
    median_seconds: float | None
    tier: str | None
    incidents: int
    incident_median_seconds: float | None
    rollbacks: int
    rollback_median_seconds: float | None
    # Resolved, but never seen open and with no start from the vendor: left out of the medians.
    incidents_unknown_start: int = 0


@dataclass(frozen=True)
class DoraReport:
    scope: str
    name: str
    start: date
    end: date
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    recovery: Recovery


# --- Medians and other percentiles in the database -------------------------------------------


def _compiled(values: QuerySet) -> tuple[str, tuple]:
    # Order is the percentile's own business; SQLite refuses ORDER BY inside a union's parts.
    query = values.query.clone()
    for part in (query, *query.combined_queries):
        part.clear_ordering(force=True)
    return query.sql_with_params()


def _fraction(fraction: float) -> str:
    """A percentile as an SQL literal: our own constants, never user input, but checked."""
    fraction = float(fraction)
    if not 0 <= fraction <= 1:
        raise ValueError(f"A percentile is a fraction between 0 and 1, not {fraction}.")
    return repr(fraction)


def _percentile_sql(sql: str, fractions: Sequence[float], *, grouped: bool) -> str:
    """SQL for the percentiles of column `v` of `sql` (by column `g` when grouped), then the
    count. PostgreSQL: percentile_cont. SQLite has no percentile function: the same linear
    interpolation, in pure SQL, between the rows at positions floor((n - 1) p) and the next,
    numbered by a window function.

    Only the ORM's compiled `sql` (whose values are all parameters) and checked fraction literals
    are spliced in, hence the `noqa: S608`s."""
    literals = [_fraction(fraction) for fraction in fractions]
    if connection.vendor == "postgresql":
        columns = ", ".join(f"percentile_cont({p}) WITHIN GROUP (ORDER BY s.v)" for p in literals)
        if grouped:
            return f"SELECT s.g, {columns}, COUNT(s.v) FROM ({sql}) AS s GROUP BY s.g"  # noqa: S608
        return f"SELECT {columns}, COUNT(s.v) FROM ({sql}) AS s"  # noqa: S608
    # PostgreSQL's arithmetic: low + (high - low) * weight, where low is the value at position
    # floor((n - 1) p), high the next one (if any) and weight the fraction in between.
    parts, results = [], []
    for k, p in enumerate(literals):
        position = f"CAST((r.n - 1) * {p} AS INTEGER)"
        parts.append(
            f"MAX(CASE WHEN r.i = {position} THEN r.v END) AS lo{k}, "
            f"MAX(CASE WHEN r.i = {position} + 1 THEN r.v END) AS hi{k}, "
            f"MAX((r.n - 1) * {p} - {position}) AS w{k}"
        )
        results.append(f"a.lo{k} + (COALESCE(a.hi{k}, a.lo{k}) - a.lo{k}) * a.w{k}")
    partition = "PARTITION BY s.g" if grouped else ""
    group = "g, " if grouped else ""
    return (
        f"WITH s AS ({sql}), "  # noqa: S608
        f"r AS (SELECT {group}s.v AS v, ROW_NUMBER() OVER ({partition} ORDER BY s.v) - 1 AS i, "
        f"COUNT(s.v) OVER ({partition}) AS n FROM s WHERE s.v IS NOT NULL) "
        f"SELECT {group}{', '.join(results)}, a.c FROM "
        f"(SELECT {group}{', '.join(parts)}, COUNT(r.v) AS c FROM r"
        f"{' GROUP BY g' if grouped else ''}) AS a"
    )


def _number(value) -> float | None:
    return float(value) if value is not None else None


def percentiles_and_count(
    values: QuerySet, fractions: Sequence[float]
) -> tuple[tuple[float | None, ...], int]:
    """The percentiles (0.5 is the median, 0.95 the 95th) of the one column `v` of `values` (a
    queryset or a union of them), continuous as percentile_cont defines them, and how many values
    there are, in one query. Nothing to measure: (None, ...) and 0."""
    sql, params = _compiled(values)
    # `sql` is what the ORM compiled for `values`: every value in it is a query parameter.
    with connection.cursor() as cursor:
        cursor.execute(_percentile_sql(sql, fractions, grouped=False), params)
        *found, count = cursor.fetchone()
    return tuple(_number(value) for value in found), int(count or 0)


def grouped_percentiles_and_counts(
    values: QuerySet, fractions: Sequence[float]
) -> dict[Any, tuple[tuple[float | None, ...], int]]:
    """The same, per value of column `g` of `values`, in one query: {g: (percentiles, count)}.
    Groups without values are absent."""
    sql, params = _compiled(values)
    with connection.cursor() as cursor:
        cursor.execute(_percentile_sql(sql, fractions, grouped=True), params)
        rows = cursor.fetchall()
    return {
        group: (tuple(_number(value) for value in found), int(count or 0))
        for group, *found, count in rows
        if count
    }


def percentiles_and_counts_each(
    values_by_group: dict[Any, QuerySet], fractions: Sequence[float]
) -> dict[Any, tuple[tuple[float | None, ...], int]]:
    """The same as grouped_percentiles_and_counts, for groups given each as a queryset of its own
    (column `v`), in one query: a UNION ALL of one percentile per group. Where each group is a
    range an index reads in order (a week of a window), the database then sorts each group's
    values alone, rather than first all of them by group. Groups without values are absent."""
    groups = list(values_by_group)
    parts: list[str] = []
    params: list = []
    for index, values in enumerate(values_by_group.values()):
        sql, part_params = _compiled(values)
        # `index` is ours and `sql` what the ORM compiled: every value in it is a parameter.
        inner = _percentile_sql(sql, fractions, grouped=False)
        parts.append(f"SELECT {index} AS g, p{index}.* FROM ({inner}) AS p{index}")  # noqa: S608
        params.extend(part_params)
    if not parts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    return {
        groups[index]: (tuple(_number(value) for value in found), int(count or 0))
        for index, *found, count in rows
        if count
    }


def median_and_count(values: QuerySet) -> tuple[float | None, int]:
    """The median of the one column `v` of `values` (a queryset or a union of them) and how many
    values it has, in one query."""
    (median,), count = percentiles_and_count(values, (0.5,))
    return median, count


# --- Frequency --------------------------------------------------------------------------------


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def window_weeks(start: date, end: date) -> list[date]:
    """The Mondays of the weeks that have days in start..end."""
    weeks, monday = [], monday_of(start)
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def as_week(value: date | datetime | str) -> date:
    """A week as the database gave it (TruncWeek: a date, a datetime, or on SQLite through a raw
    cursor a string) as the date of its Monday."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def weeks_of_days(daily: Iterable[dict]) -> list[dict]:
    """Daily totals (one row per day with deployments, summed by the database: at most a few
    hundred) gathered into weeks, counting the days with a deployment. Cheaper than the database
    counting distinct days per week over every service's rows."""
    weeks: dict[date, dict] = {}
    for row in daily:
        monday = monday_of(as_week(row["day"]))  # as_week: whatever date shape the driver gave
        week = weeks.setdefault(
            monday, {"week": monday, "deployments": 0, "failures": 0, "days": 0}
        )
        week["deployments"] += int(row["deployments"] or 0)
        week["failures"] += int(row["failures"] or 0)
        week["days"] += 1 if row["deployments"] else 0
    return list(weeks.values())


def fill_weeks(start: date, end: date, rows: Iterable[dict]) -> list[WeekCount]:
    """Every week of the window, with zeros for weeks without deployments."""
    by_week = {as_week(row["week"]): row for row in rows}
    weeks = []
    for monday in window_weeks(start, end):
        row = by_week.get(monday, {})
        weeks.append(
            WeekCount(
                week=monday,
                deployments=int(row.get("deployments") or 0),
                failures=int(row.get("failures") or 0),
                days_with_deployments=int(row.get("days") or 0),
            )
        )
    return weeks


def frequency_bucket(weekly: list[WeekCount]) -> str | None:
    if not any(week.deployments for week in weekly):
        return None
    if statistics.median(week.days_with_deployments for week in weekly) >= 3:
        return DAILY
    if statistics.median(1 if week.deployments else 0 for week in weekly) >= 1:
        return WEEKLY
    deployed_weeks_in_month = Counter(
        (week.week.year, week.week.month) for week in weekly if week.deployments
    )
    if statistics.median(deployed_weeks_in_month[(w.week.year, w.week.month)] for w in weekly) >= 1:
        return MONTHLY
    return YEARLY


# --- Tiers ------------------------------------------------------------------------------------


def lead_time_tier(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < DAY:
        return ELITE
    if seconds <= WEEK:
        return HIGH
    if seconds <= MONTH:
        return MEDIUM
    return LOW


def recovery_tier(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < HOUR:
        return ELITE
    if seconds < DAY:
        return HIGH
    if seconds <= WEEK:
        return MEDIUM
    return LOW


# Above this share of failed deployments, in percent, change failure rate is low.
LOW_CHANGE_FAILURE_ABOVE_PERCENT = 15


def change_failure_rate(failures: int, deployments: int) -> float | None:
    """The share of deployments that failed, to four places; None without deployments."""
    return round(failures / deployments, 4) if deployments else None


def change_failure_tier(failures: int, deployments: int) -> str | None:
    if not deployments:
        return None
    # Whole numbers: 3 failures in 20 deployments is exactly 15%, not a float just above it.
    if failures * 100 <= 5 * deployments:
        return ELITE
    if failures * 100 <= 10 * deployments:
        return HIGH
    if failures * 100 <= LOW_CHANGE_FAILURE_ABOVE_PERCENT * deployments:
        return MEDIUM
    return LOW


def build_report(
    *,
    scope: str,
    name: str,
    start: date,
    end: date,
    weekly: list[WeekCount],
    lead_time_median: float | None,
    commits: int,
    recovery_median: float | None,
    incidents: int,
    incident_median: float | None,
    rollbacks: int,
    rollback_median: float | None,
    incidents_unknown_start: int = 0,
) -> DoraReport:
    deployments = sum(week.deployments for week in weekly)
    failures = sum(week.failures for week in weekly)
    bucket = frequency_bucket(weekly)
    return DoraReport(
        scope=scope,
        name=name,
        start=start,
        end=end,
        deployment_frequency=DeploymentFrequency(
            deployments=deployments,
            weeks=len(weekly),
            per_week=round(deployments / len(weekly), 2) if deployments else None,
            bucket=bucket,
            tier=FREQUENCY_TIERS.get(bucket) if bucket is not None else None,
            weekly=weekly,
        ),
        lead_time=LeadTime(
            median_seconds=lead_time_median,
            commits=commits,
            tier=lead_time_tier(lead_time_median),
        ),
        change_failure_rate=ChangeFailureRate(
            rate=change_failure_rate(failures, deployments),
            failures=failures,
            deployments=deployments,
            tier=change_failure_tier(failures, deployments),
        ),
        recovery=Recovery(
            median_seconds=recovery_median,
            tier=recovery_tier(recovery_median),
            incidents=incidents,
            incident_median_seconds=incident_median,
            rollbacks=rollbacks,
            rollback_median_seconds=rollback_median,
            incidents_unknown_start=incidents_unknown_start,
        ),
    )
