import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.core.http import AuthenticatedRequest
from apps.core.selectors import system_health


@require_safe
def home(request: AuthenticatedRequest) -> HttpResponse:
    from apps.accounts.selectors import user_profile_summary

    return render(
        request,
        "core/home.html",
        {"summary": user_profile_summary(user=request.user), "health": system_health()},
    )


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    health = system_health()
    return JsonResponse(health, status=200 if health["healthy"] else 503)


@login_not_required
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """For Prometheus, with the token it is configured with; off (404) without one."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from apps.core.metrics import exposition

    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {settings.METRICS_TOKEN}".encode()):
        return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin signs in through Runway's own sign-in, with its rate limits and second factor,
    rather than Django's unthrottled admin form."""
    return redirect_to_login(request.GET.get("next") or "/admin/", settings.LOGIN_URL)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, field: str, message: str) -> HttpResponse:
    """A 400 naming the field: JSON under /api/ (the shape DRF gives), a page elsewhere."""
    if _is_api(request):
        return JsonResponse({field: [message]}, status=400)
    return render(request, "400.html", {"field": field, "message": message}, status=400)


def suspicious_request(request: HttpRequest, exception=None) -> HttpResponse:
    """Django's own 400s (a Host header not in ALLOWED_HOSTS, a body it will not read): JSON
    under /api/, as every API error is. Rendered without the request, as Django's default does:
    the request may be the suspicious part."""
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    from django.template import loader

    return HttpResponse(loader.get_template("400.html").render(), status=400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to do this."}, status=403)
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    request_id = getattr(request, "request_id", "")
    if _is_api(request):
        return JsonResponse(
            {"detail": "Server error: Runway's operators can trace it.", "request_id": request_id},
            status=500,
        )
    # No context processors: whatever broke may be behind them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
