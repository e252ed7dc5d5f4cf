from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.core.selectors import system_health


@require_safe
def home(request: HttpRequest) -> HttpResponse:
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


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: whatever broke may be behind them.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)
