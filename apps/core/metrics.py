"""Runway's Prometheus metrics.

Three sources, one exposition format:
- each process's own: request latency per view (django-prometheus's middleware, in web
  processes) and task duration per task (the Celery signals below, in workers);
- the state of the whole installation, read when scraped: rollouts by state, the outbox's
  backlog and the depth of each queue. Apps add gauges of their own with `register_gauge`,
  so this module names none of them.

Web processes serve both at `/metrics` (apps/core/views.py); a worker serves its own on
WORKER_METRICS_PORT. Several processes behind one port (uvicorn --workers, a prefork pool) share
their figures through PROMETHEUS_MULTIPROC_DIR, as the client library documents.
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

TASK_DURATION = Histogram(
    "runway_task_duration_seconds",
    "Time a Celery task took to run, by task.",
    ["task"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


@dataclass(frozen=True)
class Gauge:
    name: str
    documentation: str
    labels: tuple[str, ...]
    # Rows of (label values, value); it runs at every scrape, so a query or two at most.
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]]


_gauges: dict[str, Gauge] = {}


def register_gauge(gauge: Gauge) -> None:
    _gauges[gauge.name] = gauge


class StateCollector(Collector):
    """The registered gauges, read at each scrape. A gauge that cannot be read (the database or
    the broker away) is left out rather than failing the scrape."""

    def collect(self):
        for gauge in _gauges.values():
            try:
                rows = list(gauge.read())
            except Exception:
                logger.warning("metrics: %s could not be read", gauge.name, exc_info=True)
                continue
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
            for labels, value in rows:
                family.add_metric(list(labels), value)
            yield family


_state = CollectorRegistry(auto_describe=False)
_state.register(StateCollector())


def exposition() -> bytes:
    """This process's metrics (or all the processes' that share a multiprocess directory),
    then the installation's state."""
    return generate_latest(process_registry()) + generate_latest(_state)


def process_registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


# --- Task timing: connected in portal/celery.py --------------------------------------------------

_started: dict[str, float] = {}


def task_started(task_id: str | None) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


def task_finished(task_id: str | None, task_name: str) -> None:
    started = _started.pop(task_id or "", None)
    if started is not None:
        TASK_DURATION.labels(task=task_name).observe(time.monotonic() - started)


# --- The core's own gauges ------------------------------------------------------------------------


def _outbox_backlog():
    from apps.core.models import OutboxMessage

    yield (), float(OutboxMessage.objects.filter(sent_at__isnull=True).count())


def _queue_depths():
    from django.conf import settings
    from kombu import Connection

    from portal.queues import queue_names

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as broker:
        for name in queue_names(settings.CELERY_TASK_DEFAULT_QUEUE):
            # A channel each: on AMQP a queue not declared yet closes the channel it was asked on.
            channel: Any = broker.channel()  # a transport's own channel class
            try:
                waiting = channel.queue_declare(name, passive=True).message_count
            except broker.channel_errors:
                waiting = 0  # not declared yet (no worker has consumed it): nothing waits
            finally:
                with contextlib.suppress(*broker.channel_errors):
                    channel.close()
            yield (name,), float(waiting)


register_gauge(
    Gauge(
        "runway_outbox_backlog", "Tasks kept in the outbox, not yet published.", (), _outbox_backlog
    )
)
register_gauge(
    Gauge("runway_queue_depth", "Tasks waiting in each Celery queue.", ("queue",), _queue_depths)
)
