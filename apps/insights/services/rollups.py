"""The daily roll-up and the counted lead times: recomputed from the facts for a range of days,
never incremented, so a refresh is idempotent and a missed or doubled refresh heals at the next
one. Recording a fact refreshes the days it touches; the beat task refreshes recent days for
whatever slipped past."""

from collections.abc import Collection
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.insights.models import DailyDeploymentRollup, DeploymentFact, LeadTime
from apps.insights.selectors import counted_commits, day_bounds, local_day

# Refreshes take turns: under READ COMMITTED, a refresh that waits for another's commit then
# reads the facts that one wrote, so the last refresh always counts everything committed.
_ROLLUP_LOCK_KEY = 0x494E53494748  # "INSIGH"


def _take_turn() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ROLLUP_LOCK_KEY])


@transaction.atomic
def rollup_refresh(*, start: date, end: date, service_ids: Collection[int] | None = None) -> int:
    """Recompute the roll-up rows of days start..end (inclusive, in TIME_ZONE), for some services
    or all. Returns the number of rows written."""
    _take_turn()
    tz = timezone.get_default_timezone()
    lower, upper = day_bounds(start, end)
    facts = DeploymentFact.objects.filter(finished_at__gte=lower, finished_at__lt=upper)
    commits = counted_commits().filter(
        deployment__finished_at__gte=lower, deployment__finished_at__lt=upper
    )
    existing = DailyDeploymentRollup.objects.filter(day__gte=start, day__lte=end)
    if service_ids is not None:
        facts = facts.filter(service_id__in=service_ids)
        commits = commits.filter(deployment__service_id__in=service_ids)
        existing = existing.filter(service_id__in=service_ids)

    rows: dict[tuple, DailyDeploymentRollup] = {}
    counts = (
        facts.annotate(day=TruncDate("finished_at", tzinfo=tz))
        .values("service_id", "day", "is_production")
        .annotate(
            deployments=Count("id"),
            failures=Count("id", filter=Q(is_failure=True)),
            rollbacks=Count("id", filter=Q(rolled_back_at__isnull=False)),
        )
        .order_by()
    )
    for row in counts:
        key = (row["service_id"], row["day"], row["is_production"])
        rows[key] = DailyDeploymentRollup(
            service_id=row["service_id"],
            day=row["day"],
            is_production=row["is_production"],
            deployments=row["deployments"],
            failures=row["failures"],
            rollbacks=row["rollbacks"],
        )
    lead_times = (
        commits.annotate(day=TruncDate("deployment__finished_at", tzinfo=tz))
        .values("deployment__service_id", "day")
        .annotate(total=Sum("lead_time_seconds"), count=Count("id"))
        .order_by()
    )
    for row in lead_times:
        # Counted commits are production commits, on a day that has its deployment.
        rollup = rows[(row["deployment__service_id"], row["day"], True)]
        rollup.lead_time_seconds_sum = row["total"]
        rollup.lead_time_count = row["count"]

    existing.delete()
    DailyDeploymentRollup.objects.bulk_create(rows.values(), batch_size=500)
    _lead_times_rewrite(lower, upper, commits, service_ids)
    return len(rows)


def _lead_times_rewrite(lower, upper, commits, service_ids) -> None:
    """Replace the counted lead times of deployments finished in [lower, upper) with `commits`,
    in one INSERT ... SELECT: a year of a large organisation is millions of rows."""
    stale = LeadTime.objects.filter(deployed_at__gte=lower, deployed_at__lt=upper)
    if service_ids is not None:
        stale = stale.filter(service_id__in=service_ids)
    stale.delete()
    query = (
        commits.order_by()
        .values_list("id", "deployment__service_id", "deployment__finished_at", "lead_time_seconds")
        .query
    )
    select, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LeadTime._meta.db_table} (commit_id, service_id, deployed_at, seconds) "
            + select,
            params,
        )


def rollup_refresh_days(*, service_id: int, days: Collection[date]) -> int:
    if not days:
        return 0
    return rollup_refresh(start=min(days), end=max(days), service_ids=[service_id])


def rollup_refresh_recent(*, days: int = 3) -> int:
    """The last `days` days (today included) for every service: the beat task's repair."""
    today = local_day(timezone.now())
    return rollup_refresh(start=today - timedelta(days=max(days, 1) - 1), end=today)
