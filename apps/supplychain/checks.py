"""One policy applied to one artifact: which of its requirements the uploaded evidence meets,
each with the reason. Given rows, reads nothing: the selectors fetch, this decides.

Signatures count across both forms of evidence: a cosign signature whose payload names the
digest, and a DSSE envelope whose statement is about the digest; each distinct trusted key
counts once. Provenance and scans count only from envelopes a key of the policy signed: an
unsigned claim about a build proves nothing."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from apps.supplychain.models import Attestation, Suppression, TrustedKey, TrustPolicy
from apps.supplychain.verification import keys as key_math
from apps.supplychain.verification import provenance, scans
from apps.supplychain.verification.cosign import SIMPLE_SIGNING_MEDIA_TYPE, signed_digest
from apps.supplychain.verification.dsse import pae, parse_envelope
from apps.supplychain.verification.encoding import b64decode
from apps.supplychain.verification.findings import BadEvidence, Finding, failed, passed, waiting
from apps.supplychain.verification.intoto import Statement, parse_statement
from apps.supplychain.verification.signatures import Signers, signers, threshold_finding


@dataclass(frozen=True)
class Signed:
    """A piece of evidence about the digest, with the keys that verified it."""

    attestation: Attestation
    found: Signers
    statement: Statement | None  # for DSSE envelopes


def trusted_keys(rows: Sequence[TrustedKey], *, now: datetime) -> list[key_math.TrustedKey]:
    """The policy's keys that count now: not revoked (an expired one is kept, to be named)."""
    return [
        key_math.TrustedKey(row.name, key_math.load_public_key(row.pem), row.expires_at)
        for row in rows
        if row.revoked_at is None or row.revoked_at > now
    ]


@dataclass(frozen=True)
class Evidence:
    """A document CI uploaded, read: what it is about and what was signed, by which signatures."""

    kind: str
    payload_type: str
    subjects: frozenset[str]  # the digests it is about
    signed_bytes: bytes
    signatures: tuple[bytes, ...]
    statement: Statement | None  # for DSSE envelopes

    @property
    def subject_field(self) -> str:
        """Where the document names what it is about, for a refusal."""
        if self.statement is not None:
            return "payload.subject"
        return "payload.critical.image.docker-manifest-digest"


def read_document(document: object) -> Evidence:
    """A DSSE envelope (an in-toto Statement) or a cosign signature, or BadEvidence naming the
    field that does not read."""
    if not isinstance(document, dict):
        raise BadEvidence("document", "Expected a DSSE envelope or a cosign signature.")
    if "payloadType" in document:
        envelope = parse_envelope(document)
        statement = parse_statement(envelope)
        return Evidence(
            Attestation.Kind.DSSE,
            envelope.payload_type,
            statement.subject_digests,
            pae(envelope.payload_type, envelope.payload),
            envelope.signatures,
            statement,
        )
    if "signature" in document:
        payload = b64decode("payload", document.get("payload"))
        digest = signed_digest(payload)
        signature = b64decode("signature", document["signature"])
        return Evidence(
            Attestation.Kind.COSIGN,
            SIMPLE_SIGNING_MEDIA_TYPE,
            frozenset({digest}),
            payload,
            (signature,),
            None,
        )
    raise BadEvidence(
        "document",
        "Expected a DSSE envelope (payload, payloadType, signatures) or a cosign signature "
        "(payload, signature).",
    )


def signed_evidence(attestation: Attestation, digest: str, keys, now: datetime) -> Signed | None:
    """The evidence if it is about `digest`, with who signed it; None when it is not about it.
    Stored evidence was read on upload, so BadEvidence here means it no longer parses (a
    changed parser): it then counts for nothing."""
    try:
        evidence = read_document(attestation.document)
    except BadEvidence:
        return None
    if digest not in evidence.subjects:
        return None
    found = signers(evidence.signatures, evidence.signed_bytes, keys, now=now)
    return Signed(attestation, found, evidence.statement)


def policy_findings(
    policy: TrustPolicy,
    *,
    digest: str,
    attestations: Sequence[Attestation],
    repository: str,
    suppressions: Sequence[Suppression],
    now: datetime,
) -> list[Finding]:
    if not digest:
        return (
            [
                failed(
                    "digest",
                    "The release names its image by tag only; name it by digest (repo@sha256:…) so "
                    "what is verified is what runs.",
                )
            ]
            if policy.require_digest or _needs_evidence(policy)
            else []
        )
    findings = [passed("digest", f"Pinned by digest {digest}.")] if policy.require_digest else []
    keys = trusted_keys(list(policy.keys.all()), now=now)
    evidence = [s for a in attestations if (s := signed_evidence(a, digest, keys, now)) is not None]
    if policy.signature_threshold:
        findings.append(_threshold(evidence, policy.signature_threshold))
    signed_statements = [s.statement for s in evidence if s.statement and s.found.counted]
    if policy.require_provenance:
        findings += _provenance(policy, signed_statements, repository)
    if policy.require_scan:
        findings += _scan(policy, signed_statements, suppressions, now)
    return findings


def _needs_evidence(policy: TrustPolicy) -> bool:
    return bool(policy.signature_threshold or policy.require_provenance or policy.require_scan)


def _threshold(evidence: list[Signed], threshold: int) -> Finding:
    merged = Signers()
    for item in evidence:
        for fingerprint, name in item.found.counted.items():
            merged.counted.setdefault(fingerprint, name)
        merged.expired.update(item.found.expired)
        merged.unknown += item.found.unknown
    if not evidence:
        return waiting(
            "signature", f"No signature of this digest was uploaded ({threshold} needed)."
        )
    return threshold_finding("signature", merged, threshold=threshold)


def _provenance(policy: TrustPolicy, statements, repository: str) -> list[Finding]:
    candidates = [s for s in statements if s.predicate_type in provenance.PREDICATE_TYPES]
    if not candidates:
        return [waiting("provenance", "No SLSA provenance signed by a trusted key was uploaded.")]
    # Any one provenance that passes will do (a rebuild may add a second); otherwise the
    # newest one's reasons are shown.
    newest: list[Finding] = []
    for statement in reversed(candidates):
        try:
            facts = provenance.read_provenance(statement)
        except BadEvidence as exc:
            newest = newest or [failed("provenance", f"Unreadable: {exc}")]
            continue
        findings = provenance.provenance_findings(
            facts,
            allowed_builders=policy.allowed_builders,
            repository=repository,
            allowed_refs=policy.allowed_refs,
        )
        if all(f.passed for f in findings):
            return findings
        if not newest or newest[0].requirement == "provenance":
            newest = findings
    return newest


def _scan(policy: TrustPolicy, statements, suppressions, now: datetime) -> list[Finding]:
    readable = []
    for statement in statements:
        if statement.predicate_type != scans.VULN_PREDICATE:
            continue
        try:
            readable.append(scans.read_scan(statement))
        except BadEvidence:
            continue
    if not readable:
        return [waiting("scan", "No vulnerability scan signed by a trusted key was uploaded.")]
    latest = max(readable, key=lambda scan: scan.finished_at)
    return scans.scan_findings(
        latest,
        max_age=timedelta(days=policy.scan_max_age_days),
        max_severity=policy.scan_max_severity,
        suppressions=[
            scans.Suppression(s.vulnerability_id, s.reason, s.expires_at) for s in suppressions
        ],
        now=now,
    )
