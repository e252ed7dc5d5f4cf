"""Runway's public API over HTTP, as a pipeline needs it: reads and creates that carry an
Idempotency-Key are retried with back-off on connection errors, 5xx and 429; anything else is
sent once, because sending it again could do it twice. Each answer Runway refuses becomes a
CliError with the exit code it means (cli/exits.py)."""

import random
import time
from collections.abc import Callable

import requests

from cli.config import Settings
from cli.exits import FORBIDDEN, UNREACHABLE, USAGE, CliError

RETRIED_STATUSES = {429, 500, 502, 503, 504}
MAX_BACKOFF = 8.0


class Refused(CliError):
    """Runway answered 400, 404, 409 or 422: what to make of it depends on the command."""

    def __init__(self, status: int, body: object, *, refused_by_policy: bool = False):
        super().__init__(USAGE, describe(body), body)
        self.status = status
        # Runway marks a refusal by a policy, window, freeze or version mark (exit 2) apart
        # from a request it found wrong (exit 1).
        self.refused_by_policy = refused_by_policy


class Client:
    def __init__(
        self,
        settings: Settings,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = settings.url
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if settings.token:
            self.session.headers["Authorization"] = f"Bearer {settings.token}"

    def get(self, path: str, params: dict | None = None) -> dict:
        return self._send("GET", path, params=params, retried=True)

    def post(self, path: str, body: object = None, *, idempotency_key: str = "") -> dict:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._send("POST", path, json=body or {}, headers=headers, retried=bool(headers))

    def post_signed(self, path: str, raw: bytes, *, params: dict, headers: dict) -> dict:
        """A webhook delivery: the body as signed, without the API token (the signature is
        the credential). Retried: a delivery id in the body makes a repeat count once."""
        headers = {**headers, "Content-Type": "application/json", "Authorization": None}
        return self._send("POST", path, data=raw, params=params, headers=headers, retried=True)

    def page_url(self, path: str) -> str:
        return self.url + path

    def _send(self, method: str, path: str, *, retried: bool, **options) -> dict:
        attempts = 1 + (self.retries if retried else 0)
        problem = ""
        for attempt in range(attempts):
            if attempt:
                self.sleep(self._backoff(attempt, problem))
            try:
                response = self.session.request(
                    method, self.url + path, timeout=self.timeout, **options
                )
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            # 409 with Retry-After: the same create, sent before, is still being answered.
            busy = response.status_code == 409 and "Retry-After" in response.headers
            if response.status_code in RETRIED_STATUSES or busy:
                problem = f"HTTP {response.status_code}"
                self._retry_after = response.headers.get("Retry-After", "")
                continue
            return _answer(response)
        tries = f"after {attempts} tries" if attempts > 1 else "(sent once: not safe to repeat)"
        raise CliError(
            UNREACHABLE, f"Runway at {self.url} did not answer {method} {path} {tries}: {problem}"
        )

    _retry_after = ""

    def _backoff(self, attempt: int, problem: str) -> float:
        if problem in ("HTTP 409", "HTTP 429") and self._retry_after.isdigit():
            return min(float(self._retry_after), MAX_BACKOFF)
        # Full jitter: many pipelines retrying at once do not come back in step.
        return random.uniform(0, min(MAX_BACKOFF, self.backoff * 2**attempt))  # noqa: S311


def _answer(response: requests.Response) -> dict:
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {"detail": response.text[:500]}
    if response.status_code in (401, 403):
        raise CliError(FORBIDDEN, describe(body) or f"HTTP {response.status_code}", body)
    if response.status_code >= 400:
        policy = response.headers.get("Runway-Refusal") == "policy"
        raise Refused(response.status_code, body, refused_by_policy=policy)
    return body


def describe(body: object) -> str:
    """Runway's errors name their field: `field: message` per line."""
    if isinstance(body, dict):
        lines = []
        for field, problems in body.items():
            text = " ".join(map(str, problems)) if isinstance(problems, list) else str(problems)
            lines.append(text if field in ("detail", "non_field_errors") else f"{field}: {text}")
        return "\n".join(lines)
    if isinstance(body, list):
        return "\n".join(map(str, body))
    return str(body)
