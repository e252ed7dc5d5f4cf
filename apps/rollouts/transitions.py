"""The rollout state machine: the allowed edges, the one function that moves a rollout, and the
one answer to "what may this person do with it now" that pages, API and services all read.

pending → running ⇄ paused; running | paused | pending → rolling_back (a failure or an abort);
running → succeeded; rolling_back → rolled_back | aborted | failed | succeeded (a rollback a
person asked for succeeds when the earlier version is back).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record, audit_state_changes, state_change
from apps.core.bulk import bulk_save
from apps.core.transitions import require_edge
from apps.rollouts.models import FINISHED_STATES, Rollout, RolloutEvent, RolloutState

ALLOWED: dict[str, set[str]] = {
    RolloutState.PENDING: {RolloutState.RUNNING, RolloutState.ROLLING_BACK},
    RolloutState.RUNNING: {
        RolloutState.PAUSED,
        RolloutState.ROLLING_BACK,
        RolloutState.SUCCEEDED,
        RolloutState.FAILED,
    },
    RolloutState.PAUSED: {RolloutState.RUNNING, RolloutState.ROLLING_BACK},
    RolloutState.ROLLING_BACK: {
        RolloutState.ROLLED_BACK,
        RolloutState.ABORTED,
        RolloutState.FAILED,
        RolloutState.SUCCEEDED,
    },
    RolloutState.SUCCEEDED: set(),
    RolloutState.FAILED: set(),
    RolloutState.ABORTED: set(),
    RolloutState.ROLLED_BACK: set(),
}
ERROR_STATES = {
    RolloutState.ROLLING_BACK,
    RolloutState.FAILED,
    RolloutState.ROLLED_BACK,
    RolloutState.ABORTED,
}
# Steps a person may go past (promote), and the ones a full promotion skips.
PROMOTABLE_KINDS = ("pause", "analysis")
SKIPPABLE_KINDS = ("pause", "analysis", "set_weight")


def lock_rollout(rollout_id: int) -> Rollout:
    return (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("service", "environment", "cluster", "release")
        .get(pk=rollout_id)
    )


def rollout_transition(
    *, rollout: Rollout, to_state: str, actor: User | None, reason: str = "", locked: bool = False
) -> Rollout:
    """Move a rollout to `to_state`, or refuse. Locks the row unless the caller holds the lock
    already; records a transition event and an audit row. The caller saves the rollout's other
    fields (the executor changes several at once); this saves the ones it sets."""
    with transaction.atomic():
        if not locked:
            rollout = lock_rollout(rollout.pk)
        from_state = rollout.state
        fields = _enter(rollout, to_state, reason, timezone.now())
        rollout.save(update_fields=fields)
        is_user = getattr(actor, "is_authenticated", False)
        RolloutEvent.objects.create(
            rollout=rollout,
            kind=RolloutEvent.Kind.TRANSITION,
            level=_level(to_state),
            from_state=from_state,
            to_state=to_state,
            actor=actor if is_user else None,
            message=_message(to_state, actor, reason)[:2000],
        )
        before, after = state_change(from_state, to_state, reason)
        audit_record(
            actor=actor,
            action="rollout.transition",
            target=rollout,
            before=before,
            after=after,
        )
    return rollout


def _enter(rollout: Rollout, to_state: str, reason: str, now) -> list[str]:
    """Check the edge and set the state and what goes with it on `rollout`; the fields to
    save."""
    require_edge(rollout, ALLOWED, to_state)
    rollout.state = to_state
    fields = ["state", "updated_at"]
    if to_state in FINISHED_STATES:
        rollout.finished_at, rollout.next_run_at = now, None
        fields += ["finished_at", "next_run_at"]
    if to_state == RolloutState.PAUSED:
        rollout.next_run_at = None
        fields.append("next_run_at")
    if to_state == RolloutState.ROLLING_BACK:
        rollout.failure_reason = reason
        rollout.failure_detected_at = rollout.failure_detected_at or now
        fields += ["failure_reason", "failure_detected_at"]
    return fields


def rollouts_transition(
    *, rollouts: list[Rollout], to_state: str, actor: User | None, reasons: dict[int, str]
) -> None:
    """rollout_transition for many rollouts whose rows the caller holds (new ones: a train's
    wave started at once), in a few queries whatever their number; `reasons` by rollout id."""
    if not rollouts:
        return
    now = timezone.now()
    before = {rollout.pk: rollout.state for rollout in rollouts}
    fields: list[str] = []
    for rollout in rollouts:
        fields = _enter(rollout, to_state, reasons.get(rollout.pk, ""), now)
        rollout.updated_at = now
    bulk_save(rollouts, fields)
    user = actor if getattr(actor, "is_authenticated", False) else None
    RolloutEvent.objects.bulk_create(
        RolloutEvent(
            rollout=rollout,
            kind=RolloutEvent.Kind.TRANSITION,
            level=_level(to_state),
            from_state=before[rollout.pk],
            to_state=to_state,
            actor=user,
            message=_message(to_state, actor, reasons.get(rollout.pk, ""))[:2000],
        )
        for rollout in rollouts
    )
    audit_state_changes(
        actor=actor,
        action="rollout.transition",
        targets=rollouts,
        before=before,
        to_state=to_state,
        reasons=reasons,
    )


def _level(to_state: str) -> str:
    if to_state in ERROR_STATES:
        return RolloutEvent.Level.ERROR
    if to_state == RolloutState.PAUSED:
        return RolloutEvent.Level.WARNING
    return RolloutEvent.Level.INFO


def _message(to_state: str, actor: User | None, reason: str) -> str:
    who = actor.get_username() if actor is not None and actor.is_authenticated else "Runway"
    if to_state == RolloutState.ROLLING_BACK:
        return f"Rolling back: {reason}" if reason else f"Rolling back ({who})"
    text = f"Rollout {RolloutState(to_state).label.lower()} ({who})"
    return f"{text}: {reason}" if reason else text


# --- What may be done now -----------------------------------------------------------------


STEER_REFUSED = "Only the owning team, release managers and platform admins steer rollouts."


def state_actions(rollout: Rollout) -> frozenset[str]:
    """The steering actions the rollout's state and steps allow now, whoever asks. Reads the
    steps through `rollout.steps.all()`, so a prefetch serves a list page."""
    actions = set()
    steerable = rollout.state in (RolloutState.RUNNING, RolloutState.PAUSED)
    remaining = [step for step in rollout.steps.all() if step.index >= rollout.current_step]
    remaining = [step for step in remaining if step.state != "skipped"]
    current = remaining[0] if remaining else None
    if steerable and current is not None and _waiting_for_a_person(rollout, current):
        actions.add("promote")
    if steerable and any(step.kind in SKIPPABLE_KINDS for step in remaining):
        actions.add("promote_full")
    if rollout.state == RolloutState.RUNNING:
        actions.add("pause")
    # Resuming at a pause-until-promoted step only pauses again at once: promoting moves on.
    waits_for_promotion = current is not None and current.kind == "pause" and not current.params
    if rollout.state == RolloutState.PAUSED and not waits_for_promotion:
        actions.add("resume")
    if rollout.state in (RolloutState.PENDING, RolloutState.RUNNING, RolloutState.PAUSED):
        actions.add("abort")
    if (
        rollout.state == RolloutState.SUCCEEDED
        and not rollout.is_rollback
        and (rollout.previous_template is not None or rollout.plan_state.get("active"))
    ):
        actions.add("rollback")
    return frozenset(actions)


def available_actions(rollout: Rollout, user) -> frozenset[str]:
    """What `user` may do with the rollout now: the page's buttons, the API's `actions`, and the
    services' own check are this one answer. `user` None is Runway itself."""
    if user is not None and not permissions.can_steer_rollout(user, rollout.service):
        return frozenset()
    return state_actions(rollout)


def require_action(rollout: Rollout, user, action: str) -> None:
    """Refuse what `available_actions` does not offer: 403 for who, a clear error for when."""
    if user is not None:
        permissions.require(permissions.can_steer_rollout(user, rollout.service), STEER_REFUSED)
    if action not in state_actions(rollout):
        raise ValidationError(_refusal(rollout, action))


def _waiting_for_a_person(rollout: Rollout, step) -> bool:
    """Promote means "go past what you are waiting on": a pause or analysis that has begun.
    A second click, after the first moved on, finds nothing waiting and is refused."""
    if step.kind not in PROMOTABLE_KINDS or step.started_at is None:
        return False
    return rollout.state == RolloutState.PAUSED or step.kind == "pause"


def _refusal(rollout: Rollout, action: str) -> str:
    state = rollout.get_state_display().lower()
    if action == "promote" and rollout.state in (RolloutState.RUNNING, RolloutState.PAUSED):
        return "The current step is not a pause or an analysis: nothing to skip."
    if action == "promote_full" and rollout.state in (RolloutState.RUNNING, RolloutState.PAUSED):
        return "No weight, pause or analysis step is left to skip."
    if action == "resume" and rollout.state == RolloutState.PAUSED:
        return "This rollout waits for a promotion: promote it to go on."
    if action == "rollback":
        if rollout.state == RolloutState.SUCCEEDED and not rollout.is_rollback:
            return "This was the first deployment: there is no earlier version."
        return "Only a rollout that succeeded can be rolled back."
    verb = {"promote": "promoted", "promote_full": "promoted", "pause": "paused"}.get(
        action, f"{action.removesuffix('e')}ed"
    )
    return f"A rollout that is {state} cannot be {verb}."
