"""Live status: after a rollout changes, say so on a Redis channel. The message only says
"re-fetch rollout N"; the database stays the truth. Without Redis the stream polls instead."""

import json
import logging

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
CHANNEL = "runway:rollouts"


def _redis():
    import redis

    return redis.Redis.from_url(settings.LIVE_UPDATES_REDIS_URL, socket_timeout=2)


def announce(rollout_id: int) -> None:
    """After the current transaction commits, tell watchers that this rollout changed."""
    if not settings.LIVE_UPDATES_REDIS_URL:
        return

    def publish():
        try:
            _redis().publish(CHANNEL, json.dumps({"rollout": rollout_id}))
        except Exception:  # a lost notice only delays the page until its next poll
            log.warning("could not publish rollout %s change", rollout_id, exc_info=True)

    transaction.on_commit(publish)
