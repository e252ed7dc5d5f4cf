"""Live status: after a rollout or a train changes, say so on a Redis channel. The message only
says "re-fetch rollout N" (and the train it is a member of, if any) or "re-fetch train N"; the
database stays the truth. Without Redis the stream polls instead."""

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    announce_many([rollout])


def announce_many(rollouts: "Sequence[Rollout | int]") -> None:
    """announce for each rollout, their notices sent in one round trip to Redis (a train's
    batch of starts announces fifty)."""
    if not settings.LIVE_UPDATES_REDIS_URL or not rollouts:
        return
    notices = [_notice_of(rollout) for rollout in rollouts]
    what = f"rollout {notices[0].rollout_id}" + (
        f" and {len(notices) - 1} more" if len(notices) > 1 else ""
    )
    _publish_on_commit([notice.read for notice in notices], what)


@dataclass(frozen=True)
class _Notice:
    rollout_id: int
    known: bool  # the train below was read with the rollout
    train_id: int | None

    def read(self) -> dict:
        from apps.trains.models import TrainMember

        found = (
            self.train_id
            if self.known
            else TrainMember.objects.filter(release__rollouts__pk=self.rollout_id)
            .values_list("train_id", flat=True)
            .first()
        )
        return {"rollout": self.rollout_id, **({"train": found} if found else {})}


def _notice_of(rollout: "Rollout | int") -> _Notice:
    if isinstance(rollout, int):
        return _Notice(rollout, known=False, train_id=None)
    known, train_id = _train_read_with(rollout)
    return _Notice(rollout.pk, known=known, train_id=train_id)


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
        _publish_on_commit([lambda: {"train": train_id}], f"train {train_id}")


def _publish_on_commit(notices: "list[Callable[[], dict]]", what: str) -> None:
    def publish():
        try:
            pipeline = _redis(settings.LIVE_UPDATES_REDIS_URL).pipeline(transaction=False)
            for notice in notices:
                pipeline.publish(CHANNEL, json.dumps(notice()))
            pipeline.execute()
        except Exception:  # a lost notice only delays the page until its next poll
            log.warning("could not publish %s change", what, exc_info=True)

    # robust: the change is committed; nothing after it may turn its answer into an error.
    transaction.on_commit(publish, robust=True)
