"""Live status: after a rollout or a train changes, say so on a Redis channel. The message only
says "re-fetch rollout N" (and the train it is a member of, if any) or "re-fetch train N"; the
database stays the truth. Without Redis the stream polls instead."""

import json
import logging
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

if TYPE_CHECKING:
    from apps.rollouts.models import Rollout

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


def announce(rollout: "Rollout | int") -> None:
    """After the current transaction commits, tell watchers that this rollout changed, and
    those of the train whose member it rolls out: known already when the rollout's release was
    read with its train membership (the executor's step reads them so), otherwise looked up
    after the commit."""
    if not settings.LIVE_UPDATES_REDIS_URL:
        return
    rollout_id = rollout if isinstance(rollout, int) else rollout.pk
    known, train_id = (False, None) if isinstance(rollout, int) else _train_read_with(rollout)

    def notice() -> dict:
        from apps.trains.models import TrainMember

        found = (
            train_id
            if known
            else TrainMember.objects.filter(release__rollouts__pk=rollout_id)
            .values_list("train_id", flat=True)
            .first()
        )
        return {"rollout": rollout_id, **({"train": found} if found else {})}

    _publish_on_commit(notice, f"rollout {rollout_id}")


def _train_read_with(rollout: "Rollout") -> tuple[bool, int | None]:
    """(True, its train or None) when the rollout's release was read with its membership."""
    if not type(rollout).release.is_cached(rollout):
        return False, None
    release = rollout.release
    if not type(release).train_membership.is_cached(release):
        return False, None
    membership = getattr(release, "train_membership", None)  # None: read, and in no train
    return True, membership.train_id if membership is not None else None


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
