"""A second factor for the people who can approve and administer: with a role in
MFA_REQUIRED_ROLES and no authenticator app set up, every page sends them to set one up first.
"""

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from apps.accounts.permissions import roles_of

# What someone without a second factor can still reach: setting it up, and signing out.
OPEN_PATHS = ("/accounts/2fa/", "/accounts/reauthenticate/", "/accounts/logout/", "/static/")


def needs_second_factor(user) -> bool:
    required = set(settings.MFA_REQUIRED_ROLES)
    if not required or not roles_of(user) & required:
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class RequireSecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.MFA_REQUIRED_ROLES
            and request.user.is_authenticated
            and not request.path.startswith(OPEN_PATHS)
            and needs_second_factor(request.user)
        ):
            refusal = "Set up two-factor authentication first: your role requires it."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": refusal}, status=403)
            messages.warning(request, refusal)
            return redirect("mfa_activate_totp")
        return self.get_response(request)
