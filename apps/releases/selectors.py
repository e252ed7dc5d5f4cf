"""Reads for release pages and the API, each in a fixed number of queries."""

import operator
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import cast

from django.core.paginator import Page, Paginator
from django.db.models import (
    DEFERRED,
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.identities import author_keys, user_keys
from apps.catalog.models import Dependency, Environment, Service
from apps.core.lookups import AnyOf
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


# What a conflict shows of the release it is with (pages, the API, the calendar's notes): a
# month's conflicts read a few thousand overlapping releases of related services.
CONFLICT_FIELDS = (
    "service__name",
    "environment__name",
    "environment__kind",
    "version",
    "title",
    "state",
    "planned_start",
    "planned_end",
)
# What conflicts_for reads of each open release near those it checks: as plain rows, for a
# month's check reads a few hundred of them and most conflict with nothing. Only a release
# found to conflict becomes a model instance, loaded with CONFLICT_FIELDS (_conflicting).
_NEARBY_COLUMNS = ("pk", "service_id", "environment_id", *CONFLICT_FIELDS)


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
    # The ids as one array each (AnyOf): a busy team's month has a hundred services, and their
    # neighbours several hundred, which as IN lists cost more to bind than to read.
    for source, target in Dependency.objects.filter(
        AnyOf(F("source_id"), service_ids) | AnyOf(F("target_service_id"), service_ids),
        target_service__isnull=False,
    ).values_list("source_id", "target_service_id"):
        if source != target:
            related[source].add(target)
            related[target].add(source)
    # One query over the span all of them cover; each release then keeps what overlaps it.
    overlapping = (
        Release.objects.filter(
            state__in=OPEN_STATES,
            planned_start__lt=max(release.planned_end for release in releases),
            planned_end__gt=min(release.planned_start for release in releases),
        )
        .filter(AnyOf(F("service_id"), service_ids.union(*(related[sid] for sid in service_ids))))
        .order_by("planned_start", "pk")
        .values_list(*_NEARBY_COLUMNS, named=True)
    )
    nearby: dict[int, list] = defaultdict(list)
    for other in overlapping:
        nearby[other.service_id].append(other)
    # A month or a long inbox page spans many releases of a busy service: each release looks
    # only at those starting between its own start less the service's longest release, and
    # its end, found by bisection, not at all of them.
    starts = {sid: [other.planned_start for other in found] for sid, found in nearby.items()}
    longest = {
        sid: max(max(other.planned_end - other.planned_start for other in found), timedelta(0))
        for sid, found in nearby.items()
    }
    loaded: dict[int, Release] = {}  # one instance a conflicting release, however many it meets
    for release in releases:
        found = []
        for service_id in (release.service_id, *related[release.service_id]):
            if service_id not in nearby:
                continue
            begins = starts[service_id]
            first = bisect_left(begins, release.planned_start - longest[service_id])
            last = bisect_left(begins, release.planned_end)
            for other in nearby[service_id][first:last]:
                if other.pk == release.pk or not (
                    other.planned_start < release.planned_end
                    and other.planned_end > release.planned_start
                ):
                    continue
                if other.service_id != release.service_id:
                    if other.environment__kind != release.environment.kind:
                        continue
                    why = f"{other.service__name} and {release.service.name} depend on each other"
                elif other.environment_id == release.environment_id:
                    # Environment names are unique within a service: same name, same row.
                    why = "same service and environment"
                else:
                    continue
                if other.pk not in loaded:
                    loaded[other.pk] = _conflicting(other, db=overlapping.db)
                found.append(Conflict(loaded[other.pk], why))
        conflicts[release.pk] = sorted(found, key=lambda c: (c.release.planned_start, c.release.pk))
    return conflicts


def _conflicting(row, *, db: str) -> Release:
    """The release of a row of conflicts_for's, as `.only(*CONFLICT_FIELDS)` with its service and
    environment selected would load it: other fields are deferred, read on first use."""
    release = _from_db(
        Release,
        db,
        id=row.pk,
        service_id=row.service_id,
        environment_id=row.environment_id,
        version=row.version,
        title=row.title,
        state=row.state,
        planned_start=row.planned_start,
        planned_end=row.planned_end,
    )
    release.service = _from_db(Service, db, id=row.service_id, name=row.service__name)
    release.environment = _from_db(
        Environment,
        db,
        id=row.environment_id,
        name=row.environment__name,
        kind=row.environment__kind,
    )
    return release


def _from_db(model, db: str, **values):
    """An instance as a query loads it, the fields not given deferred."""
    fields = model._meta.concrete_fields
    return model.from_db(
        db,
        [field.attname for field in fields],
        [values.get(field.attname, DEFERRED) for field in fields],
    )


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


# What deciding on a release reads: commits (separation of duties, what ships) and approvals.
_DECIDING_READS = (
    "commits",
    Prefetch(
        "approvals", queryset=Approval.objects.select_related("approver").order_by("created_at")
    ),
)

# Small enough that a page shows every item's rules and decision at once, with what ships and
# the environment's history loaded as an item is scrolled to (inbox_details).
INBOX_PAGE_SIZE = 20
# An item lists the first commits that ship and how many more; its release page lists them all.
INBOX_COMMITS = 10


def inbox_queryset() -> QuerySet[Release]:
    """Releases with what deciding on them reads."""
    return release_list().prefetch_related(*_DECIDING_READS)


def _inbox_entry(release: Release, user, *, now: datetime, policies: list[ApprovalPolicy]) -> dict:
    status = approval_status(release, now=now, policies=policies)
    open_rules = [s for s in status.rules if not s.satisfied and is_eligible(s.rule, user)]
    return {
        "release": release,
        "status": status,
        "rules": open_rules,
        "planned_start": release.planned_start,
    }


def inbox_details(release: Release) -> dict:
    """What ships in a release and what it replaces, and the recent history of its
    environment: the part of an inbox item loaded when it is scrolled to. Four queries."""
    every = list(release.commits.order_by("committed_at", "id"))
    commits = every[:INBOX_COMMITS]
    return {
        "release": release,
        "previous": previous_release(release),
        "history": recent_history(release),
        "commits": commits,
        "commit_count": len(every),
        "more_commits": len(every) - len(commits),
    }


def _applies_to(policy: ApprovalPolicy) -> Q:
    """The releases a policy applies to: applicable_policies() as a filter."""
    if policy.environment_id:
        q = Q(environment_id=policy.environment_id)
    else:
        q = Q(environment__kind=policy.environment_kind)
    if policy.tier is not None:
        q &= Q(service__tier=policy.tier)
    if policy.change_type:
        q &= Q(change_type=policy.change_type)
    return q


def _any(conditions: Iterable[Q]) -> Q:
    return reduce(operator.or_, conditions, Q(pk__in=[]))


def _live_approvals(rule: ApprovalRule, now: datetime) -> Coalesce:
    """How many approvals count for this rule on the outer release now (live_approvals())."""
    live = (
        Approval.objects.filter(
            release=OuterRef("pk"),
            rule=rule,
            decision=Approval.Decision.APPROVE,
            invalidated_at__isnull=True,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by()
        .values("release")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(live), 0)


def _author_words(user) -> Q | None:
    """Commits whose author contains a word of one of the user's keys (every key is made of
    words of the author string, whatever its case or spacing): a few more than the user's own,
    which author_keys() then tells apart. None when the user has no key to look for."""
    known_as = user_keys(user)
    words = {key.split(":", 1)[1].split()[0] for key in known_as if key.split(":", 1)[1].strip()}
    return _any(Q(author__icontains=word) for word in words) if words else None


def _authored_by(user, releases: list[int]) -> set[int]:
    """Of these releases, those with a commit this user wrote: the database narrows the
    commits by _author_words(), and author_keys() decides, as
    separation_of_duties_conflict() does, on those few."""
    words = _author_words(user)
    if words is None or not releases:
        return set()
    known_as = user_keys(user)
    rows = ReleaseCommit.objects.filter(words, release__in=releases).values_list(
        "release_id", "author"
    )
    return {release_id for release_id, author in rows if author_keys(author) & known_as}


def awaiting_approval_by(
    user, *, now: datetime | None = None, policies: list[ApprovalPolicy] | None = None
) -> QuerySet[Release]:
    """Releases this user may approve now, by planned start: pending, a rule they are eligible
    for still short of approvals, not decided by them, and no separation-of-duties conflict. A
    grouped release (a train's member) is decided with its group, which the inbox shows as one
    item.

    All of it is decided by the database but for the commits the user wrote: each release says
    whether it may hold one (`maybe_authored`: under separation of duties, with an author
    containing a word of the user's keys), and _authored_by() decides on those few. Each
    condition mirrors a function of apps/releases/policies.py, and the inbox's tests compare
    the two on the same releases."""
    now = now or timezone.now()
    policies = active_policies() if policies is None else policies
    eligible = [
        rule for policy in policies for rule in policy.rules.all() if is_eligible(rule, user)
    ]
    if not permissions.can_read(user) or not eligible:
        return Release.objects.none().annotate(maybe_authored=Value(False))
    releases = (
        Release.objects.filter(
            Q(state=ReleaseState.PENDING_APPROVAL)
            | Q(
                change_type=ChangeType.EMERGENCY,
                retrospective_due_at__isnull=False,
                retrospective_done_at__isnull=True,
            )
        )
        .exclude(state__in=[ReleaseState.REJECTED, ReleaseState.CANCELLED])
        # A standard change made from its template is pre-approved: it has no rules.
        .exclude(change_type=ChangeType.STANDARD, standard_template__isnull=False)
        .exclude(
            Exists(
                Approval.objects.filter(
                    release=OuterRef("pk"), approver=user, invalidated_at__isnull=True
                )
            )
        )
        .filter(groups.ungrouped())
        .alias(**{f"live_{rule.pk}": _live_approvals(rule, now) for rule in eligible})
        .filter(
            _any(
                _applies_to(rule.policy) & Q(**{f"live_{rule.pk}__lt": rule.required_count})
                for rule in eligible
            )
        )
    )
    separated = _any(_applies_to(policy) for policy in policies if policy.separation_of_duties)
    releases = releases.exclude(
        separated
        & (Q(requester=user) | Q(promoted_automatically=True, promoted_from__requester=user))
    )
    words = _author_words(user)
    # Looked for a release at a time (its few commits, by index), so that the costly filter
    # above runs once: the inbox reads these flags with the ids and decides on the few set.
    maybe_authored = (
        separated & Q(Exists(ReleaseCommit.objects.filter(words, release=OuterRef("pk"))))
        if words is not None
        else Q(pk__in=[])
    )
    return releases.annotate(
        maybe_authored=ExpressionWrapper(maybe_authored, output_field=BooleanField())
    ).order_by("planned_start", "pk")


def _with_conflicts(entries: list[dict]) -> list[dict]:
    """Add the releases each entry overlaps (conflicts_for), in two queries however many."""
    conflicts = conflicts_for([entry["release"] for entry in entries])
    for entry in entries:
        entry["conflicts"] = conflicts[entry["release"].pk]
    return entries


class InboxItems:
    """Everything awaiting one user, releases and groups (trains) by planned start, for a
    Paginator: one query lists the ids and planned starts of every release awaiting them (a few
    bytes a release, however many), and a slice loads only the releases it shows.

    Groups are few and evaluated whole (grouped_inbox_items); each one's place among the
    releases is the number of releases planned no later than it. A page then takes the groups
    placed on it and the releases between them."""

    def __init__(self, user, *, policies: list[ApprovalPolicy]):
        self.user = user
        self.policies = policies
        self.now = timezone.now()
        # The filter is the costly part of the query, so it runs once, for the count, the
        # groups' places and the page's ids alike; then the few releases that may hold the
        # user's own commits are decided on (one more query, when there are any).
        rows = list(
            awaiting_approval_by(user, now=self.now, policies=policies).values_list(
                "pk",
                "planned_start",
                "maybe_authored",  # type: ignore[misc]  # an annotation
            )
        )
        authored = _authored_by(user, [pk for pk, _, maybe in rows if maybe])
        self.awaiting = [(pk, start) for pk, start, _ in rows if pk not in authored]
        starts = [planned_start for _, planned_start in self.awaiting]
        groups_ = sorted(
            groups.grouped_inbox_items(user, policies=policies),
            key=lambda item: item["planned_start"],
        )
        self.release_count: int = len(self.awaiting)
        # Ties go to the releases first, as a stable sort of releases then groups would.
        self.placed = [
            (index + bisect_right(starts, item["planned_start"]), item)
            for index, item in enumerate(groups_)
        ]

    def count(self) -> int:
        return self.release_count + len(self.placed)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[dict]:
        start, stop, _ = index.indices(self.count())
        before = sum(1 for at, _ in self.placed if at < start)
        shown = [item for at, item in self.placed if start <= at < stop]
        offset = start - before
        ids = [pk for pk, _ in self.awaiting[offset : offset + (stop - start) - len(shown)]]
        place = {pk: at for at, pk in enumerate(ids)}
        page = sorted(
            release_list().prefetch_related(_DECIDING_READS[1]).filter(pk__in=ids),  # approvals
            key=lambda release: place[release.pk],
        )
        entries = _with_conflicts(
            [_inbox_entry(r, self.user, now=self.now, policies=self.policies) for r in page]
        )
        return sorted(entries + shown, key=lambda item: item["planned_start"])


def inbox_page(user, *, number, per_page: int = INBOX_PAGE_SIZE) -> Page:
    """One page of the "Awaiting my approval" inbox: each release this user may approve, with
    the status of its rules and its conflicts (what ships and the environment's recent history
    come a release at a time, from inbox_details), and each group of releases (a train)
    awaiting their decision as one item, by planned start. The page knows how many await the
    user in all."""
    if not permissions.can_read(user):
        return Paginator([], per_page).get_page(number)
    # InboxItems is sliced as Paginator slices (a page at a time), not indexed.
    items = cast(Sequence[dict], InboxItems(user, policies=active_policies()))
    return Paginator(items, per_page).get_page(number)


def inbox_item(user, release: Release) -> dict:
    """One release as the inbox shows it, whether or not it still awaits this user: a refused
    decision is shown in place. `release` comes from inbox_queryset()."""
    entry = _inbox_entry(release, user, now=timezone.now(), policies=active_policies())
    return _with_conflicts([entry])[0]


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
