"""Release trains at scale: a 200-service train over the 10,000-service catalog.

Planned: the waves for 200 members that depend on each other, worked out from the catalog's
dependency graph read from PostgreSQL (what a request to plan or submit a train does), sampled.
Dispatched: the train approved and started, executed by the Procfile's worker against the
cluster simulator; measured from the moment the start committed to the first Kubernetes API
call about each member of the first wave (the simulator's request log)."""

import time
from datetime import timedelta
from pathlib import Path

from benchmarks.config import Config
from benchmarks.dispatch import Simulator, Workers, flush_redis
from benchmarks.measure import Timing, percentile, timed

MEMBERS = 200
PLAN_LIMIT_MS = 100.0
FIRST_CALL_LIMIT_MS = 1000.0
FIRST_CALLS_TIMEOUT_S = 120.0
DEPLOYMENT_SUFFIXES = ("", "-canary", "-blue", "-green")


def middling_members(graph: dict[str, set[str]], count: int) -> list[str]:
    """`count` services of middling use (by how many depend on them), each depending on
    something: as a train of a product's services is, they depend on popular services outside
    the train and now and then on each other, so most start in the first wave."""
    from apps.trains.planning import plan_waves

    used_by: dict[str, int] = {}
    for targets in graph.values():
        for target in targets:
            used_by[target] = used_by.get(target, 0) + 1
    depending = sorted(
        (name for name in graph if graph[name]), key=lambda n: (-used_by.get(n, 0), n)
    )
    if len(depending) < count:
        raise RuntimeError(f"fewer than {count} services with dependencies in the catalog")
    middle = max(0, len(depending) // 2 - count // 2)
    members = depending[middle : middle + count]
    plan_waves(members, graph)  # PlanCycle, naming it, if the catalog has one among them
    return members


def _first_calls(request_log: Path, names: set[str]) -> dict[str, float]:
    """The time of the first request about each service's Deployments."""
    owners = {name + suffix: name for name in names for suffix in DEPLOYMENT_SUFFIXES}
    first: dict[str, float] = {}
    for line in request_log.read_text().splitlines():
        at, _method, path, _status = line.split(" ")
        for segment in path.split("?", 1)[0].split("/"):
            name = owners.get(segment)
            if name is not None and name not in first:
                first[name] = float(at)
    return first


def _approved_train(members: list[str]):
    """The train requested by a platform admin, then approved as its policies would (the
    approval itself is measured elsewhere): its members wait in `approved`."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from apps.catalog.models import Environment
    from apps.releases.models import Release, ReleaseState
    from apps.trains import services
    from apps.trains.models import Train, TrainState

    admin = get_user_model().objects.get(username="admin")
    Environment.objects.filter(service__name__in=members, name="dev").update(replicas=1)
    stamp = int(time.time())
    start = timezone.now() - timedelta(minutes=1)  # due: nothing holds a member back
    with transaction.atomic():
        train = services.train_create(
            actor=admin,
            name=f"bench train {stamp}",
            environment_name="dev",
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            members=[
                {"service": name, "version": f"registry.bench.example.com/{name}:train-{stamp}"}
                for name in members
            ],
            max_parallel=MEMBERS,
        )
        Train.objects.filter(pk=train.pk).update(
            state=TrainState.APPROVED, plan_frozen_at=timezone.now()
        )
        Release.objects.filter(train_membership__train=train).update(
            state=ReleaseState.APPROVED, submitted_at=timezone.now(), approved_at=timezone.now()
        )
    return Train.objects.get(pk=train.pk), admin


def _set_aside(train) -> None:
    """The train and its members' rollouts, left mid-flight when the workers stop, are ended in
    the database: a later run on the kept database (--keep-db) starts the same services, whose
    rollouts would otherwise still count as active there."""
    from django.utils import timezone

    from apps.rollouts.models import ACTIVE_STATES, Rollout, RolloutState
    from apps.trains.models import Train, TrainState

    now = timezone.now()
    Rollout.objects.filter(release__train_membership__train=train, state__in=ACTIVE_STATES).update(
        state=RolloutState.ABORTED, finished_at=now, next_run_at=None
    )
    Train.objects.filter(pk=train.pk).update(state=TrainState.CANCELLED)


def run(cfg: Config, meta: dict) -> dict:
    from django.db import transaction

    from apps.releases.models import ChangeWindow
    from apps.trains import selectors, services

    windows: list[int] = []
    members = middling_members(selectors.catalog_dependencies(), MEMBERS)
    plan_timing, _ = timed(
        lambda: selectors.plan_for(members), warmup=cfg.warmup, samples=cfg.samples
    )
    waves = [len(wave) for wave in selectors.plan_for(members)]
    print(
        f"   plan of {len(members)} members: p50 {plan_timing.p50:.1f} ms, p95 "
        f"{plan_timing.p95:.1f} ms; waves {waves}"
    )

    flush_redis(cfg)
    simulator = Simulator(cfg)
    workers, train = None, None
    try:
        workers = Workers(cfg, simulator.kubeconfig)
        train, admin = _approved_train(members)
        first_wave = set(train.plan[0])
        # The organisation's change windows would hold the members outside office hours: set
        # aside while the train runs (and put back), as the figure is the dispatch's.
        windows = list(ChangeWindow.objects.filter(is_active=True).values_list("pk", flat=True))
        ChangeWindow.objects.filter(pk__in=windows).update(is_active=False)
        with transaction.atomic():
            services.train_start(actor=admin, train=train)
        committed = time.time()
        first: dict[str, float] = {}
        deadline = time.monotonic() + FIRST_CALLS_TIMEOUT_S
        while time.monotonic() < deadline:
            first = _first_calls(simulator.request_log, first_wave)
            if len(first) == len(first_wave):
                break
            time.sleep(0.25)
        latency = Timing([max(0.0, (at - committed) * 1000) for at in first.values()])
    finally:
        ChangeWindow.objects.filter(pk__in=windows).update(is_active=True)
        if workers is not None:
            workers.stop()
        simulator.stop()
        if train is not None:
            _set_aside(train)
    missing = len(first_wave) - len(first)
    result = {
        "members": len(members),
        "waves": waves,
        "plan": plan_timing.as_dict(),
        "plan_target_met": plan_timing.p95 <= PLAN_LIMIT_MS,
        "first_wave": len(first_wave),
        "first_call": latency.as_dict(),
        "first_call_missing": missing,
        "first_call_last_ms": round(percentile(latency.samples_ms, 1.0), 1)
        if latency.samples_ms
        else None,
        "dispatch_target_met": missing == 0 and latency.p95 <= FIRST_CALL_LIMIT_MS,
    }
    print(
        f"   first wave of {len(first_wave)}: start → first Kubernetes call p50 "
        f"{latency.p50:.0f} ms, p95 {latency.p95:.0f} ms ({missing} without a call)"
    )
    return result
