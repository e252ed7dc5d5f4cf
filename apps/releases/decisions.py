"""Approving and rejecting from the browser. A decision on production needs a fresh password (or
second factor): allauth's `reauthentication_required` keeps the posted decision in the session
while it asks for one and sends it again once the person has confirmed, so nothing is typed
twice. Whether they may decide, and whether the release can still be decided on, is checked
then, by the usual service."""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from allauth.account.decorators import reauthentication_required
from allauth.core.exceptions import ReauthenticationRequired
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from apps.accounts.reauthentication import purpose_forget, purpose_keep
from apps.core.http import AuthenticatedRequest
from apps.releases import selectors, services
from apps.releases.forms import DecisionForm
from apps.releases.gates import readiness, risks_of_approving
from apps.releases.models import Release
from apps.releases.policies import approval_status
from apps.releases.transitions import available_actions, require_decider

DECISIONS: dict[str, tuple[Callable[..., object], str]] = {
    "approve": (services.release_approve, "approved"),
    "reject": (services.release_reject, "rejected"),
}
# Long enough to find a password; short enough that a decision left waiting is not made long
# after it was asked for.
PENDING_FOR = timedelta(minutes=5)
# The decision waiting for the password: who, which release, what, and until when.
PENDING_SESSION_KEY = "releases_pending_decision"


def decide(request: AuthenticatedRequest, release: Release, decision: str, data: dict) -> None:
    """Record the decision (DecisionForm's `data`) and say so in a toast. Raises the service's
    ValidationError."""
    service, done = DECISIONS[decision]
    options = {"confirm_risks": bool(data.get("confirm_risks"))} if decision == "approve" else {}
    try:
        service(actor=request.user, release=release, comment=data.get("comment", ""), **options)
    except PermissionDenied as exc:
        # The API answers 403; a page says why in place, beside what was typed.
        raise ValidationError(str(exc)) from None
    messages.success(request, f"You {done} release #{release.pk}.")


@reauthentication_required
def _require_fresh_proof(request: AuthenticatedRequest) -> None:
    """Raises allauth's ReauthenticationRequired unless the person confirmed their password (or
    second factor) within ACCOUNT_REAUTHENTICATION_TIMEOUT."""


def _proof_is_fresh(request: AuthenticatedRequest) -> bool:
    try:
        _require_fresh_proof(request)
    except ReauthenticationRequired:
        return False
    return True


def confirmed_on_production(decision: str, *, back_to: str) -> Callable:
    """For a view that approves or rejects release `pk`. On production, someone who may not
    decide on the release is refused (403) before being asked for anything, and a decision that
    would be refused anyway is refused without a password; otherwise, without a fresh password,
    the decision is kept and allauth asks for one, then sends the same request again, which
    makes the decision and goes back to `back_to` ("detail" or "inbox")."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: AuthenticatedRequest, pk: int) -> HttpResponse:
            release = get_object_or_404(selectors.release_list(), pk=pk)
            if not release.environment.is_production:
                return view(request, pk)
            pending = request.session.pop(PENDING_SESSION_KEY, None)
            if _proof_is_fresh(request):
                if _is_this_decision(pending, release, decision):
                    return _decide_kept(request, release, decision, pending, back_to)
                return view(request, pk)
            if not _worth_a_password(request, release, decision):
                return view(request, pk)  # refused in place by the service, no password asked
            _keep(request, release, decision)
            # allauth's middleware keeps this request, asks for the password, then sends it again.
            raise ReauthenticationRequired()

        return wrapped

    return decorator


def _worth_a_password(request: AuthenticatedRequest, release: Release, decision: str) -> bool:
    """Whether the decision could be made once the password is confirmed. Someone who may not
    decide is refused (403) here; a decision refused for another reason (the release's state,
    failing gates not confirmed yet) is left to the service to say why, without asking for a
    password first."""
    now = timezone.now()
    status = approval_status(release, now=now)
    require_decider(release, request.user, status=status)
    if decision not in available_actions(release, request.user, status=status):
        return False
    if decision == "approve" and request.POST.get("confirm_risks") != "on":
        gates = readiness(release, now=now, at=max(now, release.planned_start), status=status)
        return not risks_of_approving(gates)
    return True


def _keep(request: AuthenticatedRequest, release: Release, decision: str) -> None:
    request.session[PENDING_SESSION_KEY] = {
        "user": request.user.pk,
        "release": release.pk,
        "decision": decision,
        "expires_at": (timezone.now() + PENDING_FOR).isoformat(),
    }
    purpose_keep(
        request,
        f"{decision} release #{release.pk} of {release.service.name} to {release.environment.name}",
    )


def _is_this_decision(pending, release: Release, decision: str) -> bool:
    return (
        isinstance(pending, dict)
        and pending.get("release") == release.pk
        and pending.get("decision") == decision
    )


def _decide_kept(
    request: AuthenticatedRequest, release: Release, decision: str, pending: dict, back_to: str
) -> HttpResponse:
    """The kept decision, sent again once the password was confirmed: made once, by the person
    who made it, within PENDING_FOR; the service decides whether it may still be made."""
    purpose_forget(request)
    back = _back_to(release.pk, back_to)
    if pending.get("user") != request.user.pk:
        return redirect(back)
    if timezone.now() >= datetime.fromisoformat(pending["expires_at"]):
        minutes = int(PENDING_FOR.total_seconds() // 60)
        messages.error(
            request,
            f"Your decision on release #{release.pk} waited more than {minutes} minutes for "
            "your password and was not recorded. Decide again.",
        )
        return redirect(back)
    form = DecisionForm(request.POST)
    form.is_valid()
    try:
        decide(request, release, decision, form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(back)


def _back_to(pk: int, where: str) -> str:
    return reverse("releases:inbox") if where == "inbox" else reverse("releases:detail", args=[pk])
