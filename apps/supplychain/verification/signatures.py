"""t of n: which trusted keys signed the same bytes, counted once per key however many names or
signatures it has. An expired key's signature is recognised, and said not to count; the key id a
signer attached is never read (DSSE: it must not decide anything)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from apps.supplychain.verification.findings import Finding, failed, passed
from apps.supplychain.verification.keys import TrustedKey, signature_valid

MAX_SIGNATURES = 16
MAX_KEYS = 64


@dataclass
class Signers:
    counted: dict[str, str] = field(default_factory=dict)  # fingerprint → the key's name
    expired: dict[str, TrustedKey] = field(default_factory=dict)
    unknown: int = 0  # signatures no trusted key verifies


def signers(signatures: Sequence[bytes], data: bytes, keys: Sequence[TrustedKey], *, now: datetime):
    found = Signers()
    for signature in signatures[:MAX_SIGNATURES]:
        key = next(
            (k for k in keys[:MAX_KEYS] if signature_valid(k.public_key, signature, data)), None
        )
        if key is None:
            found.unknown += 1
        elif key.expired(now):
            found.expired.setdefault(key.fingerprint, key)
        else:
            found.counted.setdefault(key.fingerprint, key.name)
    return found


def threshold_finding(requirement: str, found: Signers, *, threshold: int) -> Finding:
    names = sorted(found.counted.values())
    parts = [
        f"{len(names)} of the {threshold} required trusted signatures"
        + (f": {', '.join(names)}" if names else "")
    ]
    for key in sorted(found.expired.values(), key=lambda k: k.name):
        when = key.expires_at.date().isoformat() if key.expires_at else "?"
        parts.append(f"{key.name} signed, but its trust expired on {when}")
    if found.unknown:
        parts.append(f"{found.unknown} signature(s) match no trusted key")
    detail = "; ".join(parts) + "."
    ok = threshold > 0 and len(names) >= threshold
    return passed(requirement, detail) if ok else failed(requirement, detail)
