"""in-toto Statements (https://github.com/in-toto/attestation, v0.1 and v1) as DSSE payloads:
what they are about (subjects and their digests) and what they say (a typed predicate)."""

from dataclasses import dataclass

from apps.supplychain.verification.dsse import Envelope
from apps.supplychain.verification.encoding import json_object
from apps.supplychain.verification.findings import BadEvidence, Finding, failed, passed

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
MAX_SUBJECTS = 1000


@dataclass(frozen=True)
class Statement:
    subject_digests: frozenset[str]  # "sha256:<hex>"
    predicate_type: str
    predicate: dict


def parse_statement(envelope: Envelope) -> Statement:
    if envelope.payload_type != PAYLOAD_TYPE:
        raise BadEvidence(
            "payloadType",
            f"Expected {PAYLOAD_TYPE!r} (an in-toto Statement), not "
            f"{envelope.payload_type[:80]!r}.",
        )
    document = json_object("payload", envelope.payload)
    if document.get("_type") not in STATEMENT_TYPES:
        raise BadEvidence("payload._type", f"Expected one of {', '.join(STATEMENT_TYPES)}.")
    subjects = document.get("subject")
    if not isinstance(subjects, list) or not subjects or len(subjects) > MAX_SUBJECTS:
        raise BadEvidence("payload.subject", f"Expected a list of 1 to {MAX_SUBJECTS} subjects.")
    digests: set[str] = set()
    for index, subject in enumerate(subjects):
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digest, dict) or not digest:
            raise BadEvidence(f"payload.subject[{index}].digest", "Expected {algorithm: hex}.")
        digests.update(
            f"{algorithm}:{value}".lower()
            for algorithm, value in digest.items()
            if isinstance(value, str)
        )
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise BadEvidence("payload.predicateType", "Missing, or not a string.")
    predicate = document.get("predicate", {})
    if not isinstance(predicate, dict):
        raise BadEvidence("payload.predicate", "Expected a JSON object.")
    return Statement(frozenset(digests), predicate_type, predicate)


def subject_finding(statement: Statement, digest: str) -> Finding:
    """The statement is about the release's artifact: its digest is among the subjects."""
    if digest in statement.subject_digests:
        return passed("subject", f"The attestation's subjects include {digest}.")
    return failed(
        "subject",
        f"The attestation is about {', '.join(sorted(statement.subject_digests))[:300]}, "
        f"not {digest}.",
    )
