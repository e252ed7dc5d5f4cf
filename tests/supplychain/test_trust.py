"""Trusting keys, making policies, receiving evidence and suppressing vulnerabilities, through
the services and the API; and the release gate that verifies the evidence, again at start."""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts import services as account_services
from apps.audit.models import AuditEvent
from apps.catalog.models import Environment
from apps.core.exceptions import Conflict
from apps.releases.gates import readiness
from apps.rollouts import services as rollout_services
from apps.supplychain import services
from apps.supplychain.models import Attestation
from apps.supplychain.verification import provenance, scans
from tests.factories import ServiceFactory
from tests.rollouts.executing import release_of
from tests.supplychain.conftest import REPOSITORY
from tests.supplychain.signing import (
    DIGEST,
    OTHER_DIGEST,
    Signer,
    b64,
    envelope,
    pem,
    simple_signing_payload,
    statement,
)

pytestmark = pytest.mark.django_db
IMAGE = f"registry.example.com/payments/web:1.4.0@{DIGEST}"
BUILDER = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0"


@pytest.fixture
def ci_token(platform_admin, payments) -> dict:
    """The API headers of the payments team's CI, by its service account's token."""
    *_, token = account_services.service_account_create(
        actor=platform_admin, username="ci-payments", teams=[payments], token_name="github"
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def cosign_document(signer: Signer, digest: str = DIGEST) -> dict:
    payload = simple_signing_payload(digest)
    return {"payload": b64(payload), "signature": b64(signer.sign(payload))}


def supply_chain(release) -> dict:
    return {
        gate.name: gate
        for gate in readiness(release, now=timezone.now())
        if gate.key.startswith("supply_chain:")
    }


# --- Keys and policies ------------------------------------------------------------------------


def test_a_platform_admin_trusts_a_key_and_it_is_audited(key):
    assert key.algorithm == "ecdsa-p256" and len(key.fingerprint) == 64
    event = AuditEvent.objects.get(action="trusted_key.add")
    assert event.after["fingerprint"] == key.fingerprint


def test_only_platform_admins_change_what_runway_trusts(developer, signer, key):
    with pytest.raises(PermissionDenied):
        services.trusted_key_add(actor=developer, name="mine", pem=pem(signer.private.public_key()))
    with pytest.raises(PermissionDenied):
        services.trusted_key_revoke(actor=developer, key=key, reason="I do not like it at all")
    with pytest.raises(PermissionDenied):
        services.trust_policy_create(actor=developer, name="lax", key_names=[])


def test_a_policy_that_could_never_pass_is_refused_naming_the_field(platform_admin, key):
    with pytest.raises(ValidationError) as refused:
        services.trust_policy_create(
            actor=platform_admin, name="two", key_names=["ci-signing"], signature_threshold=2
        )
    assert "signature_threshold" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.trust_policy_create(
            actor=platform_admin, name="prov", key_names=["ci-signing"], require_provenance=True
        )
    assert "allowed_builders" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.trust_policy_create(actor=platform_admin, name="x", key_names=["nope"])
    assert "keys" in refused.value.message_dict


def test_revoking_a_key_twice_is_a_conflict(platform_admin, key):
    services.trusted_key_revoke(actor=platform_admin, key=key, reason="leaked in a build log")
    with pytest.raises(Conflict):
        services.trusted_key_revoke(actor=platform_admin, key=key, reason="leaked in a build log")
    event = AuditEvent.objects.get(action="trusted_key.revoke")
    assert event.before == {"revoked_at": None} and event.after["reason"] == "leaked in a build log"


# --- Evidence ---------------------------------------------------------------------------------


def test_ci_uploads_a_signature_once_however_often_it_retries(ci, signer):
    document = cosign_document(signer)
    first, new = services.attestation_upload(actor=ci, digest=DIGEST, document=document)
    again, new_again = services.attestation_upload(actor=ci, digest=DIGEST, document=document)
    assert (new, new_again) == (True, False) and first.pk == again.pk
    assert first.kind == Attestation.Kind.COSIGN
    assert AuditEvent.objects.filter(action="attestation.upload").count() == 1


def test_evidence_about_another_artifact_is_refused_and_nothing_is_stored(ci, signer):
    with pytest.raises(ValidationError) as refused:
        services.attestation_upload(
            actor=ci, digest=DIGEST, document=cosign_document(signer, OTHER_DIGEST)
        )
    assert "payload.critical.image.docker-manifest-digest" in refused.value.message_dict
    provenance_about_other = envelope(
        statement(provenance.SLSA_V1, {}, digest=OTHER_DIGEST),
        "application/vnd.in-toto+json",
        signer,
    )
    with pytest.raises(ValidationError) as refused:
        services.attestation_upload(actor=ci, digest=DIGEST, document=provenance_about_other)
    assert "payload.subject" in refused.value.message_dict
    assert not Attestation.objects.exists()


def test_a_person_who_is_not_an_admin_does_not_upload_evidence(developer, signer):
    with pytest.raises(PermissionDenied):
        services.attestation_upload(
            actor=developer, digest=DIGEST, document=cosign_document(signer)
        )


@pytest.mark.parametrize(
    "digest, document, field",
    [
        ("sha256:abc", {"payload": "e30=", "signature": "AA=="}, "digest"),
        (DIGEST, {"hello": "world"}, "document"),
        (DIGEST, {"payload": "%%%", "signature": "AA=="}, "payload"),
        (
            DIGEST,
            {"payload": "e30=", "payloadType": "application/vnd.in-toto+json", "signatures": "x"},
            "signatures",
        ),
        (
            DIGEST,
            {"payload": b64(b"{}"), "payloadType": "text/plain", "signatures": [{"sig": "AA=="}]},
            "payloadType",
        ),
    ],
    ids=["short digest", "neither form", "not base64", "signatures not a list", "not in-toto"],
)
def test_the_api_refuses_unreadable_evidence_with_a_400_naming_the_field(
    api_client, ci_token, digest, document, field
):
    response = api_client.post(
        f"/api/v1/artifacts/{digest}/attestations/", document, format="json", **ci_token
    )
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_api_stores_then_lists_an_envelope(api_client, ci_token, signer):
    document = envelope(statement(provenance.SLSA_V1, {}), "application/vnd.in-toto+json", signer)
    url = f"/api/v1/artifacts/{DIGEST}/attestations/"
    assert api_client.post(url, document, format="json", **ci_token).status_code == 201
    assert api_client.post(url, document, format="json", **ci_token).status_code == 200
    listed = api_client.get(url, **ci_token).json()["results"]
    assert [(a["kind"], a["predicate_type"]) for a in listed] == [("dsse", provenance.SLSA_V1)]


def test_the_api_lets_only_platform_admins_trust_keys(api_as, developer, platform_admin, signer):
    body = {"name": "ci", "pem": pem(signer.private.public_key())}
    assert api_as(developer).post("/api/v1/trust/keys/", body, format="json").status_code == 403
    made = api_as(platform_admin).post("/api/v1/trust/keys/", body, format="json")
    assert made.status_code == 201 and made.json()["algorithm"] == "ecdsa-p256"
    again = api_as(platform_admin).post("/api/v1/trust/keys/", body, format="json")
    assert again.status_code == 409
    bad = api_as(platform_admin).post(
        "/api/v1/trust/keys/", {"name": "x", "pem": "nope"}, format="json"
    )
    assert bad.status_code == 400 and "pem" in bad.json()


# --- The gate ---------------------------------------------------------------------------------


def test_a_release_under_no_trust_policy_has_no_supply_chain_gate(web, developer):
    assert supply_chain(release_of(web, IMAGE, actor=developer)) == {}


def test_a_release_by_tag_only_fails_the_digest_requirement(web, developer, signed_policy):
    gates = supply_chain(
        release_of(web, "registry.example.com/payments/web:1.4.0", actor=developer)
    )
    assert not gates["Supply chain: digest"].passed
    assert "by tag only" in gates["Supply chain: digest"].detail


def test_a_signature_not_yet_uploaded_waits_and_one_uploaded_passes(
    web, developer, ci, signer, signed_policy
):
    release = release_of(web, IMAGE, actor=developer)
    gate = supply_chain(release)["Supply chain: signature"]
    assert not gate.passed and gate.pending
    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(signer))
    gate = supply_chain(release)["Supply chain: signature"]
    assert gate.passed and "ci-signing" in gate.detail


def test_a_signature_by_an_untrusted_key_fails_without_waiting(web, developer, ci, signed_policy):
    release = release_of(web, IMAGE, actor=developer)
    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(Signer()))
    gate = supply_chain(release)["Supply chain: signature"]
    assert not gate.passed and not gate.pending
    assert "match no trusted key" in gate.detail


def test_the_gate_is_checked_again_at_start_after_the_key_is_revoked(
    web, developer, ci, signer, key, signed_policy, platform_admin
):
    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(signer))
    release = release_of(web, IMAGE, actor=developer)
    assert supply_chain(release)["Supply chain: signature"].passed
    services.trusted_key_revoke(actor=platform_admin, key=key, reason="the signing key leaked")
    with pytest.raises(ValidationError) as held:
        rollout_services.rollout_start(actor=developer, release=release)
    assert "Supply chain: signature" in held.value.messages[0]
    assert "match no trusted key" in held.value.messages[0]
    assert not release.rollouts.exists()


def test_provenance_and_a_scan_signed_by_a_trusted_key_pass_the_whole_policy(
    web, developer, ci, signer, key, platform_admin
):
    services.trust_policy_create(
        actor=platform_admin,
        name="slsa",
        key_names=["ci-signing"],
        require_provenance=True,
        allowed_builders=["https://github.com/slsa-framework/slsa-github-generator/*"],
        allowed_refs=["refs/tags/v*"],
        require_scan=True,
        scan_max_severity="HIGH",
    )
    intoto = "application/vnd.in-toto+json"
    build = {
        "buildDefinition": {
            "externalParameters": {
                "workflow": {"repository": REPOSITORY, "ref": "refs/tags/v1.4.0"}
            }
        },
        "runDetails": {"builder": {"id": BUILDER}},
    }
    finished = (timezone.now() - timedelta(days=1)).isoformat()
    scan = {
        "scanner": {
            "uri": "pkg:github/aquasecurity/trivy",
            "result": {
                "Results": [
                    {
                        "Target": "web",
                        "Vulnerabilities": [
                            {
                                "VulnerabilityID": "CVE-2026-7",
                                "Severity": "CRITICAL",
                                "PkgName": "zlib",
                            }
                        ],
                    }
                ]
            },
        },
        "metadata": {"scanFinishedOn": finished},
    }
    for document in (
        envelope(statement(provenance.SLSA_V1, build), intoto, signer),
        envelope(statement(scans.VULN_PREDICATE, scan), intoto, signer),
    ):
        services.attestation_upload(actor=ci, digest=DIGEST, document=document)
    release = release_of(web, IMAGE, actor=developer)
    gates = supply_chain(release)
    assert gates["Supply chain: signature"].passed  # the envelopes are signed statements about it
    assert all(
        gates[f"Supply chain: provenance: {part}"].passed
        for part in ("builder", "repository", "ref")
    )
    assert not gates["Supply chain: scan: findings"].passed
    assert "CVE-2026-7 (critical, zlib)" in gates["Supply chain: scan: findings"].detail
    services.suppression_set(
        actor=platform_admin,
        service=web,
        vulnerability_id="CVE-2026-7",
        reason="zlib's inflate is not reachable from the web tier",
        expires_at=timezone.now() + timedelta(days=30),
    )
    assert supply_chain(release)["Supply chain: scan: findings"].passed
    assert AuditEvent.objects.filter(action="suppression.set").count() == 1


def test_provenance_signed_by_no_trusted_key_counts_for_nothing(
    web, developer, ci, key, platform_admin
):
    services.trust_policy_create(
        actor=platform_admin,
        name="slsa",
        key_names=["ci-signing"],
        signature_threshold=0,
        require_provenance=True,
        allowed_builders=["*"],
    )
    build = {
        "runDetails": {"builder": {"id": BUILDER}},
        "buildDefinition": {
            "externalParameters": {"workflow": {"repository": REPOSITORY, "ref": "refs/heads/main"}}
        },
    }
    document = envelope(
        statement(provenance.SLSA_V1, build), "application/vnd.in-toto+json", Signer()
    )
    services.attestation_upload(actor=ci, digest=DIGEST, document=document)
    gate = supply_chain(release_of(web, IMAGE, actor=developer))["Supply chain: provenance"]
    assert not gate.passed and "signed by a trusted key" in gate.detail


def test_a_suppression_longer_than_ninety_days_is_refused(web, platform_admin):
    with pytest.raises(ValidationError) as refused:
        services.suppression_set(
            actor=platform_admin,
            service=web,
            vulnerability_id="CVE-2026-7",
            reason="not reachable from anywhere we run",
            expires_at=timezone.now() + timedelta(days=400),
        )
    assert "expires_at" in refused.value.message_dict


def test_the_evidence_documents_are_kept_exactly_as_received(ci, signer):
    document = cosign_document(signer)
    document["extra"] = {"note": "kept"}
    attestation, _ = services.attestation_upload(actor=ci, digest=DIGEST, document=document)
    attestation.refresh_from_db()
    assert json.dumps(attestation.document, sort_keys=True) == json.dumps(document, sort_keys=True)


def test_the_evidence_keeps_the_verification_made_at_start(
    web, developer, ci, signer, signed_policy, key, platform_admin
):
    from apps.releases.evidence import release_evidence

    services.attestation_upload(actor=ci, digest=DIGEST, document=cosign_document(signer))
    release = release_of(web, IMAGE, actor=developer)
    assert release_evidence(release)["supply_chain"] is None  # not started: nothing verified yet
    rollout_services.rollout_start(actor=developer, release=release)
    # Revoked after the start: the evidence says what was verified then.
    services.trusted_key_revoke(actor=platform_admin, key=key, reason="rotated after the release")
    summary = release_evidence(release)["supply_chain"]
    assert summary["verification_result"] == "PASSED"
    assert summary["resource_uri"] == IMAGE
    assert [c["gate"] for c in summary["checks"]] == [
        "Supply chain: digest",
        "Supply chain: signature",
    ]
    assert "ci-signing" in summary["checks"][1]["detail"]


def test_evidence_comes_as_json_only(api_client, ci_token, signer):
    response = api_client.post(
        f"/api/v1/artifacts/{DIGEST}/attestations/",
        urlencode(cosign_document(signer)),
        content_type="application/x-www-form-urlencoded",
        **ci_token,
    )
    assert response.status_code == 415
    assert not Attestation.objects.exists()


# --- Changing a policy ------------------------------------------------------------------------


def test_a_policy_switched_off_no_longer_gates_and_the_change_is_audited(
    web, developer, platform_admin, signed_policy
):
    release = release_of(web, IMAGE, actor=developer)
    assert "Supply chain: signature" in supply_chain(release)
    services.trust_policy_update(actor=platform_admin, policy=signed_policy, is_active=False)
    assert supply_chain(release) == {}
    event = AuditEvent.objects.get(action="trust_policy.update")
    assert (event.before, event.after) == ({"is_active": True}, {"is_active": False})


def test_a_change_that_would_make_the_policy_impossible_is_refused(platform_admin, signed_policy):
    with pytest.raises(ValidationError) as refused:
        services.trust_policy_update(actor=platform_admin, policy=signed_policy, key_names=[])
    assert "signature_threshold" in refused.value.message_dict
    signed_policy.refresh_from_db()
    assert [k.name for k in signed_policy.keys.all()] == ["ci-signing"]
    assert not AuditEvent.objects.filter(action="trust_policy.update").exists()


def test_only_platform_admins_change_a_policy(developer, signed_policy):
    with pytest.raises(PermissionDenied):
        services.trust_policy_update(actor=developer, policy=signed_policy, is_active=False)


def test_the_api_changes_a_policy_and_names_what_it_cannot_change(
    api_as, platform_admin, developer, signed_policy
):
    url = f"/api/v1/trust/policies/{signed_policy.pk}/"
    assert api_as(developer).patch(url, {"is_active": False}, format="json").status_code == 403
    changed = api_as(platform_admin).patch(
        url, {"require_scan": True, "scan_max_severity": "CRITICAL"}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["require_scan"] and changed.json()["keys"] == ["ci-signing"]
    odd = api_as(platform_admin).patch(url, {"created_by": 1, "owner": "x"}, format="json")
    assert odd.status_code == 400 and {"created_by", "owner"} <= set(odd.json())
    bad = api_as(platform_admin).patch(url, {"signature_threshold": 5}, format="json")
    assert bad.status_code == 400 and "signature_threshold" in bad.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "k", "pem": "x" * 20_000}, "pem"),
        ({"name": "k", "pem": "-----BEGIN PUBLIC KEY-----\u0000"}, "pem"),
        ({"name": "k" * 300, "pem": "x"}, "name"),
        ({"name": "k", "pem": "x", "expires_at": "99999-01-01T00:00:00Z"}, "expires_at"),
    ],
    ids=["huge pem", "nul", "long name", "absurd date"],
)
def test_odd_keys_get_a_400_naming_the_field(api_as, platform_admin, body, field):
    response = api_as(platform_admin).post("/api/v1/trust/keys/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_policy_trusts_at_most_sixteen_keys(platform_admin):
    with pytest.raises(ValidationError) as refused:
        services.trust_policy_create(
            actor=platform_admin, name="many", key_names=[f"k{n}" for n in range(17)]
        )
    assert "keys" in refused.value.message_dict


def test_a_start_records_whether_the_artifact_was_signed_with_provenance(
    web, developer, ci, signer, key, platform_admin
):
    services.trust_policy_create(
        actor=platform_admin,
        name="slsa",
        key_names=["ci-signing"],
        environment_kind="development",
        require_provenance=True,
        allowed_builders=["https://github.com/slsa-framework/*"],
    )
    build = {
        "buildDefinition": {
            "externalParameters": {"workflow": {"repository": REPOSITORY, "ref": "refs/tags/v1"}}
        },
        "runDetails": {"builder": {"id": BUILDER}},
    }
    provenance_envelope = envelope(
        statement(provenance.SLSA_V1, build), "application/vnd.in-toto+json", signer
    )
    services.attestation_upload(actor=ci, digest=DIGEST, document=provenance_envelope)
    verified = release_of(web, IMAGE, actor=developer)
    rollout_services.rollout_start(actor=developer, release=verified)
    verified.refresh_from_db()
    assert verified.artifact_verified

    # No policy covers a release to staging: it starts, not counted as verified.
    other = ServiceFactory(name="api", owner=web.owner)
    Environment.objects.create(service=other, name="dev", kind="staging", order=1, namespace="a")
    plain = release_of(other, "registry.example.com/payments/api:2", actor=developer)
    rollout_services.rollout_start(actor=developer, release=plain)
    plain.refresh_from_db()
    assert plain.state == "in_progress" and not plain.artifact_verified
