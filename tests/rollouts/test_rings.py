"""Rings: an environment rolled out cluster by cluster, against two cluster simulators, driven
in the test process; soaks are run out with Runway's clock, never waited out."""

from datetime import timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Cluster
from apps.releases.models import Release, ReleaseState
from apps.rollouts import rings, services
from apps.rollouts.models import Rollout, RolloutEvent, RolloutState
from tests.rollouts import executing
from tests.rollouts.executing import drive, finishes, release_of

HOUR = 3600


@pytest.fixture
def ringed(shop, developer, eu1, eu2):
    """A service whose `dev` environment rolls out to eu-1, then, an hour later, eu-2."""

    def make(soak: int = HOUR):
        service = shop("rolling")
        rings.environment_rings_set(
            actor=developer,
            environment=service.environments.get(name="dev"),
            rings=[{"cluster": eu1, "soak_seconds": soak}, {"cluster": eu2, "soak_seconds": 0}],
        )
        return service

    return make


def image_in(cluster: Cluster, service) -> str | None:
    return executing.image_in(cluster, "shop", service.name)


def ship_to_every_ring(service, version: str, actor) -> Release:
    release = release_of(service, version, actor=actor)
    drive(services.rollout_start(actor=actor, release=release))
    for _ in range(5):
        started = services.rollouts_dispatch()
        if not started:
            break
        drive(Rollout.objects.get(pk=started[0]))
    release.refresh_from_db()
    return release


@pytest.mark.django_db
def test_ring_1_starts_only_once_ring_0_succeeded_and_soaked(
    ringed, developer, eu1, eu2, move_clock
):
    service = ringed(soak=HOUR)
    release = release_of(service, "shop:1", actor=developer)

    ring0 = drive(services.rollout_start(actor=developer, release=release))

    assert (ring0.state, ring0.ring, ring0.cluster) == (RolloutState.SUCCEEDED, 0, eu1)
    assert image_in(eu1, service) == "shop:1"
    assert image_in(eu2, service) is None
    release.refresh_from_db()
    assert release.state == ReleaseState.IN_PROGRESS
    assert ring0.next_ring_at is not None
    waiting = RolloutEvent.objects.filter(rollout=ring0, message__startswith="Ring 1").get()
    assert "Ring 1 (cluster eu-2) starts after the soak of ring 0 ends at" in waiting.message

    move_clock(HOUR - 60)
    assert services.rollouts_dispatch() == []  # a minute of soak left
    assert image_in(eu2, service) is None

    move_clock(61)
    [started] = services.rollouts_dispatch()
    ring1 = drive(Rollout.objects.get(pk=started))

    assert (ring1.state, ring1.ring, ring1.cluster) == (RolloutState.SUCCEEDED, 1, eu2)
    assert ring1.started_at >= ring0.finished_at + timedelta(seconds=HOUR)
    assert image_in(eu2, service) == "shop:1"
    release.refresh_from_db()
    assert release.state == ReleaseState.SUCCEEDED
    assert finishes(release.pk) == [("in_progress", "succeeded")]
    assert services.rollouts_dispatch() == []  # started once
    assert AuditEvent.objects.filter(action="rollout.ring_soak", target_id=str(ring0.pk)).exists()
    assert AuditEvent.objects.filter(action="rollout.ring_start", target_id=str(ring1.pk)).exists()


@pytest.mark.django_db
def test_a_failure_in_ring_1_halts_and_rolls_ring_0_back(ringed, developer, eu1, eu2, tmp_path):
    service = ringed(soak=0)
    first = ship_to_every_ring(service, "shop:1", developer)
    assert first.state == ReleaseState.SUCCEEDED
    release = release_of(service, "shop:2", actor=developer)
    ring0 = drive(services.rollout_start(actor=developer, release=release))
    assert image_in(eu1, service) == "shop:2"
    # Ring 1's cluster can no longer be reached: its kubeconfig is gone.
    Cluster.objects.filter(pk=eu2.pk).update(kubeconfig_path=str(tmp_path / "gone"))

    [started] = services.rollouts_dispatch()
    ring1 = drive(Rollout.objects.get(pk=started), timeout=60)

    assert ring1.ring == 1 and ring1.state == RolloutState.FAILED
    rollback = Rollout.objects.get(release=release, is_rollback=True)
    assert (rollback.rolls_back_id, rollback.ring, rollback.cluster) == (ring0.pk, 0, eu1)
    release.refresh_from_db()
    assert release.state == ReleaseState.IN_PROGRESS  # until ring 0 is back

    rollback = drive(rollback)

    assert rollback.state == RolloutState.SUCCEEDED
    assert image_in(eu1, service) == "shop:1"
    release.refresh_from_db()
    assert release.state == ReleaseState.FAILED
    assert finishes(release.pk) == [("in_progress", "failed")]
    assert services.rollouts_dispatch() == []  # nothing further starts
    assert AuditEvent.objects.filter(action="rollout.ring_halt", target_id=str(release.pk)).exists()
    assert AuditEvent.objects.filter(
        action="rollout.ring_rollback", target_id=str(ring0.pk)
    ).exists()


@pytest.mark.django_db
def test_an_aborted_ring_1_ends_the_release_rolled_back_with_every_ring_on_the_old_version(
    ringed, developer, eu1, eu2
):
    service = ringed(soak=0)
    ship_to_every_ring(service, "shop:1", developer)
    release = release_of(service, "shop:2", actor=developer)
    drive(services.rollout_start(actor=developer, release=release))
    [started] = services.rollouts_dispatch()
    ring1 = Rollout.objects.get(pk=started)

    services.rollout_abort(actor=developer, rollout=ring1, reason="bad metrics in eu-2")
    assert drive(ring1).state == RolloutState.ABORTED
    drive(Rollout.objects.get(release=release, is_rollback=True))

    assert (image_in(eu1, service), image_in(eu2, service)) == ("shop:1", "shop:1")
    assert finishes(release.pk) == [("in_progress", "rolled_back")]


@pytest.mark.django_db
def test_rolling_back_a_ringed_release_starts_at_its_last_ring(ringed, developer, eu1, eu2):
    service = ringed(soak=0)
    ship_to_every_ring(service, "shop:1", developer)
    release = ship_to_every_ring(service, "shop:2", developer)
    ring0, ring1 = Rollout.objects.filter(release=release).order_by("ring")

    with pytest.raises(Exception, match="Roll back ring 1"):
        services.rollout_rollback(actor=developer, rollout=ring0)
    drive(services.rollout_rollback(actor=developer, rollout=ring1))
    drive(Rollout.objects.get(release=release, is_rollback=True, ring=0))

    assert (image_in(eu1, service), image_in(eu2, service)) == ("shop:1", "shop:1")
    release.refresh_from_db()
    assert release.state == ReleaseState.ROLLED_BACK


@pytest.mark.django_db
def test_an_environment_without_rings_rolls_out_to_its_own_cluster_alone(shop, developer, eu1):
    service = shop("rolling")
    service.environments.filter(name="dev").update(cluster=eu1)
    release = release_of(service, "shop:1", actor=developer)

    rollout = drive(services.rollout_start(actor=developer, release=release))

    assert (rollout.ring, rollout.cluster, rollout.next_ring_at) == (None, eu1, None)
    assert finishes(release.pk) == [("in_progress", "succeeded")]
    assert services.rollouts_dispatch() == []
