"""The release state machine: the allowed edges, the one function that moves a release, and
the one answer to "what may this person do with it now" that pages, API and services all read.

draft → pending_approval → approved → scheduled → in_progress → succeeded | failed | rolled_back
plus rejected and cancelled; editing what ships sends an approved release back for approval;
an emergency may go from pending_approval straight to in_progress (into production only with an
independent approval or after someone broke glass).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.audit.services import audit_record
from apps.releases.gates import independent_approvals
from apps.releases.models import Release, ReleaseState, ReleaseTransition

ALLOWED: dict[str, set[str]] = {
    ReleaseState.DRAFT: {
        ReleaseState.PENDING_APPROVAL,
        ReleaseState.APPROVED,
        ReleaseState.CANCELLED,
    },
    ReleaseState.PENDING_APPROVAL: {
        ReleaseState.APPROVED,
        ReleaseState.REJECTED,
        ReleaseState.CANCELLED,
        ReleaseState.IN_PROGRESS,
    },
    ReleaseState.APPROVED: {
        ReleaseState.SCHEDULED,
        ReleaseState.PENDING_APPROVAL,
        ReleaseState.CANCELLED,
    },
    ReleaseState.SCHEDULED: {
        ReleaseState.IN_PROGRESS,
        ReleaseState.PENDING_APPROVAL,
        ReleaseState.CANCELLED,
    },
    ReleaseState.IN_PROGRESS: {
        ReleaseState.SUCCEEDED,
        ReleaseState.FAILED,
        ReleaseState.ROLLED_BACK,
    },
    ReleaseState.SUCCEEDED: {ReleaseState.ROLLED_BACK},
    ReleaseState.FAILED: {ReleaseState.ROLLED_BACK},
    ReleaseState.ROLLED_BACK: set(),
    ReleaseState.REJECTED: set(),
    ReleaseState.CANCELLED: set(),
}

# When a state is entered, the moment is kept on the release.
TIMESTAMPS = {
    ReleaseState.PENDING_APPROVAL: "submitted_at",
    ReleaseState.APPROVED: "approved_at",
    ReleaseState.IN_PROGRESS: "started_at",
    ReleaseState.SUCCEEDED: "finished_at",
    ReleaseState.FAILED: "finished_at",
    ReleaseState.ROLLED_BACK: "finished_at",
}


class IllegalTransition(ValidationError):
    pass


def lock_release(release_id: int) -> Release:
    return (
        Release.objects.select_for_update(of=("self",))
        .select_related("service", "environment")
        .get(pk=release_id)
    )


@transaction.atomic
def release_transition(
    *, release: Release, to_state: str, actor, reason: str = "", locked: bool = False
) -> Release:
    """Move a release to `to_state`, or refuse with a clear error. Locks the row unless the
    caller already holds the lock, records a history row and an audit event."""
    if not locked:
        release = lock_release(release.pk)
    from_state = release.state
    if to_state not in ALLOWED[from_state]:
        raise IllegalTransition(
            f"A release that is {release.get_state_display().lower()} cannot become "
            f"{ReleaseState(to_state).label.lower()}."
        )
    release.state = to_state
    fields = ["state", "updated_at"]
    if to_state in TIMESTAMPS:
        setattr(release, TIMESTAMPS[to_state], timezone.now())
        fields.append(TIMESTAMPS[to_state])
    release.save(update_fields=fields)
    ReleaseTransition.objects.create(
        release=release,
        from_state=from_state,
        to_state=to_state,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason,
    )
    audit_record(
        actor=actor,
        action="release.transition",
        target=release,
        before={"state": from_state},
        after={"state": to_state, **({"reason": reason} if reason else {})},
    )
    return release


# --- What may be done now -----------------------------------------------------------------

# Before the start: once a release is in progress there is no glass left to break.
BREAKABLE_STATES = (ReleaseState.PENDING_APPROVAL, ReleaseState.SCHEDULED)
REFUSED = {
    "submit": "Only the owning team and platform admins request releases for this service.",
    "cancel": "Only the owning team, release managers and platform admins cancel releases.",
    "break_glass": "Only the requester and release managers break glass on a release.",
}


def _may(user, release: Release, action: str) -> bool:
    team_id = release.service.owner_id
    if action == "submit":
        return permissions.can_act_for_team(user, team_id)
    if action == "cancel":
        return permissions.can_act_for_team(user, team_id) or permissions.can_approve_releases(user)
    return permissions.can_break_glass(user, requester_id=release.requester_id, team_id=team_id)


def _refusal(release: Release, action: str) -> str:
    """Why `action` is not possible now, whoever asks; "" when it is."""
    state = release.get_state_display().lower()
    if action == "submit":
        draft = release.state == ReleaseState.DRAFT
        return "" if draft else f"Only a draft can be submitted; this one is {state}."
    if action == "cancel":
        allowed = ReleaseState.CANCELLED in ALLOWED[release.state]
        return "" if allowed else f"A release that is {state} cannot become cancelled."
    if not release.needs_independent_approval:
        return "Only an emergency change to production breaks glass."
    if release.state not in BREAKABLE_STATES:
        return f"A release that is {state} has no start left to unblock."
    glass = release.glass_broken
    if glass is not None:
        return f"{glass.actor.username} already broke glass on release #{release.pk}."
    if independent_approvals(release, timezone.now())[0]:
        return "An independent approval is already in: there is no glass to break."
    return ""


def available_actions(release: Release, user) -> frozenset[str]:
    """What `user` may do with the release now: the page's buttons, the API's `actions` and
    the services' own check (`require_action`) are this one answer."""
    return frozenset(
        action
        for action in REFUSED
        if _may(user, release, action) and not _refusal(release, action)
    )


def require_action(release: Release, user, action: str) -> None:
    """Refuse what `available_actions` does not offer: 403 for who, a clear error for when."""
    permissions.require(_may(user, release, action), REFUSED[action])
    refusal = _refusal(release, action)
    if refusal:
        raise ValidationError(refusal)
