"""Sustained rollouts: 1,000 an hour (one every 3.6 s) for 10 minutes, executed by the rollout
workers as dispatch.py deploys them, against the cluster simulator.

Measured: every rollout finished, and no step was applied twice. Every rollout here is the same
rolling update of one replica, so each makes the same writes to its cluster: the simulator's
request log gives each rollout's writes (method and path, with its own names taken out), and a
rollout whose writes differ from the most common set, or whose transitions repeat a state, had a
step doubled (or lost). BENCH_SUSTAINED_MINUTES shortens the run while developing."""

import os
import time
from collections import Counter
from pathlib import Path

from benchmarks.config import Config
from benchmarks.dispatch import (
    Simulator,
    Workers,
    due_releases,
    first_call_latency,
    flush_redis,
    start_noted,
)

PER_HOUR = 1000
MINUTES = float(os.environ.get("BENCH_SUSTAINED_MINUTES", "10"))
FINISH_GRACE_S = 120.0


def run(cfg: Config, meta: dict) -> dict:
    from apps.rollouts.models import FINISHED_STATES, Rollout, RolloutEvent, RolloutState

    count = max(1, round(PER_HOUR * MINUTES / 60))
    interval = 3600 / PER_HOUR
    flush_redis(cfg)
    simulator = Simulator(cfg)
    workers = None
    try:
        workers = Workers(cfg, simulator.kubeconfig)
        releases = due_releases(meta, count)
        committed: dict[int, float] = {}
        started = time.monotonic()
        rollouts = []
        for index, release in enumerate(releases):
            time.sleep(max(0.0, started + index * interval - time.monotonic()))
            rollouts.append(start_noted(release, committed))
        deadline = time.monotonic() + FINISH_GRACE_S
        ids = [r.pk for r in rollouts]
        while time.monotonic() < deadline:
            unfinished = Rollout.objects.filter(pk__in=ids).exclude(state__in=FINISHED_STATES)
            if not unfinished.exists():
                break
            time.sleep(1)
        took = time.monotonic() - started

        states = Counter(
            str(s) for s in Rollout.objects.filter(pk__in=ids).values_list("state", flat=True)
        )
        writes = {
            r.pk: _writes(simulator.request_log, r.service.name, r.namespace) for r in rollouts
        }
        usual = Counter(frozenset(w.items()) for w in writes.values()).most_common(1)[0][0]
        doubled_writes = [pk for pk, w in writes.items() if frozenset(w.items()) != usual]
        repeated = []
        for rollout in rollouts:
            entered = list(
                rollout.events.filter(kind=RolloutEvent.Kind.TRANSITION).values_list(
                    "to_state", flat=True
                )
            )
            if len(entered) != len(set(entered)):
                repeated.append(rollout.pk)
        latency = first_call_latency(simulator, committed, rollouts)
        succeeded = states.get(str(RolloutState.SUCCEEDED), 0)
        result = {
            "rollouts": len(ids),
            "per_hour": PER_HOUR,
            "minutes": MINUTES,
            "workers": f"{Workers.PROCESSES} processes, {workers.pool} pool",
            "states": dict(states),
            "steps_doubled": len(set(doubled_writes) | set(repeated)),
            # What each rollout wrote to its cluster: none would make the comparison empty.
            "writes_per_rollout": sum(count for _, count in usual),
            "compared": len(writes),
            "first_call": latency.as_dict(),
            "seconds": round(took, 1),
            "target_met": succeeded == len(ids)
            and not doubled_writes
            and not repeated
            and bool(usual),
        }
        print(
            f"   {len(ids)} rollouts over {MINUTES:g} min ({PER_HOUR}/h): states {dict(states)}; "
            f"{result['steps_doubled']} with a step doubled (each wrote "
            f"{result['writes_per_rollout']} times to its cluster; {len(writes)} compared); "
            f"first Kubernetes call p50 {latency.p50:.0f} ms, p95 {latency.p95:.0f} ms"
        )
        return result
    finally:
        if workers is not None:
            workers.stop()
        simulator.stop()


def _writes(request_log: Path, name: str, namespace: str) -> Counter:
    """The writes to one namespace (method and path, its names taken out, so rollouts compare).
    A create is a POST to the collection, without the object's name: only a rollout with a
    namespace of its own in the run can be told from the log."""
    writes: Counter = Counter()
    for line in request_log.read_text().splitlines():
        _, method, target, status = line.split(" ")
        segments = target.split("?", 1)[0].split("/")
        if method == "GET" or int(status) >= 400 or "namespaces" not in segments:
            continue
        at = segments.index("namespaces") + 1
        if segments[at] != namespace:
            continue
        segments[at] = "NS"
        segments = [s.replace(name, "NAME", 1) if s.startswith(name) else s for s in segments]
        writes[(method, "/".join(segments))] += 1
    return writes
