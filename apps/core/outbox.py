"""Background work that survives a broker that is down.

`enqueue` writes the task as a row in the caller's transaction; after the commit it is published
at once, and if the broker is unreachable the row stays pending until `outbox_flush` (beat, every
few seconds, and each worker as it starts) publishes it. A committed change therefore always gets
its task, and a web request never fails, or waits long, because the broker is down.

Publishing is at least once: a process that dies between publishing and recording it publishes
the row again, so tasks sent through the outbox must be idempotent.

Tasks are sent by name, so an app queues another app's work without importing it.
"""

import logging
import os
import threading
from contextlib import nullcontext
from datetime import timedelta
from itertools import groupby
from typing import Any

from django.db import IntegrityError, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from kombu import Connection

from apps.core.models import OutboxMessage

log = logging.getLogger(__name__)

# Seconds a publish may wait to connect or for the broker's answer. Celery's defaults retry for
# seconds (kombu sleeps 2, 4, ... s between connection attempts, and redis-py has no socket
# timeouts unless given): a request that committed would wait, then answer 500.
PUBLISH_TIMEOUT = 0.5
KEEP_SENT = timedelta(days=1)

_local = threading.local()


def _bounded_connection() -> Connection:
    from portal.celery import app

    return app.connection_for_write(
        connect_timeout=PUBLISH_TIMEOUT,
        transport_options={
            "max_retries": 0,  # one connection attempt, no sleeping between attempts
            "socket_connect_timeout": PUBLISH_TIMEOUT,  # Redis
            "socket_timeout": PUBLISH_TIMEOUT,  # Redis: a frozen server must not hang us
            "read_timeout": PUBLISH_TIMEOUT,  # AMQP
            "write_timeout": PUBLISH_TIMEOUT,  # AMQP
            # AMQP: the broker confirms each message, so a connection it closed cannot swallow
            # one silently (a row is marked sent only once the broker has the task).
            "confirm_publish": True,
        },
    )


def _own_connection() -> Connection | None:
    """This thread's connection, unless it was inherited from a parent process through fork."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.connection, _local.pid = None, os.getpid()
    return _local.connection


def _forget_connection() -> None:
    connection, _local.connection = _own_connection(), None
    if connection is not None:
        # Dropped without a closing handshake: a broken or frozen broker never answers it, and
        # py-amqp waits for a channel's close-ok without a timeout once a frame was cut short.
        try:
            connection.collect()
        except Exception:  # already broken: nothing to close cleanly
            log.debug("outbox: closing a broken broker connection failed", exc_info=True)


def _timed_out(exc: BaseException | None) -> bool:
    # kombu wraps the client's error; redis-py's TimeoutError is not the built-in one.
    while exc is not None:
        if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _send_all(
    task_name: str, calls: list[tuple[list, dict[str, Any], float]], *, priority: int | None = None
) -> None:
    """Publish each (args, kwargs, countdown) call of a task on this thread's own connection,
    opened with short timeouts; several calls go out together (Redis: one pipeline). A
    connection kept from an earlier publish may have gone stale (the broker restarted): then
    one fresh try, of every call (at least once: a broker that took some before failing gets
    them again)."""
    from portal.celery import app

    def publish(connection: Connection) -> None:
        producer = app.amqp.Producer(connection, auto_declare=False)
        # Producer.batch is kombu 5.7's, newer than its type stubs.
        with producer.batch() if len(calls) > 1 else nullcontext():  # type: ignore[attr-defined]
            for args, kwargs, countdown in calls:
                app.send_task(
                    task_name,
                    args=args,
                    kwargs=kwargs,
                    countdown=countdown or None,
                    priority=priority,
                    retry=False,
                    producer=producer,
                    # AMQP: py-amqp's read_timeout (SO_RCVTIMEO) is retried forever once part
                    # of a frame has arrived; a socket timeout on the publish and its confirm
                    # is not.
                    timeout=PUBLISH_TIMEOUT,
                    confirm_timeout=PUBLISH_TIMEOUT,
                )

    connection = _own_connection()
    if connection is not None:
        try:
            publish(connection)
            return
        except Exception as exc:
            _forget_connection()
            if _timed_out(exc):  # a frozen or unreachable broker: a new connection waits as long
                raise
            log.info("outbox: the broker connection went stale (%s); reconnecting", exc)
    _local.connection = _bounded_connection()
    try:
        publish(_local.connection)
    except Exception:
        _forget_connection()
        raise


def send_task_quietly(
    task_name: str,
    *,
    args: list | tuple = (),
    countdown: float = 0,
    priority: int | None = None,
) -> bool:
    """Publish a task now, with a short bounded connection attempt (no long retry loop); return
    False when the broker is unreachable. Never raises. For work that something else resumes
    if it is lost (a reconciler, the next beat); otherwise use `enqueue`. `priority` is the
    broker's (on Redis, a higher number is taken later)."""
    return send_tasks_quietly(task_name, [(list(args), countdown)], priority=priority)


def send_tasks_quietly(
    task_name: str, calls: list[tuple[list, float]], *, priority: int | None = None
) -> bool:
    """send_task_quietly for many calls of a task, each (args, countdown), published together:
    on Redis they reach the queue at once, in one round trip, rather than one by one while the
    workers are already busy with the first."""
    if not calls:
        return True
    try:
        _send_all(
            task_name, [(args, {}, countdown) for args, countdown in calls], priority=priority
        )
    except Exception as exc:
        log.warning("could not publish %s, the broker is unreachable: %s", task_name, exc)
        return False
    return True


def enqueue(
    task_name: str,
    *,
    args: list | tuple = (),
    kwargs: dict | None = None,
    key: str | None = None,
) -> None:
    """Write an outbox row in the caller's transaction (must be inside one); after commit it is
    published; if publishing fails (broker down) the row stays pending and `outbox_flush`
    publishes it later. `key`, when given, is unique: enqueueing the same key twice is a no-op."""
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            f"outbox.enqueue({task_name!r}) must run inside the transaction of the change"
        )
    message = OutboxMessage(task_name=task_name, args=list(args), kwargs=kwargs or {}, key=key)
    if key is None:
        message.save()
    else:
        try:
            with transaction.atomic():  # a savepoint: a duplicate key must not spoil the caller's
                message.save()
        except IntegrityError:
            return
    _publish_after_commit(message.pk)


def enqueue_many(task_name: str, messages: list[tuple[list, dict, str]]) -> None:
    """enqueue() of many keyed messages of one task, each (args, kwargs, key), in two queries
    whatever their number; a key enqueued before is passed over, as enqueue() does."""
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            f"outbox.enqueue_many({task_name!r}) must run inside the transaction of the change"
        )
    if not messages:
        return
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(task_name=task_name, args=list(args), kwargs=kwargs, key=key)
            for args, kwargs, key in messages
        ],
        ignore_conflicts=True,
    )
    keys = [key for _args, _kwargs, key in messages]
    for pk in OutboxMessage.objects.filter(key__in=keys, sent_at__isnull=True).values_list(
        "pk", flat=True
    ):
        _publish_after_commit(pk)


class _PublishAfterCommit:
    """The one after-commit hook of a transaction: publishes every row the transaction
    enqueued, in one pass. A row of a savepoint rolled back since is gone, and not found."""

    def __init__(self) -> None:
        self.pks: list[int] = []

    def __call__(self) -> None:
        _publish_pending(pks=self.pks, limit=len(self.pks))


def _publish_after_commit(pk: int) -> None:
    hooks = transaction.get_connection().run_on_commit  # Django's (savepoint ids, hook, robust)
    hook = next((h for _ids, h, _robust in hooks if isinstance(h, _PublishAfterCommit)), None)
    if hook is None:
        hook = _PublishAfterCommit()
        # robust: the change is committed; a failure here must not turn its answer into an error.
        transaction.on_commit(hook, robust=True)
    hook.pks.append(pk)


def outbox_flush(*, limit: int = 500) -> int:
    """Publish pending rows (oldest first, SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL), mark
    them sent; return how many were published."""
    return _publish_pending(limit=limit)


def outbox_prune(*, older_than: timedelta = KEEP_SENT) -> int:
    """Forget rows sent longer ago than `older_than`; pending rows are kept however old."""
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=timezone.now() - older_than).delete()
    return deleted


def _publish_pending(*, pks: list[int] | None = None, limit: int = 1) -> int:
    """Rows another process is publishing are skipped, not waited for: each row goes out once.
    Stops at the first failure: the broker is down, the rest would fail the same way."""
    with transaction.atomic():
        pending = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            sent_at__isnull=True
        )
        if pks is not None:
            pending = pending.filter(pk__in=pks)
        sent: list[int] = []
        # Rows of one task in a row go out together (a wave's notifications: one round trip).
        rows = pending.order_by("created_at", "id")[:limit]
        for task_name, run in groupby(rows, key=lambda message: message.task_name):
            messages = list(run)
            try:
                _send_all(task_name, [(m.args, m.kwargs, 0) for m in messages])
            except Exception as exc:
                log.warning(
                    "outbox: could not publish %s (rows %s), they stay pending: %s",
                    task_name,
                    ", ".join(str(m.pk) for m in messages),
                    exc,
                )
                break
            sent += [m.pk for m in messages]
        if sent:
            OutboxMessage.objects.filter(pk__in=sent).update(sent_at=timezone.now())
    return len(sent)
