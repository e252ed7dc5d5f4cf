"""Reads for the rollout pages, the service panel, the live stream and the API, each in a fixed
number of queries. Pod counts are the one read that asks the cluster, through kube.py."""

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from django.db.models import (
    Case,
    Count,
    IntegerField,
    Max,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from apps.catalog.models import Environment, Strategy
from apps.rollouts import plans
from apps.rollouts.kube import DeploymentStatus, Kube, KubeError, KubeUnavailable
from apps.rollouts.models import (
    ACTIVE_STATES,
    Rollout,
    RolloutEvent,
    RolloutState,
    RolloutStep,
)
from apps.trains.models import Train

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _RecentEvents(TypedDict):
        recent_events: list[RolloutEvent]

    RolloutWithEvents: TypeAlias = WithAnnotations[Rollout, _RecentEvents]

log = logging.getLogger(__name__)

EVENT_LIMIT = 200  # the page shows the latest events; the API gives them all
# The page asks the cluster for pod counts with a short timeout: a slow API server makes the
# counts say "cluster unreachable", not the page hang.
PAGE_KUBE_TIMEOUT = 3


def rollout_list() -> QuerySet[Rollout]:
    """Rollouts with what a row shows; progress comes from the prefetched steps."""
    return Rollout.objects.select_related(
        "service__owner", "environment", "cluster", "release", "started_by"
    ).prefetch_related(Prefetch("steps", queryset=RolloutStep.objects.order_by("index")))


def rollout_list_active_first() -> QuerySet[Rollout]:
    """The rollouts page: what is still moving first, then the most recent."""
    finished_last = Case(
        When(state__in=ACTIVE_STATES, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return rollout_list().order_by(finished_last, "-created_at", "-id")


def rollout_detail_queryset(
    *, event_limit: int | None = EVENT_LIMIT
) -> "QuerySet[RolloutWithEvents]":
    """A rollout with its steps and events, newest event first in `recent_events`."""
    events = RolloutEvent.objects.order_by("-at", "-id")
    if event_limit is not None:
        events = events[:event_limit]
    return rollout_list().prefetch_related(
        Prefetch("events", queryset=events, to_attr="recent_events")
    )


def rollouts_by_state() -> list[tuple[tuple[str], float]]:
    """Every state with its number of rollouts, none left out (a metric, apps/core/metrics.py)."""
    counts = dict(Rollout.objects.values_list("state").annotate(n=Count("pk")).order_by())
    return [((state,), float(counts.get(state, 0))) for state in RolloutState.values]


def rollout_history_queryset() -> QuerySet[Rollout]:
    """A rollout with its steps and every event, oldest first (the API)."""
    return rollout_list().prefetch_related(
        Prefetch("events", queryset=RolloutEvent.objects.order_by("at", "id"))
    )


def service_rollouts(*, service, limit: int = 8) -> list[Rollout]:
    return list(
        Rollout.objects.filter(service=service)
        .select_related("environment", "started_by")
        .prefetch_related(Prefetch("steps", queryset=RolloutStep.objects.order_by("index")))
        .order_by("-created_at", "-id")[:limit]
    )


# --- Versions, for the live stream ------------------------------------------------------------
# A version changes whenever what a page shows may have changed. The page renders with its
# version; the stream compares, so a change between rendering and connecting is not missed.


def environment_change_refusal(environment: Environment, fields: Collection[str]) -> str:
    """Why the `fields` (cluster, replicas) of `environment` may not change now: a rollout there
    is active, and runs with the values it started with, or a release there soaks between two
    of its rings, whose next ring would start with other values. "" when neither. The catalog
    asks (apps/catalog/environments.py), under the environment's row lock."""
    active = (
        Rollout.objects.filter(environment=environment)
        .filter(Q(state__in=ACTIVE_STATES) | Q(next_ring_at__isnull=False, is_rollback=False))
        .order_by("pk")
        .first()
    )
    if active is None:
        return ""
    if active.state not in ACTIVE_STATES:
        return (
            f"Release #{active.release_id} to {environment.name} is between two of its rings: "
            f"change the {' and '.join(fields)} once it has finished."
        )
    return (
        f"Rollout #{active.pk} to {environment.name} is {active.get_state_display().lower()}: "
        f"change the {' and '.join(fields)} once it has finished."
    )


def _stamp(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1_000_000))


def rollout_stamp(rollout: Rollout) -> str:
    return _stamp(rollout.updated_at)


def rollout_version(*, rollout_id: int) -> str | None:
    """None when there is no such rollout."""
    updated = Rollout.objects.filter(pk=rollout_id).values_list("updated_at", flat=True).first()
    return _stamp(updated) if updated else None


def rollouts_version() -> str:
    """Changes when any rollout changes, starts or disappears."""
    found = Rollout.objects.aggregate(count=Count("id"), latest=Max("updated_at"))
    return f"{found['count']}-{_stamp(found['latest']) if found['latest'] else 0}"


def train_version(*, train_id: int) -> str | None:
    """Changes when the train, one of its members' releases or one of their rollouts changes
    or starts; None when there is no such train. One query, whatever the number of members."""
    found = Train.objects.filter(pk=train_id).aggregate(
        train=Max("updated_at"),
        releases=Max("members__release__updated_at"),
        rollouts=Max("members__release__rollouts__updated_at"),
    )
    if found["train"] is None:
        return None
    return _stamp(max(moment for moment in found.values() if moment is not None))


# --- Pods per version ---------------------------------------------------------------------


@dataclass(frozen=True)
class VersionPods:
    role: str  # what this Deployment is to the rollout: stable, canary, new, a colour
    deployment: str
    version: str  # the image Runway means it to run
    desired: int  # from the rollout's own records
    live: DeploymentStatus | None = None  # from the cluster, when asked and it answered


@dataclass(frozen=True)
class PodCounts:
    versions: list[VersionPods]
    reachable: bool | None  # None: the cluster was not asked
    problem: str = ""


def planned_pods(rollout: Rollout) -> list[VersionPods]:
    """The Deployments this rollout manages and the pods each should have, from its records."""
    name, total = rollout.service.name, rollout.replicas
    new, old = rollout.image, rollout.previous_image
    state, plan = rollout.state, rollout.plan_state or {}
    reverted = state in (RolloutState.ROLLED_BACK, RolloutState.ABORTED, RolloutState.FAILED)
    if rollout.strategy == Strategy.BLUE_GREEN:
        active, preview = plan.get("active"), plan.get("preview")
        if not preview:
            return []  # the preview colour is chosen when the first step runs
        if rollout.is_rollback:
            versions = [VersionPods(f"{preview} (rolled back)", f"{name}-{preview}", "", 0)]
            if active:
                versions.insert(
                    0, VersionPods(f"{active} (restored)", f"{name}-{active}", new, total)
                )
            return versions
        versions = [
            VersionPods(f"{preview} (new)", f"{name}-{preview}", new, 0 if reverted else total)
        ]
        if active:
            done = state == RolloutState.SUCCEEDED  # the old colour was scaled down last
            versions.append(
                VersionPods(f"{active} (previous)", f"{name}-{active}", old, 0 if done else total)
            )
        return versions
    if rollout.strategy == Strategy.CANARY and not (
        rollout.is_rollback or plan.get("first") or not old
    ):
        if state == RolloutState.SUCCEEDED:
            canary, stable, stable_version = 0, total, new
        elif reverted or state == RolloutState.ROLLING_BACK:
            canary, stable, stable_version = 0, total, old
        else:
            (canary, stable), stable_version = plans.canary_split(total, rollout.weight), old
        return [
            VersionPods("stable", name, stable_version, stable),
            VersionPods("canary", f"{name}-canary", new, canary),
        ]
    if reverted and not rollout.is_rollback:
        return [VersionPods("previous", name, old, total if old else 0)]
    role = "stable" if rollout.strategy == Strategy.CANARY else "new"
    return [VersionPods("restored" if rollout.is_rollback else role, name, new, total)]


def rollout_pods(*, rollout: Rollout) -> PodCounts:
    """Planned pods per version, with the cluster's counts when it answers. Never raises for the
    cluster's sake: an unreachable or refusing cluster is reported, not propagated."""
    versions = planned_pods(rollout)
    if not versions:
        return PodCounts(versions, reachable=None)
    try:
        kube = Kube.for_cluster(rollout.cluster)
        kube.timeout = min(kube.timeout, PAGE_KUBE_TIMEOUT)
        versions = [
            replace(pods, live=kube.deployment(rollout.namespace, pods.deployment))
            for pods in versions
        ]
    except (KubeUnavailable, KubeError) as exc:
        return PodCounts(versions, reachable=False, problem=str(exc))
    except Exception as exc:  # whatever else the client raises: the page still renders
        log.warning(
            "cannot ask cluster %s for rollout %s", rollout.cluster, rollout.pk, exc_info=True
        )
        return PodCounts(versions, reachable=False, problem=f"{type(exc).__name__}: {exc}")
    return PodCounts(versions, reachable=True)
