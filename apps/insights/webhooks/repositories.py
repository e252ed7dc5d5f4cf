"""One spelling per repository, so a vendor's URL finds the catalog's repository_url.

https://github.com/Acme/Shop, https://github.com/acme/shop.git/, git@github.com:acme/shop.git and
ssh://git@github.com:22/acme/shop all become `github.com/acme/shop`: scheme, user, port, `.git`,
trailing slashes and case are dropped (GitLab serves the same project on an HTTP and an SSH
port, and repository hosts treat paths case-insensitively)."""

import re
from urllib.parse import urlsplit

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^/].*)$")


def normalise_repository(url: str | None) -> str:
    text = (url or "").strip().lower()
    if not text:
        return ""
    if "://" in text:
        parts = urlsplit(text)
        host, path = parts.hostname or "", parts.path
    elif match := _SCP_LIKE.match(text):
        host, path = match["host"], match["path"]
    else:
        host, _, path = text.partition("/")
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")].rstrip("/")
    if not host or not path:
        return ""
    return f"{host}/{path}"


def repository_name(key: str) -> str:
    """The last path segment of a normalised repository: what a catalog URL must contain."""
    return key.rsplit("/", 1)[-1]
