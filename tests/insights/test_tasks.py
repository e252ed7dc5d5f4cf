"""The reports app's periodic tasks: thin, idempotent, and on the beat schedule."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.insights import tasks
from apps.insights.models import DailyDeploymentRollup, DeploymentFact
from apps.releases.models import Release, ReleaseState


def test_the_tasks_are_on_the_beat_schedule():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["insights-refresh-rollups"]["task"] == tasks.rollups_refresh_task.name
    assert (
        schedule["insights-record-finished-releases"]["task"]
        == tasks.finished_releases_record_task.name
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
    now = timezone.now()
    return Release.objects.create(
        service=checkout,
        environment=checkout.environments.get(name="production"),
        version="registry/checkout:3.0",
        title="Now",
        planned_start=now - timedelta(hours=2),
        planned_end=now,
        requester=developer,
        state=ReleaseState.SUCCEEDED,
        started_at=now - timedelta(hours=1),
        finished_at=now - timedelta(minutes=30),
    )


@pytest.mark.django_db
def test_recently_finished_releases_are_recorded_once(finished_recently):
    assert tasks.finished_releases_record_task.apply().get() == 1
    assert tasks.finished_releases_record_task.apply().get() == 0
    assert DeploymentFact.objects.get().external_id == f"release/{finished_recently.pk}"


@pytest.mark.django_db
def test_the_backfill_command_records_releases_and_rolls_them_up(finished_recently, capsys):
    call_command("insights_backfill")
    out = capsys.readouterr().out
    assert "created or changed: 1" in out
    assert DailyDeploymentRollup.objects.get().deployments == 1
    call_command("insights_backfill")
    assert "created or changed: 0" in capsys.readouterr().out
