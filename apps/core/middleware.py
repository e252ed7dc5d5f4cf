from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.urls import reverse

from apps.core.bounded_input import BadInput, check_text
from apps.core.http import RunwayRequest
from apps.core.request_context import bind_request, new_request_id

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Gives every request an id, binds it for log lines and audit rows, and returns it in the
    response. An incoming X-Request-ID (from a proxy, or a client tracing its own calls) is kept
    when it is short and plain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: RunwayRequest) -> HttpResponse:
        request.request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
        bind_request(request_id=request.request_id, ip=request.META.get("REMOTE_ADDR"))
        try:
            response = self.get_response(request)
        finally:
            bind_request(request_id=None, ip=None)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class HtmxLoginRedirectMiddleware:
    """An htmx request from an expired session, or one that needs a fresh password first
    (allauth's `reauthentication_required`), must send the whole page to sign in or to confirm,
    not swap that page into a fragment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        prompts = (
            resolve_url(settings.LOGIN_URL),
            reverse("account_reauthenticate"),
            reverse("mfa_reauthenticate"),
        )
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.get("Location", "").startswith(prompts)
        ):
            redirect = HttpResponse(status=204)
            redirect["HX-Redirect"] = response["Location"]
            return redirect
        return response


class HtmxToastMiddleware:
    """Full pages render queued messages as toasts in the layout; htmx responses carry them as an
    out-of-band swap into the same toast area."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not getattr(request, "htmx", False)
            or response.streaming
            or "HX-Redirect" in response
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        queued = list(messages.get_messages(request))
        if queued:
            response.content += render_to_string(
                "partials/_toasts.html", {"messages": queued, "oob": True}
            ).encode()
        return response


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulBytesMiddleware:
    """A NUL byte in the address, a query parameter or a posted form field is refused with a 400
    naming it, before any view: PostgreSQL cannot store NUL in text, so a lookup or a save
    with one fails in the database. JSON bodies are checked by the API's parser."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from apps.core.views import bad_request

        try:
            check_text("path", request.path)
            fields = list(request.GET.lists())
            if request.method == "POST" and request.content_type in FORM_TYPES:
                fields += request.POST.lists()
            for name, values in fields:
                for value in (name, *values):
                    check_text(name.replace("\x00", "\\0"), value)
        except BadInput as exc:
            return bad_request(request, exc.field, exc.message)
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Switch off the browser features Runway never uses (settings.PERMISSIONS_POLICY)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
