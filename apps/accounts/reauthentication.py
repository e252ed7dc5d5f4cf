"""What a re-authentication prompt confirms. A view that asks for a fresh password (or second
factor) before an action, with allauth's `reauthentication_required`, may name the action here
("approve release #12 of payments to prod"); the prompt then says what the password is for
(templates/account/reauthenticate.html and templates/mfa/reauthenticate.html)."""

from django.http import HttpRequest

PURPOSE_SESSION_KEY = "runway_reauthentication_purpose"


def purpose_keep(request: HttpRequest, purpose: str) -> None:
    request.session[PURPOSE_SESSION_KEY] = purpose


def purpose_forget(request: HttpRequest) -> None:
    request.session.pop(PURPOSE_SESSION_KEY, None)


def purpose_of(request: HttpRequest) -> str:
    return str(request.session.get(PURPOSE_SESSION_KEY, ""))
