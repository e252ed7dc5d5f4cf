"""Every write to releases, approvals, checks and approval policies. The browser, the API and
the scheduler all come through here, so they apply exactly the same rules. Change windows and
freezes are written in apps/releases/calendar/services.py."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Role, User
from apps.accounts.system import system_account
from apps.audit.services import audit_record, audit_records, audit_refusals, snapshot
from apps.catalog.models import Environment, Service
from apps.catalog.services import service_pipeline_reported
from apps.core.bulk import bulk_save
from apps.core.exceptions import Conflict, refused
from apps.core.validators import validate_links
from apps.releases import notifications, selectors
from apps.releases.audit_facts import FINISHED, release_save_with_audit_facts
from apps.releases.autopromotion import auto_promotion_candidates, auto_promotion_refusal
from apps.releases.first_outcome import first_outcome_record, first_outcomes_record
from apps.releases.gates import (
    Gate,
    PrefetchedGateFacts,
    artifact_verified,
    bad_version_refusal,
    blocking_failures,
    hold_reason,
    readiness,
    risks_of_approving,
)
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    BreakGlass,
    ChangeType,
    Release,
    ReleaseCheck,
    ReleaseCommit,
    ReleaseState,
    StandardChangeTemplate,
)
from apps.releases.policies import ApprovalStatus, approval_status, rule_for_approver
from apps.releases.promotion import next_environment, promotion_refusal
from apps.releases.risk import assess_risk
from apps.releases.transitions import (
    awaits_retrospective,
    lock_release,
    refuse_if_steered,
    release_transition,
    releases_transition,
    require_action,
    require_decider,
    steered_by,
)
from apps.releases.windows import when_allowed

logger = logging.getLogger(__name__)

# Changing any of these changes what an approver approved.
# The longest a release may be planned for: windows are checked across the whole of it.
MAX_RELEASE_SPAN = timedelta(days=31)
SHIPPING_FIELDS = ("version", "planned_start", "planned_end")
RELEASE_FIELDS = (
    "title",
    "description",
    "version",
    "change_type",
    "planned_start",
    "planned_end",
    "justification",
    "links",
)


def _require_requester_rights(actor: User, service: Service) -> None:
    permissions.require(
        permissions.can_request_releases(actor, service.owner_id),
        "Only the owning team and platform admins request releases for this service.",
    )


def _clean_commits(commits) -> list[ReleaseCommit]:
    rows = []
    for index, commit in enumerate(commits or [], start=1):
        row = ReleaseCommit(
            sha=str(commit.get("sha", "")).strip(),
            author=str(commit.get("author", "")).strip(),
            message=str(commit.get("message", "")),
            committed_at=commit.get("committed_at") or commit.get("timestamp"),
        )
        try:
            row.full_clean(exclude=["release"])
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise ValidationError({"commits": f"Commit {index}: {problems}"}) from None
        rows.append(row)
    if len({row.sha for row in rows}) != len(rows):
        raise ValidationError({"commits": "The same commit is listed twice."})
    return rows


def _validate(release: Release) -> None:
    errors: dict[str, str | list[str] | ValidationError] = {}
    if release.environment.service_id != release.service_id:
        errors["environment"] = (
            f"{release.environment.name} is not an environment of {release.service.name}."
        )
    if (
        release.planned_start
        and release.planned_end
        and release.planned_end <= release.planned_start
    ):
        errors["planned_end"] = "The end must be after the start."
    elif (
        release.planned_start
        and release.planned_end
        and release.planned_end - release.planned_start > MAX_RELEASE_SPAN
    ):
        errors["planned_end"] = (
            f"A release is planned for at most {MAX_RELEASE_SPAN.days} days: split longer work."
        )
    try:
        validate_links(release.links)
    except ValidationError as exc:
        errors["links"] = exc.messages
    if release.change_type == ChangeType.EMERGENCY and len(release.justification.strip()) < 10:
        errors["justification"] = "An emergency change needs a written justification."
    if release.service_id and release.version and (bad := bad_version_refusal(release)):
        errors["version"] = refused(bad)
    if release.change_type == ChangeType.STANDARD:
        template = release.standard_template
        if template is None or not template.is_active:
            errors["standard_template"] = (
                "A standard change is made from an active pre-approved template."
            )
        elif (
            (template.service_id and template.service_id != release.service_id)
            or (template.environment_kind and template.environment_kind != release.environment.kind)
            or (template.max_tier and release.service.tier < template.max_tier)
        ):
            errors["standard_template"] = (
                f"“{template}” does not cover this service and environment."
            )
    if errors:
        raise ValidationError(errors)
    release.risk, release.risk_reasons = assess_risk(
        tier=release.service.tier,
        environment_kind=release.environment.kind,
        change_type=release.change_type,
    )
    release.full_clean(exclude=["requester", "service", "environment"])


@transaction.atomic
def release_create(
    *,
    actor: User,
    service: Service,
    environment: Environment,
    version: str,
    title: str,
    planned_start: datetime,
    planned_end: datetime,
    commits: list[dict] | None = None,
    standard_template: StandardChangeTemplate | None = None,
    pipeline_template: str = "",
    **fields,
) -> Release:
    """A draft release. `pipeline_template`, sent by a standard pipeline (`name@version`), is
    recorded on the service as the template its CI last reported, audited with the create."""
    _require_requester_rights(actor, service)
    release = Release(
        service=service,
        environment=environment,
        version=(version or "").strip(),
        title=title,
        planned_start=planned_start,
        planned_end=planned_end,
        requester=actor,
        standard_template=standard_template,
        **fields,
    )
    _validate(release)
    rows = _clean_commits(commits)
    release.save()
    for row in rows:
        row.release = release
    ReleaseCommit.objects.bulk_create(rows)
    reported = (
        service_pipeline_reported(service=service, reference=pipeline_template)
        if pipeline_template
        else {}
    )
    audit_record(
        actor=actor,
        action="release.create",
        target=release,
        after={
            **snapshot(release, ("service", "environment", *RELEASE_FIELDS, "risk")),
            "commits": [row.sha for row in rows],
            **reported,
        },
    )
    return release


@transaction.atomic
def release_update(*, actor: User, release: Release, commits: list[dict] | None = None, **changes):
    """Edit a release. Changing what ships (version, commits, window) after any approval
    invalidates the approvals and sends the release back for approval; after a break glass it
    is refused."""
    release = lock_release(release.pk)
    _require_requester_rights(actor, release.service)
    refuse_if_steered(release)
    if not release.is_open or release.state == ReleaseState.IN_PROGRESS:
        raise ValidationError(
            f"A release that is {release.get_state_display().lower()} cannot be edited."
        )
    unknown = set(changes) - set(RELEASE_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    before = snapshot(release, RELEASE_FIELDS)
    before_commits = sorted(release.commits.values_list("sha", flat=True))
    for field, value in changes.items():
        setattr(release, field, value)
    _validate(release)
    release.save()
    if commits is not None:
        rows = _clean_commits(commits)
        release.commits.all().delete()
        for row in rows:
            row.release = release
        ReleaseCommit.objects.bulk_create(rows)
    after_commits = sorted(release.commits.values_list("sha", flat=True))
    shipping_changed = after_commits != before_commits or any(
        before[field] != snapshot(release, SHIPPING_FIELDS)[field] for field in SHIPPING_FIELDS
    )
    if shipping_changed and release.glass_broken is not None:
        # A break glass vouches for what shipped when it was broken, like an approval, but it
        # cannot be taken back: something else to ship is a new release, with its own.
        raise ValidationError(
            "Glass was broken for what this release ships: request a new release to ship "
            "something else."
        )
    audit_record(
        actor=actor,
        action="release.update",
        target=release,
        before={**before, "commits": before_commits},
        after={**snapshot(release, RELEASE_FIELDS), "commits": after_commits},
    )
    if shipping_changed:
        _invalidate_approvals(release, actor, "What ships changed after approval")
    return release


def _invalidate_approvals(release: Release, actor: User, reason: str) -> None:
    invalidated = release.approvals.filter(invalidated_at__isnull=True).update(
        invalidated_at=timezone.now(), invalidated_reason=reason
    )
    if release.state in (ReleaseState.APPROVED, ReleaseState.SCHEDULED):
        release_transition(
            release=release,
            to_state=ReleaseState.PENDING_APPROVAL,
            actor=actor,
            reason=reason,
            locked=True,
        )
    if invalidated:
        audit_record(
            actor=actor,
            action="release.approvals_invalidated",
            target=release,
            after={"count": invalidated, "reason": reason},
        )


def _refuse_if_window_closed(release: Release, actor: User) -> None:
    """At submission: a freeze or closed window over the planned time refuses the release,
    naming the freeze and its end. An emergency may override, with its justification audited."""
    verdict = when_allowed(
        release.service, release.environment, release.planned_start, release.planned_end
    )
    if verdict.allowed:
        return
    if release.change_type == ChangeType.EMERGENCY:
        audit_record(
            actor=actor,
            action="release.window_override",
            target=release,
            after={"blocked_by": verdict.reason, "justification": release.justification},
        )
        return
    raise ValidationError({"planned_start": refused(f"{verdict.reason}. Choose another time.")})


@transaction.atomic
def release_submit(*, actor: User, release: Release) -> Release:
    release = lock_release(release.pk)
    require_action(release, actor, "submit")
    _refuse_if_window_closed(release, actor)
    status = approval_status(release, now=timezone.now())
    if release.change_type == ChangeType.EMERGENCY:
        release.retrospective_due_at = _retrospective_due(status.policies)
        release.save(update_fields=["retrospective_due_at"])
    if status.required and not status.satisfied:
        release = release_transition(
            release=release, to_state=ReleaseState.PENDING_APPROVAL, actor=actor, locked=True
        )
        notifications.queue(release, "submitted")
        return release
    release = release_transition(
        release=release,
        to_state=ReleaseState.APPROVED,
        actor=actor,
        reason=status.summary(),
        locked=True,
    )
    return _schedule(release, actor)


def _schedule(release: Release, actor: User) -> Release:
    release = release_transition(
        release=release,
        to_state=ReleaseState.SCHEDULED,
        actor=actor,
        reason=f"Starts at {release.planned_start:%Y-%m-%d %H:%M} UTC or when due",
        locked=True,
    )
    notifications.queue(release, "approved")
    return release


@transaction.atomic(durable=True)
def release_request(*, actor: User, submit: bool, **arguments) -> Release:
    """What a person asks for on the form or through the API: a release, submitted right away
    when `submit` is set. One transaction, so a refused submission (a freeze, a closed window)
    leaves no draft, commits or audit rows behind. `arguments` are release_create's."""
    release = release_create(actor=actor, **arguments)
    if submit:
        release = release_submit(actor=actor, release=release)
    return release


def _gates_for_start(release: Release, status: ApprovalStatus, now: datetime) -> list[Gate]:
    """The gates as a decision sees them: for the planned start (or now, if that is past)."""
    return readiness(release, now=now, at=max(now, release.planned_start), status=status)


def release_decider_require(*, actor: User, release: Release, decision: str) -> None:
    """The API's first question, before it reads a body: may `actor` decide on the release at
    all? A refusal (403) is audited as the decision's own refusal would be."""
    check = audit_refusals(f"release.{decision}", target="release")(_decider_require)
    check(actor=actor, release=release)


def _decider_require(*, actor: User, release: Release) -> None:
    require_decider(release, actor)


@audit_refusals("release.approve", target="release")
@transaction.atomic
def release_approve(
    *, actor: User, release: Release, comment: str = "", confirm_risks: bool = False
) -> Approval:
    """Approve under the first rule the approver is eligible for that still needs approvals.
    Someone who may not decide is refused (403) before anything else. Approving with failing
    gates (a freeze, a failing check ...) needs `confirm_risks`, and the approval records the
    gates as they were. Concurrent approvers serialise on the release row; the database
    refuses a second live approval by the same person."""
    release = lock_release(release.pk)
    now = timezone.now()
    status = approval_status(release, now=now)
    require_action(release, actor, "approve", status=status)
    retrospective = awaits_retrospective(release)
    gates = _gates_for_start(release, status, now)
    risks = [] if retrospective else risks_of_approving(gates)
    if risks and not confirm_risks:
        named = "; ".join(f"{gate.name}: {gate.detail}" for gate in risks)
        raise ValidationError(
            {
                "confirm_risks": refused(
                    f"Approving while gates fail ({named}). Confirm to approve anyway."
                )
            }
        )
    rule = rule_for_approver(release, actor, status)
    ttl = max((policy.approval_ttl_hours for policy in status.policies), default=72)
    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                release=release,
                approver=actor,
                decision=Approval.Decision.APPROVE,
                rule=rule,
                comment=comment.strip(),
                is_retrospective=retrospective,
                expires_at=now + timedelta(hours=ttl),
                gates=[gate.as_dict() for gate in gates],
                risks_confirmed=[gate.name for gate in risks],
            )
    except IntegrityError:
        raise ValidationError("You have already decided on this release.") from None
    audit_record(
        actor=actor,
        action="release.approve",
        target=release,
        after={
            "rule": str(rule),
            "policy": rule.policy.name,
            "comment": approval.comment,
            "retrospective": retrospective,
            **({"risks_confirmed": approval.risks_confirmed} if risks else {}),
        },
    )
    status.count(approval)
    if status.satisfied and retrospective:
        release.retrospective_done_at = now
        release_save_with_audit_facts(release, ["retrospective_done_at"])
    elif release.state in FINISHED:
        # A decision on a finished release (its retrospective review) changes its audit facts.
        release_save_with_audit_facts(release, [])
    if status.satisfied and not retrospective:
        release = release_transition(
            release=release, to_state=ReleaseState.APPROVED, actor=actor, locked=True
        )
        _schedule(release, actor)
    return approval


@audit_refusals("release.reject", target="release")
@transaction.atomic
def release_reject(*, actor: User, release: Release, comment: str) -> Approval:
    release = lock_release(release.pk)
    now = timezone.now()
    status = approval_status(release, now=now)
    require_action(release, actor, "reject", status=status)
    if not comment or not comment.strip():
        raise ValidationError({"comment": "Say why you reject it: the requester needs to know."})
    rule = rule_for_approver(release, actor, status, rejecting=True)
    approval = Approval.objects.create(
        release=release,
        approver=actor,
        decision=Approval.Decision.REJECT,
        rule=rule,
        comment=comment.strip(),
        gates=[gate.as_dict() for gate in _gates_for_start(release, status, now)],
    )
    audit_record(
        actor=actor,
        action="release.reject",
        target=release,
        after={"rule": str(rule), "policy": rule.policy.name, "comment": approval.comment},
    )
    release_transition(
        release=release,
        to_state=ReleaseState.REJECTED,
        actor=actor,
        reason=comment.strip(),
        locked=True,
    )
    notifications.queue(release, "rejected")
    return approval


@transaction.atomic
def release_cancel(*, actor: User, release: Release, reason: str = "") -> Release:
    release = lock_release(release.pk)
    require_action(release, actor, "cancel")
    return release_transition(
        release=release, to_state=ReleaseState.CANCELLED, actor=actor, reason=reason, locked=True
    )


def _require_ci_identity(actor: User, release: Release) -> None:
    if not permissions.is_service_account(actor):
        raise PermissionDenied(
            "Checks are reported by CI, not by people: use the token of a service account "
            f"that reports for {release.service.owner.slug} (a platform admin creates one)."
        )
    permissions.require(
        permissions.can_report_checks(actor, release.service.owner_id),
        f"Service account {actor.username} does not report checks for "
        f"{release.service.owner.slug}, which owns {release.service.name}.",
    )


@audit_refusals("release.check", target="release")
@transaction.atomic
def release_check_report(
    *,
    actor: User,
    release: Release,
    name: str,
    status: str,
    details_url: str = "",
    summary: str = "",
) -> ReleaseCheck:
    """CI reports an external gate (tests, security scan, provenance). Latest report wins.
    Only a service account scoped to the owning team reports: see can_report_checks."""
    release = lock_release(release.pk)
    _require_ci_identity(actor, release)
    if not release.is_open:
        raise ValidationError(
            f"Release #{release.pk} is {release.get_state_display().lower()}: checks are closed."
        )
    check, _ = ReleaseCheck.objects.get_or_create(
        release=release, name=name.strip(), defaults={"status": status, "reported_by": actor}
    )
    before = {"status": check.status} if check.pk else None
    check.status, check.details_url, check.summary = status, details_url, summary[:300]
    check.reported_by = actor
    check.full_clean(exclude=["release", "reported_by"])
    check.save()
    audit_record(
        actor=actor,
        action="release.check",
        target=release,
        before=before,
        after={"check": check.name, "status": check.status, "url": details_url},
    )
    return check


BREAK_GLASS_MIN_REASON = 20


@audit_refusals("release.break_glass", target="release")
@transaction.atomic
def release_break_glass(*, actor: User, release: Release, reason: str) -> Release:
    """Let an emergency change to production start without an independent approval, on the
    actor's word: the reason is kept, leadership and platform admins are paged (through the
    outbox) and the retrospective review becomes due. It does not start the release: the
    scheduler or "Start rollout now" does, through release_begin's gates as always."""
    release = lock_release(release.pk)
    require_action(release, actor, "break_glass")
    reason = (reason or "").strip()
    if len(reason) < BREAK_GLASS_MIN_REASON:
        raise ValidationError(
            {
                "reason": f"Say why this cannot wait for an independent approval "
                f"(at least {BREAK_GLASS_MIN_REASON} characters): the people paged read it."
            }
        )
    paged = notifications.pager_recipients()
    glass = BreakGlass.objects.create(
        release=release, actor=actor, reason=reason, paged=[person.username for person in paged]
    )
    if release.retrospective_due_at is None:
        policies = approval_status(release, now=timezone.now()).policies
        release.retrospective_due_at = _retrospective_due(policies)
        release.save(update_fields=["retrospective_due_at", "updated_at"])
    audit_record(
        actor=actor,
        action="release.break_glass",
        target=release,
        after={
            "reason": reason,
            "paged": glass.paged,
            "retrospective_due_at": release.retrospective_due_at,
        },
    )
    notifications.queue(release, "break_glass")
    return release


def _retrospective_due(policies: list[ApprovalPolicy]) -> datetime:
    days = max((policy.retrospective_days for policy in policies), default=2)
    return timezone.now() + timedelta(days=days)


@transaction.atomic
def release_begin(
    *,
    release: Release,
    actor: User | None = None,
    now: datetime | None = None,
    as_steerer: bool = False,
    approval: ApprovalStatus | None = None,
) -> tuple[bool, Release]:
    """Start a due release if every gate passes now; otherwise hold it and say why. The gates
    are evaluated again here, so a freeze created after approval still stops it.

    A release steered from elsewhere (a train's member) is neither started nor held here:
    what steers it starts it, in its own order, by passing `as_steerer=True`; that is the
    one way such a release starts. `approval` is then the approval status to gate on (the
    train's approvals); by default the release's own."""
    release = lock_release(release.pk)
    now = now or timezone.now()
    if not as_steerer and steered_by(release):
        return False, release
    if release.state not in (ReleaseState.SCHEDULED, ReleaseState.PENDING_APPROVAL):
        return False, release
    if release.state == ReleaseState.PENDING_APPROVAL and not (
        release.is_emergency and release.justification
    ):
        return False, release
    gates = readiness(release, now=now, status=approval)
    first_outcome_record(release, gates, now)
    failures = blocking_failures(gates)
    if failures:
        releases_hold(releases=[release], reasons={release.pk: hold_reason(failures)}, actor=actor)
        return False, release
    release.hold_reason = ""
    release.artifact_verified = artifact_verified(gates)
    release.save(update_fields=["hold_reason", "artifact_verified", "updated_at"])
    release = release_transition(
        release=release,
        to_state=ReleaseState.IN_PROGRESS,
        actor=actor,
        locked=True,
        gates=[gate.as_dict() for gate in gates],
    )
    notifications.queue(release, "started")
    return True, release


def releases_hold(
    *, releases: list[Release], reasons: dict[int, str], actor: User | None = None
) -> None:
    """Say on each release why it waits (`reasons` by id), recorded and audited once per
    reason, not at every attempt: in a few queries whatever their number."""
    said = {pk: reason[:300] for pk, reason in reasons.items()}
    changed = [release for release in releases if said[release.pk] != release.hold_reason]
    if not changed:
        return
    now = timezone.now()
    for release in changed:
        release.hold_reason, release.updated_at = said[release.pk], now
    bulk_save(changed, ["hold_reason", "updated_at"])
    audit_records(
        actor=actor,
        action="release.hold",
        targets=[(release, None, {"reason": release.hold_reason}) for release in changed],
    )


def releases_begin_steered(
    *, releases: list[Release], approval: ApprovalStatus, scheduled: dict[int, str]
) -> tuple[list[Release], dict[int, str]]:
    """release_begin for approved releases that what steers them (a train) starts together:
    each scheduled (`scheduled`, the reason by id) and begun, as its steerer's start of it
    alone would, if every gate passes with `approval`. The same gates, read for all of them at
    once (PrefetchedGateFacts): the releases come locked by the caller, with their service and
    environment, their checks and commits prefetched. A release its gates hold stays approved
    (its first supply-chain outcome kept). Returns the releases begun, and the reasons of those
    held by id, for the caller to record (releases_hold) with its own refusals."""
    now = timezone.now()
    facts = PrefetchedGateFacts(releases, now=now)
    gates_of = {
        release.pk: readiness(release, now=now, status=approval, facts=facts)
        for release in releases
    }
    first_outcomes_record([(release, gates_of[release.pk]) for release in releases], now)
    held = {
        release.pk: hold_reason(failures)
        for release in releases
        if (failures := blocking_failures(gates_of[release.pk]))
    }
    begun = [release for release in releases if release.pk not in held]
    releases_transition(
        releases=begun, to_state=ReleaseState.SCHEDULED, actor=None, reasons=scheduled
    )
    for release in begun:
        release.hold_reason = ""
        release.artifact_verified = artifact_verified(gates_of[release.pk])
    rows = releases_transition(
        releases=begun,
        to_state=ReleaseState.IN_PROGRESS,
        actor=None,
        reasons={},
        gates={pk: [gate.as_dict() for gate in gates] for pk, gates in gates_of.items()},
        also=("hold_reason", "artifact_verified"),
    )
    notifications.queue_many([(r, row.pk) for r, row in zip(begun, rows, strict=True)], "started")
    return begun, held


@transaction.atomic
def release_finish(
    *, release: Release, outcome: str, actor: User | None = None, reason: str = ""
) -> Release:
    if outcome not in (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK):
        raise ValidationError(f"{outcome!r} is not how a release finishes.")
    release = release_transition(release=release, to_state=outcome, actor=actor, reason=reason)
    notifications.queue(release, "finished")
    return release


def releases_due_start(*, limit: int = 200) -> list[int]:
    """Start every due release whose gates pass; hold the others with the reason on the
    release (release_begin, one transaction each). The rollouts app picks up releases once
    they are in progress. Returns the ids of the releases started."""
    started = []
    for release_id in selectors.releases_due().values_list("pk", flat=True)[:limit]:
        ok, _ = release_begin(release=Release(pk=release_id))
        if ok:
            started.append(release_id)
    return started


# --- Approval policies --------------------------------------------------------------------


@transaction.atomic
def approval_policy_create(*, actor: User, rules: list[dict], **fields) -> ApprovalPolicy:
    """A policy with its rules: each rule {name, required_count, team, role, users}."""
    permissions.require(
        permissions.is_platform_admin(actor), "Only platform admins define approval policies."
    )
    policy = ApprovalPolicy(**fields)
    if not policy.environment_kind and policy.environment_id is None:
        raise ValidationError({"environment_kind": "Name an environment kind or an environment."})
    policy.full_clean()
    if not rules:
        raise ValidationError({"rules": "A policy needs at least one rule."})
    policy.save()
    for number, spec in enumerate(rules, start=1):
        spec = dict(spec)
        users = spec.pop("users", [])
        rule = ApprovalRule(policy=policy, **spec)
        if not (rule.team_id or rule.role or users):
            raise ValidationError({"rules": f"Rule {number} names no eligible group."})
        if rule.role and rule.role not in Role.values:
            raise ValidationError({"rules": f"Rule {number}: unknown role {rule.role!r}."})
        rule.full_clean(exclude=["policy"])
        rule.save()
        rule.users.set(users)
    audit_record(
        actor=actor,
        action="approval_policy.create",
        target=policy,
        after={
            **snapshot(
                policy,
                (
                    "name",
                    "environment_kind",
                    "environment",
                    "tier",
                    "change_type",
                    "separation_of_duties",
                    "require_known_authors",
                    "wait_minutes",
                    "approval_ttl_hours",
                    "required_checks",
                ),
            ),
            "rules": [str(rule) for rule in policy.rules.all()],
        },
    )
    return policy


@transaction.atomic
def release_promote(
    *, actor: User, release: Release, submit: bool = False, automatically: bool = False
) -> Release:
    """Ask the next environment for the same version and commits as `release`, which succeeded:
    a new draft (submitted when `submit`), under that environment's own rules. The source row is
    locked, so two clicks at once promote once. `automatically`: Runway asks, not a person
    (release_auto_promote)."""
    release = lock_release(release.pk)
    _require_requester_rights(actor, release.service)
    target = next_environment(release)
    refusal = promotion_refusal(release, target)
    if refusal:
        # Already asked of the next environment is a 409; anything else the client's to fix.
        error = Conflict if refusal[0] == "environment" and target else ValidationError
        raise error({refusal[0]: refusal[1]})
    assert target is not None  # promotion_refusal says so otherwise
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    promoted = release_create(
        actor=actor,
        service=release.service,
        environment=target,
        version=release.version,
        title=release.title,
        description=release.description,
        planned_start=start,
        planned_end=start + (release.planned_end - release.planned_start),
        commits=[
            {"sha": c.sha, "author": c.author, "message": c.message, "committed_at": c.committed_at}
            for c in release.commits.all()
        ],
        links=release.links,
        promoted_from=release,
        promoted_automatically=automatically,
    )
    after = {"release": promoted.pk, "environment": target.name, "version": release.version}
    if automatically:
        # Who asked for what Runway promotes: the person behind the change.
        after |= {"automatically": True, "requested_by": release.requester.username}
    audit_record(
        actor=actor,
        action="release.promote",
        target=promoted,
        before={"release": release.pk, "environment": release.environment.name},
        after=after,
    )
    return release_submit(actor=actor, release=promoted) if submit else promoted


@transaction.atomic(durable=True)
def release_auto_promote(*, release: Release, now: datetime | None = None) -> Release:
    """Runway's own promotion of `release`, asked by its account and submitted for approval
    like any other (windows and freezes apply). Its own transaction: refused or crashed, it
    leaves nothing behind. The source row is locked before anything is read, so two runs at
    once promote once; what the beat's selector saw is checked again under the lock."""
    release = lock_release(release.pk)
    refuse_if_steered(release)
    refusal = auto_promotion_refusal(release, now=now or timezone.now())
    if refusal:
        raise Conflict(refusal)
    promoted = release_promote(
        actor=system_account(), release=release, submit=True, automatically=True
    )
    if release.auto_promotion_hold:
        release.auto_promotion_hold = ""
        release.save(update_fields=["auto_promotion_hold", "updated_at"])
    return promoted


def _record_auto_promotion_hold(release_id: int, error: Exception) -> None:
    """Why Runway held the release back, on the release, for the people concerned to read on
    its page. Its own small write: the refused promotion rolled back with everything it wrote.
    Not audited, like hold_reason: nothing about the release changed, only what Runway says."""
    reason = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    reason = reason[: Release._meta.get_field("auto_promotion_hold").max_length]
    Release.objects.filter(pk=release_id).update(
        auto_promotion_hold=reason, auto_promotion_tried_at=timezone.now()
    )


def releases_auto_promote(*, limit: int = 50, now: datetime | None = None) -> list[int]:
    """Beat, every minute: promote the next `limit` releases that are due for an automatic
    promotion (auto_promotion_candidates), each in its own transaction. A refusal (a freeze over
    the planned time, something changed since the selector looked) is recorded on the release,
    which a later run tries again, after the others. Returns the ids of the new releases."""
    now = now or timezone.now()
    promoted = []
    for release_id in auto_promotion_candidates(now=now).values_list("pk", flat=True)[:limit]:
        try:
            promoted.append(release_auto_promote(release=Release(pk=release_id), now=now).pk)
        except (ValidationError, PermissionDenied) as exc:
            logger.info("Release %s not promoted automatically: %s", release_id, exc)
            _record_auto_promotion_hold(release_id, exc)
    return promoted
