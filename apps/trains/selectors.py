"""Reads for trains: lists, a train's members, and the catalog graph the planner walks."""

from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from apps.catalog.models import Dependency
from apps.releases.models import Release
from apps.trains.models import Train, TrainApproval, TrainMember, TrainTransition
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


def plan_for(service_names: list[str]) -> list[list[str]]:
    """The waves for these members, or PlanCycle: one query whatever their number."""
    return plan_waves(service_names, catalog_dependencies())


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
