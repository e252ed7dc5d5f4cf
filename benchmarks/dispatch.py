"""Rollout dispatch: 200 rollouts started at once, executed by two Celery worker processes
against the cluster simulator. Measured: from the moment each start committed to the first
Kubernetes API call about it (the simulator's request log), and until all have finished.

Rolling updates of one replica, no analysis, a simulator whose pods are ready after 0.3 s: the
time is the platform's (queueing, tasks, database, Kubernetes calls), not waiting."""

import os
import time
from collections import defaultdict
from datetime import timedelta
from functools import partial
from pathlib import Path

from benchmarks.config import Config
from benchmarks.measure import Timing
from benchmarks.server import free_port
from portal import processes

ROLLOUTS = 200
FIRST_CALL_LIMIT_MS = 500.0
FINISH_TIMEOUT_S = 300.0


class Simulator:
    def __init__(self, cfg: Config):
        self.kubeconfig = cfg.var_dir / "kubeconfig-bench.yaml"
        self.request_log = cfg.var_dir / "simulator-requests.log"
        self.request_log.unlink(missing_ok=True)
        (cfg.var_dir / "simulator.log").unlink(missing_ok=True)
        self.process = processes.simulator(
            kubeconfig=self.kubeconfig,
            port=free_port(),
            tick=0.2,
            ready_delay=0.3,
            log=cfg.var_dir / "simulator.log",
            request_log=self.request_log,
        )

    def first_calls(self) -> dict[str, float]:
        """The time of the first request that names each namespace."""
        first: dict[str, float] = {}
        for line in Path(self.request_log).read_text().splitlines():
            at, _method, path, _status = line.split(" ")
            if "/namespaces/" in path:
                namespace = path.split("/namespaces/", 1)[1].split("/", 1)[0].split("?")[0]
                first[namespace] = min(first.get(namespace, float(at)), float(at))
        return first

    def stop(self) -> None:
        processes.stop(self.process)


class Workers:
    """Two worker processes on the rollouts queue, as deploy/kubernetes/ runs them: each a
    thread pool, since rollout steps wait on Kubernetes and the database, with a connection
    pool as large as it. The other queues (a finished rollout's notifications and DORA facts)
    get one worker of their own at a lower CPU priority, as they would get pods of their own
    elsewhere. BENCH_WORKER_POOL=prefork measures two single-process workers."""

    PROCESSES = 2
    THREADS = 8

    def __init__(self, cfg: Config, kubeconfig: Path):
        from django.conf import settings

        from portal.queues import queue_names

        self.pool = os.environ.get("BENCH_WORKER_POOL", "threads")
        threaded = self.pool == "threads"
        base = settings.CELERY_TASK_DEFAULT_QUEUE
        rollouts = f"{base}.rollouts"
        env = cfg.env(KUBECONFIG=str(kubeconfig))
        self.processes = [
            self._start(
                cfg,
                f"bench-{index}",
                env={**env, "DATABASE_POOL_SIZE": str(self.THREADS if threaded else 0)},
                pool=self.pool,
                concurrency=self.THREADS if threaded else 1,
                queues=rollouts,
            )
            for index in range(self.PROCESSES)
        ]
        rest = [queue for queue in queue_names(base) if queue != rollouts]
        other = self._start(cfg, "bench-other", env=env, queues=",".join(rest))
        os.setpriority(os.PRIO_PROCESS, other.pid, 10)
        self.processes.append(other)
        from portal.celery import app

        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5) or []) < len(self.processes):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"the Celery workers did not start; see {cfg.var_dir}")

    @staticmethod
    def _start(cfg: Config, name: str, *, env: dict, **options):
        log = cfg.var_dir / f"worker-{name}.log"
        log.unlink(missing_ok=True)
        return processes.celery_worker(
            log=log,
            env=env,
            name=name,
            loglevel=os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
            **options,
        )

    def stop(self) -> None:
        for process in self.processes:
            processes.stop(process)


def _note_commit(committed: dict[int, float], pk: int) -> None:
    committed[pk] = time.time()


def flush_redis(cfg: Config) -> None:
    import redis

    redis.Redis.from_url(cfg.redis_url).flushdb()


def due_releases(meta: dict, count: int) -> list:
    """In-progress releases, due now, to the dev environment of `count` quiet rolling services
    that have no rollout running."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.catalog.models import Environment
    from apps.releases.models import Release, ReleaseState
    from apps.rollouts.models import ACTIVE_STATES, Rollout

    busy = Rollout.objects.filter(state__in=ACTIVE_STATES).values("environment_id")
    environments = list(
        Environment.objects.filter(name="dev", service__strategy="rolling")
        .exclude(pk__in=busy)
        .select_related("service")
        .order_by("?")[:count]
    )
    Environment.objects.filter(pk__in=[e.pk for e in environments]).update(replicas=1)
    requester = get_user_model().objects.get(username="dev")
    now = timezone.now()
    stamp = int(now.timestamp())
    return Release.objects.bulk_create(
        Release(
            service=environment.service,
            environment=environment,
            version=f"registry.bench.example.com/{environment.service.name}:dispatch-{stamp}",
            title=f"dispatch benchmark {stamp}",
            planned_start=now - timedelta(minutes=1),
            planned_end=now + timedelta(hours=1),
            requester=requester,
            state=ReleaseState.IN_PROGRESS,
            submitted_at=now,
            approved_at=now,
            started_at=now,
        )
        for environment in environments
    )


def start_noted(release, committed: dict[int, float]):
    """Start the release's rollout as the dispatcher does, noting in `committed` when the start
    committed: the hook is registered first, so it runs first after the commit, the moment the
    start is durable, before the task is queued."""
    from django.db import transaction

    from apps.rollouts.services import rollout_start

    with transaction.atomic():
        transaction.on_commit(partial(_note_commit, committed, release.pk))
        return rollout_start(actor=None, release=release)


def first_call_latency(simulator: Simulator, committed: dict[int, float], rollouts) -> Timing:
    """From each start's commit to the first Kubernetes API call naming its namespace."""
    first = simulator.first_calls()
    latency = Timing()
    for rollout in rollouts:
        call, at = first.get(rollout.namespace), committed.get(rollout.release_id)
        if call is not None and at is not None:
            latency.samples_ms.append(max(0.0, (call - at) * 1000))
    return latency


def run(cfg: Config, meta: dict) -> dict:
    from apps.rollouts.models import FINISHED_STATES, Rollout

    flush_redis(cfg)
    simulator = Simulator(cfg)
    workers = None
    try:
        workers = Workers(cfg, simulator.kubeconfig)
        releases = due_releases(meta, ROLLOUTS)
        committed: dict[int, float] = {}
        started = time.time()
        rollouts = [start_noted(release, committed) for release in releases]
        all_started = time.time() - started
        ids = [r.pk for r in releases]
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        states: dict[str, int] = {}
        while time.monotonic() < deadline:
            states = defaultdict(int)
            for state in Rollout.objects.filter(release_id__in=ids).values_list("state", flat=True):
                states[str(state)] += 1
            if sum(states[str(s)] for s in FINISHED_STATES) >= len(ids):
                break
            time.sleep(0.25)
        finished_at = (
            Rollout.objects.filter(release_id__in=ids)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        done = sum(states.get(str(s), 0) for s in FINISHED_STATES) >= len(ids)
        latency = first_call_latency(simulator, committed, rollouts)
        result = {
            "rollouts": len(ids),
            "workers": f"{Workers.PROCESSES} processes, {workers.pool} pool",
            "start_all_seconds": round(all_started, 2),
            "first_call": latency.as_dict(),
            "first_call_missing": len(ids) - len(latency.samples_ms),
            "states": dict(states),
            "all_finished_seconds": round(finished_at.timestamp() - started, 2)
            if done and finished_at
            else None,
            "target_met": done and latency.p95 <= FIRST_CALL_LIMIT_MS,
            "note": f"started in {all_started:.1f} s; final states {dict(states)}",
        }
        print(
            f"   {len(ids)} rollouts: started in {all_started:.2f} s; first Kubernetes call "
            f"p50 {latency.p50:.0f} ms, p95 {latency.p95:.0f} ms; all finished after "
            f"{result['all_finished_seconds']} s; states {dict(states)}"
        )
        return result
    finally:
        if workers is not None:
            workers.stop()
        simulator.stop()
