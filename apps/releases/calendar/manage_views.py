"""Pages where release managers and platform admins manage change windows and freezes: the two
lists, each one's page with its actions, and the create and edit forms with their live preview.
Every view asks `can_manage_change_calendar` (a 403 for everyone else) and the services ask
again; what a page offers is `available_actions`, the services' own check."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import permissions
from apps.core.forms import add_service_errors
from apps.core.http import AuthenticatedRequest
from apps.core.lists import render_filtered_list
from apps.releases.calendar import manage_selectors, preview, services
from apps.releases.calendar.filters import ChangeWindowFilter, FreezeFilter
from apps.releases.calendar.forms import (
    ChangeWindowForm,
    EndFreezeForm,
    ExtendFreezeForm,
    FreezeForm,
)
from apps.releases.calendar.selectors import zone_of
from apps.releases.calendar.transitions import available_actions, require_action
from apps.releases.models import ChangeWindow, Freeze

PAGE_SIZE = 50
managers_only = permissions.rule_required(permissions.can_manage_change_calendar)


@require_safe
@managers_only
def change_calendar(request: AuthenticatedRequest) -> HttpResponse:
    return redirect("releases:window-list")


def _list(request, *, queryset, filterset_class, noun: str) -> HttpResponse:
    return render_filtered_list(
        request,
        queryset=queryset,
        filterset_class=filterset_class,
        page_size=PAGE_SIZE,
        template=f"releases/change_calendar/{noun}_list.html",
        partial_template=f"releases/change_calendar/partials/_{noun}_list.html",
        decorate=lambda rows: manage_selectors.with_schedule(rows, user=request.user),
        extra_context=lambda filterset: {"viewer_zone": zone_of(request.user).key},
    )


@require_safe
@managers_only
def window_list(request: AuthenticatedRequest) -> HttpResponse:
    return _list(
        request,
        queryset=manage_selectors.window_list(),
        filterset_class=ChangeWindowFilter,
        noun="window",
    )


@require_safe
@managers_only
def freeze_list(request: AuthenticatedRequest) -> HttpResponse:
    return _list(
        request,
        queryset=manage_selectors.freeze_list(),
        filterset_class=FreezeFilter,
        noun="freeze",
    )


# --- One window or freeze ------------------------------------------------------------------------


def _detail(request, obj, template: str, status: int = 200, **forms) -> HttpResponse:
    now = timezone.now()
    manage_selectors.with_schedule(
        [obj], user=request.user, now=now, count=manage_selectors.DETAIL_OCCURRENCES
    )
    context = {
        "rule": obj,
        "actions": available_actions(obj, request.user, now),
        "viewer_zone": zone_of(request.user).key,
        **forms,
    }
    return render(request, template, context, status=status)


@require_safe
@managers_only
def window_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(manage_selectors.window_list(), pk=pk)
    return _detail(request, window, "releases/change_calendar/window_detail.html")


def _freeze_page(request, freeze, status: int = 200, **forms) -> HttpResponse:
    forms.setdefault("end_form", EndFreezeForm())
    forms.setdefault("extend_form", ExtendFreezeForm(zone=freeze.time_zone))
    return _detail(request, freeze, "releases/change_calendar/freeze_detail.html", status, **forms)


@require_safe
@managers_only
def freeze_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _freeze_page(request, get_object_or_404(manage_selectors.freeze_list(), pk=pk))


# --- Create and edit, with the preview ---------------------------------------------------------


def _form_page(request, form, *, rule=None, noun: str) -> HttpResponse:
    if rule is None:
        preview_url = reverse(f"releases:{noun}-preview")
    else:
        preview_url = reverse(f"releases:{noun}-edit-preview", args=[rule.pk])
    context = {"form": form, "rule": rule, "preview_url": preview_url}
    return render(request, f"releases/change_calendar/{noun}_form.html", context)


def _not_editable(request, rule, page: str) -> HttpResponse | None:
    """Back to the rule's page, saying why, when it may not be edited now (an ended freeze)."""
    try:
        require_action(rule, request.user, "edit")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(page, pk=rule.pk)
    return None


def _save(request, form, save, *, noun: str, done: str):
    """Run the service with the form's data: the saved window or freeze, or None with the
    refusal next to the field it names."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        saved = save(**form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None
    messages.success(request, f"{noun} “{saved.name}” {done}.")
    return saved


@require_http_methods(["GET", "POST"])
@managers_only
def window_create(request: AuthenticatedRequest) -> HttpResponse:
    form = ChangeWindowForm(request.POST or None, initial={"time_zone": zone_of(request.user).key})
    saved = _save(
        request,
        form,
        lambda **fields: services.change_window_create(actor=request.user, **fields),
        noun="Window",
        done="created",
    )
    if saved:
        return redirect("releases:window-detail", pk=saved.pk)
    return _form_page(request, form, noun="window")


@require_http_methods(["GET", "POST"])
@managers_only
def window_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(manage_selectors.window_list().filter(deleted_at=None), pk=pk)
    if refused := _not_editable(request, window, "releases:window-detail"):
        return refused
    form = ChangeWindowForm(request.POST or None, initial=ChangeWindowForm.initial_for(window))
    saved = _save(
        request,
        form,
        lambda **fields: services.change_window_update(actor=request.user, window=window, **fields),
        noun="Window",
        done="saved",
    )
    if saved:
        return redirect("releases:window-detail", pk=pk)
    return _form_page(request, form, rule=window, noun="window")


@require_http_methods(["GET", "POST"])
@managers_only
def freeze_create(request: AuthenticatedRequest) -> HttpResponse:
    form = FreezeForm(request.POST or None, initial={"time_zone": zone_of(request.user).key})
    saved = _save(
        request,
        form,
        lambda **fields: services.freeze_create(actor=request.user, **fields),
        noun="Freeze",
        done="created",
    )
    if saved:
        return redirect("releases:freeze-detail", pk=saved.pk)
    return _form_page(request, form, noun="freeze")


@require_http_methods(["GET", "POST"])
@managers_only
def freeze_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    freeze = get_object_or_404(manage_selectors.freeze_list().filter(deleted_at=None), pk=pk)
    if refused := _not_editable(request, freeze, "releases:freeze-detail"):
        return refused
    form = FreezeForm(request.POST or None, initial=FreezeForm.initial_for(freeze))
    saved = _save(
        request,
        form,
        lambda **fields: services.freeze_update(actor=request.user, freeze=freeze, **fields),
        noun="Freeze",
        done="saved",
    )
    if saved:
        return redirect("releases:freeze-detail", pk=pk)
    return _form_page(request, form, rule=freeze, noun="freeze")


def _preview(request, form, build, original, *, noun: str) -> HttpResponse:
    """The preview of what the form holds now; what is wrong, by field, instead of a preview
    (never an error page: the form is half typed)."""
    zone = str(form.data.get("time_zone") or "UTC")[:64]
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        candidate = build(form.cleaned_data, original)
    except ValidationError as exc:
        shown = preview.refused(exc, rule_zone=zone, viewer=request.user)
    else:
        shown = preview.preview(candidate=candidate, original=original, viewer=request.user)
    labels = {name: form[name].label for name in form.fields}
    errors = [(labels.get(name, ""), messages) for name, messages in shown.errors.items()]
    context = {"preview": shown, "errors": errors, "noun": noun}
    return render(request, "releases/change_calendar/partials/_preview.html", context)


@require_safe
@managers_only
def window_preview(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    original = None
    if pk is not None:
        original = get_object_or_404(ChangeWindow.objects.filter(deleted_at=None), pk=pk)
    return _preview(
        request, ChangeWindowForm(request.GET), preview.window_candidate, original, noun="window"
    )


@require_safe
@managers_only
def freeze_preview(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    original = None
    if pk is not None:
        original = get_object_or_404(Freeze.objects.filter(deleted_at=None), pk=pk)
    return _preview(
        request,
        FreezeForm(request.GET),
        lambda fields, freeze: preview.freeze_candidate(fields, freeze, creator=request.user),
        original,
        noun="freeze",
    )


# --- Actions -----------------------------------------------------------------------------------


def _run_action(request, run, *, success: str, done: str, back: str) -> HttpResponse:
    """Run a window's or freeze's action and go to `done`; a refusal comes back as a message
    on the page at `back`."""
    try:
        run()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    messages.success(request, success)
    return redirect(done)


def _window_action(request, pk: int, service, success: str, done: str = "") -> HttpResponse:
    window = get_object_or_404(ChangeWindow.objects.all(), pk=pk)
    page = reverse("releases:window-detail", args=[pk])
    return _run_action(
        request,
        lambda: service(actor=request.user, window=window),
        success=success.format(name=window.name),
        done=done or page,
        back=page,
    )


@require_POST
@managers_only
def window_deactivate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _window_action(
        request,
        pk,
        services.change_window_deactivate,
        "Window “{name}” deactivated: it decides nothing until reactivated.",
    )


@require_POST
@managers_only
def window_reactivate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _window_action(
        request, pk, services.change_window_reactivate, "Window “{name}” reactivated."
    )


@require_POST
@managers_only
def window_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _window_action(
        request,
        pk,
        services.change_window_delete,
        "Window “{name}” deleted: it no longer decides anything.",
        done=reverse("releases:window-list"),
    )


@require_POST
@managers_only
def freeze_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    freeze = get_object_or_404(Freeze.objects.all(), pk=pk)
    return _run_action(
        request,
        lambda: services.freeze_delete(actor=request.user, freeze=freeze),
        success=f"Freeze “{freeze.name}” deleted: it no longer stops releases.",
        done=reverse("releases:freeze-list"),
        back=reverse("releases:freeze-detail", args=[pk]),
    )


def _freeze_form_action(request, pk: int, form, run, success: str) -> HttpResponse:
    """End now and extend: a refusal shows the freeze's page again, the error next to the
    field it names."""
    freeze = get_object_or_404(Freeze.objects.all(), pk=pk)
    if form.is_valid():
        try:
            run(freeze, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, success.format(name=freeze.name))
            return redirect("releases:freeze-detail", pk=pk)
    messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    freeze = get_object_or_404(manage_selectors.freeze_list(), pk=pk)
    key = "end_form" if isinstance(form, EndFreezeForm) else "extend_form"
    return _freeze_page(request, freeze, 400, **{key: form})


@require_POST
@managers_only
def freeze_end_now(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _freeze_form_action(
        request,
        pk,
        EndFreezeForm(request.POST),
        lambda freeze, data: services.freeze_end_now(
            actor=request.user, freeze=freeze, reason=data.get("reason", "")
        ),
        "Freeze “{name}” ended.",
    )


@require_POST
@managers_only
def freeze_extend(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    freeze = get_object_or_404(Freeze.objects.all(), pk=pk)
    return _freeze_form_action(
        request,
        pk,
        ExtendFreezeForm(request.POST, zone=freeze.time_zone),
        lambda freeze, data: services.freeze_extend(
            actor=request.user, freeze=freeze, ends_at=data.get("ends_at")
        ),
        "Freeze “{name}” extended.",
    )
