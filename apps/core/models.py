from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task: proof that background work runs."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(models.Model):
    """A task to publish, written in the same transaction as the change that asks for it, so a
    committed change never loses its task to a broker that is down (apps/core/outbox.py)."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # Enqueueing the same key twice queues one task.
    key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(sent_at__isnull=True),
                name="core_outbox_pending",
            ),
            models.Index(
                fields=["sent_at"],
                condition=models.Q(sent_at__isnull=False),
                name="core_outbox_sent",
            ),
        ]

    def __str__(self) -> str:
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M:%S}" if self.sent_at else "pending"
        return f"{self.task_name} ({state})"


class IdempotentRequest(models.Model):
    """A create sent with an `Idempotency-Key`, and the answer it got: the same key from the same
    user gets the same answer again instead of a second object (apps/core/idempotency.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=200, help_text="Method and path it was sent to.")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="core_idempotent_user_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="core_idempotent_created")]

    def __str__(self) -> str:
        return f"{self.operation} [{self.key}]"


class BeatClaim(models.Model):
    """The last time a beat process sent each periodic task (apps/core/beat.py): a second beat
    finds the period claimed and sends nothing."""

    name = models.CharField(max_length=200, unique=True)
    claimed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.claimed_at:%Y-%m-%d %H:%M:%S}"
