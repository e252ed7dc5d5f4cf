import socket

from celery import shared_task

from apps.core.retries import retried_task


@retried_task("core.heartbeat", retry_on=(Exception,), max_retries=3)
def worker_heartbeat_record_task() -> str:
    from apps.core.services import worker_heartbeat_record

    hostname = worker_heartbeat_record_task.request.hostname or socket.gethostname()
    worker_heartbeat_record(hostname=hostname)
    return hostname


@shared_task(name="core.outbox_flush", acks_late=True, max_retries=0)
def outbox_flush_task() -> int:
    """Beat, every 10 s, and each worker as it starts: publish what the broker missed while it
    was down, and forget what went out a day ago. No retries: the next round does it."""
    from apps.core import outbox

    published = outbox.outbox_flush()
    outbox.outbox_prune()
    return published


@shared_task(name="core.idempotency_keys_forget", acks_late=True, max_retries=0)
def idempotency_keys_forget_task() -> int:
    """Beat, hourly: keys of creates older than a day are forgotten (apps/core/idempotency.py)."""
    from apps.core.idempotency import idempotent_requests_forget

    return idempotent_requests_forget()
