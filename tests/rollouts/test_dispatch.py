"""The dispatcher starts the rollouts of releases that have begun, in the order they were
planned: two releases of one service to one environment ship the earlier first."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.releases.models import Release, ReleaseState
from apps.rollouts import services
from apps.rollouts.models import Rollout

pytestmark = pytest.mark.django_db


def begun(web, environment, developer, version: str, minutes_ago: int) -> Release:
    start = timezone.now() - timedelta(minutes=minutes_ago)
    return Release.objects.create(
        service=web,
        environment=environment,
        version=version,
        title=version,
        planned_start=start,
        planned_end=start + timedelta(minutes=30),
        requester=developer,
        state=ReleaseState.IN_PROGRESS,
    )


def test_of_two_releases_to_one_environment_the_earlier_planned_ships_first(web, developer):
    dev = web.environments.get(name="dev")
    later = begun(web, dev, developer, "registry/web:1.1.0", minutes_ago=1)
    earlier = begun(web, dev, developer, "registry/web:1.0.0", minutes_ago=2)

    started = services.rollouts_dispatch()

    (rollout,) = Rollout.objects.all()
    assert started == [rollout.pk]
    assert rollout.release == earlier
    assert not later.rollouts.exists()  # it waits for the next round
