"""Reads for release pages and the API, each in a fixed number of queries."""

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from apps.accounts import permissions
from apps.catalog.models import Dependency
from apps.releases.models import (
    OPEN_STATES,
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    ChangeType,
    Release,
    ReleaseCheck,
    ReleaseState,
)
from apps.releases.policies import (
    active_policies,
    approval_status,
    is_eligible,
    separation_of_duties_conflict,
)


def release_list() -> QuerySet[Release]:
    return Release.objects.select_related(
        "service__owner", "environment", "requester", "standard_template"
    )


def release_detail_queryset() -> QuerySet[Release]:
    approvals = Approval.objects.select_related("approver", "rule__policy").order_by("created_at")
    checks = ReleaseCheck.objects.select_related("reported_by").order_by("name")
    return release_list().prefetch_related(
        "commits",
        Prefetch("checks", queryset=checks),
        Prefetch("approvals", queryset=approvals),
        "transitions__actor",
    )


def approval_policies() -> QuerySet[ApprovalPolicy]:
    rules = ApprovalRule.objects.select_related("team").prefetch_related("users")
    return (
        ApprovalPolicy.objects.select_related("environment__service")
        .prefetch_related(Prefetch("rules", queryset=rules))
        .order_by("name")
    )


@dataclass(frozen=True)
class Conflict:
    release: Release
    why: str


def release_conflicts(release: Release) -> list[Conflict]:
    """Open releases whose planned time overlaps this one: the same service and environment,
    or a service this one depends on or that depends on it."""
    neighbours = Dependency.objects.filter(
        Q(source_id=release.service_id) | Q(target_service_id=release.service_id),
        target_service__isnull=False,
    ).values_list("source_id", "target_service_id")
    related = {sid for pair in neighbours for sid in pair} - {release.service_id}
    overlapping = (
        release_list()
        .filter(
            state__in=OPEN_STATES,
            planned_start__lt=release.planned_end,
            planned_end__gt=release.planned_start,
        )
        .filter(
            Q(service_id=release.service_id, environment__name=release.environment.name)
            | Q(service_id__in=related)
        )
        .exclude(pk=release.pk)
        .order_by("planned_start")
    )
    return [
        Conflict(
            other,
            "same service and environment"
            if other.service_id == release.service_id
            else f"{other.service.name} and {release.service.name} depend on each other",
        )
        for other in overlapping
    ]


def awaiting_approval_by(user, *, limit: int = 200) -> list[dict]:
    """Releases this user may approve now: pending, a rule they are eligible for still short of
    approvals, not decided by them, and no separation-of-duties conflict."""
    if not permissions.can_read(user):
        return []
    now = timezone.now()
    policies = active_policies()
    candidates = (
        release_detail_queryset()
        .filter(
            Q(state=ReleaseState.PENDING_APPROVAL)
            | Q(
                change_type=ChangeType.EMERGENCY,
                retrospective_due_at__isnull=False,
                retrospective_done_at__isnull=True,
            )
        )
        .exclude(state__in=[ReleaseState.REJECTED, ReleaseState.CANCELLED])
        .order_by("planned_start")[:limit]
    )
    inbox = []
    for release in candidates:
        if any(
            a.approver_id == user.pk and a.invalidated_at is None for a in release.approvals.all()
        ):
            continue
        status = approval_status(release, now=now, policies=policies)
        open_rules = [s for s in status.rules if not s.satisfied and is_eligible(s.rule, user)]
        if not open_rules:
            continue
        if status.separation_of_duties and separation_of_duties_conflict(release, user):
            continue
        inbox.append({"release": release, "status": status, "rules": open_rules})
    return inbox


def needing_retrospective() -> QuerySet[Release]:
    """Emergency changes that started before approval and still need their review."""
    return (
        release_list()
        .filter(
            change_type=ChangeType.EMERGENCY,
            retrospective_due_at__isnull=False,
            retrospective_done_at__isnull=True,
        )
        .exclude(state__in=[ReleaseState.CANCELLED, ReleaseState.REJECTED, ReleaseState.DRAFT])
        .order_by("retrospective_due_at")
    )


def recent_history(release: Release, *, limit: int = 5) -> QuerySet[Release]:
    return (
        release_list()
        .filter(service_id=release.service_id, environment_id=release.environment_id)
        .exclude(pk=release.pk)
        .order_by("-planned_start")[:limit]
    )


def previous_release(release: Release) -> Release | None:
    """The last release that succeeded in the same environment: what this one replaces."""
    return (
        Release.objects.filter(environment_id=release.environment_id, state=ReleaseState.SUCCEEDED)
        .exclude(pk=release.pk)
        .prefetch_related("commits")
        .order_by("-finished_at")
        .first()
    )


def releases_due(*, now=None) -> QuerySet[Release]:
    """Scheduled releases whose start time has come, and emergencies that may go now."""
    now = now or timezone.now()
    return Release.objects.filter(
        Q(state=ReleaseState.SCHEDULED, planned_start__lte=now)
        | Q(
            state=ReleaseState.PENDING_APPROVAL,
            change_type=ChangeType.EMERGENCY,
            planned_start__lte=now,
        )
    ).order_by("planned_start")
