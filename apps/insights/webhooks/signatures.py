"""Who sent a delivery: each vendor's way of proving it knows the source's secret.

- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`.
- GitLab: the secret itself in `X-Gitlab-Token`.
- PagerDuty: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, raw body)>`, possibly several
  comma-separated signatures while PagerDuty rotates its secret: any one matching will do.
- Generic: `X-Runway-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` (preferred: it
  binds the body), or `Authorization: Bearer <secret>` for senders that cannot compute an HMAC.

Every comparison is constant-time. During a rotation's grace period both the current and the
previous secret are tried.
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from apps.insights.models import SourceKind
from apps.insights.webhooks.errors import Unauthorised

BAD_CREDENTIALS = "Unknown webhook source or bad signature."
GENERIC_SIGNATURE_HEADER = "x-runway-signature-256"


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _matches_any(secrets: Sequence[str], given_hex: str, body: bytes) -> bool:
    given = given_hex.strip().lower().encode()
    matched = False
    for secret in secrets:
        # No early exit: the time taken does not tell which secret matched.
        matched |= hmac.compare_digest(hmac_sha256_hex(secret, body).encode(), given)
    return matched


def _sha256_header_valid(secrets: Sequence[str], header: str, body: bytes) -> bool:
    scheme, _, digest = header.strip().partition("=")
    return scheme == "sha256" and bool(digest) and _matches_any(secrets, digest, body)


def _pagerduty_valid(secrets: Sequence[str], header: str, body: bytes) -> bool:
    matched = False
    for signature in header.split(","):
        version, _, digest = signature.strip().partition("=")
        if version == "v1" and digest:
            matched |= _matches_any(secrets, digest, body)
    return matched


def _token_valid(secrets: Sequence[str], token: str) -> bool:
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(secret.encode(), token.encode())
    return matched


def verify(kind: str, secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> None:
    """Raise Unauthorised unless the delivery proves knowledge of one of `secrets`. `headers`
    has lower-case names."""
    if kind == SourceKind.GITHUB:
        header = headers.get("x-hub-signature-256", "")
        if not header:
            raise Unauthorised("Missing X-Hub-Signature-256 header: set the webhook's secret.")
        valid = _sha256_header_valid(secrets, header, body)
    elif kind == SourceKind.GITLAB:
        token = headers.get("x-gitlab-token", "")
        if not token:
            raise Unauthorised("Missing X-Gitlab-Token header: set the webhook's secret token.")
        valid = _token_valid(secrets, token)
    elif kind == SourceKind.PAGERDUTY:
        header = headers.get("x-pagerduty-signature", "")
        if not header:
            raise Unauthorised("Missing X-PagerDuty-Signature header.")
        valid = _pagerduty_valid(secrets, header, body)
    else:
        signature = headers.get(GENERIC_SIGNATURE_HEADER, "")
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if signature:
            valid = _sha256_header_valid(secrets, signature, body)
        elif scheme.lower() == "bearer" and token.strip():
            valid = _token_valid(secrets, token.strip())
        else:
            raise Unauthorised(
                "Send X-Runway-Signature-256: sha256=<HMAC of the body> "
                "or Authorization: Bearer <the source's secret>."
            )
    if not valid:
        raise Unauthorised(BAD_CREDENTIALS)
