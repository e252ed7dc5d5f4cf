"""The main navigation: each app adds its entries from its AppConfig.ready(), so core names no
app's pages. An entry shows when its page is mounted and the user may open it; each page checks
the same rule on the server.

    register_nav_item(NavItem("Releases", "releases:list", order=30))
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from django.urls import NoReverseMatch, reverse

from apps.accounts import permissions


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    allowed: Callable = permissions.can_read
    # The menu's order, left to right; apps load in another order than they appear.
    order: int = 50


class NavEntry(TypedDict):
    label: str
    url: str
    active: bool


_registry: dict[str, NavItem] = {}


def register_nav_item(item: NavItem) -> None:
    _registry[item.url_name] = item


def navigation_for(user, current_path: str) -> list[NavEntry]:
    items: list[NavEntry] = []
    for item in sorted(_registry.values(), key=lambda item: (item.order, item.label)):
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # that part of Runway is not mounted
        if item.allowed(user):
            items.append({"label": item.label, "url": url, "active": False})
    # The most specific entry is the current one: /releases/calendar/ is Calendar, not Releases.
    matching = [entry for entry in items if current_path.startswith(entry["url"])]
    if matching:
        max(matching, key=lambda entry: len(entry["url"]))["active"] = True
    return items
