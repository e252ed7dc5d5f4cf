"""The rollouts pages: the list, one rollout's status with its steering buttons, its pods,
starting a release's rollout, and an environment's rings. Every write is a service call: the
services decide who may (PermissionDenied, a 403) and what the state allows (ValidationError,
shown as a toast, or on the rings form next to what it names)."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts import permissions
from apps.catalog.models import Environment
from apps.core.htmx import render_page_or_partial, wants_partial
from apps.core.http import AuthenticatedRequest
from apps.core.lists import render_filtered_list
from apps.releases.models import Release
from apps.releases.selectors import with_what_ships
from apps.rollouts import rings, selectors, services
from apps.rollouts.filters import RolloutFilter
from apps.rollouts.forms import ring_rows, ring_rows_posted, ring_rows_redrawn
from apps.rollouts.models import Rollout
from apps.rollouts.transitions import available_actions

if TYPE_CHECKING:
    from apps.rollouts.selectors import RolloutWithEvents

PAGE_SIZE = 50
REASON_MAX_LENGTH = 500


@require_safe
def rollout_list(request: AuthenticatedRequest) -> HttpResponse:
    # The version is read before the rows: a change in between makes the stream re-fetch.
    version = None if wants_partial(request) else selectors.rollouts_version()
    return render_filtered_list(
        request,
        queryset=selectors.rollout_list_active_first(),
        filterset_class=RolloutFilter,
        page_size=PAGE_SIZE,
        template="rollouts/rollout_list.html",
        partial_template="rollouts/partials/_list.html",
        extra_context=lambda filterset: {"version": version},
        decorate=lambda rollouts: with_what_ships(rollout.release for rollout in rollouts),
    )


@require_safe
def rollout_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    rollout = get_object_or_404(selectors.rollout_detail_queryset(), pk=pk)
    return render_page_or_partial(
        request,
        page="rollouts/rollout_detail.html",
        partial="rollouts/partials/_status.html",
        context=_status_context(request, rollout),
    )


def _status_context(request: AuthenticatedRequest, rollout: "RolloutWithEvents") -> dict:
    return {
        "rollout": rollout,
        "steps": list(rollout.steps.all()),
        "events": rollout.recent_events,
        "actions": available_actions(rollout, request.user),
        "version": selectors.rollout_stamp(rollout),
    }


@require_safe
def rollout_pods(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Pods per version: a fragment of its own, so a slow cluster never holds up the page."""
    rollout = get_object_or_404(Rollout.objects.select_related("service", "cluster"), pk=pk)
    return render(
        request,
        "rollouts/partials/_pods.html",
        {"rollout": rollout, "pods": selectors.rollout_pods(rollout=rollout)},
    )


# --- Steering -----------------------------------------------------------------------------


def _steer(
    request: AuthenticatedRequest, pk: int, action: Callable[[Rollout], Rollout], done: str
) -> HttpResponse:
    """Run a steering service. htmx gets the refreshed status part back, with the outcome as a
    toast; a service that answers with another rollout (a rollback) sends the browser there."""
    rollout = get_object_or_404(Rollout.objects.all(), pk=pk)
    try:
        result = action(rollout)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done.format(result=result))
        if result.pk != pk:
            url = reverse("rollouts:detail", args=[result.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if not request.htmx:
        return redirect("rollouts:detail", pk=pk)
    rollout = get_object_or_404(selectors.rollout_detail_queryset(), pk=pk)
    return render(request, "rollouts/partials/_status.html", _status_context(request, rollout))


def _reason(request: AuthenticatedRequest) -> str:
    """The optional reason for an abort or rollback (live.js asks for it in a prompt)."""
    reason = request.POST.get("reason", "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"Reason: at most {REASON_MAX_LENGTH} characters."})
    return reason


@require_POST
def rollout_promote(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    full = request.POST.get("full") in ("1", "true", "on")
    return _steer(
        request,
        pk,
        lambda rollout: services.rollout_promote(actor=request.user, rollout=rollout, full=full),
        f"Rollout #{pk} {'fully ' if full else ''}promoted.",
    )


@require_POST
def rollout_pause(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        lambda rollout: services.rollout_pause(actor=request.user, rollout=rollout),
        f"Rollout #{pk} paused.",
    )


@require_POST
def rollout_resume(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        lambda rollout: services.rollout_resume(actor=request.user, rollout=rollout),
        f"Rollout #{pk} resumed.",
    )


@require_POST
def rollout_abort(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        lambda rollout: services.rollout_abort(
            actor=request.user, rollout=rollout, reason=_reason(request)
        ),
        f"Rollout #{pk} is being aborted: the previous version comes back.",
    )


@require_POST
def rollout_rollback(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _steer(
        request,
        pk,
        lambda rollout: services.rollout_rollback(
            actor=request.user, rollout=rollout, reason=_reason(request)
        ),
        f"Rolling rollout #{pk} back as rollout #{{result.pk}}.",
    )


@require_POST
def rollout_start(request: AuthenticatedRequest, release_id: int) -> HttpResponse:
    """Start an approved release's rollout now (the release page links here)."""
    release = get_object_or_404(Release.objects.all(), pk=release_id)
    try:
        rollout = services.rollout_start(actor=request.user, release=release)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("releases:detail", pk=release.pk)
    messages.success(request, f"Rollout #{rollout.pk} of release #{release.pk} is under way.")
    return redirect("rollouts:detail", pk=rollout.pk)


@require_http_methods(["GET", "POST"])
def environment_rings(
    request: AuthenticatedRequest, service: str, environment: str
) -> HttpResponse:
    """Set an environment's rings from a page: the same service, rule and audit row as the
    API's PUT; its refusals shown next to the row and field they name."""
    target = permissions.get_visible_or_404(
        Environment.objects.select_related("service"), service__name=service, name=environment
    )
    permissions.require(
        permissions.can_act_for_team(request.user, target.service.owner_id), rings.EDITORS_ONLY
    )
    refusals: list[str] = []
    if request.method == "GET":
        rows = ring_rows(rings.environment_rings(target))
    elif "add" in request.POST:
        rows = ring_rows_redrawn(request.POST)
    else:
        rows = ring_rows_posted(request.POST)
        if rows.is_valid():
            try:
                rings.environment_rings_set(
                    actor=request.user, environment=target, rings=rows.rings()
                )
            except ValidationError as exc:
                refusals = rows.add_ring_errors(exc)
            else:
                messages.success(request, f"Rings of {service}/{environment} saved.")
                url = reverse("catalog:service-detail", kwargs={"name": service})
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return render_page_or_partial(
        request,
        page="rollouts/environment_rings.html",
        partial="rollouts/partials/_rings_form.html",
        context={"environment": target, "rows": rows, "refusals": refusals},
    )
