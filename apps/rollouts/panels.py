"""The rollouts panel on a service's catalog page."""

from apps.catalog.panels import Panel, register_panel
from apps.rollouts import selectors


def _context(request, service) -> dict:
    return {"rollouts": selectors.service_rollouts(service=service)}


register_panel(Panel("rollouts", "Rollouts", "rollouts/panels/_service.html", _context, order=30))
