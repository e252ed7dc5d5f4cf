"""Where Runway's own deployments enter the reports.

A release's history row, `releases.ReleaseTransition`, is the event: InsightsConfig.ready()
connects `release_transition_saved` to its post_save. A transition into succeeded, failed or
rolled back queues `insights.record_deployment` through the outbox, in the transaction that
moved the release, so the task goes out once that commits (later, if the broker is down). The
releases app knows nothing of this. What the task does, and the repair job behind it, are in
apps/insights/services/runway.py.
"""

from apps.core import outbox
from apps.insights.services.runway import is_finishing
from apps.insights.tasks import deployment_record_task


def release_transition_saved(sender, *, instance, created: bool, raw: bool = False, **kwargs):
    if created and not raw and is_finishing(instance):
        outbox.enqueue(
            deployment_record_task.name,
            args=[instance.pk],
            key=f"{deployment_record_task.name}:{instance.pk}",
        )
