"""The request id and client address of the work in progress, for log lines and audit rows.

Context variables follow a request through sync and async code, and a task through its worker.
"""

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("runway_request_id", default=None)
_client_ip: ContextVar[str | None] = ContextVar("runway_client_ip", default=None)

# An id passed in by a proxy is kept only when it is short and plain, so it cannot inject
# anything into log lines.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def new_request_id(proposed: str | None = None) -> str:
    if proposed and _ACCEPTABLE_ID.match(proposed):
        return proposed
    return uuid.uuid4().hex


def bind_request(*, request_id: str | None, ip: str | None) -> None:
    _request_id.set(request_id)
    _client_ip.set(ip)


def current_request_id() -> str | None:
    return _request_id.get()


def current_client_ip() -> str | None:
    return _client_ip.get()


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


class RefusalsInOneLine(logging.Filter):
    """A refused request (403, 404 ...) is logged by Django with the exception's traceback: keep
    its one line (method, path, status, request id); tracebacks are for server errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info, record.exc_text = None, None
        return True
