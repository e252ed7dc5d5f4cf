"""The request as Runway's views see it, for type checking.

Middleware adds to every request what Django's own `HttpRequest` does not declare: the request id
(RequestIdMiddleware) and htmx's details (django-htmx). Every page and API endpoint needs a
signed-in user unless it says otherwise (`login_not_required`, DRF's `IsAuthenticated`), so a
view that takes an `AuthenticatedRequest` may use `request.user` as a `User`.
"""

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request

if TYPE_CHECKING:
    from apps.accounts.models import User


class RunwayRequest(HttpRequest):
    request_id: str
    htmx: HtmxDetails


class AuthenticatedRequest(RunwayRequest):
    user: "User"


def signed_in_user(request: HttpRequest | Request) -> "User":
    """The signed-in user of a request that only signed-in users reach (an API view's
    `self.request`, whose type DRF cannot narrow). Refuses, rather than fails later, when reached
    without one."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return user
