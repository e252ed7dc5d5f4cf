"""Parts of a page that higher apps contribute, as NetBox's plugins add panels to its pages.

The page's app owns a PanelRegistry and knows nothing of the contributors; each registers its
Panel in its AppConfig.ready(). `context(request, obj) -> dict` builds the panel's context (the
object comes in under the registry's name); keep it to a fixed number of queries.

A panel may also ask for a few values on the object's own row (`row_annotations() -> dict` of
expressions, such as whether it has any rows for the panel): the page reads them with the
object, and the panel skips a read whose answer is known empty. The context must still work
without them (the object read elsewhere, as an htmx form re-rendering one panel does).
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
    row_annotations: Callable[[], dict] | None = None


class PanelRegistry:
    def __init__(self, object_name: str):
        self.object_name = object_name
        self._panels: dict[str, Panel] = {}

    def register(self, panel: Panel) -> None:
        self._panels[panel.key] = panel

    def row_annotations(self) -> dict:
        """What the panels ask to read with the object's row, for its queryset's annotate()."""
        annotations: dict = {}
        for panel in self._panels.values():
            if panel.row_annotations is not None:
                annotations.update(panel.row_annotations())
        return annotations

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
