"""Executing trains against the cluster simulator, driven in the test process: the same code a
Celery worker runs (the train's steps and its members' rollouts)."""

import itertools
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.releases.models import ApprovalRule, Release, ReleaseState
from apps.rollouts import trains as executor
from apps.rollouts.models import Rollout, RolloutState
from apps.supplychain import services as trust_services
from apps.trains import services
from apps.trains.models import Train, TrainApproval, TrainState, TrainTransition
from apps.trains.services import TRAIN_STEP_TASK
from tests.supplychain.signing import Signer, pem
from tests.trains.fixtures import members_of
from tests.trains.running import (
    deploy_first_versions,
    images,
    member_rollouts,
    releases_by_service,
    run_pending_steps,
    run_train,
)

pytestmark = pytest.mark.django_db


def versions(names, *, bad=()) -> list[dict]:
    return [
        {"service": name, "version": f"{name}:{'crashloop' if name in bad else '2'}"}
        for name in names
    ]


@pytest.fixture
def started(cluster, diamond, make_train, developer):
    """start(**fields): the diamond at version 1 in prod, then a train of version 2 of each
    (`bad` names members whose version 2 crash-loops), approved and started by hand."""

    def start(names="abcde", *, bad=(), **fields) -> Train:
        members = [s for s in diamond if s.name in names]
        deploy_first_versions(members, actor=developer)
        train = make_train(names, submit=True, members=versions(names, bad=bad), **fields)
        assert train.state == TrainState.APPROVED
        return services.train_start(actor=developer, train=train)

    return start


def windows(train: Train) -> dict[str, tuple]:
    """Each member's (rollout started, release finished)."""
    return {
        name: (release.rollouts.filter(is_rollback=False).get().started_at, release.finished_at)
        for name, release in releases_by_service(train).items()
    }


def test_a_diamond_rolls_out_wave_by_wave(started, diamond):
    train = run_train(started())
    assert train.state == TrainState.SUCCEEDED
    assert train.plan == [["d", "e"], ["b", "c"], ["a"]]
    times = windows(train)
    # Every member of a wave starts after every member of the wave before it has finished.
    for earlier, later in zip(train.plan, train.plan[1:], strict=False):
        last_finish = max(times[name][1] for name in earlier)
        assert all(times[name][0] >= last_finish for name in later), (earlier, later, times)
    assert {r.state for r in releases_by_service(train).values()} == {ReleaseState.SUCCEEDED}
    assert images(diamond) == {s.name: f"{s.name}:2" for s in diamond}
    assert list(
        TrainTransition.objects.filter(train=train).values_list("from_state", "to_state")
    ) == [
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "running"),
        ("running", "succeeded"),
    ]


def test_max_parallel_one_serialises_a_wave(started):
    train = run_train(started("bcd", max_parallel=1))
    assert train.state == TrainState.SUCCEEDED
    spans = sorted(windows(train).values())
    for (_, finished), (next_start, _) in itertools.pairwise(spans):
        assert next_start >= finished, spans


def test_a_failure_in_the_second_wave_halts_and_reverse_rolls_back_the_first(started, diamond):
    train = run_train(started(bad="c", rollback_policy="reverse"))
    assert train.state == TrainState.ROLLED_BACK
    states = {name: r.state for name, r in releases_by_service(train).items()}
    assert states["a"] == ReleaseState.CANCELLED  # never started
    assert states["c"] == ReleaseState.ROLLED_BACK  # its own rollout rolled back
    assert {states[name] for name in "bde"} == {ReleaseState.ROLLED_BACK}
    # The first wave went back to the versions before the train, after the second wave did.
    assert images(diamond) == {s.name: f"{s.name}:1" for s in diamond}
    rollbacks = {
        r.service.name: r
        for r in member_rollouts(train).filter(is_rollback=True).select_related("service")
    }
    assert set(rollbacks) == {"b", "d", "e"}
    assert all(r.state == RolloutState.SUCCEEDED for r in rollbacks.values())
    assert rollbacks["b"].started_at < min(rollbacks["d"].started_at, rollbacks["e"].started_at)
    assert list(TrainTransition.objects.filter(train=train).values_list("to_state", flat=True))[
        -3:
    ] == ["running", "rolling_back", "rolled_back"]


def test_with_leave_a_failure_halts_and_what_succeeded_stays(started, diamond):
    train = run_train(started(bad="c"))
    assert train.state == TrainState.HALTED
    states = {name: r.state for name, r in releases_by_service(train).items()}
    assert states["a"] == ReleaseState.CANCELLED
    assert states["c"] == ReleaseState.ROLLED_BACK
    assert states["d"] == states["e"] == ReleaseState.SUCCEEDED
    assert images(diamond)["d"] == "d:2" and images(diamond)["e"] == "e:2"
    assert not member_rollouts(train).filter(is_rollback=True).exists()


def test_a_halted_train_is_rolled_back_by_hand(started, diamond, developer):
    train = run_train(started(bad="c"))
    assert train.state == TrainState.HALTED
    train = services.train_rollback(actor=developer, train=train, reason="c is broken")
    train = run_train(train)
    assert train.state == TrainState.ROLLED_BACK
    assert images(diamond) == {s.name: f"{s.name}:1" for s in diamond}
    assert AuditEvent.objects.filter(
        action="train.rollback", target_id=str(train.pk), actor=developer
    ).exists()


def test_cancelling_a_running_train_cancels_what_has_not_finished(started, developer):
    train = run_train(
        started(), until=lambda t: member_rollouts(t).filter(state=RolloutState.RUNNING).exists()
    )
    under_way = set(
        member_rollouts(train)
        .filter(state=RolloutState.RUNNING)
        .values_list("service__name", flat=True)
    )
    assert under_way <= {"d", "e"} and under_way
    services.train_cancel(actor=developer, train=train, reason="wrong day")
    train = run_train(train)
    assert train.state == TrainState.CANCELLED
    states = {name: r.state for name, r in releases_by_service(train).items()}
    assert {states[name] for name in "abc"} == {ReleaseState.CANCELLED}
    for name in under_way:
        assert states[name] == ReleaseState.ROLLED_BACK
    assert (
        set(
            member_rollouts(train)
            .filter(state=RolloutState.ABORTED)
            .values_list("service__name", flat=True)
        )
        == under_way
    )


def test_the_reconciler_steps_a_train_whose_step_was_lost(started, monkeypatch):
    train = started("de")
    assert run_pending_steps() == 1  # the start: d and e roll out
    # The rollouts finish, but the steps they ask their train for are lost.
    train = run_train(train, steps=False)
    assert releases_by_service(train)["d"].state == ReleaseState.SUCCEEDED
    OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK).delete()
    assert train.state == TrainState.RUNNING
    sent = []
    monkeypatch.setattr(
        executor.outbox, "send_task_quietly", lambda name, args: sent.append((name, args))
    )
    assert executor.trains_reconcile() == [train.pk]
    assert sent == [(TRAIN_STEP_TASK, [train.pk])]
    executor.train_step(train.pk)
    train.refresh_from_db()
    assert train.state == TrainState.SUCCEEDED
    assert executor.trains_reconcile() == []


def test_the_reconciler_starts_an_approved_train_when_it_is_due(
    cluster, diamond, make_train, developer, monkeypatch
):
    train = make_train("de", submit=True, members=versions("de"))
    monkeypatch.setattr(executor.outbox, "send_task_quietly", lambda name, args: None)
    assert executor.trains_reconcile() == []
    Release.objects.filter(train_membership__train=train).update(
        planned_start=timezone.now() - timedelta(minutes=1)
    )
    assert executor.trains_reconcile() == [train.pk]
    train.refresh_from_db()
    assert train.state == TrainState.RUNNING
    assert AuditEvent.objects.filter(
        action="train.transition", target_id=str(train.pk), after__state="running", actor=None
    ).exists()


def test_a_step_of_a_train_that_does_not_exist_does_nothing(started):
    train = started("de")
    assert executor.train_step(train.pk + 1000) is None


def test_each_transition_writes_its_audit_row(started):
    train = run_train(started("de"))
    audited = list(
        AuditEvent.objects.filter(action="train.transition", target_id=str(train.pk))
        .order_by("id")
        .values_list("before__state", "after__state")
    )
    assert audited == list(
        TrainTransition.objects.filter(train=train).values_list("from_state", "to_state")
    )
    assert ("running", "succeeded") in audited


def test_a_member_finishing_asks_its_train_for_a_step_once(started):
    train = started("de")
    run_pending_steps()
    run_train(train, steps=False)
    keys = list(
        OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK, key__isnull=False).values_list(
            "key", flat=True
        )
    )
    finished = Rollout.objects.filter(release__train_membership__train=train)
    assert len(keys) == finished.count() == 2
    assert sorted(keys) == sorted(
        f"train-step:{train.pk}:rollout:{r.pk}:succeeded" for r in finished
    )


def test_the_page_shows_each_member_with_its_rollouts_and_the_roll_back_button(
    started, client_as, developer, django_assert_max_num_queries
):
    train = run_train(started(bad="c"))
    assert train.state == TrainState.HALTED
    with django_assert_max_num_queries(40):
        page = client_as(developer).get(f"/trains/{train.pk}/").content.decode()
    for rollout in member_rollouts(train):
        assert f'href="/rollouts/{rollout.pk}/"' in page
    assert "Rolled back" in page and "Roll back what succeeded" in page
    assert f'action="/trains/{train.pk}/rollback/"' in page


def halted(train: Train) -> Train:
    Train.objects.filter(pk=train.pk).update(state=TrainState.HALTED)
    train.refresh_from_db()
    return train


URL = "/api/v1/trains/"


def test_the_api_starts_an_approved_train_and_asks_for_its_first_step(
    api_as, make_train, diamond, developer
):
    train = make_train(submit=True)
    response = api_as(developer).post(f"{URL}{train.pk}/start/")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "running"
    assert response.json()["started_at"] is not None
    assert OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK, args=[train.pk]).count() == 1
    assert AuditEvent.objects.filter(action="train.start", actor=developer).exists()
    again = api_as(developer).post(f"{URL}{train.pk}/start/")
    assert again.status_code == 400
    assert "running cannot become running" in str(again.json())


def test_the_api_rolls_back_only_a_halted_train(api_as, make_train, diamond, developer):
    train = make_train(submit=True)
    refused = api_as(developer).post(f"{URL}{train.pk}/rollback/", {}, format="json")
    assert refused.status_code == 400
    assert "Only a halted train is rolled back" in str(refused.json())
    train = halted(train)
    response = api_as(developer).post(
        f"{URL}{train.pk}/rollback/", {"reason": "b is broken"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "rolling_back"
    assert OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK, args=[train.pk]).exists()
    assert TrainTransition.objects.filter(
        train=train, to_state="rolling_back", actor=developer, reason="b is broken"
    ).exists()


def test_someone_outside_the_members_teams_may_not_start_or_roll_back(
    api_as, make_train, diamond, other_developer
):
    train = make_train(submit=True)
    assert api_as(other_developer).post(f"{URL}{train.pk}/start/").status_code == 403
    halted(train)
    assert api_as(other_developer).post(f"{URL}{train.pk}/rollback/").status_code == 403
    train.refresh_from_db()
    assert train.state == TrainState.HALTED
    assert not OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK).exists()


def test_approval_runs_a_train_whose_planned_start_has_come(developer, diamond):
    start = timezone.now() - timedelta(minutes=1)
    train = services.train_request(
        actor=developer,
        submit=True,
        name="Now",
        environment_name="prod",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        members=members_of("de"),
    )
    assert train.state == TrainState.RUNNING
    assert OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK, args=[train.pk]).exists()


def test_members_under_a_policy_start_on_the_trains_approvals(
    make_train, union_policies, release_manager, second_release_manager, security_reviewer
):
    train = make_train(submit=True)
    for approver in (release_manager, security_reviewer, second_release_manager):
        services.train_approve(actor=approver, train=train)
    train = services.train_start(actor=release_manager, train=train)
    run_pending_steps()
    states = {name: r.state for name, r in releases_by_service(train).items()}
    assert states == {
        "a": ReleaseState.APPROVED,
        "b": ReleaseState.APPROVED,
        "c": ReleaseState.APPROVED,
        "d": ReleaseState.IN_PROGRESS,
        "e": ReleaseState.IN_PROGRESS,
    }
    assert set(member_rollouts(train).values_list("service__name", flat=True)) == {"d", "e"}


def test_a_member_its_gates_hold_waits_and_starts_at_a_later_step(
    client_as,
    make_train,
    union_policies,
    release_manager,
    second_release_manager,
    security_reviewer,
):
    train = make_train(submit=True)
    services.train_approve(actor=release_manager, train=train)
    # Not approved yet, so its members' approvals gate holds them; approved by a forced state.
    Train.objects.filter(pk=train.pk).update(state=TrainState.APPROVED)
    Release.objects.filter(train_membership__train=train).update(state=ReleaseState.APPROVED)
    train = services.train_start(actor=release_manager, train=train)
    run_pending_steps()
    assert not member_rollouts(train).exists()
    held = releases_by_service(train)["d"]
    assert held.state == ReleaseState.APPROVED
    assert "Approvals: Waiting for" in held.hold_reason
    executor.train_step(train.pk)  # held again for the same reason: recorded once
    holds = AuditEvent.objects.filter(action="release.hold", target_id=str(held.pk))
    assert holds.count() == 1
    page = client_as(release_manager).get(f"/trains/{train.pk}/").content.decode()
    assert "Held: Approvals: Waiting for" in page
    for approver, group in (
        (security_reviewer, "Security"),
        (second_release_manager, "Release managers"),
    ):
        rule = ApprovalRule.objects.get(name=group)
        TrainApproval.objects.create(train=train, approver=approver, decision="approve", rule=rule)
    executor.train_step(train.pk)
    assert set(member_rollouts(train).values_list("service__name", flat=True)) == {"d", "e"}


def test_a_failed_rollback_halts_and_rolling_back_again_retries_it(started, diamond, developer):
    train = run_train(started(bad="c"))
    services.train_rollback(actor=developer, train=train)
    executor.train_step(train.pk)  # b's rollback starts (the last wave with a success)
    rollback = member_rollouts(train).get(is_rollback=True)
    assert rollback.service.name == "b"
    Rollout.objects.filter(pk=rollback.pk).update(state=RolloutState.FAILED)
    train = run_train(train)
    assert train.state == TrainState.HALTED
    assert train.transitions.last().reason == "The rollback of b failed"

    services.train_rollback(actor=developer, train=train, reason="once more")
    train = run_train(train)
    assert train.state == TrainState.ROLLED_BACK
    assert images(diamond) == {s.name: f"{s.name}:1" for s in diamond}


def test_the_page_starts_a_train_for_its_teams_only(
    client_as, make_train, diamond, developer, other_developer
):
    train = make_train(submit=True)
    page = client_as(developer).get(f"/trains/{train.pk}/").content.decode()
    assert f'action="/trains/{train.pk}/start/"' in page
    assert "/rollback/" not in page
    assert client_as(other_developer).post(f"/trains/{train.pk}/start/").status_code == 403
    train.refresh_from_db()
    assert train.state == TrainState.APPROVED
    response = client_as(developer).post(f"/trains/{train.pk}/start/")
    assert response.status_code == 302
    train.refresh_from_db()
    assert train.state == TrainState.RUNNING


def test_the_reconciler_steps_a_cancelled_train_until_its_rollouts_are_aborted(
    started, developer, monkeypatch
):
    train = started("de")
    run_pending_steps()  # d and e start
    services.train_cancel(actor=developer, train=train)
    OutboxMessage.objects.filter(task_name=TRAIN_STEP_TASK).delete()  # its step is lost
    monkeypatch.setattr(executor.outbox, "send_task_quietly", lambda name, args: None)
    assert executor.trains_reconcile() == [train.pk]
    executor.train_step(train.pk)
    assert set(member_rollouts(train).values_list("state", flat=True)) == {
        RolloutState.ROLLING_BACK
    }
    assert executor.trains_reconcile() == []


def test_a_member_its_supply_chain_gates_hold_keeps_its_first_outcome(
    cluster, diamond, make_train, developer, platform_admin
):
    deploy_first_versions([s for s in diamond if s.name in "ab"], actor=developer)
    trust_services.trusted_key_add(
        actor=platform_admin, name="ci", pem=pem(Signer().private.public_key())
    )
    trust_services.trust_policy_create(
        actor=platform_admin, name="signed", key_names=["ci"], environment_kind="production"
    )
    train = make_train("ab", submit=True, members=versions("ab"))
    services.train_start(actor=developer, train=train)
    run_pending_steps()
    # b, the first wave, is held (a, after it, is not tried).
    held = releases_by_service(train)["b"]
    assert not member_rollouts(train).exists()
    assert "Supply chain: digest" in held.hold_reason
    # The start that found it rolled back; its outcome was kept after, once.
    assert held.supply_chain_first_passed is False
    first_at = held.supply_chain_first_at
    executor.train_step(train.pk)
    held.refresh_from_db()
    assert (held.supply_chain_first_passed, held.supply_chain_first_at) == (False, first_at)


def test_a_cancel_between_two_batches_stops_the_rest_of_the_wave(started, developer, monkeypatch):
    """Members start one transaction a batch: a cancel that lands after the first batch's
    start is seen by the next, which starts nothing more."""
    monkeypatch.setattr(executor, "START_BATCH", 1)
    train = started("de")
    start_members = executor.train_members_start

    def start_then_cancel(*, train, members, approval):
        rollouts = start_members(train=train, members=members, approval=approval)
        services.train_cancel(actor=developer, train=train, reason="changed our minds")
        return rollouts

    monkeypatch.setattr(executor, "train_members_start", start_then_cancel)
    run_pending_steps()
    releases = releases_by_service(Train.objects.get(pk=train.pk))
    assert sorted(r.state for r in releases.values()) == [
        ReleaseState.CANCELLED,
        ReleaseState.IN_PROGRESS,
    ]
    assert member_rollouts(train).count() == 1


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_committed_as_it_starts_so_it_rolls_out_while_its_wave_starts(
    started, monkeypatch
):
    monkeypatch.setattr(executor, "START_BATCH", 1)
    train = started("de")
    start_members = executor.train_members_start
    seen_elsewhere = []

    def committed_rollouts() -> int:
        counted = []

        def count():
            try:
                counted.append(member_rollouts(train).count())
            finally:
                connections.close_all()

        looker = threading.Thread(target=count)
        looker.start()
        looker.join(timeout=30)
        return counted[0]

    def look_then_start(*, train, members, approval):
        seen_elsewhere.append(committed_rollouts())
        return start_members(train=train, members=members, approval=approval)

    monkeypatch.setattr(executor, "train_members_start", look_then_start)
    executor.train_step(train.pk)
    assert seen_elsewhere == [0, 1]
    assert member_rollouts(train).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_started_wave_has_its_running_versions_noted_once_it_commits(started):
    """Its members' first Kubernetes calls are made together by the start, not one hop each."""
    train = started("de")
    executor.train_step(train.pk)
    rollouts = list(member_rollouts(train).select_related("service"))
    assert len(rollouts) == 2
    for rollout in rollouts:
        assert rollout.plan_state["previous_recorded"]
        assert rollout.previous_image == f"{rollout.service.name}:1"
        assert (rollout.current_step, rollout.state) == (0, RolloutState.RUNNING)
