from celery import shared_task
from django.db import OperationalError

from apps.core.retries import retried_task


@retried_task("releases.notify", retry_on=(OSError,), max_retries=8)
def release_notify_task(release_id: int, event: str, transition_id: int | None) -> list[str]:
    """Send a release's notifications for one transition (the channels that went out)."""
    from apps.releases.notifications import deliver

    return deliver(release_id=release_id, event=event, transition_id=transition_id)


@shared_task(name="releases.start_due", acks_late=True)
def releases_due_start_task() -> list[int]:
    """Beat, every minute: start the due releases whose gates pass (see releases_due_start)."""
    from apps.releases.services import releases_due_start

    return releases_due_start()


@retried_task("releases.auto_promote", retry_on=(OperationalError,), max_retries=3)
def releases_auto_promote_task() -> list[int]:
    """Beat, every minute: Runway's own promotions of what succeeded and soaked in an
    auto-promoting environment (see releases_auto_promote). Idempotent: a release is promoted
    automatically once, whatever runs overlap."""
    from apps.releases.services import releases_auto_promote

    return releases_auto_promote()
