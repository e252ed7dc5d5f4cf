from django.apps import AppConfig


class TrainsConfig(AppConfig):
    name = "apps.trains"
    label = "trains"
    verbose_name = "Release trains"

    def ready(self) -> None:
        from apps.core.navigation import NavItem, register_nav_item

        register_nav_item(NavItem("Trains", "trains:list", order=35))
