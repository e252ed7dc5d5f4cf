"""The Celery application. Settings live in portal/settings.py under the CELERY_ prefix."""

import os
from functools import partial

from celery import Celery, signals
from celery.worker.consumer import Consumer as CeleryConsumer

from portal import redis_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("runway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
redis_broker.install(app)


class Consumer(CeleryConsumer):
    """A worker's consumer that is back within seconds of its broker. Celery's waits 2, 4, 6 ...
    up to 30 s between attempts to reconnect (kombu's defaults; no setting reaches them), so after
    a 30 s outage a worker stayed idle for another 12."""

    def ensure_connected(self, conn):
        conn.ensure_connection = partial(
            conn.ensure_connection, interval_start=1, interval_step=1, interval_max=3
        )
        return super().ensure_connected(conn)


@signals.worker_ready.connect
def _flush_outbox(**_):
    """Tasks whose publishing failed while the broker was down go out as soon as a worker is
    up, rather than at beat's next round."""
    from apps.core.outbox import send_task_quietly

    send_task_quietly("core.outbox_flush")


@signals.before_task_publish.connect
def _carry_request_id(headers=None, **_):
    """Tasks queued while serving a request keep its id, so their log lines and audit rows
    can be traced back to it."""
    from apps.core.request_context import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault("runway_request_id", request_id)


@signals.task_prerun.connect
def _restore_request_id(task=None, task_id=None, **_):
    from apps.core.request_context import bind_request

    request_id = getattr(task.request, "runway_request_id", None) if task else None
    bind_request(request_id=request_id or f"task-{task_id}", ip=None)


@signals.task_prerun.connect
def _time_task(task_id=None, **_):
    from apps.core import metrics

    metrics.task_started(task_id)


@signals.task_postrun.connect
def _record_task_time(task=None, task_id=None, **_):
    from apps.core import metrics

    metrics.task_finished(task_id, task.name if task else "unknown")


@signals.worker_ready.connect
def _serve_metrics(**_):
    """A worker's task durations, for Prometheus, on WORKER_METRICS_PORT (apps/core/metrics.py)."""
    from django.conf import settings
    from prometheus_client import start_http_server

    from apps.core.metrics import process_registry

    if settings.WORKER_METRICS_PORT:
        start_http_server(settings.WORKER_METRICS_PORT, registry=process_registry())


@signals.task_postrun.connect
def _forget_request_id(**_):
    from apps.core.request_context import bind_request

    bind_request(request_id=None, ip=None)
