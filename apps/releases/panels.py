"""The releases panel on a service's catalog page."""

from apps.catalog.panels import Panel, register_panel
from apps.releases.models import Release


def _context(request, service) -> dict:
    recent = (
        Release.objects.filter(service=service)
        .select_related("environment", "requester")
        .order_by("-planned_start")[:8]
    )
    return {"releases": list(recent)}


register_panel(Panel("releases", "Releases", "releases/panels/_service.html", _context, order=20))
