"""Runway's own deployments reach the reports on one road: each finishing transition of a
release queues its recording through the outbox, the task records it once, and the repair job
records what a lost task left out, a bounded batch at a time."""

import importlib
import logging
import threading
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections
from django.utils import timezone

from apps.core.models import OutboxMessage
from apps.insights import services, tasks
from apps.insights.models import DailyDeploymentRollup, DeploymentFact, RecordedReleaseTransition
from apps.insights.services import runway
from apps.insights.services.runway import MISSED_LOOK_BACK
from apps.releases.models import Release, ReleaseCommit, ReleaseState, ReleaseTransition
from apps.releases.transitions import release_transition
from apps.rollouts import services as rollout_services
from tests.insights.conftest import utc
from tests.rollouts.conftest import cluster, shop  # noqa: F401  (the rollout's fixtures)
from tests.rollouts.executing import drive, release_of

FINISHES = (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK)


def queued() -> list[int]:
    """The transitions whose recording the outbox holds, in the order they were queued."""
    rows = OutboxMessage.objects.filter(task_name=tasks.deployment_record_task.name)
    return [args[0] for args in rows.order_by("id").values_list("args", flat=True)]


def deliver(transition_ids=None) -> list[bool]:
    """Play the worker: run the recording task of each queued transition (or of those given)."""
    ids = queued() if transition_ids is None else transition_ids
    return [tasks.deployment_record_task.apply(args=[pk]).get() for pk in ids]


def facts():
    return DeploymentFact.objects.filter(source="runway")


@pytest.fixture
def moved(checkout, developer):
    """A production release of checkout moved into each state in turn by release_transition (as
    rollouts and people move releases), each transition then put back at its moment in history.
    Returns the release and its transitions."""
    production = checkout.environments.get(name="production")

    def make(*states_at, started=utc(2025, 3, 12, 9), commits=()):
        release = Release.objects.create(
            service=checkout,
            environment=production,
            version="registry/checkout:2.0",
            title="Faster checkout",
            planned_start=started - timedelta(hours=1),
            planned_end=started + timedelta(hours=3),
            requester=developer,
            state=ReleaseState.IN_PROGRESS,
            started_at=started,
        )
        for sha, at in commits:
            ReleaseCommit.objects.create(
                release=release, sha=sha, author="dana@example.com", committed_at=at
            )
        transitions = []
        for state, at in states_at:
            release_transition(release=release, to_state=state, actor=None)
            transition = release.transitions.order_by("-id").first()
            ReleaseTransition.objects.filter(pk=transition.pk).update(at=at)
            Release.objects.filter(pk=release.pk).update(finished_at=at)
            transitions.append(transition)
        return release, transitions

    return make


@pytest.mark.django_db
def test_a_finished_release_is_recorded_once_by_the_task_its_transition_queued(moved):
    release, (finish,) = moved(
        (ReleaseState.SUCCEEDED, utc(2025, 3, 12, 9, 20)),
        commits=[("c1", utc(2025, 3, 11, 9, 20)), ("c2", utc(2025, 3, 12, 8, 20))],
    )

    assert queued() == [finish.pk]
    assert deliver() == [True]
    assert deliver() == [False]  # delivered twice: the second run changes nothing

    fact = facts().get()
    assert (fact.external_id, fact.is_production, fact.commit_count) == (
        f"release/{release.pk}",
        True,
        2,
    )
    assert (fact.result, fact.started_at, fact.finished_at) == (
        "succeeded",
        utc(2025, 3, 12, 9),
        utc(2025, 3, 12, 9, 20),
    )
    assert sorted(fact.commits.values_list("lead_time_seconds", flat=True)) == [3600, 86400]
    assert DailyDeploymentRollup.objects.get(service=release.service).deployments == 1
    assert RecordedReleaseTransition.objects.get().transition_id == finish.pk


@pytest.mark.django_db
def test_only_finishing_transitions_queue_a_recording(checkout, developer):
    release = Release.objects.create(
        service=checkout,
        environment=checkout.environments.get(name="production"),
        version="registry/checkout:2.1",
        title="t",
        planned_start=timezone.now(),
        planned_end=timezone.now() + timedelta(hours=1),
        requester=developer,
        state=ReleaseState.SCHEDULED,
    )
    release_transition(release=release, to_state=ReleaseState.IN_PROGRESS, actor=None)
    started = release.transitions.get()
    assert queued() == []

    assert deliver([started.pk]) == [False]  # not a finish: nothing to record
    assert not facts().exists() and not RecordedReleaseTransition.objects.exists()

    release_transition(release=release, to_state=ReleaseState.SUCCEEDED, actor=None)
    release_transition(release=release, to_state=ReleaseState.ROLLED_BACK, actor=None)
    finishes = release.transitions.filter(to_state__in=FINISHES).order_by("id")
    assert queued() == list(finishes.values_list("pk", flat=True))


@pytest.mark.django_db
def test_the_task_and_the_repair_job_count_a_deployment_once(moved):
    release, _ = moved((ReleaseState.SUCCEEDED, timezone.now() - timedelta(minutes=5)))
    other, _ = moved((ReleaseState.FAILED, timezone.now() - timedelta(minutes=4)))

    assert deliver() == [True, True]
    assert tasks.deployments_record_missed_task.apply().get() == 0
    # And the other way round: the repair job first, the task it overtook after.
    RecordedReleaseTransition.objects.all().delete()
    DeploymentFact.objects.all().delete()
    assert tasks.deployments_record_missed_task.apply().get() == 2
    assert deliver() == [False, False]

    assert sorted(facts().values_list("external_id", flat=True)) == sorted(
        [f"release/{release.pk}", f"release/{other.pk}"]
    )
    assert DailyDeploymentRollup.objects.get(service=release.service).deployments == 2


@pytest.mark.django_db
def test_a_rollback_after_success_marks_the_fact_rolled_back(moved):
    release, _ = moved(
        (ReleaseState.SUCCEEDED, utc(2025, 3, 12, 9, 20)),
        (ReleaseState.ROLLED_BACK, utc(2025, 3, 12, 10)),
    )

    assert deliver() == [True, True]

    fact = facts().get()
    assert (fact.result, fact.finished_at, fact.rolled_back_at) == (
        "rolled_back",
        utc(2025, 3, 12, 9, 20),  # the deployment's own finish, not the rollback's
        utc(2025, 3, 12, 10),
    )
    assert fact.is_failure and fact.recovery_seconds == 3600
    assert DailyDeploymentRollup.objects.get(service=release.service).rollbacks == 1


@pytest.mark.django_db
def test_a_rollback_recorded_before_its_success_makes_the_same_fact(moved):
    _, (succeeded, rolled_back) = moved(
        (ReleaseState.SUCCEEDED, utc(2025, 3, 12, 9, 20)),
        (ReleaseState.ROLLED_BACK, utc(2025, 3, 12, 10)),
    )

    assert deliver([rolled_back.pk, succeeded.pk]) == [True, True]

    fact = facts().get()
    assert (fact.result, fact.finished_at, fact.rolled_back_at, fact.recovery_seconds) == (
        "rolled_back",
        utc(2025, 3, 12, 9, 20),
        utc(2025, 3, 12, 10),
        3600,
    )


@pytest.mark.django_db
def test_a_failed_release_rolled_back_later_becomes_a_rollback(moved):
    moved(
        (ReleaseState.FAILED, utc(2025, 3, 12, 9, 5)),
        (ReleaseState.ROLLED_BACK, utc(2025, 3, 12, 9, 45)),
    )
    deliver(queued()[:1])
    assert facts().get().result == "failed"

    deliver()

    fact = facts().get()
    assert (fact.result, fact.finished_at, fact.rolled_back_at) == (
        "rolled_back",
        utc(2025, 3, 12, 9, 5),
        utc(2025, 3, 12, 9, 45),
    )
    assert fact.recovery_seconds == 45 * 60


@pytest.mark.django_db
def test_a_transition_whose_task_was_lost_is_recorded_by_the_repair_job(moved):
    release, _ = moved((ReleaseState.SUCCEEDED, timezone.now() - timedelta(hours=30)))
    OutboxMessage.objects.all().delete()  # the task never ran

    assert tasks.deployments_record_missed_task.apply().get() == 1
    assert tasks.deployments_record_missed_task.apply().get() == 0
    assert facts().get().external_id == f"release/{release.pk}"


@pytest.mark.django_db
def test_the_repair_job_takes_a_bounded_batch_oldest_first_within_its_look_back(moved):
    now = timezone.now()
    too_old, _ = moved((ReleaseState.SUCCEEDED, now - MISSED_LOOK_BACK - timedelta(hours=1)))
    recent = [moved((ReleaseState.SUCCEEDED, now - timedelta(hours=h)))[0] for h in (1, 3, 2)]

    assert services.release_transitions_record_missed(limit=2) == 2
    recorded = set(facts().values_list("external_id", flat=True))
    assert recorded == {f"release/{recent[1].pk}", f"release/{recent[2].pk}"}
    assert services.release_transitions_record_missed(limit=2) == 1
    assert services.release_transitions_record_missed(limit=2) == 0
    assert not facts().filter(external_id=f"release/{too_old.pk}").exists()

    assert services.release_transitions_record_all() == 1  # the backfill goes back all the way
    assert facts().count() == 4


@pytest.mark.django_db
def test_a_transition_that_cannot_become_a_fact_is_logged_and_not_retried(moved, caplog):
    release, (finish,) = moved((ReleaseState.SUCCEEDED, timezone.now()))
    Release.objects.filter(pk=release.pk).update(started_at=None)  # history with a gap

    with caplog.at_level(logging.WARNING, logger="apps.insights.services.runway"):
        assert deliver() == [True]
    assert f"Release transition {finish.pk} not recorded" in caplog.text
    assert not facts().exists()
    assert services.release_transitions_record_missed() == 0


@pytest.mark.django_db
def test_a_transition_that_fails_does_not_stop_the_repair_job(moved, monkeypatch, caplog):
    now = timezone.now()
    broken, _ = moved((ReleaseState.SUCCEEDED, now - timedelta(hours=2)))
    fine, _ = moved((ReleaseState.SUCCEEDED, now - timedelta(hours=1)))
    record = runway._fact_record

    def failing_for_broken(transition):
        if transition.release_id == broken.pk:
            raise RuntimeError("a bug")
        return record(transition)

    monkeypatch.setattr(runway, "_fact_record", failing_for_broken)
    with caplog.at_level(logging.ERROR, logger="apps.insights.services.runway"):
        assert services.release_transitions_record_missed() == 1
    assert "could not be recorded" in caplog.text
    assert facts().get().external_id == f"release/{fine.pk}"

    monkeypatch.undo()
    assert services.release_transitions_record_missed() == 1  # tried again, and recorded
    assert facts().count() == 2


@pytest.mark.django_db
def test_the_migration_marks_releases_the_old_road_recorded(moved):
    recorded_before, _ = moved((ReleaseState.SUCCEEDED, utc(2025, 3, 12, 9, 20)))
    moved((ReleaseState.FAILED, utc(2025, 3, 13, 9, 20)))
    deliver(queued()[:1])
    RecordedReleaseTransition.objects.all().delete()  # as before the migration
    migration = importlib.import_module(
        "apps.insights.migrations.0005_recorded_release_transitions"
    )

    migration.mark_the_recorded(django_apps, None)

    marked = RecordedReleaseTransition.objects.values_list("transition__release_id", flat=True)
    assert list(marked) == [recorded_before.pk]
    assert services.release_transitions_record_all() == 1  # the one without its fact


@pytest.mark.django_db
def test_a_finished_rollout_and_its_rollback_make_one_fact(cluster, shop, developer):  # noqa: F811
    service = shop("rolling")
    drive(
        rollout_services.rollout_start(
            actor=developer, release=release_of(service, "shop:1", actor=developer)
        )
    )
    done = drive(
        rollout_services.rollout_start(
            actor=developer, release=release_of(service, "shop:2", actor=developer)
        )
    )
    deliver()
    deliver()  # a task delivered again
    assert facts().count() == 2
    fact = facts().get(external_id=f"release/{done.release_id}")
    assert (fact.version, fact.environment, fact.result, fact.is_production) == (
        "shop:2",
        "dev",
        "succeeded",
        False,
    )

    drive(rollout_services.rollout_rollback(actor=developer, rollout=done, reason="bug"))
    deliver()

    rolled_back = ReleaseTransition.objects.get(release=done.release_id, to_state="rolled_back")
    fact = facts().get(external_id=f"release/{done.release_id}")
    assert (fact.result, fact.rolled_back_at) == ("rolled_back", rolled_back.at)
    assert facts().count() == 2
    assert RecordedReleaseTransition.objects.count() == 3


# --- Racing runs, on PostgreSQL -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_runs_racing_for_one_transition_record_it_once(moved):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL: concurrent connections and row locks")
    for attempt in range(3):
        _, (finish,) = moved((ReleaseState.SUCCEEDED, utc(2025, 3, 12, 9, 20)))
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def run(index: int, transition_id: int) -> None:
            try:
                barrier.wait(timeout=10)
                results[index] = services.release_transition_record(transition_id=transition_id)
            except BaseException as exc:  # surfaced by the assertion below
                results[index] = exc
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run, args=(i, finish.pk)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sorted(results, key=repr) == [False, True], (attempt, results)
    assert facts().count() == 3
    assert DailyDeploymentRollup.objects.get().deployments == 3
