"""One URL, two answers: htmx asks for the part of a page it swaps, everyone else for the page."""

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from apps.core.http import RunwayRequest


def wants_partial(request: RunwayRequest) -> bool:
    # A history restore is htmx asking again for a page it lost from its cache: it needs the page.
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_page_or_partial(
    request: RunwayRequest, *, page: str, partial: str, context: dict[str, Any]
) -> HttpResponse:
    response = render(request, partial if wants_partial(request) else page, context)
    # Caches (the browser's back button too) must keep the two answers of one URL apart.
    patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
    return response
