"""Image digests: `sha256:` and 64 hex digits, the only form an artifact is pinned by."""

import re

from apps.supplychain.verification.findings import BadEvidence

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def checked_digest(field: str, value: object) -> str:
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise BadEvidence(field, "Expected a digest: sha256: and 64 lower-case hex digits.")
    return value
