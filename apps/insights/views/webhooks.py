"""Webhook sources and the deliveries nobody could match, for platform admins in the browser:
the same services as the API (apps/insights/services), so the same rules and audit rows.

A secret is shown once, in the answer to the request that made it, and never stored in the
page's session or a redirect: the page is rendered in place and marked uncacheable."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from apps.accounts import permissions
from apps.catalog.models import Service
from apps.core.forms import add_service_errors
from apps.core.http import AuthenticatedRequest
from apps.insights import selectors, services
from apps.insights.models import SourceKind
from apps.insights.services.sources import MAX_GRACE

PAGE_SIZE = 50
admin_only = permissions.rule_required(permissions.can_manage_webhooks)


class SourceForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=SourceKind.choices)
    secret = forms.CharField(
        required=False,
        max_length=200,
        help_text="Leave empty and Runway makes one; PagerDuty makes its own: paste it here.",
    )


class RotateForm(forms.Form):
    grace_hours = forms.IntegerField(
        min_value=0,
        max_value=int(MAX_GRACE.total_seconds() // 3600),
        initial=24,
        label="Keep the old secret for (hours)",
    )


class MapForm(forms.Form):
    service = forms.ModelChoiceField(
        queryset=Service.objects.all(),
        to_field_name="name",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"invalid_choice": "No service has that name."},
    )
    remember = forms.BooleanField(
        required=False, initial=True, label="Match its repository to this service from now on"
    )


def _page(
    request: AuthenticatedRequest, *, source_form=None, new_secret=None, map_forms=None, status=200
):
    deliveries = Paginator(selectors.unmatched_delivery_list(), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "sources": selectors.webhook_source_list(),
        "source_form": source_form or SourceForm(),
        "rotate_form": RotateForm(),
        "new_secret": new_secret,
        "page": deliveries,
        # Each delivery with its form when it was just refused, to show why beside it.
        "deliveries": [(d, (map_forms or {}).get(d.pk)) for d in deliveries],
    }
    return render(request, "insights/webhooks/page.html", context, status=status)


@require_safe
@admin_only
def webhook_page(request: AuthenticatedRequest) -> HttpResponse:
    return _page(request)


@never_cache
@require_POST
@admin_only
def source_create(request: AuthenticatedRequest) -> HttpResponse:
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            source, secret = services.webhook_source_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _page(request, new_secret={"source": source, "secret": secret})
    return _page(request, source_form=form, status=400)


@never_cache
@require_POST
@admin_only
def source_rotate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(selectors.webhook_source_list(), pk=pk)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(map(str, form.errors["grace_hours"])))
        return redirect("insights:webhooks")
    grace = timedelta(hours=form.cleaned_data["grace_hours"])
    try:
        source, secret = services.webhook_source_rotate(
            actor=request.user, source=source, grace=grace
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("insights:webhooks")
    return _page(request, new_secret={"source": source, "secret": secret, "rotated": True})


@require_POST
@admin_only
def source_deactivate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(selectors.webhook_source_list(), pk=pk)
    services.webhook_source_deactivate(actor=request.user, source=source)
    messages.success(request, f"{source.name} is deactivated: its deliveries are refused.")
    return redirect("insights:webhooks")


@require_POST
@admin_only
def delivery_map(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(selectors.unmatched_delivery_list(), pk=pk)
    form = MapForm(request.POST)
    if form.is_valid():
        try:
            recorded = services.unmatched_delivery_map(
                actor=request.user, delivery=delivery, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            service = form.cleaned_data["service"].name
            noun = "delivery" if recorded == 1 else "deliveries"
            messages.success(request, f"Recorded {recorded} {noun} as {service}'s.")
            return redirect("insights:webhooks")
    return _page(request, map_forms={delivery.pk: form}, status=400)


urlpatterns = [
    path("webhooks/", webhook_page, name="webhooks"),
    path("webhooks/sources/", source_create, name="webhook-source-create"),
    path("webhooks/sources/<int:pk>/rotate/", source_rotate, name="webhook-source-rotate"),
    path(
        "webhooks/sources/<int:pk>/deactivate/", source_deactivate, name="webhook-source-deactivate"
    ),
    path("webhooks/deliveries/<int:pk>/map/", delivery_map, name="webhook-delivery-map"),
]
