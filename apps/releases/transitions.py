"""The release state machine: the allowed edges and the one function that moves a release.

draft → pending_approval → approved → scheduled → in_progress → succeeded | failed | rolled_back
plus rejected and cancelled; editing what ships sends an approved release back for approval;
an emergency may go from pending_approval straight to in_progress.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
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
