"""What attestations say: in-toto Statements about the release's digest, SLSA provenance checked
against the policy and the catalog, vulnerability scans checked for age and severity."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.supplychain.verification import provenance, scans
from apps.supplychain.verification.dsse import parse_envelope
from apps.supplychain.verification.findings import BadEvidence
from apps.supplychain.verification.intoto import parse_statement, subject_finding
from tests.supplychain.signing import DIGEST, OTHER_DIGEST, Signer, envelope, statement

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
INTOTO = "application/vnd.in-toto+json"
GENERATOR = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0"
REPOSITORY = "https://github.com/acme/shop"


def read(payload: bytes, payload_type: str = INTOTO):
    return parse_statement(parse_envelope(envelope(payload, payload_type, Signer())))


# --- Statements -------------------------------------------------------------------------------


def test_a_statement_about_the_releases_digest_passes_and_about_another_fails():
    about = read(statement(provenance.SLSA_V1, {}, digest=DIGEST))
    assert subject_finding(about, DIGEST).passed
    elsewhere = subject_finding(about, OTHER_DIGEST)
    assert not elsewhere.passed
    assert DIGEST in elsewhere.detail and OTHER_DIGEST in elsewhere.detail


@pytest.mark.parametrize(
    "payload, payload_type, field",
    [
        (statement(provenance.SLSA_V1, {}), "application/json", "payloadType"),
        (b"[1, 2]", INTOTO, "payload"),
        (b"\xff\xfe", INTOTO, "payload"),
        (json.dumps({"_type": "x"}).encode(), INTOTO, "payload._type"),
        (
            json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": []}).encode(),
            INTOTO,
            "payload.subject",
        ),
        (
            json.dumps(
                {"_type": "https://in-toto.io/Statement/v1", "subject": [{"digest": "abc"}]}
            ).encode(),
            INTOTO,
            "payload.subject[0].digest",
        ),
        (
            statement(provenance.SLSA_V1, {}).replace(b"shop", b"sh\\u0000op"),
            INTOTO,
            "payload.subject[0].name",
        ),
        (
            b'{"_type": "https://in-toto.io/Statement/v1", "deep": ' + b"[" * 80 + b"]" * 80 + b"}",
            INTOTO,
            "payload",
        ),
    ],
    ids=[
        "payload type",
        "not an object",
        "not utf-8",
        "statement type",
        "no subjects",
        "bad digest",
        "nul",
        "deep",
    ],
)
def test_a_statement_that_cannot_be_read_is_refused_naming_the_field(payload, payload_type, field):
    with pytest.raises(BadEvidence) as refused:
        read(payload, payload_type)
    assert refused.value.field == field


# --- Provenance -------------------------------------------------------------------------------


def v1(repository=REPOSITORY, ref="refs/tags/v1.4.0", builder=GENERATOR) -> dict:
    return {
        "buildDefinition": {
            "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": {
                "workflow": {
                    "ref": ref,
                    "repository": repository,
                    "path": ".github/workflows/release.yml",
                }
            },
        },
        "runDetails": {"builder": {"id": builder}},
    }


def v02(source=f"git+{REPOSITORY}@refs/heads/main", builder=GENERATOR) -> dict:
    return {
        "builder": {"id": builder},
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
        "invocation": {
            "configSource": {"uri": source, "entryPoint": ".github/workflows/release.yml"}
        },
    }


def checked(predicate_type, predicate, **policy):
    policy = {
        "allowed_builders": ["https://github.com/slsa-framework/slsa-github-generator/*"],
        "repository": REPOSITORY,
        "allowed_refs": ["refs/tags/v*", "refs/heads/main"],
        **policy,
    }
    facts = provenance.read_provenance(read(statement(predicate_type, predicate)))
    return {f.requirement: f for f in provenance.provenance_findings(facts, **policy)}


@pytest.mark.parametrize(
    "predicate_type, predicate",
    [(provenance.SLSA_V1, v1()), (provenance.SLSA_V02, v02())],
    ids=["v1", "v0.2"],
)
def test_provenance_from_a_trusted_builder_of_the_catalogs_repository_passes(
    predicate_type, predicate
):
    findings = checked(predicate_type, predicate)
    assert all(f.passed for f in findings.values()), findings
    assert set(findings) == {"provenance: builder", "provenance: repository", "provenance: ref"}


def test_v1_provenance_without_a_workflow_reads_its_first_resolved_dependency():
    predicate = v1()
    del predicate["buildDefinition"]["externalParameters"]["workflow"]
    predicate["buildDefinition"]["resolvedDependencies"] = [
        {
            "uri": "git+https://github.com/ACME/shop.git@refs/tags/v2.0.0",
            "digest": {"gitCommit": "a" * 40},
        }
    ]
    findings = checked(provenance.SLSA_V1, predicate)
    assert all(f.passed for f in findings.values()), findings


def test_an_untrusted_builder_fails_naming_it():
    finding = checked(provenance.SLSA_V1, v1(builder="https://ci.example.com/my-laptop"))[
        "provenance: builder"
    ]
    assert not finding.passed
    assert "https://ci.example.com/my-laptop" in finding.detail


def test_a_repository_other_than_the_catalogs_fails_naming_both():
    finding = checked(provenance.SLSA_V1, v1(repository="https://github.com/evil/shop"))[
        "provenance: repository"
    ]
    assert not finding.passed
    assert "evil/shop" in finding.detail and REPOSITORY in finding.detail


def test_a_repository_differently_spelt_is_the_same_repository():
    finding = checked(provenance.SLSA_V1, v1(repository="git+https://GitHub.com/acme/shop.git/"))
    assert finding["provenance: repository"].passed


def test_a_service_with_no_repository_in_the_catalog_fails_the_repository_check():
    finding = checked(provenance.SLSA_V1, v1(), repository="")["provenance: repository"]
    assert not finding.passed
    assert "no repository" in finding.detail


def test_a_ref_the_policy_does_not_allow_fails():
    finding = checked(provenance.SLSA_V1, v1(ref="refs/heads/experiment"))["provenance: ref"]
    assert not finding.passed
    assert "refs/heads/experiment" in finding.detail


def test_provenance_missing_its_builder_is_refused_naming_the_field():
    predicate = v1()
    del predicate["runDetails"]
    with pytest.raises(BadEvidence) as refused:
        provenance.read_provenance(read(statement(provenance.SLSA_V1, predicate)))
    assert refused.value.field == "predicate.runDetails.builder.id"


# --- Scans ------------------------------------------------------------------------------------


def trivy(*vulnerabilities, finished=NOW - timedelta(days=1)) -> dict:
    return {
        "scanner": {
            "uri": "pkg:github/aquasecurity/trivy@0.57.0",
            "version": "0.57.0",
            "result": {
                "SchemaVersion": 2,
                "Results": [
                    {
                        "Target": "registry.example.com/shop/web (debian 12.8)",
                        "Vulnerabilities": [
                            {"VulnerabilityID": id_, "PkgName": "openssl", "Severity": severity}
                            for id_, severity in vulnerabilities
                        ],
                    }
                ],
            },
        },
        "metadata": {"scanStartedOn": finished.isoformat(), "scanFinishedOn": finished.isoformat()},
    }


def sarif(*results, finished=NOW - timedelta(days=1)) -> dict:
    return {
        "scanner": {
            "uri": "pkg:github/anchore/grype",
            "result": {
                "version": "2.1.0",
                "runs": [
                    {
                        "tool": {
                            "driver": {
                                "name": "grype",
                                "rules": [
                                    {"id": id_, "properties": {"security-severity": score}}
                                    for id_, score in results
                                ],
                            }
                        },
                        "results": [{"ruleId": id_, "level": "warning"} for id_, _ in results],
                    }
                ],
            },
        },
        "metadata": {"scanFinishedOn": finished.isoformat()},
    }


def scan_checked(predicate, *, max_severity="HIGH", suppressions=(), max_days=7):
    scan = scans.read_scan(read(statement(scans.VULN_PREDICATE, predicate)))
    findings = scans.scan_findings(
        scan,
        max_age=timedelta(days=max_days),
        max_severity=max_severity,
        suppressions=suppressions,
        now=NOW,
    )
    return {f.requirement: f for f in findings}


def test_a_recent_scan_with_nothing_above_the_maximum_passes():
    findings = scan_checked(trivy(("CVE-2026-1", "HIGH"), ("CVE-2026-2", "LOW")))
    assert findings["scan: age"].passed and findings["scan: findings"].passed


def test_a_stale_scan_fails_saying_how_old_it_is():
    finding = scan_checked(trivy(finished=NOW - timedelta(days=10)))["scan: age"]
    assert not finding.passed
    assert "10 days ago" in finding.detail and "7 days" in finding.detail


def test_a_finding_above_the_maximum_fails_naming_it():
    finding = scan_checked(trivy(("CVE-2026-9", "CRITICAL")))["scan: findings"]
    assert not finding.passed
    assert "CVE-2026-9 (critical, openssl)" in finding.detail


def test_a_suppression_with_a_reason_lets_its_finding_pass_until_it_expires():
    critical = trivy(("CVE-2026-9", "CRITICAL"))
    live = scans.Suppression("CVE-2026-9", "not reachable: no TLS server", NOW + timedelta(days=3))
    lapsed = scans.Suppression(
        "CVE-2026-9", "not reachable: no TLS server", NOW - timedelta(days=3)
    )
    allowed = scan_checked(critical, suppressions=[live])["scan: findings"]
    assert allowed.passed and "1 suppressed" in allowed.detail
    expired = scan_checked(critical, suppressions=[lapsed])["scan: findings"]
    assert not expired.passed
    assert "suppression expired on 2026-12-04" in expired.detail


def test_sarif_severities_come_from_the_rules_security_severity():
    findings = scan_checked(sarif(("GHSA-1", "9.8"), ("GHSA-2", "5.0")), max_severity="MEDIUM")
    assert not findings["scan: findings"].passed
    assert "GHSA-1 (critical" in findings["scan: findings"].detail
    assert "GHSA-2" not in findings["scan: findings"].detail


@pytest.mark.parametrize(
    "change, field",
    [
        (
            lambda p: p["metadata"].update(scanFinishedOn="yesterday"),
            "predicate.metadata.scanFinishedOn",
        ),
        (
            lambda p: p["metadata"].update(scanFinishedOn="99999-01-01T00:00:00Z"),
            "predicate.metadata.scanFinishedOn",
        ),
        (
            lambda p: p["metadata"].update(scanFinishedOn="2026-12-01T00:00:00"),
            "predicate.metadata.scanFinishedOn",
        ),
        (lambda p: p["scanner"].pop("result"), "predicate.scanner.result"),
    ],
    ids=["words", "absurd year", "no offset", "no result"],
)
def test_a_scan_that_cannot_be_read_is_refused_naming_the_field(change, field):
    predicate = trivy()
    change(predicate)
    with pytest.raises(BadEvidence) as refused:
        scans.read_scan(read(statement(scans.VULN_PREDICATE, predicate)))
    assert refused.value.field == field
