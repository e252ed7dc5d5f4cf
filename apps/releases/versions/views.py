"""The Versions panel's forms on a service page: mark a version bad, pin an environment, lift a
pin. Each answers htmx with the panel again (a refusal next to the form that caused it) and a
plain form post with the service page. Who may is the services' rule, asked here first: a 403
before the body is read."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from apps.accounts import permissions
from apps.catalog.models import Environment, Service
from apps.core.forms import add_service_errors
from apps.core.http import AuthenticatedRequest
from apps.releases.models import VersionPin
from apps.releases.versions import services, transitions
from apps.releases.versions.forms import MarkBadForm, lift_form, pin_form
from apps.releases.versions.panel import panel_context

PANEL = "releases/panels/_versions.html"


def _answer(request, service: Service, *, failed: str = "", form=None, done: str = ""):
    if done:
        messages.success(request, done)
    if not request.htmx:
        return redirect("catalog:service-detail", name=service.name)
    context = {"service": service, **panel_context(request, service, failed=failed, form=form)}
    return HttpResponse(render_to_string(PANEL, context, request))


def _run(request, service: Service, form, failed: str, done: str, call) -> HttpResponse:
    permissions.require(permissions.can_hold_versions(request.user, service), transitions.REFUSED)
    if not form.is_valid():
        return _answer(request, service, failed=failed, form=form)
    try:
        call(form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _answer(request, service, failed=failed, form=form)
    return _answer(request, service, done=done)


@require_POST
def mark_bad(request: AuthenticatedRequest, name: str) -> HttpResponse:
    service = get_object_or_404(Service.objects.select_related("owner"), name=name)
    return _run(
        request,
        service,
        MarkBadForm(request.POST, prefix="bad"),
        "bad",
        "Marked bad",
        lambda data: services.version_mark_bad(actor=request.user, service=service, **data),
    )


@require_POST
def pin(request: AuthenticatedRequest, name: str, environment: str) -> HttpResponse:
    target = get_object_or_404(
        Environment.objects.select_related("service__owner"), service__name=name, name=environment
    )
    return _run(
        request,
        target.service,
        pin_form(target.name, request.POST),
        f"pin:{target.name}",
        f"{target.name} pinned",
        lambda data: services.version_pin(actor=request.user, environment=target, **data),
    )


@require_POST
def lift(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    held = get_object_or_404(VersionPin.objects.select_related("environment__service"), pk=pk)
    return _run(
        request,
        held.environment.service,
        lift_form(held, request.POST),
        f"lift:{held.pk}",
        "Pin lifted",
        lambda data: services.version_unpin(actor=request.user, pin=held, reason=data["reason"]),
    )
