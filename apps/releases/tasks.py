from celery import shared_task

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
