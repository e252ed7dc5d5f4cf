import socket

from celery import shared_task

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
