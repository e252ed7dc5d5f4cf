"""Keeps a Celery worker alive, and its delayed tasks safe, when the Redis broker goes away.

With kombu 5.7.0 (the newest release), a worker that holds an unacknowledged message (a task with
a countdown or ETA waits in the worker, unacknowledged, until it is due) exits with
"Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")" when Redis
drops. The cause, in kombu/connection.py and kombu/transport/redis.py:

1. Celery's consumer sees the lost connection and calls `Connection.collect()`. Closing the
   default channel fails (its pending BRPOP read raises ConnectionError, ignored), so the channel
   stays open, but `collect()` closes the transport all the same: `Transport.client = None`.
2. Celery then calls `Connection.close()`, which closes that default channel again. Its QoS
   puts the unacknowledged messages back on their queues (`QoS.restore_unacked`), which needs a
   new Redis connection pool, built from `Transport.client.hostname`: AttributeError. It is not a
   connection error, so neither kombu nor Celery ignore it, and the worker stops.

The workaround patches that one restore path. When Redis cannot be reached (the transport is
closed, or connecting fails), the held messages are safe where kombu put them on delivery: in
Redis's "unacked" hash. We note their delivery tags instead of failing, so the channel closes
cleanly and the worker reconnects. When the consumer is connected again, a consumer step puts
those messages back on their queues (kombu's `restore_by_tag`: atomic, and a no-op for a
message that is no longer in the hash). Without that step they would wait for the visibility
timeout (an hour) before a worker saw them again, since Celery drops the worker's copies of
delayed tasks on a lost connection and counts on the broker to deliver them again.

The messages survive a Redis restart only if Redis persists them (appendonly, as in
docker-compose.yml). tests/integration/test_broker_restart.py is the drill: when a kombu release
passes it without this module, remove the module.
"""

import logging
import threading

from celery import bootsteps
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

_unrestored: set[str] = set()  # delivery tags still in the "unacked" hash
_lock = threading.Lock()
_restore_unacked = kombu_redis.QoS.restore_unacked


def _restore_unacked_or_note(self, client=None):
    transport = self.channel.connection
    if transport is not None and transport.client is not None:
        try:
            return _restore_unacked(self, client)
        except kombu_redis.Transport.connection_errors:
            pass  # Redis is down: the messages stay in its "unacked" hash
    with _lock:
        _unrestored.update(self._delivered)
    self._delivered.clear()
    return None


class RestoreUnackedOnReconnect(bootsteps.StartStopStep):
    """A consumer step: runs each time the worker's consumer has (re)connected to the broker."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, c):
        with _lock:
            tags = sorted(_unrestored)
            _unrestored.clear()
        if not tags:
            return
        channel = c.connection.default_channel
        for index, tag in enumerate(tags):
            try:
                channel.qos.restore_by_tag(tag)
            except Exception:
                with _lock:
                    _unrestored.update(tags[index:])  # the next reconnection tries again
                raise
        log.warning(
            "Put %d delayed task(s) back on their queues after the broker came back", len(tags)
        )


def install(app) -> None:
    kombu_redis.QoS.restore_unacked = _restore_unacked_or_note  # type: ignore[method-assign]
    app.steps["consumer"].add(RestoreUnackedOnReconnect)
