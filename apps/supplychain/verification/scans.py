"""Vulnerability scans attested with cosign's vuln predicate
(https://github.com/sigstore/cosign/blob/main/specs/COSIGN_VULN_ATTESTATION_SPEC.md), whose
`scanner.result` is the scanner's own report: Trivy's JSON or SARIF 2.1. The checks: the scan
is recent enough, and nothing in it is above the policy's maximum severity, unless a suppression
with a reason, not yet expired, names that vulnerability (a VEX-style "not affected")."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from apps.supplychain.verification.encoding import timestamp
from apps.supplychain.verification.findings import BadEvidence, Finding, failed, passed
from apps.supplychain.verification.intoto import Statement

VULN_PREDICATE = "https://cosign.sigstore.dev/attestation/vuln/v1"
SEVERITIES = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")  # UNKNOWN counts as NONE
MAX_VULNERABILITIES = 50_000
SARIF_LEVELS = {"error": "HIGH", "warning": "MEDIUM", "note": "LOW", "none": "NONE"}


@dataclass(frozen=True)
class Vulnerability:
    id: str
    severity: str
    where: str  # the package or target it was found in


@dataclass(frozen=True)
class Suppression:
    vulnerability_id: str
    reason: str
    expires_at: datetime


@dataclass(frozen=True)
class Scan:
    scanner: str
    finished_at: datetime
    vulnerabilities: tuple[Vulnerability, ...]


def read_scan(statement: Statement) -> Scan:
    if statement.predicate_type != VULN_PREDICATE:
        raise BadEvidence("payload.predicateType", f"Expected {VULN_PREDICATE}.")
    predicate = statement.predicate
    scanner = predicate.get("scanner")
    if not isinstance(scanner, dict) or not isinstance(scanner.get("result"), dict):
        raise BadEvidence("predicate.scanner.result", "Missing: the scanner's report.")
    metadata = predicate.get("metadata")
    finished = timestamp(
        "predicate.metadata.scanFinishedOn",
        metadata.get("scanFinishedOn") if isinstance(metadata, dict) else None,
    )
    report = scanner["result"]
    found = tuple(_sarif(report) if "runs" in report else _trivy(report))
    uri = scanner.get("uri")
    return Scan(
        scanner=uri[:200] if isinstance(uri, str) and uri else "a scanner",
        finished_at=finished,
        vulnerabilities=found,
    )


def _trivy(report: dict) -> Iterator[Vulnerability]:
    results = report.get("Results") or []
    if not isinstance(results, list):
        raise BadEvidence("predicate.scanner.result.Results", "Expected a list.")
    count = 0
    for result in results:
        for item in (result.get("Vulnerabilities") or []) if isinstance(result, dict) else []:
            count += 1
            if count > MAX_VULNERABILITIES or not isinstance(item, dict):
                raise BadEvidence(
                    "predicate.scanner.result.Results",
                    f"Expected at most {MAX_VULNERABILITIES} vulnerability objects.",
                )
            yield Vulnerability(
                id=str(item.get("VulnerabilityID", "?"))[:100],
                severity=_severity(item.get("Severity")),
                where=str(item.get("PkgName") or result.get("Target") or "")[:200],
            )


def _sarif(report: dict) -> Iterator[Vulnerability]:
    runs = report.get("runs")
    if not isinstance(runs, list):
        raise BadEvidence("predicate.scanner.result.runs", "Expected a list.")
    count = 0
    for run in runs:
        if not isinstance(run, dict):
            continue
        rules = {
            rule.get("id"): rule
            for rule in run.get("tool", {}).get("driver", {}).get("rules", []) or []
            if isinstance(rule, dict)
        }
        for result in run.get("results", []) or []:
            count += 1
            if count > MAX_VULNERABILITIES or not isinstance(result, dict):
                raise BadEvidence(
                    "predicate.scanner.result.runs",
                    f"Expected at most {MAX_VULNERABILITIES} result objects.",
                )
            rule_id = str(result.get("ruleId", "?"))[:100]
            score = (rules.get(rule_id) or {}).get("properties", {}).get("security-severity")
            yield Vulnerability(
                id=rule_id,
                severity=_from_score(score) or SARIF_LEVELS.get(str(result.get("level")), "MEDIUM"),
                where=str(result.get("message", {}).get("text", ""))[:200]
                if isinstance(result.get("message"), dict)
                else "",
            )


def _severity(value: object) -> str:
    text = str(value or "").upper()
    return text if text in SEVERITIES else "NONE"


def _from_score(score: object) -> str | None:
    """CVSS score → severity, as GitHub reads SARIF's `security-severity`."""
    try:
        value = float(str(score))
    except ValueError:
        return None
    if value >= 9.0:
        return "CRITICAL"
    if value >= 7.0:
        return "HIGH"
    if value >= 4.0:
        return "MEDIUM"
    return "LOW" if value > 0 else "NONE"


def scan_findings(
    scan: Scan,
    *,
    max_age: timedelta,
    max_severity: str,
    suppressions: Sequence[Suppression],
    now: datetime,
) -> list[Finding]:
    findings = []
    age = now - scan.finished_at
    when = scan.finished_at.isoformat(timespec="minutes")
    if age <= max_age:
        findings.append(passed("scan: age", f"Scanned by {scan.scanner} at {when}."))
    else:
        findings.append(
            failed(
                "scan: age",
                f"Scanned at {when}, {age.days} days ago; the policy asks for a scan no older "
                f"than {max_age.days} days.",
            )
        )
    limit = SEVERITIES.index(max_severity)
    by_id = {s.vulnerability_id: s for s in suppressions}
    over, suppressed, lapsed = [], [], []
    for vulnerability in scan.vulnerabilities:
        if SEVERITIES.index(vulnerability.severity) <= limit:
            continue
        suppression = by_id.get(vulnerability.id)
        if suppression is None:
            over.append(vulnerability)
        elif suppression.expires_at > now:
            suppressed.append(vulnerability)
        else:
            lapsed.append((vulnerability, suppression))
    notes = [f"{len(suppressed)} suppressed"] if suppressed else []
    if not over and not lapsed:
        findings.append(
            passed(
                "scan: findings",
                f"Nothing above {max_severity.lower()}" + (f" ({notes[0]})." if notes else "."),
            )
        )
        return findings
    named = [f"{v.id} ({v.severity.lower()}, {v.where})" for v in over[:5]]
    named += [
        f"{v.id} ({v.severity.lower()}: its suppression expired on "
        f"{s.expires_at.date().isoformat()})"
        for v, s in lapsed[:5]
    ]
    more = len(over) + len(lapsed) - len(named)
    findings.append(
        failed(
            "scan: findings",
            f"{len(over) + len(lapsed)} above {max_severity.lower()}: {', '.join(named)}"
            + (f" and {more} more" if more > 0 else "")
            + ".",
        )
    )
    return findings
