from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.accounts import permissions
from apps.audit.filters import AuditEventFilter
from apps.audit.selectors import audit_events

PAGE_SIZE = 50


@require_safe
@permissions.rule_required(permissions.can_view_audit)
def event_list(request: HttpRequest) -> HttpResponse:
    filterset = AuditEventFilter(request.GET, queryset=audit_events())
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "audit/partials/_events.html" if request.htmx else "audit/event_list.html"
    return render(
        request, template, {"filter": filterset, "page": page, "query": query.urlencode()}
    )
