"""Thin tasks of the reports app: the periodic ones on the beat schedule in portal/settings.py,
and the recording of a finished release, queued through the outbox. A database that is briefly
away (OperationalError) is waited out; each task is idempotent."""

from django.db import OperationalError

from apps.core.retries import retried_task

RETRY_ON = (OperationalError,)
MAX_RETRIES = 3


@retried_task("insights.refresh_rollups", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def rollups_refresh_task(days: int = 3) -> int:
    """Recompute the daily roll-up of the last few days from the facts (idempotent)."""
    from apps.insights.services import rollup_refresh_recent

    return rollup_refresh_recent(days=days)


@retried_task("insights.record_deployment", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def deployment_record_task(transition_id: int) -> bool:
    """Record a release's finishing transition as its deployment fact (queued through the
    outbox as the transition commits; a second run changes nothing)."""
    from apps.insights.services import release_transition_record

    return release_transition_record(transition_id=transition_id)


@retried_task("insights.record_missed_deployments", retry_on=RETRY_ON, max_retries=MAX_RETRIES)
def deployments_record_missed_task() -> int:
    """Record the recent finishing transitions whose task was lost, a bounded batch per run."""
    from apps.insights.services import release_transitions_record_missed

    return release_transitions_record_missed()


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
