from pathlib import PurePosixPath

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import permissions
from apps.audit.selectors import audit_events_for
from apps.catalog import selectors, services
from apps.catalog.environments import environment_update
from apps.catalog.filters import ServiceFilter
from apps.catalog.forms import EnvironmentForm, ServiceForm
from apps.catalog.graph_layout import dependency_picture
from apps.catalog.manifests import manifests_yaml
from apps.catalog.panels import panel_row_annotations, rendered_panels
from apps.catalog.pipelines import (
    PIPELINE_FILES,
    pipeline_files,
    reported_status,
    service_spec,
)
from apps.core.forms import add_service_errors, select_options
from apps.core.http import AuthenticatedRequest
from apps.core.lists import render_filtered_list

PAGE_SIZES = (25, 50, 100)


def _page_size(request: AuthenticatedRequest) -> int:
    size = request.GET.get("size", "")
    return int(size) if size.isdigit() and int(size) in PAGE_SIZES else 50


@require_safe
def service_list(request: AuthenticatedRequest) -> HttpResponse:
    return render_filtered_list(
        request,
        queryset=selectors.service_list_page(),
        filterset_class=ServiceFilter,
        page_size=_page_size(request),
        template="catalog/service_list.html",
        partial_template="catalog/partials/_results.html",
        extra_context=lambda filterset: _list_context(request, filterset),
    )


def _list_context(request: AuthenticatedRequest, filterset) -> dict:
    facets = selectors.service_facets(filterset.qs)
    return {
        "facets": facets,
        # Each facet counts every matching service once: the pager needs no COUNT of its own.
        "row_count": selectors.services_counted(facets),
        "options": _filter_options(filterset.form),
        "can_create": permissions.can_create_services(request.user),
    }


def _filter_options(form) -> dict:
    """The team and system selects' options, the chosen ones selected."""
    choices = selectors.filter_choices()
    systems = ((name, title or name) for name, title in choices["systems"])
    return {
        "teams": select_options(choices["teams"], form["owner"].value()),
        "systems": select_options(systems, form["system"].value()),
    }


@require_safe
def service_detail(request: AuthenticatedRequest, name: str) -> HttpResponse:
    service = get_object_or_404(
        selectors.service_detail_with_tag_names().annotate(**panel_row_annotations()), name=name
    )
    graph = selectors.dependency_graph(service)
    return render(
        request,
        "catalog/service_detail.html",
        {
            "service": service,
            "tag_names": selectors.service_tag_names(service),
            "graph": graph,
            "picture": dependency_picture(service.name, graph),
            "manifests_yaml": manifests_yaml(service.manifests) if service.manifests else "",
            "pipeline": service_spec(service),
            "pipeline_status": reported_status(service),
            "audit_trail": audit_events_for(target_type="catalog.service", target_id=service.pk)[
                :20
            ],
            "panels": rendered_panels(request, service),
            "can_edit": permissions.can_act_for_team(request.user, service.owner_id),
            "can_delete": permissions.is_platform_admin(request.user),
        },
    )


@require_safe
@permissions.rule_required(permissions.can_read)
def service_pipeline_download(request: AuthenticatedRequest, name: str, kind: str) -> HttpResponse:
    """One of the service's standard pipeline files, to commit to its repository; 404 for a
    service on no golden path."""
    service = permissions.get_visible_or_404(selectors.service_detail_queryset(), name=name)
    spec = service_spec(service)
    if spec is None or kind not in PIPELINE_FILES:
        raise Http404("This service has no standard pipeline.")
    path = PIPELINE_FILES[kind]
    response = HttpResponse(pipeline_files(spec)[path], content_type="application/yaml")
    response["Content-Disposition"] = f'attachment; filename="{PurePosixPath(path).name}"'
    return response


@require_http_methods(["GET", "POST"])
def service_edit(request: AuthenticatedRequest, name: str) -> HttpResponse:
    service = get_object_or_404(selectors.service_detail_queryset(), name=name)
    permissions.require(permissions.can_act_for_team(request.user, service.owner_id))
    form = ServiceForm(request.POST or None, instance=service, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_update(actor=request.user, service=service, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{service.name} saved.")
            return redirect("catalog:service-detail", name=service.name)
    return render(request, "catalog/service_form.html", {"form": form, "service": service})


@require_http_methods(["GET", "POST"])
def environment_edit(request: AuthenticatedRequest, name: str, environment: str) -> HttpResponse:
    target = get_object_or_404(
        selectors.environment_queryset(), service__name=name, name=environment
    )
    permissions.require(permissions.can_act_for_team(request.user, target.service.owner_id))
    form = EnvironmentForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        try:
            environment_update(actor=request.user, environment=target, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{target.service.name}/{target.name} saved.")
            return redirect("catalog:service-detail", name=name)
    return render(request, "catalog/environment_form.html", {"form": form, "environment": target})


@require_POST
def service_delete(request: AuthenticatedRequest, name: str) -> HttpResponse:
    service = get_object_or_404(selectors.service_list(), name=name)
    services.service_delete(actor=request.user, service=service)
    messages.success(request, f"{name} deleted from the catalog.")
    return redirect("catalog:service-list")
