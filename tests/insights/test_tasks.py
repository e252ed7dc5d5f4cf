"""The reports app's periodic tasks: thin, idempotent, and on the beat schedule."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.insights import tasks
from apps.insights.models import DailyDeploymentRollup, DeploymentFact
from apps.releases.models import Release, ReleaseState
from apps.releases.transitions import release_transition


def test_the_tasks_are_on_the_beat_schedule():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["insights-refresh-rollups"]["task"] == tasks.rollups_refresh_task.name
    assert (
        schedule["insights-record-missed-deployments"]["task"]
        == tasks.deployments_record_missed_task.name
    )


@pytest.mark.django_db
def test_refreshing_recent_days_rebuilds_todays_rollup(checkout, deploy):
    now = timezone.now()
    deploy(checkout, started=now - timedelta(minutes=10), finished=now)
    DailyDeploymentRollup.objects.all().delete()
    assert tasks.rollups_refresh_task.apply().get() == 1
    assert DailyDeploymentRollup.objects.get().deployments == 1


@pytest.fixture
def finished_recently(checkout, developer):
    """A release that finished half an hour ago, through its finishing transition."""
    now = timezone.now()
    release = Release.objects.create(
        service=checkout,
        environment=checkout.environments.get(name="production"),
        version="registry/checkout:3.0",
        title="Now",
        planned_start=now - timedelta(hours=2),
        planned_end=now,
        requester=developer,
        state=ReleaseState.IN_PROGRESS,
        started_at=now - timedelta(hours=1),
    )
    release_transition(release=release, to_state=ReleaseState.SUCCEEDED, actor=None)
    release.transitions.update(at=now - timedelta(minutes=30))
    return release


@pytest.mark.django_db
def test_recently_finished_releases_are_recorded_once(finished_recently):
    assert tasks.deployments_record_missed_task.apply().get() == 1
    assert tasks.deployments_record_missed_task.apply().get() == 0
    assert DeploymentFact.objects.get().external_id == f"release/{finished_recently.pk}"


@pytest.mark.django_db
def test_the_backfill_command_records_releases_and_rolls_them_up(finished_recently, capsys):
    call_command("insights_backfill")
    out = capsys.readouterr().out
    assert "Release transitions recorded: 1" in out
    assert DailyDeploymentRollup.objects.get().deployments == 1
    call_command("insights_backfill")
    assert "Release transitions recorded: 0" in capsys.readouterr().out
