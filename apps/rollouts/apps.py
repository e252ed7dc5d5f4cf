from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "apps.rollouts"
    label = "rollouts"
    verbose_name = "Rollouts"

    def ready(self) -> None:
        from apps.core.navigation import NavItem, register_nav_item

        # The rollouts panel on service pages, and the rollout links and start button on
        # release pages.
        from apps.rollouts import panels  # noqa: F401

        register_nav_item(NavItem("Rollouts", "rollouts:list", order=50))
