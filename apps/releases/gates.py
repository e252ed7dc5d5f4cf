"""The readiness checklist of a release, evaluated on the server when it is shown and again
just before it starts. A failing required gate blocks the start and says which and why."""

from dataclasses import dataclass
from datetime import datetime

from apps.accounts.identities import unknown_authors
from apps.catalog.models import Environment
from apps.releases.models import ChangeType, Release, ReleaseCheck, ReleaseState
from apps.releases.policies import ApprovalStatus, approval_status
from apps.releases.windows import when_allowed


@dataclass(frozen=True)
class Gate:
    key: str
    name: str
    passed: bool
    detail: str
    blocking: bool = True


def promotion_gate(release: Release) -> Gate:
    """The same version must have succeeded in the environment before this one."""
    previous = (
        Environment.objects.filter(
            service_id=release.service_id, order__lt=release.environment.order
        )
        .order_by("-order")
        .first()
    )
    if previous is None:
        return Gate("promotion", "Promotion order", True, "First environment in the order")
    done = Release.objects.filter(
        environment=previous, version=release.version, state=ReleaseState.SUCCEEDED
    ).exists()
    if done:
        return Gate(
            "promotion", "Promotion order", True, f"{release.version} succeeded in {previous.name}"
        )
    if release.change_type == ChangeType.EMERGENCY:
        return Gate(
            "promotion",
            "Promotion order",
            True,
            f"Emergency change: skips {previous.name} (audited)",
            blocking=False,
        )
    return Gate(
        "promotion",
        "Promotion order",
        False,
        f"{release.version} has not succeeded in {previous.name} yet",
    )


def approvals_gate(release: Release, status: ApprovalStatus, now: datetime) -> list[Gate]:
    gates = []
    if release.change_type == ChangeType.STANDARD and release.standard_template_id:
        gates.append(
            Gate("approvals", "Approvals", True, f"Pre-approved: {release.standard_template}")
        )
    elif status.satisfied:
        gates.append(Gate("approvals", "Approvals", True, status.summary()))
    elif release.change_type == ChangeType.EMERGENCY and release.justification:
        gates.append(
            Gate(
                "approvals",
                "Approvals",
                True,
                "Emergency: may start before approval; retrospective review due",
                blocking=False,
            )
        )
    else:
        gates.append(Gate("approvals", "Approvals", False, status.summary()))
    wait_until = status.wait_until
    if wait_until and wait_until > now:
        gates.append(
            Gate("wait", "Wait timer", False, f"May start from {wait_until:%Y-%m-%d %H:%M} UTC")
        )
    return gates


def checks_gate(release: Release, required: list[str]) -> list[Gate]:
    reported = {check.name: check for check in release.checks.all()}
    gates = []
    for name in required:
        check = reported.get(name)
        if check is None:
            gates.append(Gate(f"check:{name}", f"Check: {name}", False, "Not reported by CI yet"))
        else:
            passed = check.status == ReleaseCheck.Status.PASSED
            detail = check.summary or check.get_status_display()
            gates.append(Gate(f"check:{name}", f"Check: {name}", passed, detail))
    return gates


def authors_gate(release: Release, status: ApprovalStatus) -> Gate:
    """Commit authors nobody in Runway is known by: shown always, blocking where a policy says
    every author must be known (an unknown one could be an approver under another address)."""
    unknown = unknown_authors([commit.author for commit in release.commits.all()])
    detail = f"Unknown author: {', '.join(unknown)}" if unknown else "Every author is known"
    return Gate(
        "authors", "Commit authors", not unknown, detail, blocking=status.require_known_authors
    )


def readiness(release: Release, *, now: datetime, at: datetime | None = None) -> list[Gate]:
    """Every gate for starting `release` at `at` (default: now)."""
    at = at or now
    status = approval_status(release, now=now)
    verdict = when_allowed(release.service, release.environment, at, max(at, release.planned_end))
    window_gate = Gate(
        "window",
        "Change window and freezes",
        verdict.allowed or release.change_type == ChangeType.EMERGENCY,
        verdict.reason or "Allowed",
        blocking=not (release.change_type == ChangeType.EMERGENCY and release.justification),
    )
    return [
        promotion_gate(release),
        *approvals_gate(release, status, now),
        authors_gate(release, status),
        window_gate,
        *checks_gate(release, status.required_checks),
    ]


def blocking_failures(gates: list[Gate]) -> list[Gate]:
    return [gate for gate in gates if gate.blocking and not gate.passed]
