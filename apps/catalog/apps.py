from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Service catalog"

    def ready(self) -> None:
        from apps.core.navigation import NavItem, register_nav_item

        register_nav_item(NavItem("Catalog", "catalog:service-list", order=10))
