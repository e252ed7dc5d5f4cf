"""Demo supply chain: a key Runway trusts, a trust policy for payments' production, and evidence
for two payments releases to production awaiting approval. Ledger 2.6.0 is signed by the
trusted key with SLSA provenance from an allowed builder: its supply-chain gates pass.
Payments API 1.2.0 is signed by a key nobody trusts (a laptop's) and carries no provenance:
its gates fail, saying why.

The keys are derived from fixed seeds, so loading the demo twice signs alike. Their private
halves are public in this file: a demo's keys, never to be trusted outside it."""

import base64
import hashlib
import json
from datetime import timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.catalog.models import Service
from apps.demo.releases_in_flight import _release, next_allowed
from apps.demo.world import CI_ACCOUNT
from apps.releases import services as release_services
from apps.releases.models import ChangeWindow
from apps.supplychain import services
from apps.supplychain.models import TrustedKey
from apps.supplychain.verification.dsse import pae
from apps.supplychain.verification.provenance import SLSA_V1

DEMO_KEY = "payments-ci"
# The team whose production the trust policy covers; the history (history_releases) has its
# production releases verified since it began signing, this long ago.
SIGNING_TEAM = "payments"
SIGNING_FOR = timedelta(weeks=12)
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
IN_TOTO = "application/vnd.in-toto+json"


def _key(seed: str) -> ec.EllipticCurvePrivateKey:
    secret = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    return ec.derive_private_key(secret % (2**255), ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return _b64(key.sign(data, ec.ECDSA(hashes.SHA256())))


def _digest(image: str) -> str:
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def cosign_signature(key: ec.EllipticCurvePrivateKey, repository: str, digest: str) -> dict:
    """As `cosign sign --key` signs an image: a simple-signing payload and its signature."""
    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    return {"payload": _b64(payload), "signature": _sign(key, payload)}


def provenance_envelope(
    key: ec.EllipticCurvePrivateKey, repository: str, digest: str, *, source: str, ref: str
) -> dict:
    """A DSSE envelope of an in-toto statement with SLSA v1 provenance, as `cosign attest`
    uploads what the SLSA generator made."""
    statement = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": repository, "digest": {"sha256": digest[len("sha256:") :]}}],
            "predicateType": SLSA_V1,
            "predicate": {
                "buildDefinition": {
                    "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                    "externalParameters": {"workflow": {"repository": source, "ref": ref}},
                },
                "runDetails": {"builder": {"id": BUILDER}},
            },
        }
    ).encode()
    return {
        "payload": _b64(statement),
        "payloadType": IN_TOTO,
        "signatures": [{"keyid": "", "sig": _sign(key, pae(IN_TOTO, statement))}],
    }


def load() -> list[str]:
    if TrustedKey.objects.filter(name=DEMO_KEY).exists():
        return []
    admin, dev = User.objects.get(username="admin"), User.objects.get(username="dev")
    ci = User.objects.get(username=CI_ACCOUNT)
    trusted, untrusted = _key("runway demo: payments CI"), _key("runway demo: a laptop")
    services.trusted_key_add(actor=admin, name=DEMO_KEY, pem=_pem(trusted))
    services.trust_policy_create(
        actor=admin,
        name="Payments production",
        description="Payments' production images: signed in CI, built by the SLSA generator "
        "from the service's own repository at a release tag.",
        key_names=[DEMO_KEY],
        team=Team.objects.get(slug=SIGNING_TEAM),
        environment_kind="production",
        require_provenance=True,
        allowed_builders=["https://github.com/slsa-framework/slsa-github-generator/*"],
        allowed_refs=["refs/tags/v*"],
    )
    created = [f"trusted key {DEMO_KEY}", "trust policy Payments production"]
    office_hours = ChangeWindow.objects.get(name="Production office hours")
    now = timezone.now()
    for name, version, signer, with_provenance in (
        ("ledger", "2.6.0", trusted, True),
        ("payments-api", "1.2.0", untrusted, False),
    ):
        service = Service.objects.get(name=name)
        repository = f"registry.example.com/{service.owner.slug}/{name}"
        digest = _digest(f"{repository}:{version}")
        services.attestation_upload(
            actor=ci, digest=digest, document=cosign_signature(signer, repository, digest)
        )
        if with_provenance:
            document = provenance_envelope(
                signer,
                repository,
                digest,
                source=service.repository_url,
                ref=f"refs/tags/v{version}",
            )
            services.attestation_upload(actor=ci, digest=digest, document=document)
        production = service.environments.get(name="prod")
        start = next_allowed(service, production, office_hours, now + timedelta(days=1))
        release = _release(
            name, "prod", f"{version}@{digest}", start, actor=dev, title=f"{name} {version}"
        )
        release_services.release_submit(actor=dev, release=release)
        created.append(f"release #{release.pk} with evidence for {digest[:19]}")
    return created
