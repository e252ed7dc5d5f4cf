"""Writes for supply-chain trust, each one transaction with its audit row: trusting and revoking
keys, making policies, receiving evidence, suppressing a vulnerability for a while."""

import hashlib
import json
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Team, User
from apps.audit.services import audit_record
from apps.catalog.models import EnvironmentKind, Service
from apps.core.exceptions import Conflict
from apps.supplychain.models import (
    SEVERITY_CHOICES,
    Attestation,
    Suppression,
    TrustedKey,
    TrustPolicy,
)
from apps.supplychain.verification import keys as key_math
from apps.supplychain.verification.cosign import signed_digest
from apps.supplychain.verification.digests import checked_digest
from apps.supplychain.verification.dsse import parse_envelope
from apps.supplychain.verification.encoding import b64decode
from apps.supplychain.verification.findings import BadEvidence
from apps.supplychain.verification.intoto import parse_statement

REFUSED = "Only platform admins change what Runway trusts."
MAX_ATTESTATIONS_PER_DIGEST = 100
MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 300
MIN_REASON = 10
MAX_SUPPRESSION = timedelta(days=90)


def _bad(exc: BadEvidence, prefix: str = "") -> ValidationError:
    return ValidationError({f"{prefix}{exc.field}": exc.message})


# --- Keys -------------------------------------------------------------------------------------


@transaction.atomic
def trusted_key_add(
    *, actor: User, name: str, pem: str, expires_at: datetime | None = None
) -> TrustedKey:
    permissions.require(permissions.can_manage_trust(actor), REFUSED)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": "Name the key in 1 to 100 characters."})
    try:
        public_key = key_math.load_public_key(pem, field="pem")
    except BadEvidence as exc:
        raise _bad(exc) from None
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "Already past: a key is trusted until a later time."})
    try:
        with transaction.atomic():
            key = TrustedKey.objects.create(
                name=name,
                pem=pem.strip(),
                algorithm=_algorithm(public_key),
                fingerprint=key_math.fingerprint(public_key),
                expires_at=expires_at,
                added_by=actor,
            )
    except IntegrityError:
        raise Conflict({"name": f"A key named {name!r} is trusted already."}) from None
    audit_record(
        actor=actor,
        action="trusted_key.add",
        target=key,
        after={
            "fingerprint": key.fingerprint,
            "algorithm": key.algorithm,
            "expires_at": str(expires_at or ""),
        },
    )
    return key


def _algorithm(public_key: key_math.PublicKey) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ecdsa-p256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    return f"rsa-{public_key.key_size}"


@transaction.atomic
def trusted_key_revoke(*, actor: User, key: TrustedKey, reason: str) -> TrustedKey:
    """From now on the key's signatures count for nothing, in every policy; releases are
    checked again when they start."""
    permissions.require(permissions.can_manage_trust(actor), REFUSED)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise ValidationError({"reason": f"Say why, in {MIN_REASON} characters or more."})
    key = TrustedKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise Conflict(f"{key.name} was revoked on {key.revoked_at:%Y-%m-%d}.")
    key.revoked_at, key.revoked_reason = timezone.now(), reason
    key.save(update_fields=["revoked_at", "revoked_reason"])
    audit_record(
        actor=actor,
        action="trusted_key.revoke",
        target=key,
        before={"revoked_at": None},
        after={"revoked_at": key.revoked_at.isoformat(), "reason": reason},
    )
    return key


# --- Policies ---------------------------------------------------------------------------------


def _patterns(field: str, value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_PATTERNS:
        raise ValidationError({field: f"Expected a list of at most {MAX_PATTERNS} strings."})
    if not all(isinstance(v, str) and 0 < len(v.strip()) <= MAX_PATTERN_CHARS for v in value):
        raise ValidationError(
            {field: f"Each entry is text of 1 to {MAX_PATTERN_CHARS} characters."}
        )
    return [v.strip() for v in value]


@transaction.atomic
def trust_policy_create(
    *,
    actor: User,
    name: str,
    key_names: list[str],
    team: Team | None = None,
    environment_kind: str = "",
    description: str = "",
    require_digest: bool = True,
    signature_threshold: int = 1,
    require_provenance: bool = False,
    allowed_builders: list[str] | None = None,
    allowed_refs: list[str] | None = None,
    require_scan: bool = False,
    scan_max_age_days: int = 7,
    scan_max_severity: str = "HIGH",
) -> TrustPolicy:
    permissions.require(permissions.can_manage_trust(actor), REFUSED)
    builders = _patterns("allowed_builders", allowed_builders or [])
    refs = _patterns("allowed_refs", allowed_refs or [])
    if not isinstance(key_names, list) or not all(isinstance(k, str) for k in key_names):
        raise ValidationError({"keys": "Expected a list of trusted key names."})
    keys = list(TrustedKey.objects.filter(name__in=key_names, revoked_at__isnull=True))
    unknown = sorted(set(key_names) - {k.name for k in keys})
    if unknown:
        raise ValidationError({"keys": f"No trusted, unrevoked key named {', '.join(unknown)}."})
    errors = {}
    if environment_kind and environment_kind not in EnvironmentKind.values:
        errors["environment_kind"] = f"One of {', '.join(EnvironmentKind.values)}, or empty."
    if signature_threshold > len(keys):
        errors["signature_threshold"] = (
            f"Asks for {signature_threshold} signatures but trusts {len(keys)} key(s): it could "
            "never pass."
        )
    if require_provenance and not builders:
        errors["allowed_builders"] = "Provenance is required: name the builders trusted."
    if scan_max_severity not in dict(SEVERITY_CHOICES):
        errors["scan_max_severity"] = f"One of {', '.join(dict(SEVERITY_CHOICES))}."
    if errors:
        raise ValidationError(errors)
    policy = TrustPolicy(
        name=(name or "").strip(),
        description=description,
        team=team,
        environment_kind=environment_kind,
        require_digest=require_digest,
        signature_threshold=signature_threshold,
        require_provenance=require_provenance,
        allowed_builders=builders,
        allowed_refs=refs,
        require_scan=require_scan,
        scan_max_age_days=scan_max_age_days,
        scan_max_severity=scan_max_severity,
        created_by=actor,
    )
    policy.full_clean(exclude=["created_by"])
    policy.save()
    policy.keys.set(keys)
    audit_record(
        actor=actor,
        action="trust_policy.create",
        target=policy,
        after={
            "team": team.slug if team else None,
            "environment_kind": environment_kind,
            "keys": sorted(k.name for k in keys),
            "signature_threshold": signature_threshold,
            "require_digest": require_digest,
            "require_provenance": require_provenance,
            "allowed_builders": builders,
            "allowed_refs": refs,
            "require_scan": require_scan,
            "scan_max_age_days": scan_max_age_days,
            "scan_max_severity": scan_max_severity,
        },
    )
    return policy


# --- Evidence ---------------------------------------------------------------------------------


def read_evidence(digest: str, document: object) -> tuple[str, str, str]:
    """(kind, payload type, predicate type) of evidence about `digest`, or ValidationError
    naming the field: nothing that cannot be read, or is about another artifact, is stored."""
    if not isinstance(document, dict):
        raise ValidationError({"document": "Expected a DSSE envelope or a cosign signature."})
    try:
        if "payloadType" in document:
            statement = parse_statement(parse_envelope(document))
            if digest not in statement.subject_digests:
                raise ValidationError({"payload.subject": f"The statement is not about {digest}."})
            return Attestation.Kind.DSSE, document["payloadType"], statement.predicate_type
        if "signature" in document:
            payload = b64decode("payload", document.get("payload"))
            if signed_digest(payload) != digest:
                raise ValidationError(
                    {"payload.critical.image.docker-manifest-digest": f"Does not name {digest}."}
                )
            b64decode("signature", document["signature"])
            return Attestation.Kind.COSIGN, "application/vnd.dev.cosign.simplesigning.v1+json", ""
    except BadEvidence as exc:
        raise _bad(exc) from None
    raise ValidationError(
        {
            "document": "Expected a DSSE envelope (payload, payloadType, signatures) or a cosign "
            "signature (payload, signature)."
        }
    )


@transaction.atomic
def attestation_upload(*, actor: User, digest: str, document: dict) -> tuple[Attestation, bool]:
    """Store evidence about `digest` as received; (the attestation, whether it is new). The same
    document sent again is the one already stored: CI may retry."""
    permissions.require(
        permissions.can_upload_evidence(actor), "Only CI's service accounts upload evidence."
    )
    try:
        digest = checked_digest("digest", digest)
    except BadEvidence as exc:
        raise _bad(exc) from None
    kind, payload_type, predicate_type = read_evidence(digest, document)
    content = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    existing = Attestation.objects.filter(digest=digest, content_sha256=content).first()
    if existing is not None:
        return existing, False
    if Attestation.objects.filter(digest=digest).count() >= MAX_ATTESTATIONS_PER_DIGEST:
        raise ValidationError(
            {"digest": f"Already holds {MAX_ATTESTATIONS_PER_DIGEST} attestations: build anew."}
        )
    try:
        with transaction.atomic():
            attestation = Attestation.objects.create(
                digest=digest,
                kind=kind,
                payload_type=payload_type,
                predicate_type=predicate_type,
                document=document,
                content_sha256=content,
                uploaded_by=actor,
            )
    except IntegrityError:  # the same document, uploaded at the same moment by a retry
        return Attestation.objects.get(digest=digest, content_sha256=content), False
    audit_record(
        actor=actor,
        action="attestation.upload",
        target=attestation,
        after={"digest": digest, "kind": kind, "predicate_type": predicate_type},
    )
    return attestation, True


# --- Suppressions -----------------------------------------------------------------------------


@transaction.atomic
def suppression_set(
    *, actor: User, service: Service, vulnerability_id: str, reason: str, expires_at: datetime
) -> Suppression:
    """Say a vulnerability does not affect `service`, why, and until when (at most 90 days:
    the question comes back). Setting it again replaces the reason and the date."""
    permissions.require(permissions.can_manage_trust(actor), REFUSED)
    vulnerability_id, reason = (vulnerability_id or "").strip(), (reason or "").strip()
    now = timezone.now()
    errors = {}
    if not vulnerability_id or len(vulnerability_id) > 100:
        errors["vulnerability_id"] = "Name the vulnerability (e.g. CVE-2026-1234)."
    if len(reason) < MIN_REASON:
        errors["reason"] = f"Say why it does not apply, in {MIN_REASON} characters or more."
    if not now < expires_at <= now + MAX_SUPPRESSION:
        errors["expires_at"] = f"Between now and {MAX_SUPPRESSION.days} days from now."
    if errors:
        raise ValidationError(errors)
    before = (
        Suppression.objects.select_for_update()
        .filter(service=service, vulnerability_id=vulnerability_id)
        .first()
    )
    suppression, _ = Suppression.objects.update_or_create(
        service=service,
        vulnerability_id=vulnerability_id,
        defaults={"reason": reason, "expires_at": expires_at, "created_by": actor},
    )
    audit_record(
        actor=actor,
        action="suppression.set",
        target=service,
        before={"reason": before.reason, "expires_at": before.expires_at.isoformat()}
        if before
        else None,
        after={
            "vulnerability_id": vulnerability_id,
            "reason": reason,
            "expires_at": expires_at.isoformat(),
        },
    )
    return suppression
