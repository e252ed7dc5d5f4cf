"""Reads for trains: lists, a train's members, and the catalog graph the planner walks."""

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from apps.catalog.models import Dependency, Service
from apps.releases.groups import GroupMember
from apps.releases.models import ApprovalPolicy, Release
from apps.releases.policies import active_policies, is_eligible
from apps.trains.models import Train, TrainApproval, TrainMember, TrainState, TrainTransition
from apps.trains.planning import plan_waves
from apps.trains.policies import train_approval_status


def train_list() -> QuerySet[Train]:
    return (
        Train.objects.select_related("requested_by")
        .annotate(member_count=Count("members"))
        .order_by("-created_at", "-id")
    )


def train_detail_queryset() -> QuerySet[Train]:
    return (
        train_list()
        .select_related("promoted_from", "promoted_to")
        .prefetch_related(
            Prefetch(
                "approvals",
                queryset=TrainApproval.objects.select_related("approver", "rule__policy"),
            ),
            Prefetch("transitions", queryset=TrainTransition.objects.select_related("actor")),
        )
    )


def train_members(train: Train) -> list[Release]:
    """The members' releases with what deciding on them reads (service, owner, environment,
    commits), in two queries, ordered by service name."""
    memberships = TrainMember.objects.filter(train=train).values_list("release_id", flat=True)
    return list(
        Release.objects.filter(pk__in=memberships)
        .select_related("service__owner", "environment", "requester")
        .prefetch_related("commits")
        .order_by("service__name")
    )


def catalog_dependencies() -> dict[str, set[str]]:
    """Every service-to-service dependency in the catalog, by name, in one query."""
    graph: dict[str, set[str]] = defaultdict(set)
    edges = Dependency.objects.filter(target_service__isnull=False).values_list(
        "source__name", "target_service__name"
    )
    for source, target in edges:
        graph[source].add(target)
    return graph


def dependencies_reachable_from(service_names: list[str]) -> dict[str, set[str]]:
    """The service-to-service dependencies of every service these reach, directly or not, by
    name, in one query: all the planner can walk from them, and usually a small part of the
    catalog (a recursive query, so the graph is not read whole on every plan)."""
    if not service_names:
        return {}
    dependency, service = Dependency._meta.db_table, Service._meta.db_table
    names = ", ".join(["%s"] * len(service_names))
    # Table names come from the models; the service names are parameters.
    sql = f"""
        WITH RECURSIVE reach(id) AS (
            SELECT id FROM {service} WHERE name IN ({names})
            UNION
            SELECT d.target_service_id FROM {dependency} d JOIN reach ON d.source_id = reach.id
            WHERE d.target_service_id IS NOT NULL
        )
        SELECT source.name, target.name
        FROM reach
        JOIN {dependency} d ON d.source_id = reach.id
        JOIN {service} source ON source.id = d.source_id
        JOIN {service} target ON target.id = d.target_service_id
    """  # noqa: S608
    graph: dict[str, set[str]] = defaultdict(set)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(service_names))
        for source, target in cursor.fetchall():
            graph[source].add(target)
    return graph


def plan_for(service_names: list[str]) -> list[list[str]]:
    """The waves for these members, or PlanCycle: one query whatever their number."""
    return plan_waves(service_names, dependencies_reachable_from(service_names))


def with_decision_state(train: Train, user) -> Train:
    """What the page and the API show besides the row, evaluated now: the members, the union
    approval status and what `user` may do."""
    from apps.trains.transitions import available_actions

    members = train_members(train)
    status = train_approval_status(train, members, now=timezone.now())
    train.member_releases = members
    train.approval_status = status
    train.approval_summary = status.summary()
    train.actions_now = sorted(available_actions(train, user, members=members, status=status))
    return train


@dataclass(frozen=True)
class Wave:
    number: int
    members: list[Release]

    @property
    def names(self) -> list[str]:
        return [release.service.name for release in self.members]

    @property
    def summary(self) -> str:
        """How far the wave is, e.g. "1 succeeded, 1 in progress"."""
        states = Counter(release.get_state_display().lower() for release in self.members)
        return ", ".join(f"{count} {state}" for state, count in states.items())


def in_waves(train: Train, members: list[Release]) -> list[Wave]:
    """The members wave by wave as the plan orders them (a member the plan does not name yet,
    in a last wave of its own). No query."""
    by_name = {release.service.name: release for release in members}
    planned = {name for wave in train.plan for name in wave}
    unplanned = [release for release in members if release.service.name not in planned]
    waves = [[by_name[name] for name in wave if name in by_name] for wave in train.plan]
    waves = [wave for wave in [*waves, unplanned] if wave]
    return [Wave(number, wave) for number, wave in enumerate(waves, 1)]


def _with_members_prefetched() -> QuerySet[Train]:
    """Trains with what deciding on them reads, whatever their number: approvals, and members'
    releases with service, owner, environment, requester and commits (four queries)."""
    memberships = TrainMember.objects.select_related(
        "release__service__owner", "release__environment", "release__requester"
    ).prefetch_related("release__commits")
    return train_list().prefetch_related(
        Prefetch("approvals", queryset=TrainApproval.objects.select_related("approver")),
        Prefetch("members", queryset=memberships),
    )


def _inbox_item(train: Train, user, *, now, policies, awaiting: bool) -> dict | None:
    """The train as the inbox shows it; None when `awaiting` and this user may not approve it
    now (the one answer of available_actions)."""
    from apps.trains.transitions import available_actions

    members = sorted(
        (membership.release for membership in train.members.all()),
        key=lambda release: release.service.name,
    )
    if not members:
        return None
    status = train_approval_status(train, members, now=now, policies=policies)
    if awaiting and "approve" not in available_actions(train, user, members=members, status=status):
        return None
    train.member_releases = members
    train.approval_status = status
    return {
        "template": "trains/partials/_inbox_item.html",
        "train": train,
        "status": status,
        "rules": [s for s in status.rules if not s.satisfied and is_eligible(s.rule, user)],
        "planned_start": min(release.planned_start for release in members),
        "planned_end": max(release.planned_end for release in members),
        "members": [GroupMember(r.pk, r.service.name, r.version, r.state) for r in members],
        "production": any(release.environment.is_production for release in members),
    }


def trains_awaiting_decision_by(
    user, *, policies: list[ApprovalPolicy] | None = None, limit: int = 200
) -> list[dict]:
    """Submitted trains this user may approve now, each with its members, planned time and the
    union policy's rules still short that they are eligible for: the inbox's train items. A
    fixed number of queries however many trains."""
    trains = list(
        _with_members_prefetched().filter(state=TrainState.SUBMITTED).order_by("id")[:limit]
    )
    if not trains:
        return []  # one query when no train waits for anybody
    now = timezone.now()
    policies = active_policies() if policies is None else policies
    found = (
        _inbox_item(train, user, now=now, policies=policies, awaiting=True) for train in trains
    )
    return [item for item in found if item is not None]


def train_inbox_item(user, pk: int) -> dict | None:
    """One train as the inbox shows it, whether or not it still awaits this user (a refused
    decision is shown in place)."""
    train = _with_members_prefetched().filter(pk=pk).first()
    if train is None:
        return None
    return _inbox_item(train, user, now=timezone.now(), policies=active_policies(), awaiting=False)


def decision_outcome(train: Train) -> str:
    """Where a train stands after a decision, in a few words for the inbox."""
    if train.state == TrainState.REJECTED:
        return "Rejected — its members are cancelled"
    if train.state != TrainState.SUBMITTED:
        return f"Approved — the train is {train.get_state_display().lower()}"
    status = train_approval_status(train, train_members(train), now=timezone.now())
    missing = sum(rule_status.missing for rule_status in status.rules)
    return f"Approved — {missing} more approval{'s' if missing != 1 else ''} needed"
