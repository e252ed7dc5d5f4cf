"""The release state machine: the allowed edges, the one function that moves a release, and
the one answer to "what may this person do with it now" that pages, API and services all read.

draft → pending_approval → approved → scheduled → in_progress → succeeded | failed | rolled_back
plus rejected and cancelled; editing what ships sends an approved release back for approval;
an emergency may go from pending_approval straight to in_progress (into production only with an
independent approval or after someone broke glass).
"""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record, audit_state_changes, state_change
from apps.core.bulk import bulk_save
from apps.core.exceptions import Conflict
from apps.core.transitions import require_edge
from apps.releases.audit_facts import release_save_with_audit_facts
from apps.releases.gates import independent_approvals
from apps.releases.models import Release, ReleaseState, ReleaseTransition
from apps.releases.policies import (
    ApprovalStatus,
    approval_status,
    not_a_decider,
    rule_for_approver,
)

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
TIMESTAMPS: dict[str, str] = {
    ReleaseState.PENDING_APPROVAL: "submitted_at",
    ReleaseState.APPROVED: "approved_at",
    ReleaseState.IN_PROGRESS: "started_at",
    ReleaseState.SUCCEEDED: "finished_at",
    ReleaseState.FAILED: "finished_at",
    ReleaseState.ROLLED_BACK: "finished_at",
}


FINISHING = (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK)


def lock_release(release_id: int) -> Release:
    return (
        Release.objects.select_for_update(of=("self",))
        .select_related("service", "environment")
        .get(pk=release_id)
    )


@transaction.atomic
def release_transition(
    *,
    release: Release,
    to_state: str,
    actor: User | None,
    reason: str = "",
    locked: bool = False,
    gates: list[dict] | None = None,
) -> Release:
    """Move a release to `to_state`, or refuse with a clear error. Locks the row unless the
    caller already holds the lock, records a history row (with the `gates` evaluated for the
    move, if any) and an audit event."""
    if not locked:
        release = lock_release(release.pk)
    from_state = release.state
    fields = _enter(release, to_state, timezone.now())
    release_save_with_audit_facts(release, fields)
    ReleaseTransition.objects.create(
        release=release,
        from_state=from_state,
        to_state=to_state,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        reason=reason,
        gates=gates or [],
    )
    before, after = state_change(from_state, to_state, reason)
    audit_record(
        actor=actor,
        action="release.transition",
        target=release,
        before=before,
        after=after,
    )
    return release


def _enter(release: Release, to_state: str, now) -> list[str]:
    """Check the edge and set the state (and its moment) on `release`; the fields to save."""
    require_edge(release, ALLOWED, to_state)
    release.state = to_state
    fields = ["state", "updated_at"]
    if to_state in TIMESTAMPS:
        setattr(release, TIMESTAMPS[to_state], now)
        fields.append(TIMESTAMPS[to_state])
    return fields


def releases_transition(
    *,
    releases: list[Release],
    to_state: str,
    actor: User | None,
    reasons: dict[int, str],
    gates: dict[int, list[dict]] | None = None,
    also: tuple[str, ...] = (),
) -> list[ReleaseTransition]:
    """release_transition for many releases whose rows the caller has locked, in a few queries
    whatever their number: each one's history row (with its `reasons` and `gates` by release
    id) and audit event. `also` names other fields the caller set on them, saved with the
    state. Returns the history rows, in the order of `releases`."""
    if to_state in FINISHING:
        # A finish's history row is an event the reports listen for (its post_save), which a
        # bulk insert does not send.
        raise ValueError("A release finishes through release_transition, one at a time.")
    if not releases:
        return []
    now = timezone.now()
    before = {release.pk: release.state for release in releases}
    fields: list[str] = []
    for release in releases:
        fields = _enter(release, to_state, now)
        release.updated_at = now
    bulk_save(releases, [*fields, *also])
    user = actor if getattr(actor, "is_authenticated", False) else None
    rows = ReleaseTransition.objects.bulk_create(
        ReleaseTransition(
            release=release,
            from_state=before[release.pk],
            to_state=to_state,
            actor=user,
            reason=reasons.get(release.pk, ""),
            gates=(gates or {}).get(release.pk, []),
        )
        for release in releases
    )
    audit_state_changes(
        actor=actor,
        action="release.transition",
        targets=releases,
        before=before,
        to_state=to_state,
        reasons=reasons,
    )
    return rows


# --- Steered from elsewhere ---------------------------------------------------------------

# A release that belongs to something above it (a train) is moved only through that: no
# action on the release by itself, no start on its own. The trains app registers the rule from
# its AppConfig.ready(); releases import no train. A steerer answers why a release is not its
# own ("" when it is).
Steerer = Callable[[Release], str]
_steerers: list[Steerer] = []


def register_steerer(steerer: Steerer) -> None:
    if steerer not in _steerers:
        _steerers.append(steerer)


# The same rule for many releases at once: each steering app gives the ids of the releases it
# steers, as a subquery, so that a beat looking for releases of their own asks one query.
_steered_ids: list[Callable[[], QuerySet]] = []


def register_steered_ids(steered_ids: Callable[[], QuerySet]) -> None:
    if steered_ids not in _steered_ids:
        _steered_ids.append(steered_ids)


def unsteered(releases: QuerySet[Release]) -> QuerySet[Release]:
    """`releases` without those steered from elsewhere (a train's members)."""
    for steered_ids in _steered_ids:
        releases = releases.exclude(pk__in=steered_ids())
    return releases


def steered_by(release: Release) -> str:
    """Why nobody acts on this release by itself (e.g. "Part of train “x”: act on the train."),
    or "" when it is its own. Read once per release object."""
    if not hasattr(release, "_steered_by"):
        reasons = (steerer(release) for steerer in _steerers)
        release._steered_by = next((reason for reason in reasons if reason), "")  # type: ignore[attr-defined]
    return release._steered_by  # type: ignore[attr-defined]


def refuse_if_steered(release: Release) -> None:
    """A Conflict (409) naming what steers the release, for every per-release action."""
    reason = steered_by(release)
    if reason:
        raise Conflict(reason)


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
        return permissions.can_request_releases(user, team_id)
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


# --- Deciding: approve and reject -----------------------------------------------------------

DECISIONS = ("approve", "reject")
# An emergency's retrospective review: approved after it started, once.
RETROSPECTIVE_STATES = (
    ReleaseState.IN_PROGRESS,
    ReleaseState.SUCCEEDED,
    ReleaseState.FAILED,
    ReleaseState.ROLLED_BACK,
)


def awaits_retrospective(release: Release) -> bool:
    return (
        release.is_emergency
        and release.state in RETROSPECTIVE_STATES
        and release.retrospective_done_at is None
    )


def open_to_decisions(release: Release) -> bool:
    """Waiting for approvers: pending approval, or an emergency awaiting its retrospective."""
    return release.state == ReleaseState.PENDING_APPROVAL or awaits_retrospective(release)


def _decision_refusal(
    release: Release, user, action: str, status: ApprovalStatus
) -> tuple[bool, str]:
    """(forbidden, why) for a decision `user` cannot make now; (False, "") when they can.
    Who is asked before when: someone who may not decide is told so (403), not what state the
    release is in."""
    who = not_a_decider(release, user, status)
    if who:
        return True, who
    state = release.get_state_display().lower()
    # A retrospective review approves; there is nothing left to reject.
    if not open_to_decisions(release) or (
        action == "reject" and release.state != ReleaseState.PENDING_APPROVAL
    ):
        verb = "approved" if action == "approve" else "rejected"
        return False, f"A release that is {state} cannot be {verb}."
    if any(a.approver_id == user.pk and a.invalidated_at is None for a in release.approvals.all()):
        return False, "You have already decided on this release."
    try:
        rule_for_approver(release, user, status, rejecting=action == "reject")
    except ValidationError as exc:
        return False, " ".join(exc.messages)
    return False, ""


def require_decider(release: Release, user, *, status: ApprovalStatus | None = None) -> None:
    """Refuse (403) someone who may not decide on the release at all, before anything else is
    asked of them: a body to validate, a password to confirm."""
    who = not_a_decider(release, user, status or approval_status(release, now=timezone.now()))
    if who:
        raise PermissionDenied(who)


def decision_refusals(release: Release, user, status: ApprovalStatus) -> dict[str, str]:
    """Why each decision is not open to `user` now, for the page to say in place (nothing for
    a release steered from elsewhere: the page says what steers it instead)."""
    if steered_by(release):
        return {}
    refusals = {action: _decision_refusal(release, user, action, status)[1] for action in DECISIONS}
    return {action: why for action, why in refusals.items() if why}


def available_actions(
    release: Release, user, *, status: ApprovalStatus | None = None
) -> frozenset[str]:
    """What `user` may do with the release now: the page's buttons, the API's `actions` and
    the services' own check (`require_action`) are this one answer. `status`, the release's
    approval status, is read when not given. A release steered from elsewhere (a train's
    member) offers nothing: it is acted on through what steers it."""
    if steered_by(release):
        return frozenset()
    actions = {
        action
        for action in REFUSED
        if _may(user, release, action) and not _refusal(release, action)
    }
    if status is None:
        status = approval_status(release, now=timezone.now())
    actions.update(
        action for action in DECISIONS if not _decision_refusal(release, user, action, status)[1]
    )
    return frozenset(actions)


def require_action(
    release: Release, user, action: str, *, status: ApprovalStatus | None = None
) -> None:
    """Refuse what `available_actions` does not offer: 403 for who, a clear error for when
    (a Conflict, 409, for a release steered from elsewhere)."""
    if action in DECISIONS:
        forbidden, why = _decision_refusal(
            release, user, action, status or approval_status(release, now=timezone.now())
        )
        if forbidden:
            raise PermissionDenied(why)
        refuse_if_steered(release)
        if why:
            raise ValidationError(why)
        return
    permissions.require(_may(user, release, action), REFUSED[action])
    refuse_if_steered(release)
    refusal = _refusal(release, action)
    if refusal:
        raise ValidationError(refusal)
