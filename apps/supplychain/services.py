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
from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.catalog.models import EnvironmentKind, Service
from apps.core.exceptions import Conflict
from apps.supplychain.checks import read_document
from apps.supplychain.models import (
    SEVERITY_CHOICES,
    Attestation,
    Suppression,
    TrustedKey,
    TrustPolicy,
)
from apps.supplychain.verification import keys as key_math
from apps.supplychain.verification.digests import checked_digest
from apps.supplychain.verification.findings import BadEvidence

REFUSED = "Only platform admins change what Runway trusts."
MAX_ATTESTATIONS_PER_DIGEST = 100
MAX_POLICY_KEYS = 16
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


POLICY_FIELDS = (
    "name", "description", "team", "environment_kind", "is_active", "require_digest",
    "signature_threshold", "require_provenance", "allowed_builders", "allowed_refs",
    "require_scan", "scan_max_age_days", "scan_max_severity",
)  # fmt: skip


def _policy_snapshot(policy: TrustPolicy, keys: list[TrustedKey]) -> dict:
    values = {field: getattr(policy, field) for field in POLICY_FIELDS}
    values["team"] = policy.team.slug if policy.team else None
    return {**values, "keys": sorted(k.name for k in keys)}


def _trusted_keys_named(key_names: object) -> list[TrustedKey]:
    if not isinstance(key_names, list) or not all(isinstance(k, str) for k in key_names):
        raise ValidationError({"keys": "Expected a list of trusted key names."})
    if len(key_names) > MAX_POLICY_KEYS:
        # Each signature is tried against each key: the work of one check stays bounded.
        raise ValidationError({"keys": f"At most {MAX_POLICY_KEYS} keys in one policy."})
    keys = list(TrustedKey.objects.filter(name__in=key_names, revoked_at__isnull=True))
    unknown = sorted(set(key_names) - {k.name for k in keys})
    if unknown:
        raise ValidationError({"keys": f"No trusted, unrevoked key named {', '.join(unknown)}."})
    return keys


def _check_policy(policy: TrustPolicy, keys: list[TrustedKey]) -> None:
    """The policy as it would be saved: every field valid, and able to pass at all."""
    policy.name = (policy.name or "").strip()
    policy.allowed_builders = _patterns("allowed_builders", policy.allowed_builders)
    policy.allowed_refs = _patterns("allowed_refs", policy.allowed_refs)
    errors = {}
    if policy.environment_kind and policy.environment_kind not in EnvironmentKind.values:
        errors["environment_kind"] = f"One of {', '.join(EnvironmentKind.values)}, or empty."
    if policy.signature_threshold > len(keys):
        errors["signature_threshold"] = (
            f"Asks for {policy.signature_threshold} signatures but trusts {len(keys)} key(s): "
            "it could never pass."
        )
    if policy.require_provenance and not policy.allowed_builders:
        errors["allowed_builders"] = "Provenance is required: name the builders trusted."
    if policy.scan_max_severity not in dict(SEVERITY_CHOICES):
        errors["scan_max_severity"] = f"One of {', '.join(dict(SEVERITY_CHOICES))}."
    if errors:
        raise ValidationError(errors)
    policy.full_clean(exclude=["created_by"], validate_unique=False)


def _save_policy(policy: TrustPolicy) -> None:
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise Conflict({"name": f"A trust policy named {policy.name!r} exists already."}) from None


@transaction.atomic
def trust_policy_create(
    *, actor: User, name: str, key_names: list[str], **fields: object
) -> TrustPolicy:
    """A policy from `name`, the names of the keys it trusts and any of POLICY_FIELDS (the
    model's defaults otherwise)."""
    permissions.require(permissions.can_manage_trust(actor), REFUSED)
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({field: "Not a field of a trust policy." for field in unknown})
    keys = _trusted_keys_named(key_names)
    policy = TrustPolicy(name=name, created_by=actor, **fields)
    _check_policy(policy, keys)
    _save_policy(policy)
    policy.keys.set(keys)
    audit_record(
        actor=actor,
        action="trust_policy.create",
        target=policy,
        after=_policy_snapshot(policy, keys),
    )
    return policy


@transaction.atomic
def trust_policy_update(
    *, actor: User, policy: TrustPolicy, key_names: list[str] | None = None, **changes: object
) -> TrustPolicy:
    """Change any of POLICY_FIELDS or the keys (switch it off with is_active=False). Releases
    are checked against it as it is from then on, again when they start."""
    permissions.require(permissions.can_manage_trust(actor), REFUSED)
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({field: "Not a field of a trust policy." for field in unknown})
    policy = (
        TrustPolicy.objects.select_for_update(of=("self",)).select_related("team").get(pk=policy.pk)
    )
    before_keys = list(policy.keys.all())
    before = _policy_snapshot(policy, before_keys)
    keys = _trusted_keys_named(key_names) if key_names is not None else before_keys
    if key_names is None:  # a key revoked since counts for nothing, as in a check
        keys = [key for key in keys if key.revoked_at is None]
    for field, value in changes.items():
        setattr(policy, field, value)
    _check_policy(policy, keys)
    after = _policy_snapshot(policy, keys)
    changed = [field for field in after if after[field] != before[field]]
    if not changed:
        return policy
    _save_policy(policy)
    policy.keys.set(keys)
    audit_record(
        actor=actor,
        action="trust_policy.update",
        target=policy,
        before={field: before[field] for field in changed},
        after={field: after[field] for field in changed},
    )
    return policy


# --- Evidence ---------------------------------------------------------------------------------


def read_evidence(digest: str, document: object) -> tuple[str, str, str]:
    """(kind, payload type, predicate type) of evidence about `digest`, or ValidationError
    naming the field: nothing that cannot be read, or is about another artifact, is stored."""
    try:
        evidence = read_document(document)
    except BadEvidence as exc:
        raise _bad(exc) from None
    if digest not in evidence.subjects:
        raise ValidationError({evidence.subject_field: f"It is not about {digest}."})
    predicate_type = evidence.statement.predicate_type if evidence.statement else ""
    return evidence.kind, evidence.payload_type, predicate_type


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
