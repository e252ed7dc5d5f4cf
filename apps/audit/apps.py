from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from apps.accounts import permissions
        from apps.core.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem("Audit", "audit:event-list", permissions.can_view_audit, order=80)
        )
