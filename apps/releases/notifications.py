"""Release notifications by e-mail and an optional Slack-compatible webhook.

Services call `queue()` in their transaction; the message goes out from a Celery task after it
commits, through the outbox, so a broker that is down delays a message but never loses it. One
task per transition, and each (transition, channel) is delivered once: a retried or repeated
task skips what already went out.
"""

import json
import logging
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from apps.accounts.models import Role, User
from apps.core import outbox
from apps.releases.models import NotificationDelivery, Release
from apps.releases.tasks import release_notify_task

log = logging.getLogger(__name__)

EVENTS = {
    "submitted": "{release} is waiting for approval",
    "approved": "{release} is approved and scheduled",
    "rejected": "{release} was rejected",
    "started": "{release} has started",
    "finished": "{release} finished: {state}",
    "break_glass": "BREAK GLASS: {release} may start without an independent approval",
}


def queue(release, event: str) -> None:
    transition_id = release.transitions.order_by("-id").values_list("id", flat=True).first()
    outbox.enqueue(
        release_notify_task.name,
        args=[release.pk, event, transition_id],
        key=f"notify:{release.pk}:{event}:{transition_id}",
    )


def queue_many(started: list[tuple[Release, int]], event: str) -> None:
    """queue() for many releases whose transition (each release with its row's id) the caller
    has just written, in a few queries whatever their number."""
    outbox.enqueue_many(
        release_notify_task.name,
        [
            ([release.pk, event, transition_id], {}, f"notify:{release.pk}:{event}:{transition_id}")
            for release, transition_id in started
        ],
    )


def pager_recipients() -> list[User]:
    """Whom a break glass pages: leadership and platform admins (superusers too), people only."""
    return list(
        User.objects.filter(
            Q(role_grants__role__in=[Role.LEADERSHIP, Role.PLATFORM_ADMIN]) | Q(is_superuser=True),
            is_active=True,
            is_service_account=False,
        )
        .distinct()
        .order_by("username")
    )


def recipients(release, event: str) -> list[str]:
    people = {release.requester}
    if event == "submitted":
        people |= set(User.objects.filter(role_grants__role=Role.RELEASE_MANAGER, is_active=True))
    if event == "break_glass":
        # Exactly the people the break glass recorded as paged.
        glass = release.glass_broken
        paged = glass.paged if glass is not None else []
        people |= set(User.objects.filter(username__in=paged, is_active=True))
    return sorted({person.email for person in people if person.email})


def message(release, event: str) -> tuple[str, str]:
    subject = EVENTS[event].format(release=release, state=release.get_state_display())
    url = settings.RUNWAY_BASE_URL.rstrip("/") + reverse("releases:detail", args=[release.pk])
    body = (
        f"{subject}\n\n{release.title}\nService: {release.service.name}\n"
        f"Environment: {release.environment.name}\nVersion: {release.version}\n"
        f"Risk: {release.risk}\nPlanned: {release.planned_start:%Y-%m-%d %H:%M} UTC\n\n{url}\n"
    )
    glass = release.glass_broken if event == "break_glass" else None
    if glass is not None:
        body += (
            f"\nBroken by {glass.actor.username} at {glass.at:%Y-%m-%d %H:%M} UTC.\n"
            f"Reason: {glass.reason}\nJustification: {release.justification}\n"
        )
        if release.retrospective_due_at:
            body += f"Retrospective review due {release.retrospective_due_at:%Y-%m-%d %H:%M} UTC.\n"
    return subject, body


def send_email(release, event: str) -> None:
    subject, body = message(release, event)
    to = recipients(release, event)
    if to:
        send_mail(f"[Runway] {subject}", body, settings.DEFAULT_FROM_EMAIL, to)


def send_webhook(release, event: str) -> None:
    url = settings.RELEASE_WEBHOOK_URL
    if not url:
        return
    if not url.startswith(("https://", "http://")):
        raise ValueError("RELEASE_WEBHOOK_URL must be an http(s) URL")
    _, body = message(release, event)
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps({"text": body, "event": event, "release": release.pk}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


CHANNELS = {"email": send_email, "webhook": send_webhook}


def deliver(*, release_id: int, event: str, transition_id: int | None) -> list[str]:
    """Send each channel's message once for this transition; a retry skips what went out.
    Returns the channels sent this time."""
    release = (
        Release.objects.select_related("service", "environment", "requester")
        .filter(pk=release_id)
        .first()
    )
    if release is None:
        return []  # deleted since: nothing to tell anyone
    sent = []
    for channel, send in CHANNELS.items():
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
