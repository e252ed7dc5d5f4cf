"""Live status fan-out: many browsers watch one rollout's server-sent events on one web process;
the rollout changes; how long until each watcher hears of it.

The change is made as a service makes it: the row is saved, then apps.rollouts.live.announce
publishes after the commit. Latency is from just before the save to the moment each watcher
has read the `changed` event."""

import asyncio
import resource
import time
from datetime import timedelta

from benchmarks.config import Config
from benchmarks.measure import Timing
from benchmarks.server import WebServer, session_for

WATCHERS = 500
CHANGES = 10
CONNECTS_PER_SECOND = 200  # people open pages over a moment, not in the same millisecond
LATENCY_LIMIT_MS = 1000.0


def _rollout_to_watch():
    """A paused rollout nobody runs: its row changes only when the benchmark changes it."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.catalog.models import Environment
    from apps.releases.models import Release, ReleaseState
    from apps.rollouts.models import ACTIVE_STATES, Rollout, RolloutState

    busy = Rollout.objects.filter(state__in=ACTIVE_STATES).values("environment_id")
    environment = (
        Environment.objects.filter(name="staging").exclude(pk__in=busy).select_related("service")
    ).first()
    if environment is None:
        raise RuntimeError("every staging environment has an active rollout: none to watch")
    now = timezone.now()
    release = Release.objects.create(
        service=environment.service,
        environment=environment,
        version=f"registry.bench.example.com/{environment.service.name}:watched",
        title="fan-out benchmark",
        planned_start=now - timedelta(minutes=5),
        planned_end=now + timedelta(hours=1),
        requester=get_user_model().objects.get(username="dev"),
        state=ReleaseState.IN_PROGRESS,
    )
    return Rollout.objects.create(
        release=release,
        service=environment.service,
        environment=environment,
        cluster=environment.cluster,
        namespace=environment.namespace,
        strategy=environment.service.strategy,
        image=release.version,
        state=RolloutState.PAUSED,
        started_at=now,
    )


def _change(rollout_id: int) -> float:
    """Change the rollout as a service would; returns the time just before the write."""
    from django.db import transaction
    from django.db.models import F

    from apps.rollouts import live
    from apps.rollouts.models import Rollout

    started = time.time()
    with transaction.atomic():
        rollout = Rollout.objects.select_for_update().get(pk=rollout_id)
        rollout.manual_interventions = F("manual_interventions") + 1
        rollout.save()
        live.announce(rollout_id)
    return started


async def _watch(session, url: str, ready: asyncio.Event, received: list, stop: asyncio.Event):
    async with session.get(url) as response:
        if response.status != 200:
            raise RuntimeError(f"stream answered HTTP {response.status}")
        event = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("retry:"):
                ready.set()
            elif line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line == "" and event:
                if event == "changed":
                    received.append(time.time())
                event = ""
            if stop.is_set():
                return


async def _scenario(url: str, cookie: str, rollout_id: int, watchers: int, changes: int):
    import aiohttp
    from asgiref.sync import sync_to_async

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < watchers * 2 + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, watchers * 2 + 1024), hard))
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(watchers)]
    inboxes: list[list[float]] = [[] for _ in range(watchers)]
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"Cookie": cookie}
    ) as session:
        tasks = []
        for n in range(watchers):
            tasks.append(asyncio.create_task(_watch(session, url, readies[n], inboxes[n], stop)))
            await asyncio.sleep(1 / CONNECTS_PER_SECOND)
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        connected = sum(r.is_set() for r in readies)
        change = sync_to_async(_change, thread_sensitive=False)
        latencies, expected = [], 0
        for _ in range(changes):
            await asyncio.sleep(1.0)
            before = [len(inbox) for inbox in inboxes]
            at = await change(rollout_id)
            expected += connected
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if all(len(inbox) > before[n] for n, inbox in enumerate(inboxes)):
                    break
                await asyncio.sleep(0.01)
            for n, inbox in enumerate(inboxes):
                if len(inbox) > before[n]:
                    latencies.append((inbox[before[n]] - at) * 1000)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception()]
    return connected, latencies, expected, len(failed)


def run(cfg: Config, meta: dict, server: WebServer, *, watchers: int = WATCHERS) -> dict:
    rollout = _rollout_to_watch()
    cookie = f"sessionid={session_for('dev')}"
    url = f"{server.url}/rollouts/{rollout.pk}/stream/"
    connected, samples, expected, failed = asyncio.run(
        _scenario(url, cookie, rollout.pk, watchers, CHANGES)
    )
    latency = Timing(samples_ms=samples)
    result = {
        "watchers": watchers,
        "connected": connected,
        "changes": CHANGES,
        "expected": expected,
        "received": len(samples),
        "failed_streams": failed,
        "latency": latency.as_dict(),
        "rss_mb": server.rss_mb(),
        "target_met": len(samples) == expected and latency.p95 <= LATENCY_LIMIT_MS,
    }
    print(
        f"   {connected}/{watchers} watchers, {len(samples)}/{expected} events: p50 "
        f"{latency.p50:.0f} ms, p95 {latency.p95:.0f} ms; web RSS {result['rss_mb']} MB"
    )
    return result
