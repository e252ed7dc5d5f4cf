"""A wave's members start in batches: their gates read for the whole batch at once, so that
starting many members costs a few queries more than starting a few, and every gate still holds
for each member."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.releases.models import ReleaseState, ReleaseTransition, VersionPin
from apps.rollouts import trains as executor
from apps.rollouts.models import RolloutEvent, RolloutState
from apps.trains import services
from apps.trains.models import Train, TrainState
from tests.trains.fixtures import members_of
from tests.trains.running import member_rollouts, releases_by_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def wave(prod_services, make_train, developer):
    """start(count): a running train of `count` services that depend on nothing (one wave),
    before its first step."""

    def start(count: int, *, prefix: str = "svc") -> Train:
        names = [f"{prefix}{index:02}" for index in range(count)]
        prod_services(names)
        train = make_train(names, submit=True, members=members_of(names), max_parallel=count)
        assert train.state == TrainState.APPROVED
        return services.train_start(actor=developer, train=train)

    return start


def queries_of_first_step(train: Train) -> int:
    with CaptureQueriesContext(connection) as captured:
        executor.train_step(train.pk)
    return len(captured)


def test_starting_twice_the_members_costs_a_few_queries_more_not_twice_as_many(wave):
    ten = queries_of_first_step(wave(10, prefix="a"))
    twenty = queries_of_first_step(wave(20, prefix="b"))
    # One member's start alone read and wrote some fifty times: twenty at that rate were a
    # thousand. A batch reads each kind of fact, and writes each kind of row, once for all.
    assert twenty <= 50
    assert twenty - ten <= 2, (ten, twenty)


def test_every_member_of_a_batch_gets_its_transitions_audit_rollout_and_first_step(wave):
    train = wave(12)
    executor.train_step(train.pk)
    releases = releases_by_service(train)
    assert {release.state for release in releases.values()} == {ReleaseState.IN_PROGRESS}
    rollouts = list(member_rollouts(train).prefetch_related("steps"))
    assert len(rollouts) == 12
    assert {rollout.state for rollout in rollouts} == {RolloutState.RUNNING}
    assert all(rollout.steps.all() and rollout.next_run_at for rollout in rollouts)
    for release in releases.values():
        moves = ReleaseTransition.objects.filter(release=release).values_list(
            "from_state", "to_state"
        )
        assert list(moves)[-2:] == [
            (ReleaseState.APPROVED, ReleaseState.SCHEDULED),
            (ReleaseState.SCHEDULED, ReleaseState.IN_PROGRESS),
        ]
        started = ReleaseTransition.objects.get(release=release, to_state=ReleaseState.IN_PROGRESS)
        assert started.gates and all(gate["passed"] for gate in started.gates if gate["blocking"])
        assert OutboxMessage.objects.filter(
            key=f"notify:{release.pk}:started:{started.pk}"
        ).exists()
    rollout_ids = [str(rollout.pk) for rollout in rollouts]
    audited = AuditEvent.objects.filter(target_type="rollouts.rollout", target_id__in=rollout_ids)
    assert audited.filter(action="rollout.start").count() == 12
    assert audited.filter(action="rollout.transition").count() == 12
    assert (
        RolloutEvent.objects.filter(
            rollout__in=rollouts, kind=RolloutEvent.Kind.TRANSITION, to_state=RolloutState.RUNNING
        ).count()
        == 12
    )
    release_ids = [str(release.pk) for release in releases.values()]
    assert (
        AuditEvent.objects.filter(
            action="release.transition", target_type="releases.release", target_id__in=release_ids
        ).count()
        >= 24
    )


def test_a_member_its_gates_hold_is_held_with_its_reason_and_the_others_start(wave, developer):
    train = wave(6)
    held = releases_by_service(train)["svc03"]
    VersionPin.objects.create(
        environment=held.environment,
        version="registry/svc03:1.0.0",
        reason="hotfix soak",
        pinned_by=developer,
    )
    executor.train_step(train.pk)
    releases = releases_by_service(train)
    assert releases["svc03"].state == ReleaseState.APPROVED
    assert "Pinned version" in releases["svc03"].hold_reason
    assert "hotfix soak" in releases["svc03"].hold_reason
    assert AuditEvent.objects.filter(
        action="release.hold", target_id=str(held.pk), after__reason=releases["svc03"].hold_reason
    ).exists()
    others = {name: r.state for name, r in releases.items() if name != "svc03"}
    assert set(others.values()) == {ReleaseState.IN_PROGRESS}
    assert member_rollouts(train).count() == 5
    assert not member_rollouts(train).filter(release=held).exists()
    # Held again at the next step: said once, not at every step.
    executor.train_step(train.pk)
    assert AuditEvent.objects.filter(action="release.hold", target_id=str(held.pk)).count() == 1


def test_a_member_whose_environment_another_rollout_holds_is_held_alone(wave, developer):
    """Another rollout of a member's environment is under way (a fix started by hand since the
    train was approved): the batch as one cannot start (one active rollout per environment),
    so it is undone and its members are started one by one. That member holds with the
    reason; the others start, each once."""
    from tests.rollouts.builders import rollout_row

    train = wave(5)
    busy = releases_by_service(train)["svc02"]
    rollout_row(
        service=busy.service,
        environment=busy.environment,
        requester=developer,
        version="registry/svc02:9.9.9",
    )
    executor.train_step(train.pk)

    releases = releases_by_service(train)
    assert releases["svc02"].state == ReleaseState.APPROVED
    assert "still active" in releases["svc02"].hold_reason
    started = {name for name, release in releases.items() if release.state == "in_progress"}
    assert started == {"svc00", "svc01", "svc03", "svc04"}
    assert not member_rollouts(train).filter(release=busy).exists()
    # Each started member has one start in its history and in the audit log, not two.
    for name in started:
        release = releases[name]
        assert (
            ReleaseTransition.objects.filter(
                release=release, to_state=ReleaseState.IN_PROGRESS
            ).count()
            == 1
        )
        rollout = member_rollouts(train).get(release=release)
        assert (
            AuditEvent.objects.filter(action="rollout.start", target_id=str(rollout.pk)).count()
            == 1
        )
