"""The train state machine: the allowed edges, the one function that moves a train, and the
one answer to "what may this person do with it now" that pages, API and services all read.

draft → submitted → approved | rejected; draft, submitted and approved → cancelled.
approved → running (started by hand or when due) → succeeded | halted | rolling_back |
cancelled; halted → rolling_back (by hand) → rolled_back, or halted again when a rollback fails.
A train that succeeded is promoted once, as a new train to the next environment (promotion.py).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record, state_change
from apps.core.exceptions import Conflict
from apps.core.transitions import require_edge
from apps.releases.models import Release
from apps.releases.policies import ApprovalStatus, is_eligible
from apps.trains.models import Train, TrainState, TrainTransition
from apps.trains.policies import not_a_train_decider, train_approval_status
from apps.trains.signals import train_changed

ALLOWED: dict[str, set[str]] = {
    TrainState.DRAFT: {TrainState.SUBMITTED, TrainState.CANCELLED},
    TrainState.SUBMITTED: {TrainState.APPROVED, TrainState.REJECTED, TrainState.CANCELLED},
    TrainState.APPROVED: {TrainState.RUNNING, TrainState.CANCELLED},
    TrainState.RUNNING: {
        TrainState.SUCCEEDED,
        TrainState.HALTED,
        TrainState.ROLLING_BACK,
        TrainState.CANCELLED,
    },
    TrainState.HALTED: {TrainState.ROLLING_BACK},
    TrainState.ROLLING_BACK: {TrainState.ROLLED_BACK, TrainState.HALTED},
    TrainState.SUCCEEDED: set(),
    TrainState.ROLLED_BACK: set(),
    TrainState.REJECTED: set(),
    TrainState.CANCELLED: set(),
}

TIMESTAMPS: dict[str, str] = {
    TrainState.SUBMITTED: "submitted_at",
    TrainState.APPROVED: "approved_at",
    TrainState.RUNNING: "started_at",
    TrainState.SUCCEEDED: "finished_at",
    TrainState.HALTED: "finished_at",
    TrainState.ROLLED_BACK: "finished_at",
    TrainState.REJECTED: "finished_at",
    TrainState.CANCELLED: "finished_at",
}

# Where the executor (apps/rollouts/trains.py) still has work: a step moves these on.
EXECUTING = (TrainState.RUNNING, TrainState.ROLLING_BACK)


def lock_train(train_id: int) -> Train:
    return Train.objects.select_for_update(of=("self",)).get(pk=train_id)


@transaction.atomic
def train_transition(
    *, train: Train, to_state: str, actor: User | None, reason: str = "", locked: bool = False
) -> Train:
    """Move a train to `to_state`, or refuse with a clear error. Locks the row unless the
    caller already holds the lock, records a history row and an audit event."""
    if not locked:
        train = lock_train(train.pk)
    from_state = train.state
    require_edge(train, ALLOWED, to_state)
    train.state = to_state
    fields = ["state", "updated_at"]
    if to_state in TIMESTAMPS:
        setattr(train, TIMESTAMPS[to_state], timezone.now())
        fields.append(TIMESTAMPS[to_state])
    train.save(update_fields=fields)
    TrainTransition.objects.create(
        train=train,
        from_state=from_state,
        to_state=to_state,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason,
    )
    before, after = state_change(from_state, to_state, reason)
    audit_record(
        actor=actor,
        action="train.transition",
        target=train,
        before=before,
        after=after,
    )
    train_changed.send(sender=Train, train=train)
    return train


# --- What may be done now -----------------------------------------------------------------

REFUSED = {
    "submit": "Only the teams owning every member and platform admins submit this train.",
    "cancel": "Only the teams owning every member, release managers and platform admins "
    "cancel this train.",
    "start": "Only the teams owning every member, release managers and platform admins "
    "start this train.",
    "rollback": "Only the teams owning every member, release managers and platform admins "
    "roll this train back.",
    "promote": "Only the teams owning every member and platform admins promote this train.",
}
# The state each action moves the train to, for the one check of "when".
TARGETS = {
    "cancel": TrainState.CANCELLED,
    "start": TrainState.RUNNING,
    "rollback": TrainState.ROLLING_BACK,
}
DECISIONS = ("approve", "reject")


def may_request_trains(user) -> bool:
    """Developers of a team and platform admins request trains; each member's team is checked
    as a release's would be."""
    return permissions.can_create_services(user)


def _acts_for_every_member(user, members: list[Release]) -> bool:
    return all(permissions.can_act_for_team(user, r.service.owner_id) for r in members)


def _may(user, members: list[Release], action: str) -> bool:
    if action in ("submit", "promote"):  # as requesting a release of each member
        return _acts_for_every_member(user, members)
    return _acts_for_every_member(user, members) or permissions.can_approve_releases(user)


def _refusal(train: Train, action: str) -> str:
    state = train.get_state_display().lower()
    if action == "submit":
        return (
            ""
            if train.state == TrainState.DRAFT
            else f"Only a draft train is submitted; this one is {state}."
        )
    if action == "promote":
        return _promotion_refusal(train)
    target = TrainState(TARGETS[action])
    if action == "rollback" and train.state != TrainState.HALTED:
        return f"Only a halted train is rolled back; this one is {state}."
    allowed = target in ALLOWED[train.state]
    return "" if allowed else f"A train that is {state} cannot become {target.label.lower()}."


def promotion_of(train: Train) -> Train | None:
    """The train this one was promoted as, if any (no query where the page's queryset read it)."""
    try:
        return train.promoted_to
    except Train.DoesNotExist:
        return None


def _promotion_refusal(train: Train) -> str:
    if train.state != TrainState.SUCCEEDED:
        return (
            f"Only a train that succeeded is promoted; this one is "
            f"{train.get_state_display().lower()}."
        )
    promoted = promotion_of(train)
    if promoted is not None:
        return f"Already promoted to {promoted.environment_name}: train #{promoted.pk}."
    return ""


def _decision_refusal(
    train: Train, members: list[Release], user, action: str, status: ApprovalStatus
) -> tuple[bool, str]:
    """(forbidden, why) for a decision `user` cannot make now; (False, "") when they can."""
    who = not_a_train_decider(train, members, user, status)
    if who:
        return True, who
    if train.state != TrainState.SUBMITTED:
        verb = "approved" if action == "approve" else "rejected"
        return False, f"A train that is {train.get_state_display().lower()} cannot be {verb}."
    if not status.required:
        return False, "This train needs no approval."
    if any(a.approver_id == user.pk for a in train.approvals.all()):
        return False, "You have already decided on this train."
    eligible = [s for s in status.rules if is_eligible(s.rule, user)]
    if action == "approve" and all(s.satisfied for s in eligible):
        return False, "Every rule you could approve for already has its approvals."
    return False, ""


def available_actions(
    train: Train, user, *, members: list[Release], status: ApprovalStatus | None = None
) -> frozenset[str]:
    """What `user` may do with the train now: the page's buttons, the API's `actions` and the
    services' own check (`require_action`) are this one answer."""
    actions = {
        action for action in REFUSED if _may(user, members, action) and not _refusal(train, action)
    }
    if status is None:
        status = train_approval_status(train, members, now=timezone.now())
    actions.update(
        action
        for action in DECISIONS
        if not _decision_refusal(train, members, user, action, status)[1]
    )
    return frozenset(actions)


def decision_refusals(
    train: Train, members: list[Release], user, status: ApprovalStatus
) -> dict[str, str]:
    """Why each decision is not open to `user` now, for the page to say in place."""
    if train.state != TrainState.SUBMITTED:
        return {}
    refusals = {
        action: _decision_refusal(train, members, user, action, status)[1] for action in DECISIONS
    }
    return {action: why for action, why in refusals.items() if why}


def require_action(
    train: Train,
    user,
    action: str,
    *,
    members: list[Release],
    status: ApprovalStatus | None = None,
) -> None:
    """Refuse what `available_actions` does not offer: 403 for who, a clear error for when."""
    if action in DECISIONS:
        status = status or train_approval_status(train, members, now=timezone.now())
        forbidden, why = _decision_refusal(train, members, user, action, status)
        if forbidden:
            raise PermissionDenied(why)
        if why:
            raise ValidationError(why)
        return
    permissions.require(_may(user, members, action), REFUSED[action])
    refusal = _refusal(train, action)
    if refusal and action == "promote" and promotion_of(train) is not None:
        raise Conflict({"state": refusal})  # asked twice: what is asked has happened
    if refusal:
        raise ValidationError({"state": refusal} if action == "promote" else refusal)
