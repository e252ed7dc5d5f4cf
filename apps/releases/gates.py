"""The readiness checklist of a release, evaluated on the server when it is shown and again
just before it starts. A failing required gate blocks the start and says which and why."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from apps.accounts.identities import unknown_authors
from apps.catalog.models import Environment
from apps.core.durations import format_duration
from apps.releases.models import (
    Approval,
    BadVersion,
    ChangeType,
    Release,
    ReleaseCheck,
    ReleaseState,
    VersionPin,
)
from apps.releases.policies import (
    ApprovalStatus,
    approval_status,
    live_approvals,
    separation_of_duties_conflict,
)
from apps.releases.soak import soaked_at
from apps.releases.windows import WindowVerdict, verdict_among, when_allowed
from apps.supplychain.models import Suppression, TrustPolicy
from apps.supplychain.selectors import (
    PolicyVerification,
    artifact_verification,
    verifications_among,
)


@dataclass(frozen=True)
class Gate:
    key: str
    name: str
    passed: bool
    detail: str
    blocking: bool = True
    # Not passed yet, but not failed either: a check CI has not reported, a version still on
    # its way through the earlier environment. Time may settle it; an approver need not.
    pending: bool = False

    def as_dict(self) -> dict:
        """As kept with a decision or a start: what was evaluated then, not recomputed later."""
        return {
            "gate": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "blocking": self.blocking,
        }


class GateFacts:
    """What the gates read about a release, asked of the database as each gate needs it: the
    facts of one release. `PrefetchedGateFacts` reads them for many releases at once; the gates
    decide the same way from either."""

    def previous_environment(self, release: Release) -> Environment | None:
        return (
            Environment.objects.filter(
                service_id=release.service_id, order__lt=release.environment.order
            )
            .order_by("-order")
            .first()
        )

    def succeeded_in(self, environment: Environment, version: str) -> bool:
        return Release.objects.filter(
            environment=environment, version=version, state=ReleaseState.SUCCEEDED
        ).exists()

    def window_verdict(self, release: Release, start: datetime, end: datetime) -> WindowVerdict:
        return when_allowed(release.service, release.environment, start, end)

    def bad_mark(self, release: Release) -> BadVersion | None:
        return (
            BadVersion.objects.filter(service_id=release.service_id, version=release.version)
            .select_related("marked_by")
            .first()
        )

    def pin(self, release: Release) -> VersionPin | None:
        return (
            VersionPin.objects.filter(environment_id=release.environment_id, lifted_at__isnull=True)
            .select_related("pinned_by")
            .first()
        )

    def verifications(self, release: Release, now: datetime) -> list[PolicyVerification]:
        return artifact_verification(
            service=release.service,
            environment=release.environment,
            version=release.version,
            now=now,
        )

    def unknown_authors(self, release: Release) -> list[str]:
        return unknown_authors([commit.author for commit in release.commits.all()])


ONE_RELEASE = GateFacts()


class PrefetchedGateFacts(GateFacts):
    """The gates' facts of many releases, read in a few queries whatever their number (a
    train's wave starting at once). The releases come with their service and environment, and
    their checks and commits prefetched. A soak, an emergency's independent approval and an
    artifact's evidence (by digest) are still read per release that has one."""

    def __init__(self, releases: Sequence[Release], *, now: datetime) -> None:
        from apps.releases.models import ChangeWindow, Freeze

        service_ids = {release.service_id for release in releases}
        self._environments: dict[int, list[Environment]] = defaultdict(list)
        for environment in Environment.objects.filter(service_id__in=service_ids).order_by(
            "-order"
        ):
            self._environments[environment.service_id].append(environment)
        earlier = {
            previous.pk
            for release in releases
            if (previous := self.previous_environment(release)) is not None
        }
        self._succeeded = set(
            Release.objects.filter(
                environment_id__in=earlier,
                version__in={release.version for release in releases},
                state=ReleaseState.SUCCEEDED,
            ).values_list("environment_id", "version")
        )
        self._freezes = list(Freeze.objects.in_force())
        self._windows = list(ChangeWindow.objects.in_force())
        self._bad = {
            (bad.service_id, bad.version): bad
            for bad in BadVersion.objects.filter(
                service_id__in=service_ids, version__in={release.version for release in releases}
            )
            .select_related("marked_by")
            .reverse()  # the first of each, as .first() finds it, is kept last
        }
        self._pins = {
            pin.environment_id: pin
            for pin in VersionPin.objects.filter(
                environment_id__in={release.environment_id for release in releases},
                lifted_at__isnull=True,
            )
            .select_related("pinned_by")
            .reverse()
        }
        self._policies = list(
            TrustPolicy.objects.filter(is_active=True).prefetch_related("keys").order_by("name")
        )
        self._suppressions: dict[int, list[Suppression]] = defaultdict(list)
        if self._policies:
            for suppression in Suppression.objects.filter(service_id__in=service_ids):
                self._suppressions[suppression.service_id].append(suppression)
        authors = {commit.author for release in releases for commit in release.commits.all()}
        self._unknown = set(unknown_authors(sorted(authors)))

    def previous_environment(self, release: Release) -> Environment | None:
        return next(
            (
                environment
                for environment in self._environments[release.service_id]
                if environment.order < release.environment.order
            ),
            None,
        )

    def succeeded_in(self, environment: Environment, version: str) -> bool:
        return (environment.pk, version) in self._succeeded

    def window_verdict(self, release: Release, start: datetime, end: datetime) -> WindowVerdict:
        return verdict_among(
            release.service,
            release.environment,
            start,
            end,
            freezes=self._freezes,
            windows=self._windows,
        )

    def bad_mark(self, release: Release) -> BadVersion | None:
        return self._bad.get((release.service_id, release.version))

    def pin(self, release: Release) -> VersionPin | None:
        return self._pins.get(release.environment_id)

    def verifications(self, release: Release, now: datetime) -> list[PolicyVerification]:
        return verifications_among(
            self._policies,
            service=release.service,
            environment=release.environment,
            version=release.version,
            suppressions=self._suppressions[release.service_id],
            now=now,
        )

    def unknown_authors(self, release: Release) -> list[str]:
        return sorted({c.author for c in release.commits.all() if c.author in self._unknown})


def promotion_gate(release: Release, at: datetime, facts: GateFacts = ONE_RELEASE) -> Gate:
    """The same version must have succeeded in the environment before this one and, where that
    environment asks for a soak, have run there by `at` without a failure or rollback."""
    previous = facts.previous_environment(release)
    if previous is None:
        return Gate("promotion", "Promotion order", True, "First environment in the order")
    if previous.soak_seconds:
        return _soak_gate(release, previous, at)
    if facts.succeeded_in(previous, release.version):
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
        pending=True,
    )


def _soak_gate(release: Release, previous: Environment, at: datetime) -> Gate:
    name, soak = "Promotion and soak", format_duration(previous.soak_seconds)
    ready_at = soaked_at(previous, release.version)
    if ready_at is not None and ready_at <= at:
        return Gate(
            "promotion", name, True, f"{release.version} has run in {previous.name} for {soak}"
        )
    if ready_at is None:
        detail = f"{release.version} is not what runs in {previous.name} now"
    else:
        detail = (
            f"{release.version} needs {soak} in {previous.name} without a failure or rollback: "
            f"soaked at {ready_at:%Y-%m-%d %H:%M} UTC"
        )
    # An approval does not shorten a soak; an emergency's written justification skips it.
    if release.change_type == ChangeType.EMERGENCY and release.justification:
        return Gate(
            "promotion", name, True, f"Emergency change skips the soak: {detail}", blocking=False
        )
    return Gate("promotion", name, False, detail, pending=True)


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
                "Emergency: may start before the policy's approvals; retrospective review due",
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


def independent_approvals(release: Release, now: datetime) -> tuple[list[Approval], list[str]]:
    """The live approvals of someone who neither requested the release nor wrote any of its
    commits (matched by identity, apps/accounts/identities.py), and why each other one does not
    count. Whatever the policy says about separation of duties."""
    independent, not_counted = [], []
    for approval in live_approvals(release, now):
        conflict = separation_of_duties_conflict(release, approval.approver)
        if conflict:
            who = approval.approver.username
            why = (
                "requested it" if release.requester_id == approval.approver_id else "wrote a commit"
            )
            not_counted.append(f"{who} {why}")
        else:
            independent.append(approval)
    return independent, not_counted


def independent_approval_gate(
    release: Release, status: ApprovalStatus, now: datetime
) -> Gate | None:
    """An emergency to production may skip the approval queue and the window, never the second
    pair of eyes: before it starts, one approval from someone independent of it, or someone's
    explicit break glass (which pages leadership and admins and makes a retrospective due).
    None for every other release."""
    if not release.needs_independent_approval:
        return None
    name = "Independent approval"
    glass = release.glass_broken
    if glass is not None:
        return Gate(
            "independent_approval",
            name,
            True,
            f"Break glass by {glass.actor.username} at {glass.at:%Y-%m-%d %H:%M} UTC: "
            f"{glass.reason} (retrospective due)",
            blocking=False,
        )
    independent, not_counted = independent_approvals(release, now)
    if independent:
        who = ", ".join(approval.approver.username for approval in independent)
        return Gate("independent_approval", name, True, f"Approved by {who}")
    detail = (
        "An emergency change to production needs an approval from someone who neither "
        "requested it nor wrote its commits, or break glass"
    )
    if not_counted:
        detail += f" (not counted: {'; '.join(not_counted)})"
    elif not status.required:
        detail += " (no approval policy covers it, so only break glass can start it)"
    return Gate("independent_approval", name, False, detail)


def checks_gate(release: Release, required: list[str]) -> list[Gate]:
    reported = {check.name: check for check in release.checks.all()}
    gates = []
    for name in required:
        check = reported.get(name)
        if check is None:
            gates.append(
                Gate(
                    f"check:{name}", f"Check: {name}", False, "Not reported by CI yet", pending=True
                )
            )
        else:
            passed = check.status == ReleaseCheck.Status.PASSED
            detail = check.summary or check.get_status_display()
            pending = check.status == ReleaseCheck.Status.PENDING
            gates.append(Gate(f"check:{name}", f"Check: {name}", passed, detail, pending=pending))
    return gates


def authors_gate(release: Release, status: ApprovalStatus, facts: GateFacts = ONE_RELEASE) -> Gate:
    """Commit authors nobody in Runway is known by: shown always, blocking where a policy says
    every author must be known (an unknown one could be an approver under another address)."""
    unknown = facts.unknown_authors(release)
    detail = f"Unknown author: {', '.join(unknown)}" if unknown else "Every author is known"
    return Gate(
        "authors", "Commit authors", not unknown, detail, blocking=status.require_known_authors
    )


def readiness(
    release: Release,
    *,
    now: datetime,
    at: datetime | None = None,
    status: ApprovalStatus | None = None,
    facts: GateFacts = ONE_RELEASE,
) -> list[Gate]:
    """Every gate for starting `release` at `at` (default: now). `status`, the release's
    approval status, is read when not given; `facts`, what the gates read, are read for this
    release alone unless given (PrefetchedGateFacts, for many)."""
    at = at or now
    status = status or approval_status(release, now=now)
    verdict = facts.window_verdict(release, at, max(at, release.planned_end))
    window_gate = Gate(
        "window",
        "Change window and freezes",
        verdict.allowed or release.change_type == ChangeType.EMERGENCY,
        verdict.reason or "Allowed",
        blocking=not (release.change_type == ChangeType.EMERGENCY and release.justification),
    )
    independent = independent_approval_gate(release, status, now)
    return [
        promotion_gate(release, at, facts),
        *approvals_gate(release, status, now),
        *([independent] if independent else []),
        *version_gates(release, facts),
        *supply_chain_gates(release, now, facts),
        authors_gate(release, status, facts),
        window_gate,
        *checks_gate(release, status.required_checks),
    ]


SUPPLY_CHAIN = "Supply chain"


def supply_chain_gates(
    release: Release, now: datetime, facts: GateFacts = ONE_RELEASE
) -> list[Gate]:
    """What the trust policies covering the release ask of its artifact (apps/supplychain),
    verified now from the evidence CI uploaded: one gate per requirement, saying which key,
    field or vulnerability decided it. Missing evidence waits (CI may still upload it); an
    emergency skips none of it."""
    verifications = facts.verifications(release, now)
    several = len(verifications) > 1
    return [
        Gate(
            f"supply_chain:{verification.policy.pk}:{finding.requirement}",
            f"{SUPPLY_CHAIN}: {finding.requirement}"
            + (f" ({verification.policy.name})" if several else ""),
            finding.passed,
            finding.detail,
            pending=finding.waiting,
        )
        for verification in verifications
        for finding in verification.findings
    ]


def artifact_verified(gates: list[Gate]) -> bool:
    """Whether the gates verified the artifact's signature and its SLSA provenance: what the
    reports count as artifact integrity."""
    supply = [gate for gate in gates if gate.key.startswith("supply_chain:")]
    signed = [gate for gate in supply if gate.key.endswith(":signature")]
    built = [gate for gate in supply if gate.key.split(":", 2)[2].startswith("provenance")]
    return bool(signed and built) and all(gate.passed for gate in signed + built)


def supply_chain_passed(gates: list[Gate]) -> bool | None:
    """Whether every supply-chain gate passed (one waiting for evidence has not); None when no
    trust policy asked anything of the release: what the security gate pass rate counts."""
    supply = [gate for gate in gates if gate.key.startswith("supply_chain:")]
    return all(gate.passed for gate in supply) if supply else None


def version_gates(release: Release, facts: GateFacts = ONE_RELEASE) -> list[Gate]:
    """A version marked bad never starts; an environment pinned to another version waits for
    its pin to be lifted. Neither is skipped by an emergency: a person lifts the pin, saying
    why. Shown only when they hold the release, or when a pin holds it at this version."""
    bad = facts.bad_mark(release)
    pin = facts.pin(release)
    gates = []
    if bad is not None:
        gates.append(Gate("bad_version", "Version", False, bad_version_detail(bad)))
    if pin is not None:
        held = pin.version != release.version
        detail = (
            f"{release.environment.name} is pinned to {pin.version} by {pin.pinned_by.username} "
            f"({pin.reason})" + (": lift the pin to release another version" if held else "")
        )
        gates.append(Gate("pin", "Pinned version", not held, detail))
    return gates


def bad_version_detail(bad: BadVersion) -> str:
    return (
        f"{bad.version} was marked bad by {bad.marked_by.username} on "
        f"{bad.marked_at:%Y-%m-%d}: {bad.reason}"
    )


def bad_version_refusal(release: Release) -> str:
    """Why a request for this release is refused at once: its version is marked bad (a pin,
    which is lifted in time, only holds the start). Empty when it is not."""
    bad = ONE_RELEASE.bad_mark(release)
    return bad_version_detail(bad) if bad else ""


def blocking_failures(gates: list[Gate]) -> list[Gate]:
    return [gate for gate in gates if gate.blocking and not gate.passed]


def hold_reason(failures: list[Gate]) -> str:
    """What a release held by these gates says on its page (hold_reason)."""
    return "; ".join(f"{gate.name}: {gate.detail}" for gate in failures)[:300]


# Gates that an approval settles (or that wait on approvals) are not risks of approving.
SETTLED_BY_APPROVING = ("approvals", "wait", "independent_approval")


def risks_of_approving(gates: list[Gate]) -> list[Gate]:
    """The blocking gates that have failed (not merely pending) and that approving would not
    settle (a freeze, a failed check, an unknown author ...): an approver confirms them by
    name."""
    return [
        gate
        for gate in blocking_failures(gates)
        if gate.key not in SETTLED_BY_APPROVING and not gate.pending
    ]
