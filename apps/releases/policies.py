"""Approval policies: which apply to a release, who may approve, and whether they are met.

Every applicable policy must be met; within a policy every rule needs its own count of
approvals (N of M). An approval counts for the rule it was given under, until it expires or is
invalidated by a change to what ships.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch

from apps.accounts import permissions
from apps.accounts.identities import author_keys, user_keys
from apps.releases.models import Approval, ApprovalPolicy, ApprovalRule, ChangeType, Release


def active_policies() -> list[ApprovalPolicy]:
    """All active policies with their rules, in a fixed number of queries."""
    rules = ApprovalRule.objects.select_related("team").prefetch_related("users")
    return list(
        ApprovalPolicy.objects.filter(is_active=True).prefetch_related(
            Prefetch("rules", queryset=rules)
        )
    )


def applicable_policies(release: Release, policies: list[ApprovalPolicy]) -> list[ApprovalPolicy]:
    environment = release.environment
    return [
        policy
        for policy in policies
        if (
            policy.environment_id == environment.pk
            or (policy.environment_id is None and policy.environment_kind == environment.kind)
        )
        and (policy.tier is None or policy.tier == release.service.tier)
        and (not policy.change_type or policy.change_type == release.change_type)
    ]


def is_eligible(rule: ApprovalRule, user) -> bool:
    if permissions.is_service_account(user):
        return False  # CI reports checks; only people approve
    if rule.team_id and rule.team_id in permissions.team_ids_of(user):
        return True
    if rule.role and rule.role in permissions.roles_of(user):
        return True
    return any(member.pk == user.pk for member in rule.users.all())


def behind_automatic_promotion(release: Release) -> int | None:
    """Of a release Runway promoted by itself: the id of the person who requested the release
    it promoted, who counts as its requester for separation of duties. Read once per object."""
    if not hasattr(release, "_behind_promotion"):
        source = release.promoted_from_id
        release._behind_promotion = (  # type: ignore[attr-defined]
            Release.objects.filter(pk=source).values_list("requester_id", flat=True).first()
            if source
            else None
        )
    return release._behind_promotion  # type: ignore[attr-defined]


def separation_of_duties_conflict(release: Release, user) -> str:
    """Why this user may not approve this release under separation of duties, or ''."""
    if release.requester_id == user.pk:
        return "You requested this release; someone else must approve it."
    if release.promoted_automatically and behind_automatic_promotion(release) == user.pk:
        return (
            f"You requested #{release.promoted_from_id}, which Runway promoted to this release; "
            "someone else must approve it."
        )
    known_as = user_keys(user)
    for commit in release.commits.all():
        if author_keys(commit.author) & known_as:
            return (
                f"You wrote commit {commit.sha[:10]} in this release; someone else must approve it."
            )
    return ""


@dataclass
class RuleStatus:
    rule: ApprovalRule
    approvers: list[str]

    @property
    def satisfied(self) -> bool:
        return len(self.approvers) >= self.rule.required_count

    @property
    def missing(self) -> int:
        return max(self.rule.required_count - len(self.approvers), 0)


@dataclass
class ApprovalStatus:
    policies: list[ApprovalPolicy]
    rules: list[RuleStatus] = field(default_factory=list)
    last_approval_at: datetime | None = None
    pre_approved: bool = False  # a standard change made from its template

    @property
    def required(self) -> bool:
        return bool(self.rules)

    @property
    def satisfied(self) -> bool:
        return all(status.satisfied for status in self.rules)

    @property
    def wait_until(self) -> datetime | None:
        wait = max((policy.wait_minutes for policy in self.policies), default=0)
        if not wait or self.last_approval_at is None:
            return None
        return self.last_approval_at + timedelta(minutes=wait)

    @property
    def required_checks(self) -> list[str]:
        return sorted({name for policy in self.policies for name in policy.required_checks})

    @property
    def separation_of_duties(self) -> bool:
        return any(policy.separation_of_duties for policy in self.policies)

    @property
    def require_known_authors(self) -> bool:
        return any(policy.require_known_authors for policy in self.policies)

    def count(self, approval: Approval) -> None:
        """Count a live approval just made, so the status need not be read again."""
        for rule_status in self.rules:
            if rule_status.rule.pk == approval.rule_id:
                rule_status.approvers.append(approval.approver.username)
        self.last_approval_at = approval.created_at

    def summary(self) -> str:
        if self.pre_approved:
            return "No approval needed (standard change)"
        if not self.required:
            return "No approval needed (no policy applies)"
        missing = [f"{s.missing} from {s.rule.name}" for s in self.rules if not s.satisfied]
        return "Approved" if not missing else "Waiting for " + ", ".join(missing)


def live_approvals(release: Release, now: datetime) -> list[Approval]:
    return [
        approval
        for approval in release.approvals.all()
        if approval.decision == Approval.Decision.APPROVE
        and approval.invalidated_at is None
        and (approval.expires_at is None or approval.expires_at > now)
    ]


def approval_status(
    release: Release, *, now: datetime, policies: list[ApprovalPolicy] | None = None
) -> ApprovalStatus:
    applicable = applicable_policies(release, active_policies() if policies is None else policies)
    status = ApprovalStatus(policies=applicable)
    if release.change_type == ChangeType.STANDARD and release.standard_template_id:
        status.pre_approved = True
        return status
    approvals = live_approvals(release, now)
    for policy in applicable:
        for rule in policy.rules.all():
            names = [a.approver.username for a in approvals if a.rule_id == rule.pk]
            status.rules.append(RuleStatus(rule, names))
    if approvals:
        status.last_approval_at = max(a.created_at for a in approvals)
    return status


def not_a_decider(release: Release, user, status: ApprovalStatus) -> str:
    """Why this user may not decide on this release at all, whatever its state: not in a group
    that approves it, or a separation-of-duties conflict (requester, commit author). "" when
    they may. A release that needs no approval has no deciders."""
    if not status.required:
        return ""
    if status.separation_of_duties:
        conflict = separation_of_duties_conflict(release, user)
        if conflict:
            return conflict
    if not any(is_eligible(s.rule, user) for s in status.rules):
        groups = ", ".join(s.rule.name for s in status.rules)
        return f"You are not in a group that approves this release ({groups})."
    return ""


def rule_for_approver(
    release: Release, user, status: ApprovalStatus, *, rejecting: bool = False
) -> ApprovalRule:
    """The rule this user's approval counts for: the first one still short of approvals that
    the user is eligible for (a rejection may come under any rule the user is eligible for).
    Raises PermissionDenied for someone who may not decide (not_a_decider) and ValidationError
    when there is nothing left to decide."""
    if not status.required:
        raise ValidationError("This release needs no approval.")
    refusal = not_a_decider(release, user, status)
    if refusal:
        raise PermissionDenied(refusal)
    return rule_counted_for(user, status, rejecting=rejecting)


def rule_counted_for(user, status: ApprovalStatus, *, rejecting: bool = False) -> ApprovalRule:
    """Of a decider's eligible rules, the first still short of approvals (a rejection: the
    first eligible); ValidationError when every one has its approvals. For a release, and for
    a train under its members' rules."""
    eligible = [s for s in status.rules if is_eligible(s.rule, user)]
    if rejecting:
        return eligible[0].rule
    for rule_status in eligible:
        if not rule_status.satisfied:
            return rule_status.rule
    raise ValidationError("Every rule you could approve for already has its approvals.")
