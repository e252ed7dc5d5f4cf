"""Parts of a page that higher apps contribute, as NetBox's plugins add panels to its pages.

The page's app owns a PanelRegistry and knows nothing of the contributors; each registers its
Panel in its AppConfig.ready(). `context(request, obj) -> dict` builds the panel's context (the
object comes in under the registry's name); keep it to a fixed number of queries.
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


class PanelRegistry:
    def __init__(self, object_name: str):
        self.object_name = object_name
        self._panels: dict[str, Panel] = {}

    def register(self, panel: Panel) -> None:
        self._panels[panel.key] = panel

    def render(self, request, obj) -> list[dict]:
        panels = sorted(self._panels.values(), key=lambda panel: (panel.order, panel.key))
        return [
            {
                "key": panel.key,
                "title": panel.title,
                "html": render_to_string(
                    panel.template,
                    {self.object_name: obj, **panel.context(request, obj)},
                    request,
                ),
            }
            for panel in panels
        ]
