"""Server-sent events that tell a rollout page, or the rollouts list, to re-fetch its status.

An event carries no state: `changed` only says "rollout N changed"; the page asks the database
through its usual view. Changes arrive from Redis pub/sub (apps.rollouts.live announces them)
when LIVE_UPDATES_REDIS_URL is set; otherwise the stream polls `updated_at`.

A heartbeat keeps proxies from closing an idle stream and checks the session again: once the
user has signed out, the stream says `signed-out` and ends, and live.js does not reconnect.
Each event carries the version it announces as its id, and the page renders its own version
into the stream's URL: a change between rendering and (re)connecting is announced at once.
"""

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, close_old_connections, connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, StreamingHttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from apps.accounts import permissions
from apps.rollouts import live, selectors

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 0.5
# Notices that arrive together (a step finishing, the next one starting) make one re-fetch.
COALESCE_SECONDS = 0.1
# Browsers reconnect after this long; random, so a restart is not met by every page at once.
RETRY_MILLISECONDS = (2000, 5000)


def _release_connection() -> None:
    """A stream lives for hours: between reads it gives its database connection back, as a
    request does when it ends (CONN_MAX_AGE still decides). Never inside a transaction."""
    if not connection.in_atomic_block:
        close_old_connections()


def _read(function: Callable, **kwargs):
    def read():
        try:
            return function(**kwargs)
        finally:
            _release_connection()

    return sync_to_async(read)


def _still_signed_in(*, session_key: str | None, user_id) -> bool:
    """The session the stream was opened with still signs this (active) user in. Read-only:
    unlike auth.get_user it never rotates or flushes the session it looks at."""
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if session.get(SESSION_KEY) != str(user_id):
        return False
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    stored = session.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, expected) for expected in hashes)


# --- Where changes come from --------------------------------------------------------------


class _PollingFeed:
    """Without Redis: read the version every POLL_SECONDS."""

    def __init__(self, version):
        self.version, self.last = version, None

    async def open(self) -> str | None:
        self.last = await self.version()
        return self.last

    async def wait(self, timeout: float) -> str | None:
        """The new version once it changes, or None when `timeout` passes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(POLL_SECONDS, left))
            current = await self.version()
            if current != self.last:
                self.last = current
                return current
        return None

    async def close(self) -> None:
        pass


class _RedisFeed:
    """Redis pub/sub: wake on a notice that `wants` accepts, then read the version."""

    def __init__(self, version, wants: Callable[[dict], bool]):
        self.version, self.wants = version, wants
        self.client = self.pubsub = None

    async def open(self) -> str | None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(
            settings.LIVE_UPDATES_REDIS_URL, socket_connect_timeout=2
        )
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        # Subscribed before the version is read: nothing can fall between the two.
        await self.pubsub.subscribe(live.CHANNEL)
        return await self.version()

    async def wait(self, timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            if self._wanted(await self.pubsub.get_message(timeout=left)):
                await self._drain(loop.time() + COALESCE_SECONDS)
                return await self.version()
        return None

    async def _drain(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        while (left := until - loop.time()) > 0:
            await self.pubsub.get_message(timeout=left)

    def _wanted(self, message) -> bool:
        if not message or message.get("type") != "message":
            return False
        try:
            notice = json.loads(message["data"])
        except (TypeError, ValueError):
            return False
        return isinstance(notice, dict) and self.wants(notice)

    async def close(self) -> None:
        try:
            if self.pubsub is not None:
                await self.pubsub.aclose()
            if self.client is not None:
                await self.client.aclose()
        except Exception:  # the stream is over either way
            log.debug("closing the live updates subscription failed", exc_info=True)


async def _open_feed(version, wants):
    """Redis when configured and reachable; otherwise (or if Redis is down) polling."""
    if settings.LIVE_UPDATES_REDIS_URL:
        feed = _RedisFeed(version, wants)
        try:
            return feed, await feed.open()
        except (RedisError, OSError):
            log.warning("live updates: Redis unreachable, polling instead", exc_info=True)
            await feed.close()
    feed = _PollingFeed(version)
    return feed, await feed.open()


# --- The stream ---------------------------------------------------------------------------


def _message(*, event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {event}", f"data: {data}"]
    return "\n".join(lines) + "\n\n"


async def _events(
    *, version, wants, baseline: str, data: str, session_key: str | None, user_id
) -> AsyncIterator[str]:
    feed = None
    try:
        feed, current = await _open_feed(version, wants)
        # The retry hint, and the version as the id the browser sends back on reconnecting
        # (no data: nothing is dispatched to the page).
        yield f"retry: {random.randint(*RETRY_MILLISECONDS)}\nid: {current or ''}\n\n"  # noqa: S311
        if baseline and current != baseline:
            yield _message(event="changed", data=data, event_id=current)
        loop = asyncio.get_running_loop()
        heartbeat_at = loop.time() + HEARTBEAT_SECONDS
        while True:
            if loop.time() >= heartbeat_at:
                signed_in = await _read(
                    _still_signed_in, session_key=session_key, user_id=user_id
                )()
                if not signed_in:
                    yield _message(event="signed-out", data="Signed out")
                    return
                yield ": ping\n\n"
                heartbeat_at = loop.time() + HEARTBEAT_SECONDS
                continue
            changed = await feed.wait(heartbeat_at - loop.time())
            if changed is not None:
                yield _message(event="changed", data=data, event_id=changed)
    except (RedisError, OSError, DatabaseError):
        # Redis or the database went away: end the stream; the browser reconnects after the
        # retry hint and finds them back, or keeps the page up to date by polling.
        log.warning("live updates stream ended early", exc_info=True)
    finally:
        if feed is not None:
            await feed.close()


def _response(events: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _unauthorized() -> HttpResponse:
    return HttpResponse("Sign in to follow rollouts.", status=401, content_type="text/plain")


def _baseline(request: HttpRequest) -> str:
    return request.headers.get("Last-Event-ID") or request.GET.get("since", "")


# An EventSource cannot follow a redirect to the sign-in page: anonymous requests get a 401.
@login_not_required
@require_safe
async def rollout_stream(request: HttpRequest, pk: int) -> HttpResponse:
    """`changed` (data: the rollout id) whenever this rollout changes."""
    user = await request.auser()
    if not permissions.can_read(user):
        return _unauthorized()
    version = _read(selectors.rollout_version, rollout_id=pk)
    if await version() is None:
        return HttpResponseNotFound("No such rollout.", content_type="text/plain")
    return _response(
        _events(
            version=version,
            wants=lambda notice: notice.get("rollout") == pk,
            baseline=_baseline(request),
            data=str(pk),
            session_key=request.session.session_key,
            user_id=user.pk,
        )
    )


@login_not_required
@require_safe
async def rollouts_stream(request: HttpRequest) -> HttpResponse:
    """`changed` whenever any rollout changes or starts: the list re-fetches its page."""
    user = await request.auser()
    if not permissions.can_read(user):
        return _unauthorized()
    return _response(
        _events(
            version=_read(selectors.rollouts_version),
            wants=lambda notice: True,
            baseline=_baseline(request),
            data="rollouts",
            session_key=request.session.session_key,
            user_id=user.pk,
        )
    )
