"""Rings executed by a real Celery worker against two cluster simulators: ring 1 starts when
the dispatcher runs after ring 0's soak is over (run out on a moved clock), and not before."""

import pytest

from apps.catalog.models import Cluster
from apps.releases.models import ReleaseState
from apps.rollouts import rings, services
from apps.rollouts.models import Rollout, RolloutState
from simulator import start_simulator, write_kubeconfig
from tests.integration.test_celery_worker import wait_for
from tests.integration.test_rollout_worker import service_with, start_release
from tests.rollouts.executing import image_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_a_worker_rolls_out_ring_by_ring_once_the_soak_is_over(
    workers, simulator, developer, payments, move_clock, tmp_path
):
    second = start_simulator(ready_delay=0.3, tick=0.05)
    try:
        eu1 = Cluster.objects.create(name="eu-1", kubeconfig_path=str(simulator))
        eu2 = Cluster.objects.create(
            name="eu-2", kubeconfig_path=str(write_kubeconfig(tmp_path / "eu-2", second.url))
        )
        service = service_with("rolling", {}, payments, name="live-rings")
        rings.environment_rings_set(
            actor=developer,
            environment=service.environments.get(name="dev"),
            rings=[{"cluster": eu1, "soak_seconds": 3600}, {"cluster": eu2}],
        )
        workers(env={"RUNWAY_CLOCK_OFFSET_FILE": str(move_clock.file)})

        ring0 = start_release(service, "live:1", developer)
        assert wait_for(lambda: Rollout.objects.get(pk=ring0.pk).next_ring_at, timeout=60)
        assert services.rollouts_dispatch() == []  # the beat, during the soak
        move_clock(3601)
        [started] = services.rollouts_dispatch()  # the beat, after it

        ring1 = Rollout.objects.get(pk=started)
        assert (ring1.ring, ring1.cluster) == (1, eu2)
        assert wait_for(lambda: Rollout.objects.get(pk=started).state == RolloutState.SUCCEEDED)
        ring0.release.refresh_from_db()
        assert ring0.release.state == ReleaseState.SUCCEEDED
        assert (image_in(eu1, "live", service.name), image_in(eu2, "live", service.name)) == (
            "live:1",
            "live:1",
        )
    finally:
        second.stop()
