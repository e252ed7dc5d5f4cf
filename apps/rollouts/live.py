"""Live status: after a rollout changes, say so on a Redis channel. The message only says
"re-fetch rollout N"; the database stays the truth. Without Redis the stream polls instead."""

import json
import logging

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
CHANNEL = "runway:rollouts"
# Seconds to reach Redis, one attempt: a lost notice costs the page one poll, while a slow one
# would hold up the answer to the change that caused it.
TIMEOUT = 0.5


def _redis():
    import redis

    return redis.Redis.from_url(
        settings.LIVE_UPDATES_REDIS_URL,
        socket_connect_timeout=TIMEOUT,
        socket_timeout=TIMEOUT,
        retry=None,
    )


def announce(rollout_id: int) -> None:
    """After the current transaction commits, tell watchers that this rollout changed."""
    if not settings.LIVE_UPDATES_REDIS_URL:
        return

    def publish():
        try:
            with _redis() as client:
                client.publish(CHANNEL, json.dumps({"rollout": rollout_id}))
        except Exception:  # a lost notice only delays the page until its next poll
            log.warning("could not publish rollout %s change", rollout_id, exc_info=True)

    # robust: the change is committed; nothing after it may turn its answer into an error.
    transaction.on_commit(publish, robust=True)
