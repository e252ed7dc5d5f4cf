"""Strict readers for settings that come from the environment.

Each reader fails with `ImproperlyConfigured` naming the variable, so a bad deployment stops at
start-up instead of running with a silently wrong value.
"""

import os
import re
from pathlib import Path
from typing import Any, overload

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    """The variable's value, or the content of the file named by NAME_FILE."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE: cannot read {path!r} ({exc.strerror})"
            ) from exc
    return os.environ.get(name)


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    """An empty value counts as unset, so `FOO=` in a compose file means "use the default"."""
    value = _raw(name)
    return value if value else default


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {number}")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database(name: str, default: str) -> dict[str, Any]:
    url = env_str(name, default)
    scheme = url.partition("://")[0]
    if scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must be a database URL such as postgres://user@host:5432/runway "
            f"or sqlite:///path, got scheme {scheme!r}"
        )
    try:
        return environ.Env.db_url_config(url)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not a database URL we understand: {exc}") from None


def env_cache(name: str, default: str) -> dict[str, Any]:
    url = env_str(name, default)
    try:
        return environ.Env.cache_url_config(url)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not a cache URL we understand: {exc}") from None


def env_email(name: str, default: str) -> dict[str, Any]:
    url = env_str(name, default)
    try:
        return environ.Env.email_url_config(url)
    except (ImproperlyConfigured, KeyError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not an e-mail URL we understand: {exc}") from None


def env_time_zone(name: str, default: str) -> str:
    import zoneinfo

    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} is not an IANA time zone: {value!r}") from None
    return value


def env_keyring(
    name: str, *, min_length: int, default: str | None = None
) -> tuple[str, dict[str, bytes]]:
    """Keys given as `id:secret` pairs, comma- or line-separated, newest first: the first signs,
    all of them verify, so a key is rotated by putting a new one in front of it."""
    value = _raw(name) or default or ""
    keys: dict[str, bytes] = {}
    for item in value.replace("\n", ",").split(","):
        if not item.strip():
            continue
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9._-]{1,16}", key_id):
            raise ImproperlyConfigured(
                f"{name} must be id:secret pairs (an id of 1-16 letters, digits, . _ -), "
                f"got an entry starting {item.strip()[:6]!r}"
            )
        if len(secret) < min_length:
            raise ImproperlyConfigured(
                f"{name}: key {key_id!r} is too weak, use {min_length}+ random characters"
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"{name}: key id {key_id!r} is listed twice")
        keys[key_id] = secret.encode()
    if not keys:
        raise ImproperlyConfigured(f"{name} must be set (or {name}_FILE): id:secret, 32+ chars")
    return next(iter(keys)), keys
