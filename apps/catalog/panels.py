"""Sections of the service page that other apps contribute (releases, rollouts, scorecards),
each registered from its AppConfig.ready() (see apps/core/panels.py):

    register_panel(Panel("releases", "Releases", "releases/panels/_service.html", context_fn, 20))
"""

from apps.core.panels import Panel, PanelRegistry

__all__ = ["Panel", "panel_row_annotations", "register_panel", "rendered_panels"]

service_panels = PanelRegistry("service")


def register_panel(panel: Panel) -> None:
    service_panels.register(panel)


def rendered_panels(request, service) -> list[dict]:
    return service_panels.render(request, service)


def panel_row_annotations() -> dict:
    return service_panels.row_annotations()
