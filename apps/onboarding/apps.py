from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "apps.onboarding"
    label = "onboarding"
    verbose_name = "Service onboarding"

    def ready(self) -> None:
        from apps.accounts import permissions
        from apps.core.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem("Onboard", "onboarding:start", permissions.can_create_services, order=20)
        )
