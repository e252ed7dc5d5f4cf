from django.http import HttpResponse
from django.views.decorators.http import require_safe

from apps.accounts import permissions
from apps.audit.filters import AuditEventFilter
from apps.audit.selectors import audit_events
from apps.core.http import AuthenticatedRequest
from apps.core.lists import render_filtered_list

PAGE_SIZE = 50


@require_safe
@permissions.rule_required(permissions.can_view_audit)
def event_list(request: AuthenticatedRequest) -> HttpResponse:
    return render_filtered_list(
        request,
        queryset=audit_events(),
        filterset_class=AuditEventFilter,
        page_size=PAGE_SIZE,
        template="audit/event_list.html",
        partial_template="audit/partials/_events.html",
    )
