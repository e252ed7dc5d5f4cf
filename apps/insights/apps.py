from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class InsightsConfig(AppConfig):
    name = "apps.insights"
    label = "insights"
    verbose_name = "Delivery reports"

    def ready(self) -> None:
        from apps.accounts import permissions
        from apps.catalog.filters import register_filter
        from apps.core.navigation import NavItem, register_nav_item
        from apps.insights import receivers
        from apps.insights.scorecards import (
            defaults,
            panels,  # noqa: F401  (the scorecard on service pages)
        )
        from apps.insights.scorecards.filters import catalog_level_filter
        from apps.releases.models import ReleaseTransition

        # Every finished release becomes a deployment fact for DORA (see receivers.py).
        post_save.connect(
            receivers.release_transition_saved,
            sender=ReleaseTransition,
            dispatch_uid="insights-deployments",
        )
        post_migrate.connect(
            defaults.scorecard_rules_ensure, sender=self, dispatch_uid="insights-rules"
        )
        # The catalog page and services API filter by scorecard level.
        register_filter("level", catalog_level_filter())
        register_nav_item(
            NavItem("Reports", "insights:dashboard", permissions.can_view_reports, order=60)
        )
        register_nav_item(
            NavItem("Webhooks", "insights:webhooks", permissions.can_manage_webhooks, order=90)
        )
