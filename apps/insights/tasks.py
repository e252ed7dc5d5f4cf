"""Thin periodic tasks of the reports app (scheduled by InsightsConfig)."""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.insights import services
from apps.insights.scorecards import services as scorecards


@shared_task(
    name="insights.refresh_rollups",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def refresh_rollups(days: int = 3) -> int:
    """Recompute the daily roll-up of the last few days from the facts (idempotent)."""
    return services.rollup_refresh_recent(days=days)


@shared_task(
    name="insights.record_finished_releases",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def record_finished_releases(hours: int = 48) -> int:
    """Record releases that finished lately as deployment facts (idempotent)."""
    since = timezone.now() - timedelta(hours=hours)
    return services.deployment_facts_backfill_from_releases(finished_since=since)


@shared_task(
    name="insights.refresh_scorecards",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def refresh_scorecards() -> int:
    """Evaluate every service's scorecard again (idempotent)."""
    return scorecards.scorecards_refresh()


@shared_task(
    name="insights.snapshot_scorecards",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def snapshot_scorecards() -> int:
    """Keep this week's scorecards for the trends (idempotent per service and week)."""
    return scorecards.scorecard_snapshots_take()
