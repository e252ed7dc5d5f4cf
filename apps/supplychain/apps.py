from django.apps import AppConfig


class SupplychainConfig(AppConfig):
    """Artifacts, the evidence CI uploads for them (signatures, attestations) and the trust
    policies Runway verifies that evidence against, before a release may roll out."""

    name = "apps.supplychain"
    label = "supplychain"
    verbose_name = "Supply chain"

    def ready(self) -> None:
        from apps.accounts import permissions
        from apps.core.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem("Trust", "supplychain:trust", permissions.can_manage_trust, order=85)
        )
