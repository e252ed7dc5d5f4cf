"""Two people steering the same rollout at the same moment: one wins, the other is refused,
and the rollout moves exactly once (PostgreSQL row locks, real concurrent transactions)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from apps.catalog.models import Environment
from apps.rollouts import services
from apps.rollouts.models import Rollout, RolloutState, StepState
from tests.factories import ServiceFactory
from tests.rollouts.builders import rollout_row


def race(*calls):
    barrier, outcomes = threading.Barrier(len(calls)), []

    def run(call):
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(f"refused: {exc.messages[0]}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_promotes_at_once_skip_the_pause_exactly_once(
    attempt, developer, release_manager, payments
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent transactions")
    service = ServiceFactory(name=f"race-{attempt}", owner=payments, strategy="canary")
    environment = Environment.objects.create(
        service=service, name="prod", kind="production", order=1, namespace="race"
    )
    rollout = rollout_row(
        service=service,
        environment=environment,
        requester=developer,
        state=RolloutState.PAUSED,
        current_step=2,
    )  # at the pause
    outcomes = race(
        lambda: services.rollout_promote(actor=developer, rollout=rollout),
        lambda: services.rollout_promote(actor=release_manager, rollout=rollout),
    )
    assert outcomes[0] == "ok"
    assert outcomes[1].startswith("refused")
    rollout = Rollout.objects.get(pk=rollout.pk)
    assert rollout.manual_interventions == 1
    assert list(rollout.steps.filter(state=StepState.SKIPPED).values_list("kind", flat=True)) == [
        "pause"
    ]


@pytest.mark.django_db(transaction=True)
def test_abort_racing_promote_leaves_one_consistent_outcome(developer, release_manager, payments):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrent transactions")
    service = ServiceFactory(name="race-abort", owner=payments, strategy="canary")
    environment = Environment.objects.create(
        service=service, name="prod", kind="production", order=1, namespace="race"
    )
    rollout = rollout_row(
        service=service,
        environment=environment,
        requester=developer,
        state=RolloutState.PAUSED,
        current_step=2,
    )
    race(
        lambda: services.rollout_abort(actor=developer, rollout=rollout, reason="stop"),
        lambda: services.rollout_promote(actor=release_manager, rollout=rollout),
    )
    rollout = Rollout.objects.get(pk=rollout.pk)
    # Whoever came second saw the first's result: an aborted rollout is never promoted after.
    assert rollout.state in (RolloutState.ROLLING_BACK, RolloutState.RUNNING)
    if rollout.state == RolloutState.ROLLING_BACK:
        assert rollout.plan_state.get("aborted")
