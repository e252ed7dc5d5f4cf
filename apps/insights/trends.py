"""The four keys week by week, for trend lines: the same definitions as the DORA report
(apps.insights.dora), one point per calendar week (Monday) of the window. The first and last
weeks count only their days inside the window, so the weeks add up to the report's totals."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import F, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from apps.insights import dora
from apps.insights.selectors import (
    commits_counted_between,
    day_bounds,
    dora_window,
    incidents_resolved_between,
    production_rollups,
    rollbacks_finished_between,
    scope_filters,
)


@dataclass(frozen=True)
class DoraWeek:
    week: date  # the Monday
    deployments: int  # finished production deployments, any result
    failures: int
    change_failure_rate: float | None  # failures / deployments; None without deployments
    lead_time_median_seconds: float | None
    lead_time_commits: int  # the counted commits the median is over
    recovery_median_seconds: float | None
    recoveries: int  # incidents resolved + rollbacks finished that week


def _clipped(
    bounds: tuple[datetime, datetime], lower: datetime, upper: datetime
) -> tuple[datetime, datetime]:
    """A week's [start, end) cut to the window's: the first and last weeks count their days in
    the window only."""
    return max(bounds[0], lower), min(bounds[1], upper)


def dora_trends(
    *, scope: str, name: str = "", start: date | None = None, end: date | None = None
) -> list[DoraWeek]:
    """The four keys per week of start..end (default: the last 90 days) for the organisation, a
    team (by slug) or a service (by name). Every week of the window is there; a week without data
    has zero counts and None for its rate and medians.

    Deployments and failures come from the daily roll-up, summed by week; lead time is the
    median over the week's counted commits, by the week their deployment finished; recovery the
    median over the incidents resolved and rollbacks finished that week. Weeks are TIME_ZONE
    weeks. Three queries for the organisation, four for a team or a service (its lookup)."""
    filters, _ = scope_filters(scope, name)
    start, end = dora_window(start, end)
    lower, upper = day_bounds(start, end)
    tz = timezone.get_default_timezone()

    # Summed by day in the database, by week here: truncating each roll-up row's day to its week
    # in SQL costs more than the sums (a hundred thousand rows over 90 days at 10,000 services).
    counts = {
        row["week"]: row
        for row in dora.weeks_of_days(
            production_rollups(start, end, filters)
            .values("day")
            .annotate(deployments=Sum("deployments"), failures=Sum("failures"))
            .order_by()
        )
    }
    # Week by week, each week's counted commits read in order off the (deployed_at, seconds)
    # index and sorted alone: the same commits as grouping the window's by TruncWeek.
    mondays = dora.window_weeks(start, end)
    lead_times = dora.percentiles_and_counts_each(
        {
            monday: commits_counted_between(
                *_clipped(day_bounds(monday, monday + timedelta(days=6)), lower, upper), filters
            ).values(v=F("seconds"))
            for monday in mondays
        },
        (0.5,),
    )
    recoveries = dora.grouped_percentiles_and_counts(
        incidents_resolved_between(lower, upper, filters)
        .values(g=TruncWeek("resolved_at", tzinfo=tz), v=F("recovery_seconds"))
        .union(
            rollbacks_finished_between(lower, upper, filters).values(
                g=TruncWeek("rolled_back_at", tzinfo=tz), v=F("recovery_seconds")
            ),
            all=True,
        ),
        (0.5,),
    )
    recoveries = {dora.as_week(week): found for week, found in recoveries.items()}

    weeks = []
    for monday in mondays:
        row = counts.get(monday, {})
        deployments = int(row.get("deployments") or 0)
        failures = int(row.get("failures") or 0)
        (lead_median,), commits = lead_times.get(monday, ((None,), 0))
        (recovery_median,), recovered = recoveries.get(monday, ((None,), 0))
        weeks.append(
            DoraWeek(
                week=monday,
                deployments=deployments,
                failures=failures,
                change_failure_rate=dora.change_failure_rate(failures, deployments),
                lead_time_median_seconds=lead_median,
                lead_time_commits=commits,
                recovery_median_seconds=recovery_median,
                recoveries=recovered,
            )
        )
    return weeks
