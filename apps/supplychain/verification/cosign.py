"""cosign's key-based image signatures: a "simple signing" JSON payload naming the image's
manifest digest, and a signature over the payload's exact bytes
(https://github.com/containers/image/blob/main/docs/containers-signature.5.md)."""

from collections.abc import Sequence
from datetime import datetime

from apps.supplychain.verification.digests import checked_digest
from apps.supplychain.verification.encoding import json_object, text_at
from apps.supplychain.verification.findings import BadEvidence, Finding, failed, passed
from apps.supplychain.verification.keys import TrustedKey
from apps.supplychain.verification.signatures import signers, threshold_finding

SIMPLE_SIGNING_TYPE = "cosign container image signature"
SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"


def signed_digest(payload: bytes) -> str:
    """The manifest digest a simple-signing payload vouches for."""
    document = json_object("payload", payload)
    kind = text_at(document, "critical.type")
    if kind != SIMPLE_SIGNING_TYPE:
        raise BadEvidence(
            "payload.critical.type", f"Expected {SIMPLE_SIGNING_TYPE!r}, not {kind!r}."
        )
    return checked_digest(
        "payload.critical.image.docker-manifest-digest",
        text_at(document, "critical.image.docker-manifest-digest"),
    )


def verify_simple_signing(
    payload: bytes,
    signatures: Sequence[bytes],
    keys: Sequence[TrustedKey],
    *,
    digest: str,
    threshold: int,
    now: datetime,
) -> list[Finding]:
    """The payload names `digest`, and `threshold` trusted keys signed it."""
    named = signed_digest(payload)
    subject = (
        passed("signature: subject", f"The signed payload names {digest}.")
        if named == digest
        else failed("signature: subject", f"The signed payload names {named}, not {digest}.")
    )
    found = signers(signatures, payload, keys, now=now)
    return [subject, threshold_finding("signature", found, threshold=threshold)]
