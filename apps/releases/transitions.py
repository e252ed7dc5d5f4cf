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

S = ReleaseState
ALLOWED: dict[str, set[str]] = {
    S.DRAFT: {S.PENDING_APPROVAL, S.APPROVED, S.CANCELLED},
    S.PENDING_APPROVAL: {S.APPROVED, S.REJECTED, S.CANCELLED, S.IN_PROGRESS},
    S.APPROVED: {S.SCHEDULED, S.PENDING_APPROVAL, S.CANCELLED},
    S.SCHEDULED: {S.IN_PROGRESS, S.PENDING_APPROVAL, S.CANCELLED},
    S.IN_PROGRESS: {S.SUCCEEDED, S.FAILED, S.ROLLED_BACK},
    S.SUCCEEDED: {S.ROLLED_BACK},
    S.FAILED: {S.ROLLED_BACK},
    S.ROLLED_BACK: set(),
    S.REJECTED: set(),
    S.CANCELLED: set(),
}

# When a state is entered, the moment is kept on the release.
TIMESTAMPS = {
    S.PENDING_APPROVAL: "submitted_at",
    S.APPROVED: "approved_at",
    S.IN_PROGRESS: "started_at",
    S.SUCCEEDED: "finished_at",
    S.FAILED: "finished_at",
    S.ROLLED_BACK: "finished_at",
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
