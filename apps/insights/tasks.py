"""Thin periodic tasks of the reports app (scheduled by InsightsConfig)."""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.insights import services


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
