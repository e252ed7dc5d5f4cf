"""Where Runway's own deployments enter the reports.

The rollouts app sends `apps.rollouts.signals.deployment_recorded(sender, deployment=...)` after
a rollout's Deployment row is written or changes result (a later rollback sets its
`rolled_back_at`). To record those as they happen, connect this receiver in
InsightsConfig.ready() once that signal is part of the rollouts app:

    from apps.rollouts.signals import deployment_recorded
    deployment_recorded.connect(
        receivers.rollout_deployment_recorded, dispatch_uid="insights.rollout_deployment"
    )

Until then the beat task `insights.record_finished_releases` records finished releases every ten
minutes. Both key the fact by the release (`release/<id>`), so running both never counts a
deployment twice.
"""

from apps.insights.services import deployment_fact_record_for_release
from apps.releases.models import Release


def rollout_deployment_recorded(sender, *, deployment, **kwargs) -> None:
    """`deployment` needs `release_id` and `rolled_back_at` (the rollouts app's Deployment)."""
    release = (
        Release.objects.select_related("service", "environment")
        .prefetch_related("commits")
        .get(pk=deployment.release_id)
    )
    if release.started_at is None or release.finished_at is None:
        return  # the release is not finished yet: the finishing transition sends it again
    deployment_fact_record_for_release(
        release=release, rolled_back_at=getattr(deployment, "rolled_back_at", None)
    )
