"""The onboarding wizard: one page whose panel htmx swaps step by step. Without htmx every
endpoint answers with the whole page, so the wizard works with plain form posts too."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts import permissions
from apps.core.htmx import render_page_or_partial
from apps.core.http import AuthenticatedRequest
from apps.onboarding import selectors, services, wizard_steps
from apps.onboarding.forms import STEP_FORMS, ServiceNameForm, form_redrawn
from apps.onboarding.models import Step
from apps.onboarding.wizard_panels import WizardPanel, error_panel, form_panel, step_panel

onboarding_rule = permissions.rule_required(permissions.can_create_services)


def _respond(request: AuthenticatedRequest, panel: WizardPanel) -> HttpResponse:
    return render_page_or_partial(
        request,
        page="onboarding/wizard.html",
        partial="onboarding/partials/_panel.html",
        context={"panel": panel},
    )


def _to_start(request: AuthenticatedRequest) -> HttpResponse:
    url = reverse("onboarding:start")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _form_step(slug: str) -> Step:
    if slug not in STEP_FORMS:
        raise Http404("No such step.")
    return Step(slug)


@require_safe
@onboarding_rule
def start(request: AuthenticatedRequest) -> HttpResponse:
    draft = selectors.draft_for(user=request.user)
    step = Step(draft.step) if draft else Step.BASICS
    return _respond(request, step_panel(user=request.user, draft=draft, step=step))


@require_safe
@onboarding_rule
def step_show(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    if slug not in Step.values:
        raise Http404("No such step.")
    draft = selectors.draft_for(user=request.user)
    return _respond(request, step_panel(user=request.user, draft=draft, step=Step(slug)))


@require_POST
@onboarding_rule
def step_submit(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    step = _form_step(slug)
    form = STEP_FORMS[step](request.POST, user=request.user)
    if not form.is_valid():
        draft = selectors.draft_for(user=request.user)
        return _respond(request, form_panel(draft=draft, form=form))
    draft, errors = services.draft_step_submit(actor=request.user, step=step, values=form.values())
    if errors:
        return _respond(request, error_panel(user=request.user, draft=draft, errors=errors))
    if not request.htmx:
        return redirect("onboarding:start")
    return _respond(request, step_panel(user=request.user, draft=draft, step=Step(draft.step)))


@require_POST
@onboarding_rule
def step_back(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """Back to the previous step, keeping what this one holds, valid or not."""
    step = _form_step(slug)
    form_class = STEP_FORMS[step]
    form = form_class(request.POST, user=request.user)
    draft = services.draft_step_leave(
        actor=request.user,
        step=step,
        values=form.values() if form.is_valid() else None,
        typed=form_class.initial_from_post(request.POST),
    )
    if not request.htmx:
        return redirect("onboarding:step", slug=draft.step)
    return _respond(request, step_panel(user=request.user, draft=draft, step=Step(draft.step)))


@require_POST
@onboarding_rule
def step_redraw(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """Add or remove a row, or follow a choice (template, strategy), without checking yet."""
    form = form_redrawn(_form_step(slug), request.POST, user=request.user)
    draft = selectors.draft_for(user=request.user)
    return _respond(request, form_panel(draft=draft, form=form, redrawn=True))


@require_safe
@onboarding_rule
def name_check(request: AuthenticatedRequest) -> HttpResponse:
    form = ServiceNameForm(request.GET)
    status, message = form.availability() if request.GET.get("name") else ("", "")
    context = {"status": status, "message": message}
    return render(request, "onboarding/partials/_name_status.html", context)


@require_POST
@onboarding_rule
def create(request: AuthenticatedRequest) -> HttpResponse:
    draft = selectors.draft_for(user=request.user)
    if draft is None or wizard_steps.first_open_step(draft.data) != Step.REVIEW:
        messages.warning(request, "Finish every step before creating the service.")
        return _to_start(request)
    try:
        service = services.onboarding_complete(actor=request.user, draft=draft)
    except ValidationError as exc:
        errors = wizard_steps.errors_by_step(exc)
        return _respond(request, error_panel(user=request.user, draft=draft, errors=errors))
    messages.success(request, f"{service.display_title} is in the catalog.")
    url = reverse("catalog:service-detail", kwargs={"name": service.name})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
@onboarding_rule
def discard(request: AuthenticatedRequest) -> HttpResponse:
    services.draft_discard(actor=request.user)
    if not request.htmx:
        return redirect("onboarding:start")
    return _respond(request, step_panel(user=request.user, draft=None, step=Step.BASICS))
