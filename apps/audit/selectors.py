from django.db.models import QuerySet

from apps.audit.models import AuditEvent


def audit_events() -> QuerySet[AuditEvent]:
    # actor_label is stored on the row, so listing joins only the event's seal.
    return AuditEvent.objects.select_related("seal").order_by("-id")


def audit_events_for(*, target_type: str, target_id: str | int) -> QuerySet[AuditEvent]:
    return audit_events().filter(target_type=target_type, target_id=str(target_id))
