"""Driving the executor in the test process: the same code a Celery worker runs, through the
real `kubernetes` client over HTTP."""

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from apps.catalog.models import Cluster
from apps.releases import services as release_services
from apps.releases.models import Release, ReleaseState, ReleaseTransition
from apps.rollouts import services
from apps.rollouts.kube import Kube
from apps.rollouts.models import Rollout, RolloutState

RUNNABLE = (RolloutState.RUNNING, RolloutState.ROLLING_BACK, RolloutState.PENDING)


def drive(rollout: Rollout, *, until=None, timeout: float = 30.0) -> Rollout:
    """Run the executor until the rollout stops moving (or `until` holds), as workers would:
    each call does one step's worth of work; waits are skipped by clearing next_run_at."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rollout.refresh_from_db()
        if until is not None and until(rollout):
            return rollout
        if rollout.state not in RUNNABLE:
            return rollout
        Rollout.objects.filter(pk=rollout.pk).update(next_run_at=None)
        services.rollout_advance(rollout.pk)
        time.sleep(0.05)
    raise AssertionError(
        f"rollout {rollout.pk} still {rollout.state} at step {rollout.current_step}"
    )


def release_of(service, version: str, *, env: str = "dev", actor) -> Release:
    environment = service.environments.get(name=env)
    start = timezone.now() - timedelta(minutes=1)
    release = release_services.release_create(
        actor=actor,
        service=service,
        environment=environment,
        version=version,
        title=version,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    return release_services.release_submit(actor=actor, release=release)


def finishes(release_id: int) -> list[tuple[str, str]]:
    """The release's finishing transitions as (from, to), in order: the events the reports
    record as its deployment."""
    finished = (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK)
    return list(
        ReleaseTransition.objects.filter(release_id=release_id, to_state__in=finished)
        .order_by("at", "id")
        .values_list("from_state", "to_state")
    )


def writes_to(
    request_log: Path, service_name: str, *, namespace: str = "", after: int = 0
) -> Counter:
    """The writes (anything but GET) the simulator took about one service's objects, from its
    request log: (method, path with the service's name as SERVICE and the namespace as NS) ->
    count. A refused request (4xx: a body cut short by a killed client, a delete of what is
    gone) changed nothing and is not counted. `namespace` keeps to one namespace; `after` skips
    the log's first lines."""
    writes = Counter()
    for line in request_log.read_text().splitlines()[after:]:
        _, method, target, status = line.split(" ")
        segments = target.split("?", 1)[0].split("/")
        if method == "GET" or int(status) >= 400:
            continue
        if not any(s.startswith(service_name) for s in segments):
            continue
        if "namespaces" in segments:
            at = segments.index("namespaces") + 1
            if namespace and segments[at] != namespace:
                continue
            segments[at] = "NS"
        segments = [s.replace(service_name, "SERVICE", 1) for s in segments]
        writes[(method, "/".join(segments))] += 1
    return writes


def log_length(request_log: Path) -> int:
    # Counted in bytes: the drills ask many times a second of a log of thousands of lines.
    return request_log.read_bytes().count(b"\n") if request_log.exists() else 0


def image_in(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The image of Deployment `name` in one cluster; None when it has none."""
    status = Kube.for_cluster(cluster).deployment(namespace, name)
    return status.image if status is not None else None
