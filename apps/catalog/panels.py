"""Sections of the service page that other apps contribute (releases, rollouts, scorecards).

The catalog knows nothing of those apps; each registers a panel in its AppConfig.ready():

    register_panel(Panel("releases", "Releases", "releases/panels/_service.html", context_fn, 20))

`context_fn(request, service) -> dict` builds the panel's context; keep it to a fixed number of
queries.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    context: Callable
    order: int = 50


_registry: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _registry[panel.key] = panel


def rendered_panels(request, service) -> list[dict]:
    panels = sorted(_registry.values(), key=lambda panel: (panel.order, panel.key))
    return [
        {
            "key": panel.key,
            "title": panel.title,
            "html": render_to_string(
                panel.template, {"service": service, **panel.context(request, service)}, request
            ),
        }
        for panel in panels
    ]
