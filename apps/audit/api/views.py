from rest_framework import viewsets

from apps.accounts import permissions
from apps.audit.api.serializers import AuditEventSerializer
from apps.audit.filters import AuditEventFilter
from apps.audit.selectors import audit_events


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log, newest first. Platform admins only."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    permission_classes = [permissions.api_rule(permissions.can_view_audit)]

    def get_queryset(self):
        return audit_events()
