"""The executor against the cluster simulator, driven step by step in the test process: the
same code a Celery worker runs, through the real `kubernetes` client over HTTP."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.exceptions import Conflict
from apps.releases.models import Release, ReleaseState
from apps.rollouts import services
from apps.rollouts.kube import Kube
from apps.rollouts.models import AnalysisTemplate, Rollout, RolloutState, StepState
from tests.rollouts.executing import drive, finishes, release_of


@pytest.mark.django_db
def test_a_rolling_update_succeeds_and_finishes_its_release_once(cluster, shop, developer):
    service = shop("rolling")
    first = services.rollout_start(
        actor=developer, release=release_of(service, "shop:1", actor=developer)
    )
    first = drive(first)
    assert first.state == RolloutState.SUCCEEDED
    second = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )
    second = drive(second)
    assert second.state == RolloutState.SUCCEEDED
    assert second.previous_image == "shop:1"
    status = Kube().deployment("shop", service.name)
    assert status.image == "shop:2" and status.rolled_out
    assert (
        second.release.__class__.objects.get(pk=second.release_id).state == ReleaseState.SUCCEEDED
    )
    assert finishes(second.release_id) == [("in_progress", "succeeded")]
    assert [s.state for s in second.steps.all()] == [StepState.SUCCEEDED] * 2
    assert AuditEvent.objects.filter(
        action="rollout.transition", after__state="succeeded", target_id=str(second.pk)
    ).exists()


@pytest.mark.django_db
def test_a_bad_image_is_rolled_back_automatically(cluster, shop, developer, settings):
    service = shop("rolling")
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    bad = services.rollout_start(
        actor=developer, release=release_of(service, "shop:crashloop", actor=developer)
    )
    bad = drive(bad, timeout=40)
    assert bad.state == RolloutState.ROLLED_BACK
    assert "crash-looping" in bad.failure_reason
    assert Kube().deployment("shop", service.name).image == "shop:1"
    assert Release.objects.get(pk=bad.release_id).state == ReleaseState.ROLLED_BACK
    assert finishes(bad.release_id) == [("in_progress", "rolled_back")]
    assert bad.failure_detected_at is not None


@pytest.mark.django_db
def test_a_canary_walks_its_steps_pauses_and_is_promoted(cluster, shop, developer):
    params = {
        "steps": [
            {"set_weight": 25},
            {"pause": {}},
            {"set_weight": 50},
            {"pause": {"seconds": 1}},
            {"set_weight": 100},
        ]
    }
    service = shop("canary", params, replicas=4)
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )
    rollout = drive(rollout)
    assert rollout.state == RolloutState.PAUSED
    assert rollout.weight == 25
    kube = Kube()
    assert kube.deployment("shop", f"{service.name}-canary").spec_replicas == 1
    assert kube.deployment("shop", service.name).spec_replicas == 4  # beside, not instead
    services.rollout_promote(actor=developer, rollout=rollout)
    rollout = drive(rollout)
    assert rollout.state == RolloutState.SUCCEEDED
    assert kube.deployment("shop", service.name).image == "shop:2"
    assert kube.deployment("shop", f"{service.name}-canary") is None
    assert rollout.manual_interventions == 1
    kinds = [(s.kind, s.state) for s in rollout.steps.all()]
    assert ("pause", StepState.SKIPPED) in kinds


@pytest.mark.django_db
def test_a_canary_analysis_failure_aborts_to_stable(cluster, shop, developer):
    AnalysisTemplate.objects.create(
        name="success-rate",
        kind="prometheus",
        url=cluster.url + "/prometheus",
        query='runway_request_success_rate{namespace="{namespace}",deployment="{deployment}"}',
        success_condition="result >= 0.95",
        interval_seconds=0,
        count=2,
    )
    params = {
        "steps": [
            {"set_weight": 50},
            {"analysis": {"template": "success-rate"}},
            {"set_weight": 100},
        ]
    }
    service = shop("canary", params)
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    bad = services.rollout_start(
        actor=developer, release=release_of(service, "shop:errors", actor=developer)
    )
    bad = drive(bad)
    assert bad.state == RolloutState.ROLLED_BACK
    analysis_step = bad.steps.get(kind="analysis")
    assert analysis_step.state == StepState.FAILED
    assert analysis_step.results[0]["value"] == "0.5"
    assert Kube().deployment("shop", f"{service.name}-canary") is None
    assert Kube().deployment("shop", service.name).image == "shop:1"


@pytest.mark.django_db
@pytest.mark.parametrize("condition", ["", "result is high", "result >= 0..5"])
def test_an_analysis_whose_success_condition_cannot_be_read_is_inconclusive_and_pauses(
    cluster, shop, developer, condition
):
    AnalysisTemplate.objects.create(
        name="success-rate",
        kind="prometheus",
        url=cluster.url + "/prometheus",
        query='runway_request_success_rate{namespace="{namespace}",deployment="{deployment}"}',
        success_condition=condition,
        interval_seconds=0,
        count=2,
        inconclusive_limit=0,
    )
    params = {"steps": [{"set_weight": 50}, {"analysis": {"template": "success-rate"}}]}
    service = shop("canary", params)
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    second = services.rollout_start(
        actor=developer, release=release_of(service, "shop:2", actor=developer)
    )

    second = drive(second)

    assert second.state == RolloutState.PAUSED
    measured = second.steps.get(kind="analysis").results[0]
    assert measured["phase"] == "inconclusive"
    assert f"success condition {condition!r} is not readable" in measured["value"]


@pytest.mark.django_db
def test_blue_green_switches_the_service_and_scales_the_old_colour_down(cluster, shop, developer):
    params = {"auto_promotion": True, "auto_promotion_seconds": 0, "scale_down_delay_seconds": 0}
    service = shop("blue-green", params)
    first = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    assert first.state == RolloutState.SUCCEEDED
    kube = Kube()
    assert kube.service_selector("shop", service.name)["runway.dev/colour"] == "blue"
    second = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2", actor=developer)
        )
    )
    assert second.state == RolloutState.SUCCEEDED
    assert kube.service_selector("shop", service.name)["runway.dev/colour"] == "green"
    assert kube.deployment("shop", f"{service.name}-green").image == "shop:2"
    assert kube.deployment("shop", f"{service.name}-blue").spec_replicas == 0


@pytest.mark.django_db
def test_abort_puts_the_weight_back_to_zero(cluster, shop, developer):
    params = {"steps": [{"set_weight": 50}, {"pause": {}}, {"set_weight": 100}]}
    service = shop("canary", params)
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    rollout = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2", actor=developer)
        )
    )
    assert rollout.state == RolloutState.PAUSED
    services.rollout_abort(actor=developer, rollout=rollout, reason="latency up")
    rollout = drive(rollout)
    assert rollout.state == RolloutState.ABORTED and rollout.weight == 0
    assert Kube().deployment("shop", f"{service.name}-canary") is None
    assert "latency up" in rollout.failure_reason


@pytest.mark.django_db
def test_a_person_rolls_back_a_finished_rollout(cluster, shop, developer):
    service = shop("rolling")
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    done = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2", actor=developer)
        )
    )
    rollback = drive(services.rollout_rollback(actor=developer, rollout=done, reason="bug"))
    assert rollback.state == RolloutState.SUCCEEDED and rollback.is_rollback
    assert Kube().deployment("shop", service.name).image == "shop:1"
    assert Release.objects.get(pk=done.release_id).state == ReleaseState.ROLLED_BACK
    assert finishes(done.release_id) == [
        ("in_progress", "succeeded"),
        ("succeeded", "rolled_back"),
    ]


@pytest.mark.django_db
def test_a_rollback_finishes_its_release_after_the_rollout_it_undoes_was_deleted(
    cluster, shop, developer
):
    service = shop("rolling")
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    done = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:2", actor=developer)
        )
    )
    rollback = services.rollout_rollback(actor=developer, rollout=done, reason="bug")
    Rollout.objects.filter(pk=done.pk).delete()

    rollback = drive(rollback)

    assert rollback.state == RolloutState.SUCCEEDED and rollback.rolls_back_id is None
    assert Release.objects.get(pk=done.release_id).state == ReleaseState.ROLLED_BACK
    assert finishes(done.release_id) == [
        ("in_progress", "succeeded"),
        ("succeeded", "rolled_back"),
    ]


@pytest.mark.django_db
def test_an_unreachable_cluster_is_retried_and_the_page_can_say_so(
    shop, developer, settings, tmp_path
):
    from simulator import write_kubeconfig as write

    settings.KUBECONFIG = str(write(tmp_path / "kubeconfig", "http://127.0.0.1:9"))  # nothing there
    service = shop("rolling")
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:1", actor=developer)
    )
    services.rollout_advance(rollout.pk)
    rollout.refresh_from_db()
    step = rollout.steps.get(index=0)
    assert rollout.state == RolloutState.RUNNING
    assert step.attempts == 1 and "unreachable" in step.message
    assert rollout.next_run_at > timezone.now()
    assert finishes(rollout.release_id) == []


@pytest.mark.django_db
def test_one_active_rollout_per_service_and_environment(cluster, shop, developer):
    from django.core.exceptions import ValidationError

    service = shop("canary", {"steps": [{"set_weight": 50}, {"pause": {}}, {"set_weight": 100}]})
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:1", actor=developer)
    )
    other = release_of(service, "shop:2", actor=developer)
    with pytest.raises(ValidationError, match="still active"):
        services.rollout_start(actor=developer, release=other)
    assert Rollout.objects.filter(service=service).count() == 1
    with pytest.raises(Conflict, match=f"already started: rollout #{rollout.pk}"):
        services.rollout_start(actor=developer, release=rollout.release)


@pytest.mark.django_db
def test_promote_on_a_finished_rollout_is_refused(cluster, shop, developer, other_developer):
    from django.core.exceptions import PermissionDenied, ValidationError

    service = shop("rolling")
    done = drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    with pytest.raises(ValidationError):
        services.rollout_promote(actor=developer, rollout=done)
    with pytest.raises(PermissionDenied):
        services.rollout_abort(actor=other_developer, rollout=done)


@pytest.mark.django_db(transaction=True)
def test_each_step_of_a_rollout_costs_its_pinned_queries_after_commit_hooks_included(
    cluster, shop, developer
):
    """A worker runs one of these for every step of every rollout: the row lock, the current
    step read once, the step's writes and, after the commit, the audit seal, the outbox and
    the live notice (which names the rollout's train without looking it up again)."""
    service = shop("rolling")
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "shop:1", actor=developer)
    )
    costs = []
    while rollout.state == RolloutState.RUNNING:
        Rollout.objects.filter(pk=rollout.pk).update(next_run_at=None)
        with CaptureQueriesContext(connection) as queries:
            services.rollout_advance(rollout.pk)
        rollout.refresh_from_db()
        costs.append((rollout.state, len(queries)))
        assert len(costs) < 200, "the rollout never finished"
        time.sleep(0.02)
    first, *middle, finish = costs
    assert first == (RolloutState.RUNNING, 8)  # the apply step starts and writes
    assert all(count <= 9 for _, count in middle)  # a step done, the next begun, or a wait
    assert finish[0] == RolloutState.SUCCEEDED and finish[1] <= 45  # the release finishes too
