"""Reads for supply-chain trust: the policies that apply to a release's artifact, and the
verification of its evidence under each."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.catalog.models import Environment, Service
from apps.core.image_refs import ImageRef
from apps.supplychain.checks import policy_findings, signed_evidence, trusted_keys
from apps.supplychain.models import Attestation, Suppression, TrustedKey, TrustPolicy
from apps.supplychain.verification.findings import Finding
from apps.supplychain.verification.signatures import MAX_KEYS

# The newest evidence for one digest that is read: enough for every signer, provenance and
# scan a build has, and a bound on the work of one check however much is uploaded.
MAX_ATTESTATIONS_READ = 50


@dataclass(frozen=True)
class PolicyVerification:
    policy: TrustPolicy
    digest: str
    findings: list[Finding]

    @property
    def passed(self) -> bool:
        return all(finding.passed for finding in self.findings)


# The same rule twice, side by side: as a query, and for policies already loaded (many
# releases' gates read at once, apps/releases/gates.py).


def applicable_policies(service: Service, environment: Environment) -> list[TrustPolicy]:
    return list(
        TrustPolicy.objects.filter(is_active=True)
        .filter(Q(team__isnull=True) | Q(team_id=service.owner_id))
        .filter(Q(environment_kind="") | Q(environment_kind=environment.kind))
        .prefetch_related("keys")
        .order_by("name")
    )


def policy_applies(policy: TrustPolicy, service: Service, environment: Environment) -> bool:
    return (
        policy.is_active
        and (policy.team_id is None or policy.team_id == service.owner_id)
        and (policy.environment_kind in ("", environment.kind))
    )


def attestations_for(digest: str) -> list[Attestation]:
    newest = (
        Attestation.objects.filter(digest=digest)
        .select_related("uploaded_by")
        .order_by("-uploaded_at", "-id")
    )
    return list(reversed(newest[:MAX_ATTESTATIONS_READ]))


def artifact_verification(
    *, service: Service, environment: Environment, version: str, now: datetime
) -> list[PolicyVerification]:
    """Each applicable policy's findings for the image `version` names; [] when none applies."""
    policies = applicable_policies(service, environment)
    if not policies:
        return []
    return _verified(policies, service, version, list(service.suppressions.all()), now)


def verifications_among(
    policies: list[TrustPolicy],
    *,
    service: Service,
    environment: Environment,
    version: str,
    suppressions: list[Suppression],
    now: datetime,
) -> list[PolicyVerification]:
    """artifact_verification over policies (active ones, ordered by name, their keys
    prefetched) and the service's suppressions already loaded."""
    applying = [policy for policy in policies if policy_applies(policy, service, environment)]
    if not applying:
        return []
    return _verified(applying, service, version, suppressions, now)


def _verified(
    policies: list[TrustPolicy],
    service: Service,
    version: str,
    suppressions: list[Suppression],
    now: datetime,
) -> list[PolicyVerification]:
    digest = ImageRef.parse(version).digest
    attestations = attestations_for(digest) if digest else []
    return [
        PolicyVerification(
            policy,
            digest,
            policy_findings(
                policy,
                digest=digest,
                attestations=attestations,
                repository=service.repository_url,
                suppressions=suppressions,
                now=now,
            ),
        )
        for policy in policies
    ]


def trusted_key_list() -> QuerySet[TrustedKey]:
    return TrustedKey.objects.select_related("added_by").order_by("name")


def suppression_list() -> QuerySet[Suppression]:
    return Suppression.objects.select_related("service", "created_by").order_by(
        "service__name", "vulnerability_id"
    )


def trust_policy_list() -> QuerySet[TrustPolicy]:
    return (
        TrustPolicy.objects.select_related("team", "created_by")
        .prefetch_related("keys")
        .order_by("name")
    )


@dataclass(frozen=True)
class EvidenceRow:
    attestation: Attestation
    signed_by: list[str]  # the trusted keys that verify it now
    unverified: int  # signatures no trusted key verifies


def artifact_evidence(digest: str, *, now: datetime) -> list[EvidenceRow]:
    """The evidence uploaded for `digest` (the newest MAX_ATTESTATIONS_READ), each with the
    trusted keys that verify it now, whatever policy asks for them."""
    keys = trusted_keys(list(TrustedKey.objects.order_by("-added_at")[:MAX_KEYS]), now=now)
    rows = []
    for attestation in attestations_for(digest):
        signed = signed_evidence(attestation, digest, keys, now)
        found = signed.found if signed else None
        rows.append(
            EvidenceRow(
                attestation,
                sorted(found.counted.values()) if found else [],
                found.unknown if found else 0,
            )
        )
    return rows
