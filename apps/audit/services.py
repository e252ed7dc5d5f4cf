import functools
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction

from apps.audit.chain import GENESIS, event_hash, normalise_json
from apps.audit.models import AuditEvent
from apps.core.request_context import current_client_ip, current_request_id

# One chain means one writer at a time. The lock lasts until the caller's transaction commits,
# so audited writes serialise on it; the chain's order is the order of commit.
_CHAIN_LOCK_KEY = 0x52554E574159  # "RUNWAY"


def audit_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log, inside the caller's transaction.

    `actor` is a user or None for Runway itself. `target` names the object acted on; callers
    without a model instance pass target_type / target_id instead.
    """
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
        target_label = target_label or str(target)[:255]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        prev_hash = (
            AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        )
        is_user = actor is not None and getattr(actor, "is_authenticated", False)
        event = AuditEvent(
            actor=actor if is_user else None,
            actor_label=actor.get_username() if is_user else "runway",
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_label=target_label,
            before=normalise_json(before),
            after=normalise_json(after),
            request_id=current_request_id() or "",
            ip=current_client_ip(),
            prev_hash=prev_hash,
        )
        event.hash = event_hash(event, prev_hash)
        event.save()
    return event


def snapshot(instance: models.Model, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The named fields of an instance, for an event's before / after. Related objects are
    recorded by their name, as a person reading the log would know them."""

    def readable(value):
        return str(value) if isinstance(value, models.Model) else value

    return normalise_json({name: readable(getattr(instance, name)) for name in fields})


def audit_refusals(action: str, *, target: str):
    """Record a refused attempt at a service (a ValidationError or PermissionDenied: not allowed,
    not possible now) as `<action>.refused`, naming who, on what and why. The refused change
    rolled back with its own audit rows, so the refusal is written after it, in a transaction
    of its own; then the refusal goes on to the caller. `target` names the keyword argument
    that holds the object acted on."""

    def decorate(service):
        @functools.wraps(service)
        def attempt(*, actor, **arguments):
            try:
                return service(actor=actor, **arguments)
            except (ValidationError, PermissionDenied) as refusal:
                if (
                    actor is None
                ):  # Runway's own attempts (the dispatcher's) are retried, not refused
                    raise
                reasons = getattr(refusal, "messages", None) or [str(refusal) or "Not allowed."]
                with transaction.atomic():
                    audit_record(
                        actor=actor,
                        action=f"{action}.refused",
                        target=arguments.get(target),
                        after={"reason": " ".join(reasons)[:1000]},
                    )
                raise

        return attempt

    return decorate
