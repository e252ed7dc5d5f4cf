"""Supply-chain verification: what the "Supply chain" gates of one release cost when its page is
shown or it starts. A production service of the loaded catalog gets a trust policy asking for a
signature, SLSA provenance and a recent scan; CI's three pieces of evidence for its digest are
uploaded (a cosign signature, a provenance envelope, a scan of 500 findings, each signed with
keys made here); then the verification of the release's artifact is sampled. Everything is
written in one transaction, rolled back at the end: the loaded database stays as it was."""

import base64
import json
from datetime import timedelta

from benchmarks.config import Config
from benchmarks.measure import timed

FINDINGS = 500
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)


class _Rollback(Exception):
    pass


def _evidence(digest: str, repository: str, now) -> tuple[list[str], list[dict]]:
    """PEMs of three keys (ECDSA, Ed25519, RSA) and three documents signed with them."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    from apps.supplychain.verification.dsse import pae

    ecdsa, edwards = ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pems = [
        k.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        for k in (ecdsa, edwards, rsa_key)
    ]

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    def statement(predicate_type: str, predicate: dict) -> bytes:
        return json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "image", "digest": {"sha256": digest[7:]}}],
                "predicateType": predicate_type,
                "predicate": predicate,
            }
        ).encode()

    kind = "application/vnd.in-toto+json"
    simple = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": "registry.example.com/bench"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            }
        }
    ).encode()
    provenance = statement(
        "https://slsa.dev/provenance/v1",
        {
            "buildDefinition": {
                "externalParameters": {
                    "workflow": {"repository": repository, "ref": "refs/tags/v1.0.0"}
                }
            },
            "runDetails": {"builder": {"id": BUILDER}},
        },
    )
    vulnerabilities = [
        {"VulnerabilityID": f"CVE-2026-{n}", "PkgName": f"lib{n}", "Severity": "MEDIUM"}
        for n in range(FINDINGS)
    ]
    scan = statement(
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        {
            "scanner": {
                "uri": "pkg:github/aquasecurity/trivy",
                "result": {"Results": [{"Target": "image", "Vulnerabilities": vulnerabilities}]},
            },
            "metadata": {"scanFinishedOn": (now - timedelta(hours=1)).isoformat()},
        },
    )
    documents: list[dict] = [
        {"payload": b64(simple), "signature": b64(ecdsa.sign(simple, ec.ECDSA(hashes.SHA256())))},
        {
            "payload": b64(provenance),
            "payloadType": kind,
            "signatures": [{"sig": b64(edwards.sign(pae(kind, provenance)))}],
        },
        {
            "payload": b64(scan),
            "payloadType": kind,
            "signatures": [
                {"sig": b64(rsa_key.sign(pae(kind, scan), padding.PKCS1v15(), hashes.SHA256()))}
            ],
        },
    ]
    return pems, documents


def run(cfg: Config) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.catalog.models import Environment
    from apps.supplychain import selectors, services

    result: dict = {}
    try:
        with transaction.atomic():
            admin = User.objects.get(username="admin")
            environment = (
                Environment.objects.filter(kind="production")
                .select_related("service__owner")
                .order_by("service__name")
                .first()
            )
            assert environment is not None, "no production environment in the loaded catalog"
            service = environment.service
            digest = "sha256:" + "5e" * 32
            now = timezone.now()
            repository = service.repository_url or "https://git.example.com/bench"
            service.repository_url = repository
            service.save(update_fields=["repository_url"])
            pems, documents = _evidence(digest, repository, now)
            names = []
            for number, pem in enumerate(pems):
                names.append(
                    services.trusted_key_add(actor=admin, name=f"bench-{number}", pem=pem).name
                )
            services.trust_policy_create(
                actor=admin,
                name="bench: signed, built, scanned",
                key_names=names,
                team=service.owner,
                environment_kind="production",
                require_provenance=True,
                allowed_builders=["https://github.com/slsa-framework/*"],
                allowed_refs=["refs/tags/v*"],
                require_scan=True,
            )
            for document in documents:
                services.attestation_upload(actor=admin, digest=digest, document=document)
            version = f"registry.example.com/bench:1.0.0@{digest}"

            def verify():
                return selectors.artifact_verification(
                    service=service, environment=environment, version=version, now=now
                )

            timing, _ = timed(verify, warmup=cfg.warmup, samples=cfg.samples)
            findings = [f for v in verify() for f in v.findings]
            result = {
                "attestations": len(documents),
                "findings_in_scan": FINDINGS,
                "verify": timing.as_dict(),
                "requirements": len(findings),
                "passed": all(f.passed for f in findings),
            }
            raise _Rollback
    except _Rollback:
        pass
    print(
        f"   verify one release's artifact ({result['attestations']} attestations, a scan of "
        f"{FINDINGS} findings): p50 {result['verify']['p50_ms']:.1f} ms, p95 "
        f"{result['verify']['p95_ms']:.1f} ms; {result['requirements']} requirements, "
        f"{'all passed' if result['passed'] else 'NOT all passed'}"
    )
    return result
