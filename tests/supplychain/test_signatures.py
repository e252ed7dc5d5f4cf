"""Signatures: the DSSE specification's own test vector, envelopes signed in the test with each
kind of key, t of n, expired and untrusted keys, and evidence that cannot be read."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from apps.supplychain.verification import cosign
from apps.supplychain.verification.dsse import pae, parse_envelope, verify_envelope
from apps.supplychain.verification.findings import BadEvidence
from apps.supplychain.verification.keys import TrustedKey, load_public_key
from tests.supplychain.signing import (
    DIGEST,
    DSSE_VECTOR,
    OTHER_DIGEST,
    Signer,
    envelope,
    pem,
    simple_signing_payload,
    vector_key_pem,
)

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
TYPE = "application/vnd.in-toto+json"


def vector_key(**fields) -> TrustedKey:
    return TrustedKey("dsse-vector", load_public_key(vector_key_pem()), **fields)


def vector() -> dict:
    return json.loads(DSSE_VECTOR.read_text())


def verified(document: dict, keys, threshold: int = 1):
    return verify_envelope(parse_envelope(document), keys, threshold=threshold, now=NOW)


def test_the_pre_authentication_encoding_is_the_specifications():
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_the_published_test_vector_verifies():
    finding = verified(vector(), [vector_key()])
    assert finding.passed, finding.detail
    assert "dsse-vector" in finding.detail


def test_url_safe_base64_without_padding_is_accepted_as_the_specification_requires():
    document = vector()
    signature = base64.b64decode(document["signatures"][0]["sig"])
    document["signatures"][0]["sig"] = base64.urlsafe_b64encode(signature).decode().rstrip("=")
    document["payload"] = base64.urlsafe_b64encode(b"hello world").decode().rstrip("=")
    assert verified(document, [vector_key()]).passed


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(payload=base64.b64encode(b"hello world!").decode()),
        lambda d: d.update(payloadType="http://example.com/Goodbye"),
    ],
    ids=["payload", "payload type"],
)
def test_a_tampered_envelope_does_not_verify(tamper):
    document = vector()
    tamper(document)
    finding = verified(document, [vector_key()])
    assert not finding.passed
    assert "1 signature(s) match no trusted key" in finding.detail


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519", "rsa"])
def test_each_kind_of_key_verifies_its_own_signature_and_not_anothers(kind):
    signer, stranger = Signer(kind), Signer(kind)
    document = envelope(b"{}", TYPE, signer)
    assert verified(document, [signer.trusted("ci")]).passed
    assert not verified(document, [stranger.trusted("someone else")]).passed


def test_an_rsa_pss_signature_verifies_too():
    signer = Signer("rsa")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = signer.private.sign(pae(TYPE, b"{}"), pss, hashes.SHA256())
    document = {
        "payload": base64.b64encode(b"{}").decode(),
        "payloadType": TYPE,
        "signatures": [{"sig": base64.b64encode(signature).decode()}],
    }
    assert verified(document, [signer.trusted("ci")]).passed


def test_the_key_id_a_signer_attaches_decides_nothing():
    trusted, stranger = Signer(), Signer()
    document = envelope(b"{}", TYPE, stranger)
    document["signatures"][0]["keyid"] = trusted.trusted("ci").fingerprint
    assert not verified(document, [trusted.trusted("ci")]).passed


def test_an_expired_key_is_recognised_and_does_not_count():
    signer = Signer()
    key = signer.trusted("old build key", expires_at=NOW - timedelta(days=1))
    finding = verified(envelope(b"{}", TYPE, signer), [key])
    assert not finding.passed
    assert "old build key signed, but its trust expired on 2026-12-06" in finding.detail


def test_two_of_three_keys_meet_a_threshold_of_two_and_one_does_not():
    a, b, c = Signer(), Signer("ed25519"), Signer("rsa")
    keys = [a.trusted("a"), b.trusted("b"), c.trusted("c")]
    two = verified(envelope(b"{}", TYPE, a, c), keys, threshold=2)
    assert two.passed
    assert "2 of the 2 required trusted signatures: a, c" in two.detail
    assert not verified(envelope(b"{}", TYPE, b), keys, threshold=2).passed


def test_one_key_under_two_names_or_signing_twice_counts_once():
    a = Signer()
    keys = [a.trusted("a"), a.trusted("a again")]
    finding = verified(envelope(b"{}", TYPE, a, a), keys, threshold=2)
    assert not finding.passed
    assert "1 of the 2 required" in finding.detail


def test_no_threshold_is_ever_met_by_nothing():
    assert not verified(envelope(b"{}", TYPE, Signer()), [], threshold=0).passed


@pytest.mark.parametrize(
    "document, field",
    [
        ([], "envelope"),
        ({"payload": "e30=", "signatures": [{"sig": "AA=="}]}, "payloadType"),
        (
            {"payload": "e30=", "payloadType": "x" * 201, "signatures": [{"sig": "AA=="}]},
            "payloadType",
        ),
        (
            {"payload": "not base64!", "payloadType": TYPE, "signatures": [{"sig": "AA=="}]},
            "payload",
        ),
        ({"payload": "e30=", "payloadType": TYPE, "signatures": []}, "signatures"),
        (
            {"payload": "e30=", "payloadType": TYPE, "signatures": [{"sig": "AA=="}, {"sig": 5}]},
            "signatures[1].sig",
        ),
        (
            {"payload": "e30=", "payloadType": TYPE, "signatures": [{"sig": "AA=="}] * 17},
            "signatures",
        ),
    ],
    ids=[
        "not an object",
        "no type",
        "long type",
        "bad payload",
        "no signatures",
        "bad sig",
        "too many",
    ],
)
def test_an_envelope_that_cannot_be_read_is_refused_naming_the_field(document, field):
    with pytest.raises(BadEvidence) as refused:
        parse_envelope(document)
    assert refused.value.field == field


@pytest.mark.parametrize(
    "make_pem, says",
    [
        (lambda: "not a key", "Not a PEM public key"),
        (lambda: pem(ec.generate_private_key(ec.SECP384R1()).public_key()), "P-256"),
        (
            lambda: pem(
                rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
            ),
            "2048 bits",
        ),
        (lambda: vector_key_pem().replace("\n", "\x00", 1), "PEM public key"),
    ],
    ids=["garbage", "p-384", "rsa-1024", "nul"],
)
def test_a_key_that_is_not_accepted_is_refused_when_added(make_pem, says):
    with pytest.raises(BadEvidence) as refused:
        load_public_key(make_pem(), field="keys[0].pem")
    assert refused.value.field == "keys[0].pem"
    assert says in refused.value.message


def test_a_cosign_signature_vouches_for_the_digest_its_payload_names():
    signer = Signer()
    payload = simple_signing_payload(DIGEST)
    findings = cosign.verify_simple_signing(
        payload, [signer.sign(payload)], [signer.trusted("ci")], digest=DIGEST, threshold=1, now=NOW
    )
    assert [f.passed for f in findings] == [True, True]
    other = cosign.verify_simple_signing(
        payload,
        [signer.sign(payload)],
        [signer.trusted("ci")],
        digest=OTHER_DIGEST,
        threshold=1,
        now=NOW,
    )
    assert [f.passed for f in other] == [False, True]
    assert f"names {DIGEST}, not {OTHER_DIGEST}" in other[0].detail


def test_a_simple_signing_payload_of_another_kind_is_refused():
    payload = simple_signing_payload().replace(b"cosign container image signature", b"other")
    with pytest.raises(BadEvidence) as refused:
        cosign.signed_digest(payload)
    assert refused.value.field == "payload.critical.type"
