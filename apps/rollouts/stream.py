"""Server-sent events that tell a rollout page, the rollouts list or a train page to re-fetch
its status.

An event carries no state: `changed` only says "rollout N changed"; the page asks the database
through its usual view. Changes arrive from Redis pub/sub (apps.rollouts.live announces them)
when LIVE_UPDATES_REDIS_URL is set; otherwise the stream polls `updated_at`. A web process has
one subscription, shared by all its streams (the hub): a change is read from the database once
and handed to every stream watching it, however many there are.

A heartbeat keeps proxies from closing an idle stream and checks the session again: once the
user has signed out, the stream says `signed-out` and ends, and live.js does not reconnect.
Each event carries the version it announces as its id, and the page renders its own version
into the stream's URL: a change between rendering and (re)connecting is announced at once.
"""

import asyncio
import contextvars
import json
import logging
import random
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, close_old_connections, connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, StreamingHttpResponse
from django.http.response import HttpResponseBase
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


ALL = "all"  # the key of streams that want every rollout's changes (the list page)


def train_key(train_id) -> str:
    """The key of the streams of a train's page: its own changes and its members' rollouts'."""
    return f"train:{train_id}"


class _Hub:
    """One Redis subscription for all the streams of this process, on its event loop. A notice
    wakes the streams watching that rollout (and those watching all); the version they send is
    read once per notice, not once per stream, so a change reaches five hundred watchers with
    one database read instead of five hundred concurrent ones."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.feeds: dict[object, set[_HubFeed]] = defaultdict(set)
        self.task: asyncio.Task | None = None
        # Resolved once the subscription of the current task is live.
        self.ready: asyncio.Future[bool] = loop.create_future()

    async def join(self, feed: "_HubFeed") -> None:
        """Returns once the subscription is live (raises if Redis cannot be reached)."""
        self.feeds[feed.key].add(feed)
        if self.task is None or self.task.done():
            self.ready = self.loop.create_future()
            # A context of its own: the task outlives the request that happened to start it,
            # and must not run its reads in that request's thread.
            self.task = self.loop.create_task(
                self._listen(self.ready), context=contextvars.Context()
            )
        try:
            await asyncio.shield(self.ready)
        except BaseException:
            self.leave(feed)
            raise

    def leave(self, feed: "_HubFeed") -> None:
        self.feeds[feed.key].discard(feed)
        if not self.feeds[feed.key]:
            del self.feeds[feed.key]
        if not self.feeds and self.task is not None and not self.task.done():
            self.task.cancel()
            self.task = None

    async def _listen(self, ready: "asyncio.Future[bool]") -> None:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(
            settings.LIVE_UPDATES_REDIS_URL, socket_connect_timeout=2
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            try:
                await pubsub.subscribe(live.CHANNEL)
            except BaseException as exc:
                ready.set_exception(exc)
                raise
            ready.set_result(True)
            while True:
                keys = _keys(await pubsub.get_message(timeout=HEARTBEAT_SECONDS))
                if not keys:
                    continue
                # Notices that arrive together (a step finishing, the next one starting)
                # make one re-fetch.
                until = self.loop.time() + COALESCE_SECONDS
                while (left := until - self.loop.time()) > 0:
                    keys |= _keys(await pubsub.get_message(timeout=left))
                for key in keys:
                    await self._deliver(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: the streams end, browsers reconnect
            for feeds in list(self.feeds.values()):
                for feed in feeds:
                    feed.queue.put_nowait(exc)
            log.warning("live updates subscription ended", exc_info=True)
        finally:
            try:
                await pubsub.aclose()
                await client.aclose()
            except Exception:  # over either way
                log.debug("closing the live updates subscription failed", exc_info=True)

    async def _deliver(self, key) -> None:
        feeds = list(self.feeds.get(key, ()))
        if not feeds:
            return
        try:
            version = await feeds[0].version()
        except DatabaseError as exc:
            version = exc
        for feed in feeds:
            feed.queue.put_nowait(version)


def _keys(message) -> set:
    """The stream keys a Redis message concerns: its rollout's and ALL, its train's."""
    if not message or message.get("type") != "message":
        return set()
    try:
        notice = json.loads(message["data"])
    except (TypeError, ValueError):
        return set()
    if not isinstance(notice, dict):
        return set()
    keys = {notice["rollout"], ALL} if "rollout" in notice else set()
    if "train" in notice:
        keys.add(train_key(notice["train"]))
    return keys


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub]" = weakref.WeakKeyDictionary()


def _hub() -> _Hub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = _Hub(loop)
    return _hubs[loop]


class _HubFeed:
    """Redis pub/sub through the process's hub: wait for the versions it delivers."""

    def __init__(self, version, key):
        self.version, self.key = version, key
        self.queue: asyncio.Queue = asyncio.Queue()
        self.hub: _Hub | None = None

    async def open(self) -> str | None:
        self.hub = _hub()
        # Subscribed before the version is read: nothing can fall between the two.
        await self.hub.join(self)
        return await self.version()

    async def wait(self, timeout: float) -> str | None:
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        while not self.queue.empty():  # only the latest matters
            item = self.queue.get_nowait()
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        if self.hub is not None:
            self.hub.leave(self)
            self.hub = None


async def _open_feed(version, key):
    """Redis when configured and reachable; otherwise (or if Redis is down) polling."""
    if settings.LIVE_UPDATES_REDIS_URL:
        hub_feed = _HubFeed(version, key)
        try:
            return hub_feed, await hub_feed.open()
        except (RedisError, OSError):
            log.warning("live updates: Redis unreachable, polling instead", exc_info=True)
            await hub_feed.close()
    feed = _PollingFeed(version)
    return feed, await feed.open()


# --- The stream ---------------------------------------------------------------------------


def _message(*, event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines += [f"event: {event}", f"data: {data}"]
    return "\n".join(lines) + "\n\n"


async def _events(
    *, version, key, baseline: str, data: str, session_key: str | None, user_id
) -> AsyncIterator[str]:
    feed = None
    try:
        feed, current = await _open_feed(version, key)
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
async def rollout_stream(request: HttpRequest, pk: int) -> HttpResponseBase:
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
            key=pk,
            baseline=_baseline(request),
            data=str(pk),
            session_key=request.session.session_key,
            user_id=user.pk,
        )
    )


@login_not_required
@require_safe
async def rollouts_stream(request: HttpRequest) -> HttpResponseBase:
    """`changed` whenever any rollout changes or starts: the list re-fetches its page."""
    user = await request.auser()
    if not permissions.can_read(user):
        return _unauthorized()
    return _response(
        _events(
            version=_read(selectors.rollouts_version),
            key=ALL,
            baseline=_baseline(request),
            data="rollouts",
            session_key=request.session.session_key,
            user_id=user.pk,
        )
    )


@login_not_required
@require_safe
async def train_stream(request: HttpRequest, pk: int) -> HttpResponseBase:
    """`changed` (data: the train id) whenever the train, or a member's release or rollout,
    changes: the train page re-fetches its waves and members."""
    user = await request.auser()
    if not permissions.can_read(user):
        return _unauthorized()
    version = _read(selectors.train_version, train_id=pk)
    if await version() is None:
        return HttpResponseNotFound("No such train.", content_type="text/plain")
    return _response(
        _events(
            version=version,
            key=train_key(pk),
            baseline=_baseline(request),
            data=str(pk),
            session_key=request.session.session_key,
            user_id=user.pk,
        )
    )
