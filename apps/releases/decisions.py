"""Approving and rejecting from the browser. A decision on production needs a fresh password (or
second factor): the decision waits in the person's session while allauth asks for it, and is
made through the usual service once they have confirmed, so nothing is typed twice. Whether
they may decide, and whether the release can still be decided on, is checked then."""

from datetime import datetime, timedelta

from allauth.account.internal.flows.reauthentication import (
    did_recently_reauthenticate,
    stash_and_reauthenticate,
)
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from apps.releases import selectors, services
from apps.releases.models import Release
from apps.releases.policies import approval_status, rule_for_approver

DECISIONS = {
    "approve": (services.release_approve, "approved"),
    "reject": (services.release_reject, "rejected"),
}
# Long enough to find a password; short enough that a decision left waiting is not made by some
# later, unrelated re-authentication.
PENDING_FOR = timedelta(minutes=5)
RESUME = "apps.releases.decisions.resume_decision"


def decide(request: HttpRequest, release: Release, decision: str, comment: str) -> None:
    """Record the decision and say so in a toast. Raises the service's ValidationError."""
    service, done = DECISIONS[decision]
    service(actor=request.user, release=release, comment=comment)
    messages.success(request, f"You {done} release #{release.pk}.")


def needs_reauthentication(request: HttpRequest, release: Release) -> bool:
    return release.environment.is_production and not did_recently_reauthenticate(request)


def reauthenticate_then_decide(
    request: HttpRequest, *, release: Release, decision: str, comment: str, back_to: str
) -> HttpResponse:
    """Keep the decision in the session and send the browser to confirm it; allauth calls
    `resume_decision` after. `back_to` is "inbox" or "detail". Someone who may not decide on
    the release at all is refused (403) before being asked for anything."""
    try:
        rule_for_approver(
            release, request.user, approval_status(release, now=timezone.now()), rejecting=True
        )
    except ValidationError as exc:
        raise PermissionDenied(" ".join(exc.messages)) from None
    state = {
        "user": request.user.pk,
        "release": release.pk,
        "decision": decision,
        "comment": comment,
        "back_to": back_to,
        "expires_at": (timezone.now() + PENDING_FOR).isoformat(),
        # The prompt says what the password confirms (templates/account/reauthenticate.html).
        "purpose": (
            f"{decision} release #{release.pk} of {release.service.name} "
            f"to {release.environment.name}"
        ),
    }
    prompt = stash_and_reauthenticate(request, state, RESUME)
    target = f"{prompt.url}?{urlencode({'next': _back_to(release.pk, back_to)})}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


def resume_decision(request: HttpRequest, state: dict) -> HttpResponse | None:
    """Called by allauth once the person has confirmed, with the state it has just taken out of
    the session (so it runs once). A decision of someone else's, or of an unknown kind, is not
    made: None lets allauth carry on to where it would have gone."""
    if state.get("user") != request.user.pk or state.get("decision") not in DECISIONS:
        return None
    release = selectors.release_list().filter(pk=state.get("release")).first()
    if release is None:
        return None
    if timezone.now() >= datetime.fromisoformat(state["expires_at"]):
        minutes = int(PENDING_FOR.total_seconds() // 60)
        messages.error(
            request,
            f"Your decision on release #{release.pk} waited more than {minutes} minutes for "
            "your password and was not recorded. Decide again.",
        )
    else:
        try:
            decide(request, release, state["decision"], state.get("comment", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect(_back_to(release.pk, state.get("back_to")))


def _back_to(pk: int, where: str | None) -> str:
    return reverse("releases:inbox") if where == "inbox" else reverse("releases:detail", args=[pk])
