"""The scorecard panel on a service's catalog page."""

from apps.catalog.panels import Panel, register_panel
from apps.insights.scorecards.selectors import score_row_annotations, service_scorecard


def _context(request, service) -> dict:
    return {"scorecard": service_scorecard(service)}


register_panel(
    Panel(
        "scorecard",
        "Scorecard",
        "insights/panels/_scorecard.html",
        _context,
        order=40,
        row_annotations=score_row_annotations,
    )
)
