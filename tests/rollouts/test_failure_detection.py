"""A bad version is caught and rolled back by itself, whatever way it is bad and however many
replicas run: crash loops, images that cannot be pulled, pods that never become ready, pods
that cannot be scheduled. Against the cluster simulator, through the real client."""

from datetime import timedelta

import pytest

from apps.core import clock
from apps.releases.models import Release, ReleaseState
from apps.rollouts import services, steps
from apps.rollouts.kube import Kube
from apps.rollouts.models import Rollout, RolloutEvent, RolloutState, StepState
from tests.processes import wait_for
from tests.rollouts.executing import drive, release_of

CANARY = {
    "steps": [
        {"set_weight": 20},
        {"pause": {"seconds": 0}},
        {"set_weight": 60},
        {"pause": {"seconds": 0}},
        {"set_weight": 100},
    ]
}
# The bad canary's image is set only for the weight where it should go wrong: a good canary up
# to that weight, then a crash loop, is the same as a canary that goes bad later on.
BAD_IMAGES = {
    "crashloop": "crash-looping",
    "imagepull": "cannot pull their image",
    "unready": "made no progress within",
    "unschedulable": "cannot be scheduled",
}


def first_version(shop, developer, strategy: str, replicas: int, params=None):
    service = shop(strategy, params, replicas=replicas)
    first = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    assert first.state == RolloutState.SUCCEEDED
    return service


def assert_stable_untouched(service, replicas: int, name: str | None = None):
    status = Kube().deployment("shop", name or service.name)
    assert status.image == "shop:1"
    assert status.spec_replicas == replicas and status.available == replicas


@pytest.mark.django_db
@pytest.mark.parametrize("replicas", [1, 3])
@pytest.mark.parametrize("bad", sorted(BAD_IMAGES))
def test_a_bad_canary_is_rolled_back_at_its_first_weight(
    cluster, shop, developer, settings, replicas, bad
):
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 3
    service = first_version(shop, developer, "canary", replicas, CANARY)
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, f"shop:2-{bad}", actor=developer)
    )
    rollout = drive(rollout, timeout=40)
    assert rollout.state == RolloutState.ROLLED_BACK
    assert BAD_IMAGES[bad] in rollout.failure_reason
    failed = rollout.steps.get(state=StepState.FAILED)
    assert (failed.kind, failed.params) == ("set_weight", {"weight": 20})
    assert_stable_untouched(service, replicas)
    assert Kube().deployment("shop", f"{service.name}-canary") is None
    assert Release.objects.get(pk=rollout.release_id).state == ReleaseState.ROLLED_BACK


@pytest.mark.django_db
@pytest.mark.parametrize("replicas", [1, 3])
def test_a_canary_that_goes_bad_at_a_later_weight_is_rolled_back(
    cluster, shop, developer, replicas
):
    service = first_version(shop, developer, "canary", replicas, CANARY)
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )
    # The canary is healthy at 20%; then its pods start crash-looping (a memory leak, say).
    rollout = drive(rollout, until=lambda r: r.current_step == 3)
    assert rollout.steps.get(index=1).state == StepState.SUCCEEDED
    container = {"name": service.name, "image": "shop:2-crashloop"}
    bad = {"spec": {"template": {"spec": {"containers": [container]}}}}
    Kube().apps.patch_namespaced_deployment(f"{service.name}-canary", "shop", bad)
    rollout = drive(rollout, timeout=40)
    assert rollout.state == RolloutState.ROLLED_BACK
    assert "crash-looping" in rollout.failure_reason
    assert rollout.steps.get(state=StepState.FAILED).params == {"weight": 60}
    assert_stable_untouched(service, replicas)


@pytest.mark.django_db
@pytest.mark.parametrize("replicas", [1, 3])
@pytest.mark.parametrize("bad", ["crashloop", "imagepull"])
def test_a_bad_blue_green_preview_never_takes_traffic(cluster, shop, developer, replicas, bad):
    service = first_version(shop, developer, "blue-green", replicas, {"auto_promotion": True})
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, f"shop:2-{bad}", actor=developer)
    )
    rollout = drive(rollout, timeout=40)
    assert rollout.state == RolloutState.ROLLED_BACK
    assert BAD_IMAGES[bad] in rollout.failure_reason
    active = rollout.plan_state["active"]
    assert Kube().service_selector("shop", service.name)["runway.dev/colour"] == active
    assert_stable_untouched(service, replicas, f"{service.name}-{active}")
    preview = Kube().deployment("shop", f"{service.name}-{rollout.plan_state['preview']}")
    assert preview.spec_replicas == 0


@pytest.mark.django_db
@pytest.mark.parametrize("replicas", [1, 3])
def test_a_rolling_update_that_never_gets_ready_is_rolled_back_at_runways_deadline(
    cluster, shop, developer, settings, replicas
):
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 2
    service = first_version(shop, developer, "rolling", replicas)
    rollout = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2-unready", actor=developer)
        ),
        timeout=40,
    )
    assert rollout.state == RolloutState.ROLLED_BACK
    # Runway's deadline and the Deployment's progressDeadlineSeconds are the same setting:
    # whichever is read first names the failure.
    assert (
        "made no progress within 2 s" in rollout.failure_reason
        or "timed out progressing" in rollout.failure_reason
    )
    assert_stable_untouched(service, replicas)


@pytest.mark.django_db
def test_a_slow_start_within_the_deadline_is_not_a_failure(cluster, shop, developer, settings):
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 30
    service = first_version(shop, developer, "rolling", 1)
    rollout = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2-slowstart", actor=developer)
        ),
        timeout=40,
    )
    assert rollout.state == RolloutState.SUCCEEDED


# --- Canary weights that are true ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("replicas", "canary", "share"), [(1, 1, 50), (3, 1, 25), (5, 1, 17)])
def test_a_canary_surges_beside_a_full_stable(cluster, shop, developer, replicas, canary, share):
    service = first_version(shop, developer, "canary", replicas, CANARY)
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )
    rollout = drive(rollout, until=lambda r: r.current_step == 2)
    assert Kube().deployment("shop", service.name).spec_replicas == replicas
    assert Kube().deployment("shop", f"{service.name}-canary").spec_replicas == canary
    assert rollout.canary_pods == {"canary": canary, "stable": replicas, "share": share}
    assert f"{share}% of pods" in rollout.steps.get(index=1).message
    assert drive(rollout).state == RolloutState.SUCCEEDED
    assert_promoted = Kube().deployment("shop", service.name)
    assert assert_promoted.image == "shop:2" and assert_promoted.spec_replicas == replicas


@pytest.mark.django_db
def test_the_stable_version_keeps_its_pods_until_the_canary_is_ready_at_full_weight(
    cluster, shop, developer
):
    service = first_version(shop, developer, "canary", 2, {"steps": [{"set_weight": 100}]})
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )
    rollout = drive(rollout, until=lambda r: r.current_step == 1)
    services.rollout_advance(rollout.pk)  # scales the canary up, which is not ready yet
    assert Kube().deployment("shop", service.name).spec_replicas == 2
    rollout = drive(rollout, until=lambda r: r.current_step == 2)
    assert Kube().deployment("shop", service.name).spec_replicas == 0
    assert drive(rollout).state == RolloutState.SUCCEEDED


@pytest.mark.django_db
def test_a_rollback_restores_the_stable_pods_a_full_weight_took(cluster, shop, developer):
    service = first_version(shop, developer, "canary", 2, {"steps": [{"set_weight": 100}]})
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )
    rollout = drive(rollout, until=lambda r: r.current_step == 2)
    services.rollout_abort(actor=developer, rollout=rollout)
    rollout = drive(rollout)
    assert rollout.state == RolloutState.ABORTED
    assert_stable_untouched(service, 2)


@pytest.mark.django_db
def test_every_state_change_is_a_transition_event(cluster, shop, developer):
    service = first_version(shop, developer, "rolling", 1)
    rollout = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2-crashloop", actor=developer)
        ),
        timeout=40,
    )
    moves = list(
        RolloutEvent.objects.filter(rollout=rollout, kind=RolloutEvent.Kind.TRANSITION)
        .order_by("id")
        .values_list("from_state", "to_state")
    )
    assert moves == [
        ("pending", "running"),
        ("running", "rolling_back"),
        ("rolling_back", "rolled_back"),
    ]
    assert Rollout.objects.get(pk=rollout.pk).failure_detected_at is not None


@pytest.mark.django_db
def test_a_wait_counts_its_deadline_from_the_steps_last_change_to_the_cluster(
    cluster, shop, developer, settings
):
    """A step resumed by a new worker long after it started may only now change the cluster:
    the cluster gets its deadline from that change."""
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 3
    service = first_version(shop, developer, "rolling", 2)
    ctx = steps.Context(Rollout.objects.get(service=service), Kube())
    manifest = ctx.deployment_manifest(service.name, "shop:2-unready", 2, {})
    long_ago = clock.now() - timedelta(hours=1)

    ctx.apply(manifest)
    assert steps.watch(ctx, service.name, "Rolling out", since=long_ago).kind == "wait"
    assert ctx.kube.apply_deployment("shop", manifest) is False  # applied once, written once


@pytest.mark.django_db
@pytest.mark.parametrize("every_ms", [1000, 400])
def test_a_wait_for_pods_asks_the_cluster_again_as_often_as_configured(
    cluster, shop, developer, settings, every_ms
):
    settings.ROLLOUT_POLL_MILLISECONDS = every_ms
    service = first_version(shop, developer, "rolling", 2)
    ctx = steps.Context(Rollout.objects.get(service=service), Kube())
    ctx.apply(ctx.deployment_manifest(service.name, "shop:2-unready", 2, {}))
    assert wait_for(lambda: observed(ctx.kube.deployment("shop", service.name)), timeout=10)

    outcome = steps.watch(ctx, service.name, "Rolling out", since=clock.now())

    assert (outcome.kind, outcome.delay) == ("wait", every_ms / 1000)


def observed(status) -> bool:
    return status.observed_generation >= status.generation


@pytest.mark.django_db
def test_a_write_whose_worker_died_gets_its_deadline_from_the_clusters_progress(
    cluster, shop, developer, settings, move_clock
):
    """A worker killed just after writing to the cluster never records that write; the next
    one finds nothing to change. The deadline counts from the cluster's last progress (the
    Deployment's Progressing condition), not from the step's start, and still runs out."""
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 3
    service = first_version(shop, developer, "rolling", 2)
    manifest = steps.Context(Rollout.objects.get(service=service), Kube()).deployment_manifest(
        service.name, "shop:2-unready", 2, {}
    )
    assert Kube().apply_deployment("shop", manifest) is True  # the killed worker's write
    long_ago = clock.now() - timedelta(hours=1)

    resumed = steps.Context(Rollout.objects.get(service=service), Kube())
    assert resumed.kube.apply_deployment("shop", manifest) is False
    assert steps.watch(resumed, service.name, "Rolling out", since=long_ago).kind == "wait"

    move_clock(60)  # no progress since: pods that never become ready
    outcome = steps.watch(resumed, service.name, "Rolling out", since=long_ago)
    assert outcome.kind == "fail" and "within 3 s" in outcome.message


def test_a_cluster_clock_running_ahead_cannot_bring_the_deadline_forward():
    now = clock.now()
    ahead, started = now + timedelta(hours=1), now - timedelta(seconds=5)
    held = steps._last_progress(started, None, ahead)
    assert now <= held <= clock.now()
    assert steps._last_progress(started, None, None) == started
    assert steps._last_progress(None, None, None) is None


@pytest.mark.django_db
def test_a_service_sets_its_own_progress_deadline(cluster, shop, developer, settings):
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 600  # the default would wait ten minutes
    service = first_version(shop, developer, "rolling", 2, {"progress_deadline_seconds": 2})
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2-unready", actor=developer)
    )
    rollout = drive(rollout, timeout=40)
    assert rollout.state == RolloutState.ROLLED_BACK
    assert "made no progress within 2 s" in rollout.failure_reason
    assert_stable_untouched(service, 2)
