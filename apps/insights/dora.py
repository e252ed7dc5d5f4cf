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
DORA 2023 tiers: lead time < 1 day elite, ≤ 1 week high, ≤ 1 month (30 days) medium, else low;
recovery < 1 hour elite, < 1 day high, ≤ 1 week medium, else low; change failure rate ≤ 5%
elite, ≤ 10% high, ≤ 15% medium, else low; frequency daily (on demand) elite, weekly high,
monthly medium, yearly low. With nothing to measure, a figure and its tier are None.
"""

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

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


# --- Medians in the database ------------------------------------------------------------------


def median_and_count(values: QuerySet) -> tuple[float | None, int]:
    """The median of the one column `v` of `values` (a queryset or a union of them) and how many
    values it has, in one query. PostgreSQL: percentile_cont. SQLite has no percentile function:
    the middle one or two values, by ORDER BY with LIMIT/OFFSET in a subquery, averaged."""
    # Order is the median's own business; SQLite refuses ORDER BY inside a union's parts.
    query = values.query.clone()
    for part in (query, *query.combined_queries):
        part.clear_ordering(force=True)
    sql, params = query.sql_with_params()
    if connection.vendor == "postgresql":
        template = (
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s.v), COUNT(s.v) FROM ({}) AS s"
        )
    else:
        template = (
            "WITH s AS ({}) "
            "SELECT (SELECT AVG(m.v) FROM (SELECT v FROM s WHERE v IS NOT NULL ORDER BY v "
            "LIMIT 2 - (SELECT COUNT(v) FROM s) %% 2 "  # %% : the driver's escape of %
            "OFFSET (SELECT (COUNT(v) - 1) / 2 FROM s)) AS m), "
            "(SELECT COUNT(v) FROM s)"
        )
    # `sql` is what the ORM compiled for `values`: every value in it is a query parameter.
    query = template.format(sql)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        median, count = cursor.fetchone()
    return (float(median) if median is not None else None), int(count or 0)


# --- Frequency --------------------------------------------------------------------------------


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def fill_weeks(start: date, end: date, rows: Iterable[dict]) -> list[WeekCount]:
    """Every week of the window, with zeros for weeks without deployments."""
    by_week = {}
    for row in rows:
        week = row["week"]
        week = week.date() if hasattr(week, "date") else week
        by_week[week] = row
    weeks = []
    monday = monday_of(start)
    while monday <= end:
        row = by_week.get(monday, {})
        weeks.append(
            WeekCount(
                week=monday,
                deployments=int(row.get("deployments") or 0),
                failures=int(row.get("failures") or 0),
                days_with_deployments=int(row.get("days") or 0),
            )
        )
        monday += timedelta(days=7)
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


def change_failure_tier(failures: int, deployments: int) -> str | None:
    if not deployments:
        return None
    # Whole numbers: 3 failures in 20 deployments is exactly 15%, not a float just above it.
    if failures * 100 <= 5 * deployments:
        return ELITE
    if failures * 100 <= 10 * deployments:
        return HIGH
    if failures * 100 <= 15 * deployments:
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
            tier=FREQUENCY_TIERS.get(bucket),
            weekly=weekly,
        ),
        lead_time=LeadTime(
            median_seconds=lead_time_median,
            commits=commits,
            tier=lead_time_tier(lead_time_median),
        ),
        change_failure_rate=ChangeFailureRate(
            rate=round(failures / deployments, 4) if deployments else None,
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
        ),
    )
