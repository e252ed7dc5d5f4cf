"""Every write of the reports app. `from apps.insights import services` and call
`services.<entity>_<verb>(...)`; the modules split them by subject."""

from apps.insights.services.deliveries import (
    DeliveryOutcome,
    delivery_receive,
    unmatched_delivery_map,
)
from apps.insights.services.facts import (
    deployment_fact_record,
    environment_is_production,
    incident_record,
    pipeline_run_record,
    pushed_commits_record,
)
from apps.insights.services.rollups import (
    rollup_refresh,
    rollup_refresh_days,
    rollup_refresh_recent,
)
from apps.insights.services.runway import (
    release_transition_record,
    release_transitions_record_all,
    release_transitions_record_missed,
)
from apps.insights.services.sources import (
    DEFAULT_GRACE,
    source_secrets,
    webhook_secrets_reencrypt,
    webhook_source_create,
    webhook_source_deactivate,
    webhook_source_rotate,
)

__all__ = [
    "DEFAULT_GRACE",
    "DeliveryOutcome",
    "delivery_receive",
    "deployment_fact_record",
    "environment_is_production",
    "incident_record",
    "pipeline_run_record",
    "pushed_commits_record",
    "release_transition_record",
    "release_transitions_record_all",
    "release_transitions_record_missed",
    "rollup_refresh",
    "rollup_refresh_days",
    "rollup_refresh_recent",
    "source_secrets",
    "unmatched_delivery_map",
    "webhook_secrets_reencrypt",
    "webhook_source_create",
    "webhook_source_deactivate",
    "webhook_source_rotate",
]
