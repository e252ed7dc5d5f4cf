from datetime import timedelta

from django.db import connection
from django.utils import timezone

from apps.core.models import WorkerHeartbeat

# Beat runs the heartbeat every 30 s; three missed beats mean no worker is taking work.
WORKER_STALE_AFTER = timedelta(seconds=90)


def system_health() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database_ok = True
    except Exception:  # any failure here means "unhealthy", whatever the driver raised
        database_ok = False
    latest = WorkerHeartbeat.objects.order_by("-last_seen").first() if database_ok else None
    workers_ok = bool(latest and timezone.now() - latest.last_seen <= WORKER_STALE_AFTER)
    return {
        "database": "ok" if database_ok else "unreachable",
        "workers": "ok" if workers_ok else "no recent heartbeat",
        "worker_last_seen": latest.last_seen.isoformat() if latest else None,
        "healthy": database_ok,
    }
