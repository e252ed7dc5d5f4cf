"""A train executed end to end by a real Celery worker against the cluster simulator in its own
process: the train's steps and its members' rollouts all run in the worker, each step asked
for through the outbox."""

import pytest

from apps.releases.models import Release, ReleaseState
from apps.trains import services
from apps.trains.models import Train, TrainState
from tests.integration.test_celery_worker import wait_for
from tests.trains.fixtures import members_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_runs_a_three_service_train_wave_by_wave(
    workers, developer, prod_services, make_train
):
    workers()
    prod_services("xyz", {"x": "y", "y": "z"})
    train = make_train("xyz", submit=True, members=members_of("xyz"))
    assert train.plan == [["z"], ["y"], ["x"]]
    services.train_start(actor=developer, train=train)

    def state() -> str:
        return Train.objects.values_list("state", flat=True).get(pk=train.pk)

    assert wait_for(lambda: state() == TrainState.SUCCEEDED, timeout=120), state()
    releases = {
        r.service.name: r
        for r in Release.objects.filter(train_membership__train=train).select_related("service")
    }
    assert {r.state for r in releases.values()} == {ReleaseState.SUCCEEDED}
    assert releases["z"].finished_at <= releases["y"].started_at
    assert releases["y"].finished_at <= releases["x"].started_at
