import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import permissions
from apps.core.forms import add_service_errors
from apps.core.htmx import render_page_or_partial
from apps.core.http import AuthenticatedRequest
from apps.core.lists import render_filtered_list
from apps.releases import decisions, evidence_sections, selectors, services
from apps.releases.calendar.selectors import zone_of
from apps.releases.evidence import release_evidence
from apps.releases.evidence_export import EvidencePeriod, evidence_zip
from apps.releases.filters import ReleaseFilter
from apps.releases.forms import (
    BreakGlassForm,
    DecisionForm,
    EvidencePeriodForm,
    ReleaseForm,
    service_matches,
)
from apps.releases.gates import readiness, risks_of_approving
from apps.releases.page_actions import rendered_actions, rendered_sections
from apps.releases.policies import approval_status
from apps.releases.promotion import next_environment
from apps.releases.transitions import (
    available_actions,
    decision_refusals,
    open_to_decisions,
    steered_by,
)

PAGE_SIZE = 50


@require_safe
def release_list(request: AuthenticatedRequest) -> HttpResponse:
    return render_filtered_list(
        request,
        queryset=selectors.release_list().order_by("-planned_start", "-id"),
        filterset_class=ReleaseFilter,
        page_size=PAGE_SIZE,
        template="releases/release_list.html",
        partial_template="releases/partials/_list.html",
        decorate=selectors.with_what_ships,
        extra_context=lambda filterset: {
            "can_request": permissions.can_create_services(request.user)
        },
    )


@require_safe
def release_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    release = get_object_or_404(selectors.release_detail_queryset(), pk=pk)
    return render(request, "releases/release_detail.html", _detail_context(request, release))


def _detail_context(request, release, decision_form=None, break_glass_form=None) -> dict:
    now = timezone.now()
    status = approval_status(release, now=now)  # once: the gates and the actions read it
    user = request.user
    actions = available_actions(release, user, status=status)
    gates = readiness(release, now=now, at=max(now, release.planned_start), status=status)
    promotions = selectors.promotions_of(release) if release.finished_at else []
    return {
        "actions": actions,
        # Why a decision is not open to this person, said in place, to those it concerns.
        "refusals": decision_refusals(release, user, status) if open_to_decisions(release) else {},
        # A train's member: nothing is offered here, and the page says where to act instead.
        "steered_by": steered_by(release),
        "risks": risks_of_approving(gates) if "approve" in actions else [],
        "break_glass_form": break_glass_form or BreakGlassForm(),
        "release": release,
        "status": status,
        "gates": gates,
        "conflicts": selectors.release_conflicts(release),
        "history": selectors.recent_history(release),
        "previous": selectors.previous_release(release),
        # Only a release that finished was promoted: no query for the others.
        "promotions": promotions,
        # Why Runway did not promote it by itself: until it is promoted, while its environment
        # still promotes automatically.
        "auto_promotion_target": next_environment(release)
        if release.auto_promotion_hold and release.environment.auto_promote and not promotions
        else None,
        "decision_form": decision_form or DecisionForm(),
        "can_edit": permissions.can_act_for_team(user, release.service.owner_id),
        "page_actions": rendered_actions(request, release),
        "page_sections": rendered_sections(request, release),
    }


@require_http_methods(["GET", "POST"])
@permissions.rule_required(permissions.can_create_services)
def release_create(request: AuthenticatedRequest) -> HttpResponse:
    initial = {"service": request.GET.get("service")} if request.GET.get("service") else None
    form = ReleaseForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            release = services.release_request(
                actor=request.user, submit="submit" in request.POST, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Release #{release.pk} {release.get_state_display().lower()}."
            )
            return redirect("releases:detail", pk=release.pk)
    return render(request, "releases/release_form.html", {"form": form})


@require_safe
@permissions.rule_required(permissions.can_create_services)
def release_form_services(request: AuthenticatedRequest) -> HttpResponse:
    """The release form's service suggestions for what has been typed so far."""
    names = service_matches(request.user, request.GET.get("service", ""))
    return render(request, "releases/partials/_service_options.html", {"names": names})


@require_safe
@permissions.rule_required(permissions.can_create_services)
def release_form_environments(request: AuthenticatedRequest) -> HttpResponse:
    """The release form's environment choices once a service is chosen."""
    form = ReleaseForm(initial={"service": request.GET.get("service", "")}, user=request.user)
    return render(request, "releases/partials/_environment_options.html", {"form": form})


def _run_with_comment(request, pk: int, action) -> DecisionForm:
    """Run a release action with the posted comment (and, for an approval, the confirmation of
    failing gates). A refusal lands on the form (next to the field it names, or on top) and in
    a toast."""
    release = get_object_or_404(selectors.release_list(), pk=pk)
    form = DecisionForm(request.POST)
    form.is_valid()
    try:
        action(release, form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        messages.error(request, " ".join(exc.messages))
    return form


def _run_and_show_release(request, pk: int, action) -> HttpResponse:
    """Run a release action and answer with the refreshed detail body (htmx) or a redirect."""
    form = _run_with_comment(request, pk, action)
    if not request.htmx:
        return redirect("releases:detail", pk=pk)
    release = get_object_or_404(selectors.release_detail_queryset(), pk=pk)
    return render(
        request, "releases/partials/_detail_body.html", _detail_context(request, release, form)
    )


def _decision(request, decision: str):
    return lambda release, data: decisions.decide(request, release, decision, data)


@require_POST
def release_promote(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A plain form: the new release's page on success, this one's with the reason otherwise."""
    release = get_object_or_404(selectors.release_list(), pk=pk)
    try:
        promoted = services.release_promote(
            actor=request.user, release=release, submit="submit" in request.POST
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("releases:detail", pk=pk)
    messages.success(
        request,
        f"Release #{promoted.pk} asks {promoted.environment.name} for the same version: "
        f"{promoted.get_state_display().lower()}.",
    )
    return redirect("releases:detail", pk=promoted.pk)


@require_POST
def release_submit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_and_show_release(
        request, pk, lambda r, _: services.release_submit(actor=request.user, release=r)
    )


@require_POST
@decisions.confirmed_on_production("approve", back_to="detail")
def release_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_and_show_release(request, pk, _decision(request, "approve"))


@require_POST
@decisions.confirmed_on_production("reject", back_to="detail")
def release_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_and_show_release(request, pk, _decision(request, "reject"))


@require_POST
def release_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_and_show_release(
        request,
        pk,
        lambda r, data: services.release_cancel(
            actor=request.user, release=r, reason=data.get("comment", "")
        ),
    )


@require_POST
def release_break_glass(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A plain form (no htmx): the browser asks to confirm first (data-confirm). A refusal
    shows the page again with the reason's error next to it."""
    release = get_object_or_404(selectors.release_list(), pk=pk)
    form = BreakGlassForm(request.POST)
    form.is_valid()
    try:
        services.release_break_glass(
            actor=request.user, release=release, reason=form.cleaned_data.get("reason", "")
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        messages.error(request, " ".join(exc.messages))
        release = get_object_or_404(selectors.release_detail_queryset(), pk=pk)
        context = _detail_context(request, release, break_glass_form=form)
        return render(request, "releases/release_detail.html", context, status=400)
    messages.warning(
        request,
        f"Glass broken on release #{pk}: leadership and platform admins are paged and a "
        "retrospective review is due.",
    )
    return redirect("releases:detail", pk=pk)


@require_safe
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    page = selectors.inbox_page(request.user, number=request.GET.get("page"))
    return render(
        request,
        "releases/inbox.html",
        {
            "page": page,
            "items": page.object_list,
        },
    )


@require_safe
def inbox_retrospectives(request: AuthenticatedRequest) -> HttpResponse:
    """The emergency changes needing review, under the inbox's items: fetched when scrolled
    to, or a page of its own without JavaScript."""
    return render_page_or_partial(
        request,
        page="releases/inbox_retrospectives.html",
        partial="releases/partials/_inbox_retrospectives.html",
        context={
            "retrospectives": selectors.needing_retrospective()[:50],
            "now": timezone.now(),
        },
    )


@require_safe
def inbox_details(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """What ships in an inbox item and the recent history of its environment, fetched by the
    item as it is scrolled to: what the release's page shows, to whoever may read it."""
    if not permissions.can_read(request.user):
        raise PermissionDenied
    release = get_object_or_404(selectors.release_list(), pk=pk)
    return render(
        request, "releases/partials/_inbox_details.html", selectors.inbox_details(release)
    )


def _run_and_show_inbox_item(request, pk: int, action) -> HttpResponse:
    """Decide from the inbox. htmx gets that one item back: the release's outcome, or the
    refusal shown inside the item; without JavaScript, back to the inbox."""
    form = _run_with_comment(request, pk, action)
    if not request.htmx:
        return redirect("releases:inbox")
    release = get_object_or_404(selectors.inbox_queryset(), pk=pk)
    if form.errors:
        item = selectors.inbox_item(request.user, release)
        return render(request, "releases/partials/_inbox_item.html", {"item": item, "form": form})
    outcome = selectors.decision_outcome(release)
    return render(
        request, "releases/partials/_inbox_outcome.html", {"release": release, "outcome": outcome}
    )


@require_POST
@decisions.confirmed_on_production("approve", back_to="inbox")
def inbox_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_and_show_inbox_item(request, pk, _decision(request, "approve"))


@require_POST
@decisions.confirmed_on_production("reject", back_to="inbox")
def inbox_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_and_show_inbox_item(request, pk, _decision(request, "reject"))


@require_safe
def evidence_export(request: AuthenticatedRequest) -> HttpResponse:
    """The page to export a period's evidence; with a period asked for, the ZIP itself."""
    form = EvidencePeriodForm(request.GET or None)
    if form.is_bound and form.is_valid():
        period = EvidencePeriod(**form.cleaned_data)
        try:
            content, _ = evidence_zip(period)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            response = HttpResponse(content, content_type="application/zip")
            response["Content-Disposition"] = f'attachment; filename="{period.name}.zip"'
            return response
    status = 400 if form.is_bound else 200
    return render(request, "releases/evidence_export.html", {"form": form}, status=status)


@require_safe
def evidence(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    release = get_object_or_404(selectors.release_detail_queryset(), pk=pk)
    pack = release_evidence(release)
    if request.GET.get("format") == "json":
        response = HttpResponse(json.dumps(pack, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="release-{pk}-evidence.json"'
        return response
    with timezone.override(zone_of(request.user)):  # an auditor reads their own time
        sections = evidence_sections.rendered(request, release, pack)
        context = {"release": release, "pack": pack, "sections": sections}
        return render(request, "releases/evidence.html", context)
