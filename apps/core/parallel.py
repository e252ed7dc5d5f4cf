"""Independent reads of one request, run side by side, each on a database connection of its own.

A report page reads a dozen figures that do not depend on each other, each a query or two that
PostgreSQL answers on one core: one after another their times add up, on a few threads they
overlap. Only reads belong here. A thread's connection sees what is committed, not what this
request's transaction has written and not yet committed, so inside a transaction (a test's too)
the reads run one after another in this thread, as they do while this connection's queries are
being counted and on SQLite (one writer, and nothing to gain on a file)."""

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone, translation

T = TypeVar("T")


def gather(calls: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    """Every call's result under its name. A call's error is raised here once every call has
    ended (of several, the first call's in the mapping's order)."""
    threads = min(settings.PARALLEL_READS, len(calls))
    if threads < 2 or not runs_apart():
        return {name: call() for name, call in calls.items()}
    # Each read formats and truncates as this request does: in its time zone and language.
    on_own_connection = partial(
        _on_own_connection,
        zone=timezone.get_current_timezone(),
        language=translation.get_language(),
    )
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="read") as pool:
        futures = {name: pool.submit(on_own_connection, call) for name, call in calls.items()}
    return {name: future.result() for name, future in futures.items()}


def runs_apart() -> bool:
    """Whether reads may leave this thread: PostgreSQL, no transaction open, nothing counted."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and not connection.queries_logged
    )


def _on_own_connection(call: Callable[[], T], *, zone, language: str | None) -> T:
    try:
        with timezone.override(zone), translation.override(language):
            return call()
    finally:
        # Back to the pool (or closed): a pool thread must not keep a connection between
        # requests, which no request would then close.
        connections.close_all()
