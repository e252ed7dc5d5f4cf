"""Reads for release pages and the API, each in a fixed number of queries."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from apps.accounts import permissions
from apps.catalog.models import Dependency
from apps.releases import groups
from apps.releases.models import (
    OPEN_STATES,
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    ChangeType,
    Release,
    ReleaseCheck,
    ReleaseCommit,
    ReleaseState,
)
from apps.releases.policies import (
    active_policies,
    approval_status,
    is_eligible,
    separation_of_duties_conflict,
)

# A service's generated manifests and imported metadata are the bulk of its row; release pages
# show its name, owner and tier, so lists of releases leave them in the database.
SERVICE_BULK = ("service__manifests", "service__annotations", "service__extra")


def release_list() -> QuerySet[Release]:
    return Release.objects.select_related(
        "service__owner", "environment", "requester", "standard_template"
    ).defer(*SERVICE_BULK)


def release_detail_queryset() -> QuerySet[Release]:
    approvals = Approval.objects.select_related("approver", "rule__policy").order_by("created_at")
    checks = ReleaseCheck.objects.select_related("reported_by").order_by("name")
    return (
        release_list()
        .select_related(
            "break_glass__actor", "promoted_from__environment", "promoted_from__requester"
        )
        .prefetch_related(
            "commits",
            Prefetch("checks", queryset=checks),
            Prefetch("approvals", queryset=approvals),
            "transitions__actor",
        )
    )


def promotions_of(release: Release) -> list[Release]:
    """The releases that promoted `release` to the next environment, by hand or by Runway."""
    return list(
        Release.objects.filter(promoted_from=release)
        .select_related("environment")
        .order_by("created_at")
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


def conflicts_for(releases: Iterable[Release]) -> dict[int, list[Conflict]]:
    """The conflicts of many releases, by release id, in two queries: the dependencies between
    their services, and the open releases overlapping any of them.

    A release conflicts with an open release whose planned time overlaps its own: of the same
    service and environment, or of a service it depends on or that depends on it, in the same
    kind of environment (production with production)."""
    releases = list(releases)
    conflicts: dict[int, list[Conflict]] = {release.pk: [] for release in releases}
    if not releases:
        return conflicts
    service_ids = {release.service_id for release in releases}
    related: dict[int, set[int]] = defaultdict(set)
    for source, target in Dependency.objects.filter(
        Q(source_id__in=service_ids) | Q(target_service_id__in=service_ids),
        target_service__isnull=False,
    ).values_list("source_id", "target_service_id"):
        if source != target:
            related[source].add(target)
            related[target].add(source)
    # One query over the span all of them cover; each release then keeps what overlaps it.
    nearby: dict[int, list[Release]] = defaultdict(list)
    for other in (
        Release.objects.filter(
            state__in=OPEN_STATES,
            planned_start__lt=max(release.planned_end for release in releases),
            planned_end__gt=min(release.planned_start for release in releases),
            service_id__in=service_ids.union(*(related[sid] for sid in service_ids)),
        )
        .select_related("service", "environment")
        .defer(*SERVICE_BULK)
    ):
        nearby[other.service_id].append(other)
    for release in releases:
        found = []
        for service_id in (release.service_id, *related[release.service_id]):
            for other in nearby[service_id]:
                if other.pk == release.pk or not (
                    other.planned_start < release.planned_end
                    and other.planned_end > release.planned_start
                ):
                    continue
                if other.service_id != release.service_id:
                    if other.environment.kind != release.environment.kind:
                        continue
                    why = f"{other.service.name} and {release.service.name} depend on each other"
                elif other.environment_id == release.environment_id:
                    # Environment names are unique within a service: same name, same row.
                    why = "same service and environment"
                else:
                    continue
                found.append(Conflict(other, why))
        conflicts[release.pk] = sorted(found, key=lambda c: (c.release.planned_start, c.release.pk))
    return conflicts


def release_conflicts(release: Release) -> list[Conflict]:
    """Open releases whose planned time overlaps this one (see conflicts_for)."""
    return conflicts_for([release])[release.pk]


def previous_releases_for(releases: Iterable[Release]) -> dict[int, Release | None]:
    """For each release (by id), the last other release that succeeded in its environment: what
    it replaces. One query: the two latest successes per environment, so a release that itself
    succeeded still finds another."""
    releases = list(releases)
    if not releases:
        return {}
    latest: dict[int, list[Release]] = defaultdict(list)
    successes = (
        Release.objects.filter(
            environment_id__in={release.environment_id for release in releases},
            state=ReleaseState.SUCCEEDED,
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("environment_id")],
                order_by=[F("finished_at").desc(nulls_last=True), F("pk").desc()],
            )
        )
        .filter(rank__lte=2)
        .order_by("environment_id", "rank")
    )
    for success in successes:
        latest[success.environment_id].append(success)
    return {
        release.pk: next(
            (other for other in latest[release.environment_id] if other.pk != release.pk), None
        )
        for release in releases
    }


def previous_release(release: Release) -> Release | None:
    """The last release that succeeded in the same environment: what this one replaces."""
    return previous_releases_for([release])[release.pk]


def with_what_ships(releases: Iterable[Release]) -> list[Release]:
    """The releases, each with what an approver reads in a list row: `replaces` (the release it
    replaces, or None) and `commit_count`, in two queries however many there are."""
    releases = list(releases)
    previous = previous_releases_for(releases)
    counts = dict(
        ReleaseCommit.objects.filter(release_id__in=[release.pk for release in releases])
        .values_list("release_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for release in releases:
        release.replaces = previous[release.pk]
        release.commit_count = counts.get(release.pk, 0)
    return releases


def recent_history_for(releases: Iterable[Release], *, limit: int = 5) -> dict[int, list[Release]]:
    """For each release (by id), the latest other releases of its service to its environment,
    by planned start, in one query."""
    releases = list(releases)
    if not releases:
        return {}
    latest: dict[int, list[Release]] = defaultdict(list)
    rows = (
        Release.objects.filter(environment_id__in={release.environment_id for release in releases})
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("environment_id")],
                order_by=[F("planned_start").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=limit + 1)  # one more, in case the release itself is among them
        .order_by("environment_id", "rank")
    )
    for row in rows:
        latest[row.environment_id].append(row)
    return {
        release.pk: [other for other in latest[release.environment_id] if other.pk != release.pk][
            :limit
        ]
        for release in releases
    }


def recent_history(release: Release, *, limit: int = 5) -> list[Release]:
    return recent_history_for([release], limit=limit)[release.pk]


def inbox_queryset() -> QuerySet[Release]:
    """Releases with what deciding on them reads: commits (separation of duties, what ships)
    and approvals."""
    approvals = Approval.objects.select_related("approver").order_by("created_at")
    return release_list().prefetch_related("commits", Prefetch("approvals", queryset=approvals))


def _inbox_entry(release: Release, user, *, now: datetime, policies: list[ApprovalPolicy]) -> dict:
    status = approval_status(release, now=now, policies=policies)
    open_rules = [s for s in status.rules if not s.satisfied and is_eligible(s.rule, user)]
    return {
        "release": release,
        "status": status,
        "rules": open_rules,
        "planned_start": release.planned_start,
    }


def awaiting_approval_by(
    user, *, limit: int = 200, policies: list[ApprovalPolicy] | None = None
) -> list[dict]:
    """Releases this user may approve now: pending, a rule they are eligible for still short of
    approvals, not decided by them, and no separation-of-duties conflict. A grouped release (a
    train's member) is decided with its group, which the inbox shows as one item."""
    if not permissions.can_read(user):
        return []
    now = timezone.now()
    policies = active_policies() if policies is None else policies
    candidates = (
        inbox_queryset()
        .filter(
            Q(state=ReleaseState.PENDING_APPROVAL)
            | Q(
                change_type=ChangeType.EMERGENCY,
                retrospective_due_at__isnull=False,
                retrospective_done_at__isnull=True,
            )
        )
        .exclude(state__in=[ReleaseState.REJECTED, ReleaseState.CANCELLED])
        .filter(groups.ungrouped())
        .order_by("planned_start")[:limit]
    )
    inbox = []
    for release in candidates:
        if any(
            a.approver_id == user.pk and a.invalidated_at is None for a in release.approvals.all()
        ):
            continue
        entry = _inbox_entry(release, user, now=now, policies=policies)
        if not entry["rules"]:
            continue
        if entry["status"].separation_of_duties and separation_of_duties_conflict(release, user):
            continue
        inbox.append(entry)
    return inbox


def _with_review(entries: list[dict]) -> list[dict]:
    """Add what an approver weighs to each entry, in four queries however many there are:
    conflicts, the release each replaces, and the recent history of its environment."""
    releases = [entry["release"] for entry in entries]
    conflicts = conflicts_for(releases)
    previous = previous_releases_for(releases)
    history = recent_history_for(releases)
    for entry in entries:
        pk = entry["release"].pk
        entry.update(conflicts=conflicts[pk], previous=previous[pk], history=history[pk])
    return entries


def inbox_for(user, *, limit: int = 200) -> list[dict]:
    """The "Awaiting my approval" inbox: each release this user may approve, with the status of
    its rules, its conflicts, what it replaces and its environment's recent history, and each
    group of releases (a train) awaiting their decision as one item, by planned start."""
    if not permissions.can_read(user):
        return []
    policies = active_policies()  # read once for the releases and the groups
    items = _with_review(awaiting_approval_by(user, limit=limit, policies=policies))
    items += groups.grouped_inbox_items(user, policies=policies)
    return sorted(items, key=lambda item: item["planned_start"])


def inbox_item(user, release: Release) -> dict:
    """One release as the inbox shows it, whether or not it still awaits this user: a refused
    decision is shown in place. `release` comes from inbox_queryset()."""
    entry = _inbox_entry(release, user, now=timezone.now(), policies=active_policies())
    return _with_review([entry])[0]


def decision_outcome(release: Release) -> str:
    """Where a release stands after a decision, in a few words for the inbox. `release` comes
    from inbox_queryset()."""
    if release.state == ReleaseState.REJECTED:
        return "Rejected"
    status = approval_status(release, now=timezone.now())
    missing = sum(rule_status.missing for rule_status in status.rules)
    if missing:
        return f"Approved — {missing} more approval{'s' if missing != 1 else ''} needed"
    if release.retrospective_done_at:
        return "Approved — retrospective review done"
    return release.get_state_display()


def needing_retrospective() -> QuerySet[Release]:
    """Emergency changes that started before approval and still need their review."""
    return (
        release_list()
        .select_related("break_glass")
        .filter(
            change_type=ChangeType.EMERGENCY,
            retrospective_due_at__isnull=False,
            retrospective_done_at__isnull=True,
        )
        .exclude(state__in=[ReleaseState.CANCELLED, ReleaseState.REJECTED, ReleaseState.DRAFT])
        .order_by("retrospective_due_at")
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
