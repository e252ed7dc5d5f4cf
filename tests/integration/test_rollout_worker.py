"""Rollouts executed by real Celery workers against the cluster simulator in its
own process, including a worker killed with SIGKILL in the middle of a rollout. The `workers`
fixture (conftest.py) runs each test on Redis and on RabbitMQ."""

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.catalog.models import Environment
from apps.insights.models import DeploymentFact
from apps.releases import services as release_services
from apps.releases.models import ReleaseState
from apps.rollouts import services
from apps.rollouts.models import Rollout, RolloutState
from tests.factories import ServiceFactory
from tests.integration.test_celery_worker import wait_for
from tests.rollouts.executing import finishes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def service_with(strategy: str, params: dict, owner, *, name: str = ""):
    service = ServiceFactory(
        name=name or f"live-{strategy}", owner=owner, strategy=strategy, strategy_params=params
    )
    Environment.objects.create(
        service=service, name="dev", kind="development", order=1, namespace="live", replicas=2
    )
    return service


def start_release(service, version, actor):
    start = timezone.now() - timedelta(minutes=1)
    release = release_services.release_create(
        actor=actor,
        service=service,
        environment=service.environments.get(name="dev"),
        version=version,
        title=version,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    release = release_services.release_submit(actor=actor, release=release)
    return services.rollout_start(actor=actor, release=release)


def state_of(rollout) -> str:
    return Rollout.objects.values_list("state", flat=True).get(pk=rollout.pk)


def test_a_worker_runs_a_rolling_update_to_the_end(workers, developer, payments):
    workers()
    rollout = start_release(service_with("rolling", {}, payments), "live:1", developer)
    assert wait_for(lambda: state_of(rollout) == RolloutState.SUCCEEDED, timeout=60)
    rollout.refresh_from_db()
    assert rollout.release.state == ReleaseState.SUCCEEDED
    # The worker records the finished release for the reports, from the task it queued.
    recorded = DeploymentFact.objects.filter(external_id=f"release/{rollout.release_id}")
    assert wait_for(lambda: recorded.filter(result="succeeded").count() == 1, timeout=30)


def test_a_rollout_survives_its_worker_being_killed(workers, developer, payments):
    params = {"steps": [{"set_weight": 50}, {"pause": {"seconds": 4}}, {"set_weight": 100}]}
    service = service_with("canary", params, payments)
    first_worker = workers()
    first = start_release(service, "live:1", developer)
    assert wait_for(lambda: state_of(first) == RolloutState.SUCCEEDED, timeout=60)

    rollout = start_release(service, "live:2", developer)
    pause_index = 2  # canary_start, set_weight 50, pause
    assert wait_for(
        lambda: Rollout.objects.get(pk=rollout.pk).current_step == pause_index, timeout=60
    )
    first_worker.send_signal(signal.SIGKILL)  # mid-rollout, holding the pause's timer task
    first_worker.wait(timeout=10)

    workers()

    # Beat runs the reconciler every 30 s; here the test plays beat, more often.
    def finished():
        services.rollouts_reconcile(stale_after=timedelta(seconds=1))
        return state_of(rollout) not in (RolloutState.RUNNING, RolloutState.PENDING)

    assert wait_for(finished, timeout=90)
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.SUCCEEDED
    assert rollout.release.state == ReleaseState.SUCCEEDED
    assert finishes(rollout.release_id) == [("in_progress", "succeeded")]
    recorded = DeploymentFact.objects.filter(external_id=f"release/{rollout.release_id}")
    assert wait_for(lambda: recorded.count() == 1, timeout=30)
    assert [step.state for step in rollout.steps.all()] == ["succeeded"] * rollout.steps.count()
    from apps.rollouts.kube import Kube

    kube = Kube(kubeconfig=str(settings.KUBECONFIG))
    assert kube.deployment("live", service.name).image == "live:2"
    assert kube.deployment("live", f"{service.name}-canary") is None


def test_a_worker_walks_a_canary_and_a_person_promotes_it(workers, developer, payments):
    params = {"steps": [{"set_weight": 50}, {"pause": {}}, {"set_weight": 100}]}
    service = service_with("canary", params, payments)
    workers()
    first = start_release(service, "live:1", developer)
    assert wait_for(lambda: state_of(first) == RolloutState.SUCCEEDED, timeout=60)
    rollout = start_release(service, "live:2", developer)
    assert wait_for(lambda: state_of(rollout) == RolloutState.PAUSED, timeout=60)
    assert Rollout.objects.get(pk=rollout.pk).weight == 50
    services.rollout_promote(actor=developer, rollout=rollout)
    assert wait_for(lambda: state_of(rollout) == RolloutState.SUCCEEDED, timeout=60)
    from apps.rollouts.kube import Kube

    assert Kube(kubeconfig=str(settings.KUBECONFIG)).deployment("live", service.name).image == (
        "live:2"
    )


def test_a_worker_switches_blue_green(workers, developer, payments):
    params = {"auto_promotion": True, "auto_promotion_seconds": 1, "scale_down_delay_seconds": 1}
    service = service_with("blue-green", params, payments)
    workers()
    for version in ("live:1", "live:2"):
        rollout = start_release(service, version, developer)
        assert wait_for(lambda r=rollout: state_of(r) == RolloutState.SUCCEEDED, timeout=60)
    from apps.rollouts.kube import Kube

    kube = Kube(kubeconfig=str(settings.KUBECONFIG))
    assert kube.service_selector("live", service.name)["runway.dev/colour"] == "green"
    assert kube.deployment("live", f"{service.name}-blue").spec_replicas == 0


def test_a_worker_rolls_a_bad_image_back(workers, developer, payments):
    service = service_with("rolling", {}, payments)
    workers()
    good = start_release(service, "live:1", developer)
    assert wait_for(lambda: state_of(good) == RolloutState.SUCCEEDED, timeout=60)
    bad = start_release(service, "live:crashloop", developer)
    assert wait_for(lambda: state_of(bad) == RolloutState.ROLLED_BACK, timeout=120)
    bad = Rollout.objects.get(pk=bad.pk)
    assert bad.release.state == ReleaseState.ROLLED_BACK
    from apps.rollouts.kube import Kube

    assert Kube(kubeconfig=str(settings.KUBECONFIG)).deployment("live", service.name).image == (
        "live:1"
    )
