from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "apps.insights"
    label = "insights"
    verbose_name = "Delivery reports"

    def ready(self) -> None:
        from apps.insights import receivers
        from apps.rollouts.signals import deployment_recorded

        # Every finished rollout becomes a deployment fact for DORA as it ends.
        deployment_recorded.connect(
            receivers.rollout_deployment_recorded, dispatch_uid="insights-deployments"
        )
