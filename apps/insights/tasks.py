"""Thin periodic tasks of the reports app, on the beat schedule in portal/settings.py. A database
that is briefly away (OperationalError) is waited out; each task is idempotent."""

from datetime import timedelta

from django.db import OperationalError
from django.utils import timezone

from apps.core.retries import retried_task

RETRY_ON = (OperationalError,)
MAX_RETRIES = 3


@retried_task("insights.refresh_rollups", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def rollups_refresh_task(days: int = 3) -> int:
    """Recompute the daily roll-up of the last few days from the facts (idempotent)."""
    from apps.insights.services import rollup_refresh_recent

    return rollup_refresh_recent(days=days)


@retried_task("insights.record_finished_releases", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def finished_releases_record_task(hours: int = 48) -> int:
    """Record releases that finished lately as deployment facts (idempotent)."""
    from apps.insights.services import deployment_facts_backfill_from_releases

    since = timezone.now() - timedelta(hours=hours)
    return deployment_facts_backfill_from_releases(finished_since=since)


@retried_task("insights.refresh_scorecards", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def scorecards_refresh_task() -> int:
    """Evaluate every service's scorecard again (idempotent)."""
    from apps.insights.scorecards.services import scorecards_refresh

    return scorecards_refresh()


@retried_task("insights.snapshot_scorecards", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def scorecards_snapshot_task() -> int:
    """Keep this week's scorecards for the trends (idempotent per service and week)."""
    from apps.insights.scorecards.services import scorecard_snapshots_take

    return scorecard_snapshots_take()
