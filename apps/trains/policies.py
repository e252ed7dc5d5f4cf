"""The train's approval policy: the union of its members' policies, read with the releases'
own functions (applicable_policies, is_eligible, separation_of_duties_conflict).

Every rule that applies to any member must be satisfied. Rules that ask the same group (the
same team, role and named users) are one requirement, needing the highest of their counts: two
members under "2 release managers" and "1 release manager" need two release managers, not
three. Rules of different groups each need their own approvals. Separation of duties (if any
applicable policy asks for it) covers the requester and every member's commit authors. One
approval counts under one group, as for releases: the first the approver is eligible for that
is still short.
"""

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError

from apps.releases.models import ApprovalPolicy, ApprovalRule, Release
from apps.releases.policies import (
    ApprovalStatus,
    RuleStatus,
    active_policies,
    applicable_policies,
    is_eligible,
    rule_counted_for,
    separation_of_duties_conflict,
)
from apps.trains.models import Train, TrainApproval


def _group(rule: ApprovalRule) -> tuple:
    return (rule.team_id, rule.role, frozenset(user.pk for user in rule.users.all()))


def live_train_approvals(train: Train, now: datetime) -> list[TrainApproval]:
    return [
        approval
        for approval in train.approvals.all()
        if approval.decision == TrainApproval.Decision.APPROVE
        and (approval.expires_at is None or approval.expires_at > now)
    ]


def train_approval_status(
    train: Train,
    members: list[Release],
    *,
    now: datetime,
    policies: list[ApprovalPolicy] | None = None,
) -> ApprovalStatus:
    """The union of the members' policies as one ApprovalStatus: one RuleStatus per group, its
    rule the group's strictest (highest count), its approvers those counted under any rule of
    the group."""
    policies = active_policies() if policies is None else policies
    applicable: dict[int, ApprovalPolicy] = {}
    for release in members:
        for policy in applicable_policies(release, policies):
            applicable.setdefault(policy.pk, policy)
    groups: dict[tuple, list[ApprovalRule]] = {}
    for policy in applicable.values():
        for rule in policy.rules.all():
            groups.setdefault(_group(rule), []).append(rule)
    status = ApprovalStatus(policies=list(applicable.values()))
    approvals = live_train_approvals(train, now)
    for rules in groups.values():
        strictest = max(rules, key=lambda rule: (rule.required_count, -rule.pk))
        ids = {rule.pk for rule in rules}
        names = [a.approver.username for a in approvals if a.rule_id in ids]
        status.rules.append(RuleStatus(strictest, names))
    if approvals:
        status.last_approval_at = max(a.created_at for a in approvals)
    return status


def approval_ttl(status: ApprovalStatus) -> timedelta:
    """A train approval lasts as long as the shortest-lived of its policies' approvals."""
    hours = min((policy.approval_ttl_hours for policy in status.policies), default=72)
    return timedelta(hours=hours)


def not_a_train_decider(train: Train, members: list[Release], user, status: ApprovalStatus) -> str:
    """Why this user may not decide on the train at all, whatever its state; "" when they may."""
    if not status.required:
        return ""
    if status.separation_of_duties:
        if train.requested_by_id == user.pk:
            return "You requested this train; someone else must approve it."
        for release in members:
            conflict = separation_of_duties_conflict(release, user)
            if conflict:
                return f"{release.service.name}: {conflict}"
    if not any(is_eligible(s.rule, user) for s in status.rules):
        groups = ", ".join(s.rule.name for s in status.rules)
        return f"You are not in a group that approves this train ({groups})."
    return ""


def train_rule_for_approver(
    train: Train,
    members: list[Release],
    user,
    status: ApprovalStatus,
    *,
    rejecting: bool = False,
) -> ApprovalRule:
    if not status.required:
        raise ValidationError("This train needs no approval.")
    refusal = not_a_train_decider(train, members, user, status)
    if refusal:
        raise PermissionDenied(refusal)
    return rule_counted_for(user, status, rejecting=rejecting)
