"""The main navigation: one ordered list. An entry shows when its page is installed and the
user may open it; each page checks the same rule on the server."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from apps.accounts import permissions


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    allowed: Callable = permissions.can_read


NAV_ITEMS = (
    NavItem("Catalog", "catalog:service-list"),
    NavItem("Onboard", "onboarding:start", permissions.can_create_services),
    NavItem("Releases", "releases:list"),
    NavItem("Calendar", "releases:calendar"),
    NavItem("Rollouts", "rollouts:list"),
    NavItem("Reports", "insights:dashboard", permissions.can_view_reports),
    NavItem("Teams", "accounts:team-list"),
    NavItem("Audit", "audit:event-list", permissions.can_view_audit),
)


def navigation_for(user, current_path: str) -> list[dict]:
    items = []
    for item in NAV_ITEMS:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # that part of Runway is not installed
        if item.allowed(user):
            items.append({"label": item.label, "url": url, "active": False})
    # The most specific entry is the current one: /releases/calendar/ is Calendar, not Releases.
    matching = [entry for entry in items if current_path.startswith(entry["url"])]
    if matching:
        max(matching, key=lambda entry: len(entry["url"]))["active"] = True
    return items
