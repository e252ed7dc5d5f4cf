"""Keys made in the test, and evidence signed with them as CI's tools sign it: DSSE envelopes
(in-toto Statements) and cosign's simple-signing payloads."""

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from apps.supplychain.verification.dsse import pae
from apps.supplychain.verification.keys import TrustedKey, load_public_key

DSSE_VECTOR = Path(__file__).resolve().parents[1] / "fixtures" / "dsse" / "hello_world.json"
VECTOR_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
VECTOR_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


def pem(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def vector_key_pem() -> str:
    numbers = ec.EllipticCurvePublicNumbers(VECTOR_X, VECTOR_Y, ec.SECP256R1())
    return pem(numbers.public_key())


class Signer:
    """A private key and the trusted key its public half makes."""

    def __init__(self, kind: str = "ecdsa"):
        self.private: Any
        if kind == "ecdsa":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif kind == "ed25519":
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kind = kind

    def sign(self, data: bytes, *, rsa_padding=None) -> bytes:
        if self.kind == "ecdsa":
            return self.private.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.kind == "ed25519":
            return self.private.sign(data)
        return self.private.sign(data, rsa_padding or padding.PKCS1v15(), hashes.SHA256())

    def trusted(self, name: str, expires_at: datetime | None = None) -> TrustedKey:
        return TrustedKey(name, load_public_key(pem(self.private.public_key())), expires_at)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def envelope(payload: bytes, payload_type: str, *signers: Signer) -> dict:
    return {
        "payload": b64(payload),
        "payloadType": payload_type,
        "signatures": [
            {"keyid": "", "sig": b64(s.sign(pae(payload_type, payload)))} for s in signers
        ],
    }


def statement(predicate_type: str, predicate: dict, digest: str = DIGEST) -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {"name": "registry.example.com/shop/web", "digest": {"sha256": digest[7:]}}
            ],
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    ).encode()


def simple_signing_payload(digest: str = DIGEST) -> bytes:
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": "registry.example.com/shop/web"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
