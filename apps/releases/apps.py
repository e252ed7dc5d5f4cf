from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "apps.releases"
    label = "releases"
    verbose_name = "Releases and approvals"

    def ready(self) -> None:
        from apps.accounts import permissions
        from apps.core.navigation import NavItem, register_nav_item
        from apps.releases import panels  # noqa: F401  (the releases panel on service pages)
        from apps.releases.versions import panel  # noqa: F401  (the versions panel, likewise)

        register_nav_item(NavItem("Releases", "releases:list", order=30))
        register_nav_item(NavItem("Calendar", "releases:calendar", order=40))
        register_nav_item(
            NavItem(
                "Windows & freezes",
                "releases:change-calendar",
                allowed=permissions.can_manage_change_calendar,
                order=45,
            )
        )
