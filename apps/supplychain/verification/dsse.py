"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1.0.0): the payload and
its type are what is signed, through the pre-authentication encoding; payload and signatures
may be in standard or URL-safe base64."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from apps.supplychain.verification.encoding import b64decode
from apps.supplychain.verification.findings import BadEvidence, Finding
from apps.supplychain.verification.keys import TrustedKey
from apps.supplychain.verification.signatures import (
    MAX_SIGNATURES,
    signers,
    threshold_finding,
)

MAX_PAYLOAD_TYPE = 200


@dataclass(frozen=True)
class Envelope:
    payload: bytes
    payload_type: str
    signatures: tuple[bytes, ...]


def pae(payload_type: str, payload: bytes) -> bytes:
    """PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def parse_envelope(document: object) -> Envelope:
    if not isinstance(document, dict):
        raise BadEvidence(
            "envelope", "Expected a JSON object with payload, payloadType, signatures."
        )
    payload_type = document.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise BadEvidence("payloadType", "Missing, or not a string.")
    if len(payload_type) > MAX_PAYLOAD_TYPE:
        raise BadEvidence("payloadType", f"Longer than {MAX_PAYLOAD_TYPE} characters.")
    payload = b64decode("payload", document.get("payload"))
    entries = document.get("signatures")
    if not isinstance(entries, list) or not entries:
        raise BadEvidence("signatures", "Expected a list of at least one signature.")
    if len(entries) > MAX_SIGNATURES:
        raise BadEvidence("signatures", f"At most {MAX_SIGNATURES} signatures.")
    signatures = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise BadEvidence(f"signatures[{index}]", "Expected an object with `sig`.")
        signatures.append(b64decode(f"signatures[{index}].sig", entry.get("sig")))
    return Envelope(payload=payload, payload_type=payload_type, signatures=tuple(signatures))


def verify_envelope(
    envelope: Envelope, keys: Sequence[TrustedKey], *, threshold: int, now: datetime
) -> Finding:
    """Passed when at least `threshold` distinct trusted, unexpired keys signed the envelope."""
    found = signers(
        envelope.signatures, pae(envelope.payload_type, envelope.payload), keys, now=now
    )
    return threshold_finding("signature", found, threshold=threshold)
