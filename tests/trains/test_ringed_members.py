"""A train whose member rolls out to an environment with rings: the member is done, and the
train moves on, only once its last ring has succeeded; a train rolling back undoes every ring."""

import pytest

from apps.releases.models import ReleaseState
from apps.rollouts import rings
from apps.rollouts.models import Rollout, RolloutState
from apps.trains import services
from apps.trains.models import TrainState
from tests.rollouts.executing import drive, image_in
from tests.trains.running import deploy_first_versions, releases_by_service, run_train

pytestmark = pytest.mark.django_db


def the_dispatchers_beat(_train) -> bool:
    """Run as run_train's `until`, once a round: start the rings whose soak is over."""
    rings.rings_dispatch()
    return False


@pytest.fixture
def ringed_train(diamond, make_train, developer, eu1, eu2):
    """e (wave 1) rolls out to prod in two rings, eu-1 then eu-2; d (wave 1) and b (wave 2)
    to the default cluster. Version 1 runs everywhere first."""

    def set_rings(service):
        rings.environment_rings_set(
            actor=developer,
            environment=service.environments.get(name="prod"),
            rings=[{"cluster": eu1, "soak_seconds": 0}, {"cluster": eu2, "soak_seconds": 0}],
        )

    def make(*, bad=(), new_ring=False, **fields):
        b, d, e = (s for s in diamond if s.name in "bde")
        if new_ring:  # eu-2 joins with the train: nothing runs there before it
            deploy_first_versions([b, d, e], actor=developer)
        set_rings(e)
        if not new_ring:  # e:1 to eu-1, then to eu-2
            deploy_first_versions([b, d, e], actor=developer)
            drive(Rollout.objects.get(pk=rings.rings_dispatch()[0]))
        versions = [
            {"service": name, "version": f"{name}:{'crashloop' if name in bad else '2'}"}
            for name in "bde"
        ]
        train = make_train("bde", submit=True, members=versions, **fields)
        return services.train_start(actor=developer, train=train)

    return make


def test_the_next_wave_waits_for_the_last_ring_of_a_ringed_member(ringed_train, eu1, eu2):
    train = run_train(ringed_train(), until=the_dispatchers_beat)

    assert train.state == TrainState.SUCCEEDED
    releases = releases_by_service(train)
    ring0, ring1 = Rollout.objects.filter(release=releases["e"]).order_by("ring")
    assert (ring0.cluster, ring1.cluster) == (eu1, eu2)
    assert (image_in(eu1, "e", "e"), image_in(eu2, "e", "e")) == ("e:2", "e:2")
    assert releases["e"].finished_at >= ring1.finished_at
    second_wave = releases["b"].rollouts.get()
    assert second_wave.started_at >= ring1.finished_at


def test_a_train_rolling_back_undoes_every_ring_of_a_ringed_member(ringed_train, eu1, eu2):
    train = run_train(ringed_train(bad="b", rollback_policy="reverse"), until=the_dispatchers_beat)

    assert train.state == TrainState.ROLLED_BACK
    releases = releases_by_service(train)
    assert releases["e"].state == ReleaseState.ROLLED_BACK
    rollbacks = Rollout.objects.filter(release=releases["e"], is_rollback=True).order_by("id")
    assert [(r.ring, r.state) for r in rollbacks] == [
        (1, RolloutState.SUCCEEDED),
        (0, RolloutState.SUCCEEDED),
    ]
    assert (image_in(eu1, "e", "e"), image_in(eu2, "e", "e")) == ("e:1", "e:1")


def test_a_ring_that_had_no_version_before_is_left_and_the_rings_before_it_roll_back(
    ringed_train, eu1, eu2
):
    train = run_train(
        ringed_train(bad="b", rollback_policy="reverse", new_ring=True),
        until=the_dispatchers_beat,
        timeout=30,
    )

    assert train.state == TrainState.ROLLED_BACK
    release = releases_by_service(train)["e"]
    assert release.state == ReleaseState.ROLLED_BACK
    assert [r.ring for r in Rollout.objects.filter(release=release, is_rollback=True)] == [0]
    assert (image_in(eu1, "e", "e"), image_in(eu2, "e", "e")) == ("e:1", "e:2")
