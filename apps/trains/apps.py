from django.apps import AppConfig


class TrainsConfig(AppConfig):
    name = "apps.trains"
    label = "trains"
    verbose_name = "Release trains"

    def ready(self) -> None:
        from apps.core.navigation import NavItem, register_nav_item
        from apps.trains import (
            groups,  # noqa: F401  (a train is one item in the inbox and the calendar)
            panels,  # noqa: F401  (the train link on release pages)
            steering,  # noqa: F401  (members are acted on through the train)
        )

        register_nav_item(NavItem("Trains", "trains:list", order=35))
