from celery import shared_task
from django.db import IntegrityError, transaction

from apps.releases import notifications, selectors, services
from apps.releases.models import NotificationDelivery, Release


@shared_task(
    name="releases.notify",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
)
def notify_release(release_id: int, event: str, transition_id: int | None) -> list[str]:
    """Send each channel's message once for this transition; a retry skips what went out."""
    release = (
        Release.objects.select_related("service", "environment", "requester")
        .filter(pk=release_id)
        .first()
    )
    if release is None:
        return []  # deleted since: nothing to tell anyone
    sent = []
    for channel, send in notifications.CHANNELS.items():
        key = f"{transition_id}:{event}:{channel}"
        if NotificationDelivery.objects.filter(release=release, key=key).exists():
            continue
        send(release, event)
        try:
            with transaction.atomic():
                NotificationDelivery.objects.create(release=release, key=key)
        except IntegrityError:
            continue  # another delivery of the same task got there first
        sent.append(channel)
    return sent


@shared_task(name="releases.start_due", acks_late=True)
def start_due_releases() -> list[int]:
    """Beat, every minute: start every due release whose gates pass; hold the others with the
    reason on the release. The rollouts app picks up releases once they are in progress."""
    started = []
    for release_id in selectors.releases_due().values_list("pk", flat=True)[:200]:
        ok, _ = services.release_begin(release=Release(pk=release_id))
        if ok:
            started.append(release_id)
    return started
