from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and teams"

    def ready(self) -> None:
        from apps.accounts import (
            permissions,
            signals,  # noqa: F401  (sign-in events into the audit log)
        )
        from apps.core.navigation import NavItem, register_nav_item

        register_nav_item(NavItem("Teams", "accounts:team-list", order=70))
        register_nav_item(
            NavItem("People", "accounts:people", permissions.is_platform_admin, order=75)
        )
