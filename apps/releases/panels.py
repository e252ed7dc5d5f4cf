"""The releases panel on a service's catalog page, and the release page's "Promote" button."""

from apps.accounts import permissions
from apps.catalog.panels import Panel, register_panel
from apps.releases.models import Release
from apps.releases.page_actions import register_action
from apps.releases.promotion import promotion_offer

PANEL_COLUMNS = ("title", "version", "state", "planned_start", "environment__name")


def _context(request, service) -> dict:
    # Only what the panel shows (releases/panels/_service.html): a release row also holds its
    # description, justification and JSON, which the panel would decode only to drop.
    recent = (
        Release.objects.filter(service=service)
        .select_related("environment")
        .only(*PANEL_COLUMNS)
        .order_by("-planned_start")[:8]
    )
    # The form offers a service to its owning team and to platform admins (forms.services_for).
    may_request = permissions.can_act_for_team(request.user, service.owner_id)
    return {"releases": list(recent), "can_request": may_request}


register_panel(Panel("releases", "Releases", "releases/panels/_service.html", _context, order=20))


register_action(
    Panel(
        "promote",
        "Promote",
        "releases/panels/_promote.html",
        lambda request, release: {"promote_to": promotion_offer(release, request.user)},
        order=10,
    )
)
