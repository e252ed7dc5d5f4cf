import socket

from celery import shared_task

from apps.core import outbox
from apps.core.services import worker_heartbeat_record


@shared_task(
    name="core.heartbeat",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=3,
)
def heartbeat() -> str:
    hostname = heartbeat.request.hostname or socket.gethostname()
    worker_heartbeat_record(hostname=hostname)
    return hostname


@shared_task(name="core.outbox_flush", acks_late=True, max_retries=0)
def outbox_flush() -> int:
    """Beat, every 10 s, and each worker as it starts: publish what the broker missed while it
    was down, and forget what went out a day ago. No retries: the next round does it."""
    published = outbox.outbox_flush()
    outbox.outbox_prune()
    return published
