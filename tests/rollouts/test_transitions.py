"""The rollout state machine: allowed edges only, each move recorded as an event and an audit
row, and one answer to "what may be done now" that the services obey to the letter."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.catalog.models import Environment
from apps.core.transitions import IllegalTransition
from apps.rollouts import services
from apps.rollouts.models import Rollout, RolloutEvent, RolloutState
from apps.rollouts.transitions import (
    ALLOWED,
    available_actions,
    rollout_transition,
    state_actions,
)
from tests.factories import ServiceFactory
from tests.rollouts.builders import CANARY_PLAN, rollout_row

ACTIONS = {
    "promote": lambda actor, r: services.rollout_promote(actor=actor, rollout=r),
    "promote_full": lambda actor, r: services.rollout_promote(actor=actor, rollout=r, full=True),
    "pause": lambda actor, r: services.rollout_pause(actor=actor, rollout=r),
    "resume": lambda actor, r: services.rollout_resume(actor=actor, rollout=r),
    "abort": lambda actor, r: services.rollout_abort(actor=actor, rollout=r),
    "rollback": lambda actor, r: services.rollout_rollback(actor=actor, rollout=r),
}
# Every state, and for running and paused rollouts every step of the canary plan.
SITUATIONS = [
    (state, step)
    for state in RolloutState.values
    for step in (range(len(CANARY_PLAN)) if state in ("running", "paused") else [0])
]


@pytest.fixture
def web(payments):
    service = ServiceFactory(name="web", owner=payments, strategy="canary")
    environment = Environment.objects.create(
        service=service, name="dev", kind="development", order=1, namespace="web"
    )
    return service, environment


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "step"), SITUATIONS)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_service_does_exactly_what_available_actions_offers(web, developer, state, step, action):
    service, environment = web
    rollout = rollout_row(
        service=service, environment=environment, requester=developer, state=state,
        current_step=step,
    )  # fmt: skip
    offered = action in available_actions(rollout, developer)
    before = Rollout.objects.get(pk=rollout.pk)
    if offered:
        ACTIONS[action](developer, rollout)
    else:
        with pytest.raises(ValidationError):
            ACTIONS[action](developer, rollout)
        after = Rollout.objects.get(pk=rollout.pk)
        assert (after.state, after.current_step) == (before.state, before.current_step)


@pytest.mark.django_db
def test_someone_outside_the_team_is_offered_nothing_and_refused(web, developer, other_developer):
    service, environment = web
    rollout = rollout_row(service=service, environment=environment, requester=developer)
    assert state_actions(rollout) and available_actions(rollout, other_developer) == frozenset()
    for action in state_actions(rollout):
        with pytest.raises(PermissionDenied):
            ACTIONS[action](other_developer, rollout)


@pytest.mark.django_db
@pytest.mark.parametrize("from_state", RolloutState.values)
@pytest.mark.parametrize("to_state", RolloutState.values)
def test_only_allowed_edges_are_taken(web, developer, from_state, to_state):
    service, environment = web
    rollout = rollout_row(
        service=service, environment=environment, requester=developer, state=from_state
    )
    audit_rows = AuditEvent.objects.count()
    if to_state in ALLOWED[from_state]:
        rollout_transition(rollout=rollout, to_state=to_state, actor=developer, reason="why")
        event = RolloutEvent.objects.get(rollout=rollout, kind=RolloutEvent.Kind.TRANSITION)
        assert (event.from_state, event.to_state, event.actor) == (from_state, to_state, developer)
        audit = AuditEvent.objects.get(action="rollout.transition", target_id=str(rollout.pk))
        assert audit.before == {"state": from_state} and audit.after["state"] == to_state
        assert Rollout.objects.get(pk=rollout.pk).state == to_state
    else:
        with pytest.raises(IllegalTransition):
            rollout_transition(rollout=rollout, to_state=to_state, actor=developer)
        assert Rollout.objects.get(pk=rollout.pk).state == from_state
        assert AuditEvent.objects.count() == audit_rows
