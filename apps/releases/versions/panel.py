"""The Versions panel on a service's catalog page: what runs in each environment, since when
unbroken and when its soak is over, the pins in force, the versions marked bad, and the forms
of those who may hold them."""

from django.utils import timezone

from apps.accounts import permissions
from apps.catalog.models import Service
from apps.catalog.panels import Panel, register_panel
from apps.core.durations import format_duration
from apps.releases.versions import transitions
from apps.releases.versions.forms import MarkBadForm, lift_form, pin_form
from apps.releases.versions.selectors import service_versions


def panel_context(request, service: Service, *, failed: str = "", form=None) -> dict:
    """`failed` names the form a refusal came from ("bad", "pin:<environment>", "lift:<pin>"),
    which is shown again, bound, with its errors in place."""
    versions, now = service_versions(service), timezone.now()
    may_hold = permissions.can_hold_versions(request.user, service)
    rows = []
    for row in versions.environments:
        pin_key = f"pin:{row.environment.name}"
        lift_key = f"lift:{row.pin.pk}" if row.pin else ""
        may_lift = row.pin is not None and "lift" in transitions.available_actions(
            row.pin, request.user
        )
        rows.append(
            {
                "row": row,
                "soak": format_duration(row.environment.soak_seconds),
                "soaked": row.soaked_at is not None and row.soaked_at <= now,
                "pin_form": form
                if failed == pin_key
                else pin_form(row.environment.name, initial={"version": row.running}),
                "pin_open": failed == pin_key,
                "lift_form": form if failed and failed == lift_key else lift_form(row.pin),
                "lift_open": bool(failed) and failed == lift_key,
                "may_lift": may_lift,
            }
        )
    return {
        "rows": rows,
        "bad_versions": versions.bad_versions,
        "may_hold": may_hold,
        "bad_form": form if failed == "bad" else MarkBadForm(prefix="bad"),
        "bad_open": failed == "bad",
    }


register_panel(
    Panel(
        "versions",
        "Versions",
        "releases/panels/_versions.html",
        lambda request, service: panel_context(request, service),
        order=15,
    )
)
