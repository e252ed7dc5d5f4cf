"""Trusted public keys, and the one place a signature is checked against one.

Keys come as PEM (SubjectPublicKeyInfo). Accepted: ECDSA on P-256, Ed25519, and RSA of 2,048
bits or more; anything else is refused when the key is added, not when a signature fails to
verify. Signatures over data are SHA-256 for ECDSA and RSA (as cosign makes them); an ECDSA
signature may be DER or raw r||s (the DSSE test vector's form), an RSA one PKCS #1 v1.5 or PSS."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from apps.supplychain.verification.findings import BadEvidence

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
MAX_PEM_CHARS = 16_384
MIN_RSA_BITS = 2048
RAW_P256_SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class TrustedKey:
    name: str
    public_key: PublicKey
    expires_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def load_public_key(pem: str, *, field: str = "public_key") -> PublicKey:
    if not isinstance(pem, str) or len(pem) > MAX_PEM_CHARS or "\x00" in pem:
        raise BadEvidence(
            field, f"Expected a PEM public key of at most {MAX_PEM_CHARS} characters."
        )
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise BadEvidence(
            field, "Not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)."
        ) from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise BadEvidence(
                field, f"ECDSA keys must be on P-256; this one is on {key.curve.name}."
            )
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise BadEvidence(
                field, f"RSA keys need {MIN_RSA_BITS} bits or more; this one has {key.key_size}."
            )
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise BadEvidence(field, "Only ECDSA P-256, Ed25519 and RSA keys are accepted.")


def fingerprint(key: PublicKey) -> str:
    """SHA-256 of the key's SubjectPublicKeyInfo, in hex: how the same key is recognised under
    two names (it counts once towards a threshold)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def signature_valid(key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            return _ecdsa_valid(key, signature, data)
        return _rsa_valid(key, signature, data)
    except (InvalidSignature, ValueError):
        return False


def _ecdsa_valid(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    forms = [signature]
    if len(signature) == RAW_P256_SIGNATURE_BYTES:
        half = RAW_P256_SIGNATURE_BYTES // 2
        r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        forms.append(encode_dss_signature(r, s))
    for form in forms:
        try:
            key.verify(form, data, ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def _rsa_valid(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    for scheme in (padding.PKCS1v15(), pss):
        try:
            key.verify(signature, data, scheme, hashes.SHA256())
            return True
        except InvalidSignature:
            continue
    return False
