"""The trust page (keys, policies, suppressions; platform admins add and revoke keys there) and
the page of an artifact's evidence, each verified against the keys trusted now."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.supplychain import services
from apps.supplychain.models import Suppression, TrustedKey, TrustPolicy
from tests.factories import ServiceFactory
from tests.supplychain.signing import DIGEST, Signer, b64, pem, simple_signing_payload

pytestmark = pytest.mark.django_db


def cosign_document(signer: Signer) -> dict:
    payload = simple_signing_payload(DIGEST)
    return {"payload": b64(payload), "signature": b64(signer.sign(payload))}


def test_a_platform_admin_trusts_a_key_on_the_page(client_as, platform_admin):
    client = client_as(platform_admin)
    response = client.post(
        "/supply-chain/", {"name": "ci-2026", "pem": pem(Signer().private.public_key())}
    )
    assert response.status_code == 302
    assert TrustedKey.objects.get().name == "ci-2026"
    page = client.get("/supply-chain/").content.decode()
    assert 'data-key="ci-2026"' in page and "Trusted" in page


def test_a_key_that_is_not_accepted_is_shown_next_to_its_field(client_as, platform_admin):
    response = client_as(platform_admin).post("/supply-chain/", {"name": "x", "pem": "nope"})
    assert response.status_code == 200
    assert "Not a PEM public key" in response.content.decode()
    assert not TrustedKey.objects.exists()


def test_others_read_the_page_but_neither_add_nor_revoke_a_key(
    client_as, developer, platform_admin
):
    key = services.trusted_key_add(
        actor=platform_admin, name="ci", pem=pem(Signer().private.public_key())
    )
    client = client_as(developer)
    page = client.get("/supply-chain/").content.decode()
    assert 'data-key="ci"' in page and "Trust this key" not in page and "Revoke" not in page
    assert client.post("/supply-chain/", {"name": "mine", "pem": key.pem}).status_code == 403
    revoke = client.post(f"/supply-chain/keys/{key.pk}/revoke/", {"reason": "I would rather not"})
    assert revoke.status_code == 403
    assert TrustedKey.objects.get().revoked_at is None


def test_a_platform_admin_revokes_a_key_saying_why(client_as, platform_admin):
    key = services.trusted_key_add(
        actor=platform_admin, name="ci", pem=pem(Signer().private.public_key())
    )
    client = client_as(platform_admin)
    client.post(f"/supply-chain/keys/{key.pk}/revoke/", {"reason": "short"})
    assert TrustedKey.objects.get().revoked_at is None
    client.post(f"/supply-chain/keys/{key.pk}/revoke/", {"reason": "leaked in a build log"})
    assert TrustedKey.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="trusted_key.revoke").count() == 1


def test_the_artifact_page_says_which_trusted_key_signed_each_piece(
    client_as, developer, platform_admin, django_assert_max_num_queries
):
    signer, stranger = Signer(), Signer()
    services.trusted_key_add(actor=platform_admin, name="ci", pem=pem(signer.private.public_key()))
    for _ in range(10):  # signatures by a stranger, each its own document
        services.attestation_upload(
            actor=platform_admin, digest=DIGEST, document=cosign_document(stranger)
        )
    services.attestation_upload(
        actor=platform_admin, digest=DIGEST, document=cosign_document(signer)
    )
    client = client_as(developer)
    with django_assert_max_num_queries(8):
        page = client.get(f"/supply-chain/artifacts/{DIGEST}/").content.decode()
    assert page.count('data-testid="signed-by"') == 11
    assert page.count('data-testid="signed-by">ci</td>') == 1
    assert page.count('<span class="muted">no trusted key</span>') == 10


def test_the_artifact_page_refuses_what_is_not_a_digest(client_as, developer):
    assert client_as(developer).get("/supply-chain/artifacts/latest/").status_code == 404


def test_an_expired_suppression_says_it_counts_again(client_as, platform_admin, payments):
    Suppression.objects.create(
        service=ServiceFactory(name="web", owner=payments),
        vulnerability_id="CVE-2026-1",
        reason="not reachable from the web tier",
        expires_at=timezone.now() - timedelta(days=1),
        created_by=platform_admin,
    )
    page = client_as(platform_admin).get("/supply-chain/").content.decode()
    assert "CVE-2026-1" in page and "counts again" in page


def policy_form(**fields) -> dict:
    return {
        "name": "signed prod",
        "environment_kind": "production",
        "signature_threshold": "1",
        "scan_max_age_days": "7",
        "scan_max_severity": "HIGH",
        "require_digest": "on",
        **fields,
    }


def test_a_platform_admin_makes_a_policy_and_switches_it_off_on_the_page(client_as, platform_admin):
    services.trusted_key_add(
        actor=platform_admin, name="ci", pem=pem(Signer().private.public_key())
    )
    client = client_as(platform_admin)
    assert "New trust policy" in client.get("/supply-chain/").content.decode()
    made = client.post(
        "/supply-chain/policies/new/",
        policy_form(keys=["ci"], require_provenance="on", allowed_builders="https://ci/*\n\n"),
    )
    assert made.status_code == 302
    policy = TrustPolicy.objects.get()
    assert [k.name for k in policy.keys.all()] == ["ci"]
    assert policy.allowed_builders == ["https://ci/*"] and policy.environment_kind == "production"
    client.post(f"/supply-chain/policies/{policy.pk}/switch/", {"active": "off"})
    assert not TrustPolicy.objects.get().is_active
    assert AuditEvent.objects.filter(action="trust_policy.update").count() == 1


def test_a_policy_that_could_never_pass_is_shown_next_to_its_field(client_as, platform_admin):
    response = client_as(platform_admin).post(
        "/supply-chain/policies/new/", policy_form(signature_threshold="2")
    )
    assert response.status_code == 200
    assert "it could never pass" in response.content.decode()
    assert not TrustPolicy.objects.exists()


def test_others_neither_make_nor_switch_a_policy(client_as, developer, platform_admin):
    policy = services.trust_policy_create(
        actor=platform_admin, name="scan", key_names=[], signature_threshold=0, require_scan=True
    )
    client = client_as(developer)
    assert client.get("/supply-chain/policies/new/").status_code == 403
    assert (
        client.post("/supply-chain/policies/new/", policy_form(signature_threshold="0")).status_code
        == 403
    )
    assert (
        client.post(f"/supply-chain/policies/{policy.pk}/switch/", {"active": "off"}).status_code
        == 403
    )
    assert TrustPolicy.objects.get().is_active and TrustPolicy.objects.count() == 1
