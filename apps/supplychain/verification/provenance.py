"""SLSA provenance (https://slsa.dev/provenance, v0.2 and v1): who built the artifact, from which
repository and ref. The checks: the builder is one the policy allows, the source repository is
the one the catalog lists for the service, and the ref matches one the policy allows."""

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from apps.supplychain.verification.encoding import text_at
from apps.supplychain.verification.findings import BadEvidence, Finding, failed, passed
from apps.supplychain.verification.intoto import Statement

SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
PREDICATE_TYPES = (SLSA_V02, SLSA_V1)


@dataclass(frozen=True)
class Provenance:
    builder_id: str
    repository: str
    ref: str


def read_provenance(statement: Statement) -> Provenance:
    """What the predicate says, or BadEvidence naming the field missing (`predicate.…`)."""
    document = {"predicate": statement.predicate}
    if statement.predicate_type == SLSA_V02:
        builder = text_at(document, "predicate.builder.id")
        repository, ref = _split_source(
            "predicate.invocation.configSource.uri",
            text_at(document, "predicate.invocation.configSource.uri"),
        )
        return Provenance(builder, repository, ref)
    if statement.predicate_type == SLSA_V1:
        builder = text_at(document, "predicate.runDetails.builder.id")
        workflow = (
            statement.predicate.get("buildDefinition", {})
            .get("externalParameters", {})
            .get("workflow")
        )
        if isinstance(workflow, dict) and workflow.get("repository"):
            return Provenance(
                builder,
                text_at(
                    document, "predicate.buildDefinition.externalParameters.workflow.repository"
                ),
                text_at(document, "predicate.buildDefinition.externalParameters.workflow.ref"),
            )
        dependencies = statement.predicate.get("buildDefinition", {}).get("resolvedDependencies")
        field = "predicate.buildDefinition.resolvedDependencies[0].uri"
        if (
            not isinstance(dependencies, list)
            or not dependencies
            or not isinstance(dependencies[0], dict)
        ):
            raise BadEvidence(field, "Missing: the source the artifact was built from.")
        return Provenance(builder, *_split_source(field, dependencies[0].get("uri")))
    raise BadEvidence(
        "payload.predicateType", f"Expected SLSA provenance ({', '.join(PREDICATE_TYPES)})."
    )


def _split_source(field: str, uri: object) -> tuple[str, str]:
    """ "git+https://github.com/acme/shop@refs/heads/main" → (repository, ref)."""
    if not isinstance(uri, str) or "@" not in uri:
        raise BadEvidence(field, "Expected git+<repository>@<ref>.")
    repository, _, ref = uri.rpartition("@")
    return repository, ref


def normalised_repository(url: str) -> str:
    """One spelling per repository: no git+ prefix, no .git or slash at the end, lower case
    (GitHub and GitLab paths ignore case)."""
    url = url.strip().removeprefix("git+").rstrip("/").removesuffix(".git")
    return url.lower()


def provenance_findings(
    provenance: Provenance,
    *,
    allowed_builders: Sequence[str],
    repository: str,
    allowed_refs: Sequence[str],
) -> list[Finding]:
    """`allowed_builders` and `allowed_refs` are exact values or shell-style patterns
    ("refs/tags/v*"); `repository` is the catalog's repository URL for the service."""
    findings = []
    if any(fnmatchcase(provenance.builder_id, pattern) for pattern in allowed_builders):
        findings.append(passed("provenance: builder", f"Built by {provenance.builder_id}."))
    else:
        findings.append(
            failed(
                "provenance: builder",
                f"Built by {provenance.builder_id}, which the policy does not trust"
                + (f" (trusted: {', '.join(allowed_builders)})." if allowed_builders else "."),
            )
        )
    if not repository:
        findings.append(
            failed("provenance: repository", "The catalog lists no repository for the service.")
        )
    elif normalised_repository(provenance.repository) == normalised_repository(repository):
        findings.append(passed("provenance: repository", f"Built from {provenance.repository}."))
    else:
        findings.append(
            failed(
                "provenance: repository",
                f"Built from {provenance.repository}, but the catalog lists {repository}.",
            )
        )
    if not allowed_refs or any(fnmatchcase(provenance.ref, pattern) for pattern in allowed_refs):
        findings.append(passed("provenance: ref", f"Built from {provenance.ref}."))
    else:
        findings.append(
            failed(
                "provenance: ref",
                f"Built from {provenance.ref}; the policy allows {', '.join(allowed_refs)}.",
            )
        )
    return findings
