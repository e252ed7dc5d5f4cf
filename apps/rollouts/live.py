"""Live status: after a rollout or a train changes, say so on a Redis channel. The message only
says "re-fetch rollout N" (and the train it is a member of, if any) or "re-fetch train N"; the
database stays the truth. Without Redis the stream polls instead."""

import json
import logging
from functools import cache

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
CHANNEL = "runway:rollouts"
# Seconds to reach Redis, one attempt: a lost notice costs the page one poll, while a slow one
# would hold up the answer to the change that caused it.
TIMEOUT = 0.5


@cache
def _redis(url: str):
    """One client a process: its pool keeps connections open between notices (opening one
    cost more than the notice), and replaces one that Redis closed (a restart) or that a fork
    inherited before using it."""
    import redis

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=TIMEOUT,
        socket_timeout=TIMEOUT,
        retry=None,
    )


def announce(rollout_id: int) -> None:
    """After the current transaction commits, tell watchers that this rollout changed, and
    those of the train whose member it rolls out."""
    if not settings.LIVE_UPDATES_REDIS_URL:
        return

    def notice() -> dict:
        from apps.trains.models import TrainMember

        train_id = (
            TrainMember.objects.filter(release__rollouts__pk=rollout_id)
            .values_list("train_id", flat=True)
            .first()
        )
        return {"rollout": rollout_id, **({"train": train_id} if train_id else {})}

    _publish_on_commit(notice, f"rollout {rollout_id}")


def announce_train(train_id: int) -> None:
    """After the current transaction commits, tell watchers that this train changed."""
    if settings.LIVE_UPDATES_REDIS_URL:
        _publish_on_commit(lambda: {"train": train_id}, f"train {train_id}")


def _publish_on_commit(notice, what: str) -> None:
    def publish():
        try:
            _redis(settings.LIVE_UPDATES_REDIS_URL).publish(CHANNEL, json.dumps(notice()))
        except Exception:  # a lost notice only delays the page until its next poll
            log.warning("could not publish %s change", what, exc_info=True)

    # robust: the change is committed; nothing after it may turn its answer into an error.
    transaction.on_commit(publish, robust=True)
