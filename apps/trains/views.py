from collections.abc import Callable
from functools import wraps

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import permissions
from apps.core.forms import add_service_errors
from apps.core.htmx import render_page_or_partial, wants_partial
from apps.core.http import AuthenticatedRequest
from apps.releases.promotion import next_environment
from apps.trains import promotion, selectors, services
from apps.trains.evidence import train_evidence_file_name, train_evidence_zip
from apps.trains.forms import TrainForm, TrainPlanForm
from apps.trains.member_columns import live_stream_url, member_columns, member_rows
from apps.trains.models import Train
from apps.trains.policies import not_a_train_decider, train_approval_status
from apps.trains.transitions import decision_refusals, may_request_trains

PAGE_SIZE = 50


@require_safe
@permissions.rule_required(permissions.can_read)
def train_list(request: AuthenticatedRequest) -> HttpResponse:
    page = Paginator(selectors.train_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "trains/train_list.html",
        {"page": page, "query": "", "can_request": may_request_trains(request.user)},
    )


@require_safe
@permissions.rule_required(permissions.can_read)
def train_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The page, or (htmx, when its live stream says the train changed) its status part."""
    stream_url = "" if wants_partial(request) else live_stream_url(pk)
    train = get_object_or_404(selectors.train_detail_queryset(), pk=pk)
    selectors.with_decision_state(train, request.user)
    refusals = decision_refusals(train, train.member_releases, request.user, train.approval_status)
    waves = selectors.in_waves(train, train.member_releases)
    numbers = [wave.number for wave in waves for _ in wave.members]
    rows = member_rows([release for wave in waves for release in wave.members])
    context = {
        "train": train,
        "refusals": refusals,
        "waves": waves,
        "member_columns": member_columns(),
        "member_rows": [(number, *row) for number, row in zip(numbers, rows, strict=True)],
        "stream_url": stream_url,
        "promote_to": _promote_to(train),
    }
    return render_page_or_partial(
        request,
        page="trains/train_detail.html",
        partial="trains/partials/_train.html",
        context=context,
    )


def _promote_to(train: Train) -> str:
    """The environment the promote button names (one query, only when it is offered)."""
    if "promote" not in train.actions_now or not train.member_releases:
        return ""
    target = next_environment(train.member_releases[0])
    return target.name if target else ""


@require_safe
@permissions.rule_required(permissions.can_read)
def train_evidence(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The train's evidence as one ZIP: whoever may read a release's evidence may read it."""
    train = get_object_or_404(selectors.train_detail_queryset(), pk=pk)
    response = HttpResponse(train_evidence_zip(train), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{train_evidence_file_name(train)}"'
    return response


@require_http_methods(["GET", "POST"])
@permissions.rule_required(may_request_trains)
def train_create(request: AuthenticatedRequest) -> HttpResponse:
    form = TrainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            train = services.train_request(
                actor=request.user, submit="submit" in request.POST, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Train #{train.pk} {train.get_state_display().lower()}.")
            return redirect("trains:detail", pk=train.pk)
    return render(request, "trains/train_form.html", {"form": form})


@require_POST
@permissions.rule_required(may_request_trains)
def train_plan(request: AuthenticatedRequest) -> HttpResponse:
    """The create form's plan: the waves the members would roll out in, or why there are none
    (a cycle, a missing service), in place. Writes nothing."""
    form = TrainPlanForm(request.POST)
    waves: list[list[str]] = []
    if form.is_valid():
        try:
            waves = services.train_plan(**form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return render(request, "trains/partials/_plan.html", {"form": form, "waves": waves})


def _run_train_action(request, pk: int, act, *, done: str = "") -> HttpResponse:
    """Run a train action; a refusal is said in a toast. Back to the train's page, or to the
    inbox for a decision made there."""
    train = get_object_or_404(Train.objects.all(), pk=pk)
    try:
        act(train, request.POST.get("comment", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if done:
            messages.success(request, f"You {done} train #{pk} {train.name}.")
    if done:
        return redirect("releases:inbox")
    return redirect("trains:detail", pk=pk)


@require_POST
def train_submit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_train_action(
        request, pk, lambda t, _: services.train_submit(actor=request.user, train=t)
    )


def confirmed_on_production(view: Callable) -> Callable:
    """As for a release: someone who may not decide on the train is refused (403) before being
    asked for anything; a decision on a train to production needs a fresh password (allauth
    keeps the posted decision while it asks, then sends it again)."""

    @wraps(view)
    def wrapped(request: AuthenticatedRequest, pk: int) -> HttpResponse:
        train = get_object_or_404(Train.objects.all(), pk=pk)
        members = selectors.train_members(train)
        status = train_approval_status(train, members, now=timezone.now())
        refusal = not_a_train_decider(train, members, request.user, status)
        if refusal:
            raise PermissionDenied(refusal)
        if any(release.environment.is_production for release in members):
            return reauthentication_required(view)(request, pk)
        return view(request, pk)

    return wrapped


@require_POST
@confirmed_on_production
def train_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_train_action(
        request,
        pk,
        lambda t, comment: services.train_approve(actor=request.user, train=t, comment=comment),
    )


@require_POST
@confirmed_on_production
def train_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_train_action(
        request,
        pk,
        lambda t, comment: services.train_reject(actor=request.user, train=t, comment=comment),
    )


@require_POST
def train_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_train_action(
        request,
        pk,
        lambda t, comment: services.train_cancel(actor=request.user, train=t, reason=comment),
    )


@require_POST
def train_start(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_train_action(
        request, pk, lambda t, _: services.train_start(actor=request.user, train=t)
    )


@require_POST
def train_rollback(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _run_train_action(
        request,
        pk,
        lambda t, comment: services.train_rollback(actor=request.user, train=t, reason=comment),
    )


@require_POST
def train_promote(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The new train's page on success (submitted: it goes through its own policies), this
    one's with the reason otherwise."""
    train = get_object_or_404(Train.objects.all(), pk=pk)
    try:
        promoted = promotion.train_promote(
            actor=request.user,
            train=train,
            emergency="emergency" in request.POST,
            justification=request.POST.get("justification", ""),
            submit=True,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("trains:detail", pk=pk)
    messages.success(
        request,
        f"Train #{promoted.pk} asks {promoted.environment_name} for the same versions: "
        f"{promoted.get_state_display().lower()}.",
    )
    return redirect("trains:detail", pk=promoted.pk)


# The same decisions from the release managers' inbox, where a train is one item: the same
# services and refusals (separation of duties, a fresh password on production). htmx gets that
# one item back (the outcome, or the refusal inside the item); otherwise back to the inbox.


def _decide_from_inbox(request, pk: int, act, done: str) -> HttpResponse:
    if not request.htmx:
        return _run_train_action(request, pk, act, done=done)
    train = get_object_or_404(Train.objects.all(), pk=pk)
    comment = request.POST.get("comment", "")
    try:
        act(train, comment)
    except ValidationError as exc:
        item = selectors.train_inbox_item(request.user, pk)
        context = {"item": item, "errors": exc.messages, "comment": comment}
        return render(request, "trains/partials/_inbox_item.html", context)
    messages.success(request, f"You {done} train #{pk} {train.name}.")
    train.refresh_from_db()
    outcome = selectors.decision_outcome(train)
    return render(
        request, "trains/partials/_inbox_outcome.html", {"train": train, "outcome": outcome}
    )


@require_POST
@confirmed_on_production
def train_inbox_approve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _decide_from_inbox(
        request,
        pk,
        lambda t, comment: services.train_approve(actor=request.user, train=t, comment=comment),
        "approved",
    )


@require_POST
@confirmed_on_production
def train_inbox_reject(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _decide_from_inbox(
        request,
        pk,
        lambda t, comment: services.train_reject(actor=request.user, train=t, comment=comment),
        "rejected",
    )
