"""Runway's own releases in the demo history (apps.demo.history): the changes that went through
Runway become releases with their commits, approvals under the active policies, CI checks,
state transitions and rollouts (with their steps). The finishing transitions are what the
reports record (apps.insights.services.runway), as for live releases.

They are history, written directly with the models rather than through the workflow (which
would stamp every row with today), and consistent with the models' constraints. The stories
the platform KPIs look for are chosen here: rollbacks Runway did itself and ones people asked
for (one of which failed before a second attempt worked), an emergency change reviewed
afterwards, interventions on rollouts, and two releases with gaps in their evidence."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Model

from apps.accounts.models import User
from apps.accounts.permissions import team_ids_of
from apps.catalog.models import Environment, Service, Strategy
from apps.demo import supply_chain
from apps.insights.models import DeploymentResult
from apps.releases.audit_facts import audit_facts_record
from apps.releases.models import (
    Approval,
    ChangeType,
    Release,
    ReleaseCheck,
    ReleaseCommit,
    ReleaseState,
    ReleaseTransition,
)
from apps.releases.policies import active_policies, applicable_policies, is_eligible
from apps.rollouts import plans
from apps.rollouts.models import Rollout, RolloutState, RolloutStep, StepState

if TYPE_CHECKING:
    from apps.demo.history_plan import Change, Incident

AUTO, MANUAL, FAILED_FIRST = "auto_rollback", "manual_rollback", "failed_rollback"
STAGING_SKIPPED = "skipped"
# The rows whose moment bulk_create would set to now (auto_now, auto_now_add).
MOMENTS = {Approval: "created_at", ReleaseCheck: "reported_at", ReleaseTransition: "at"}


def releases_write(
    *, rng, changes: list[Change[Service]], incidents: list[Incident[Service]], now: datetime
) -> list[Release]:
    """The releases of `changes` (staging and production), with everything that hangs off
    them."""
    if not changes:
        return []
    _choose_stories(rng, [c for c in changes if c.production], incidents)
    users = list(User.objects.filter(is_active=True, is_service_account=False).order_by("username"))
    writer = _ReleaseWriter(rng, users, {change.service for change in changes})
    for change in sorted(changes, key=lambda c: c.started_at):
        if change.runway_kind != STAGING_SKIPPED:
            writer.add(change, now)
    return writer.save()


def _choose_stories(
    rng, production: list[Change[Service]], incidents: list[Incident[Service]]
) -> None:
    if not production:
        return
    for change in production:
        if change.rolled_back_at is not None:
            late = change.rolled_back_at - change.finished_at > timedelta(minutes=15)
            change.runway_kind = MANUAL if late else AUTO
    caused = {id(incident.cause) for incident in incidents}
    settled = max(c.finished_at for c in production) - timedelta(days=2)
    calm = [
        c
        for c in production
        if c.result == DeploymentResult.SUCCEEDED
        and id(c) not in caused
        and c.previous is not None
        and c.finished_at < settled
    ]
    rng.shuffle(calm)
    for kind in (AUTO, MANUAL):  # at least two of each
        while sum(c.runway_kind == kind for c in production) < 2 and calm:
            change = calm.pop()
            change.result, change.runway_kind = DeploymentResult.ROLLED_BACK, kind
            change.rolled_back_at = (
                change.finished_at + timedelta(minutes=rng.uniform(2, 6))
                if kind == AUTO
                else change.finished_at
                + (change.finished_at - change.started_at)
                + timedelta(minutes=rng.uniform(30, 150))
            )
    manual = [c for c in production if c.runway_kind == MANUAL]
    if manual:
        manual[0].runway_kind = FAILED_FIRST
    emergency = next((c for c in calm if c.staged is not None), None)
    if emergency is not None:
        emergency.emergency = True
        emergency.staged.runway_kind = STAGING_SKIPPED  # straight to production
        calm.remove(emergency)
    for change, gap in zip(calm, ("unreported", "pending"), strict=False):
        change.evidence_gap = gap


class _ReleaseWriter:
    """Collects the rows and writes them in a few statements per model; the rows' automatic
    timestamps (created_at, reported_at, at) are put back to their moment afterwards."""

    def __init__(self, rng, users: list[User], services):
        self.rng, self.users, self.policies = rng, users, active_policies()
        # Checks come from CI: the service account reporting for the owning team, if any.
        self.ci_for = {
            team.pk: account
            for account in User.objects.filter(is_service_account=True, is_active=True)
            .order_by("-username")
            .prefetch_related("reports_checks_for")
            for team in account.reports_checks_for.all()
        }
        self.environments = {
            (environment.service_id, environment.kind): environment
            for environment in Environment.objects.filter(service__in=services)
        }
        self.releases: list[Release] = []
        self.rows: dict[type[Model], list] = {
            model: [] for model in (ReleaseCommit, Approval, ReleaseCheck, ReleaseTransition)
        }
        self.rollouts: list[Rollout] = []
        self.steps: list[tuple[Rollout, list[RolloutStep]]] = []

    def add(self, change: Change[Service], now: datetime) -> None:
        service = change.service
        requester = self._requester(service)
        created = change.started_at - timedelta(
            hours=self.rng.uniform(3, 30) if change.production else 0.5
        )
        release = Release(
            service=service,
            environment=self.environments[service.pk, change.environment_kind],
            version=change.version,
            title=f"{service.title or service.name} {change.semver}",
            change_type=ChangeType.EMERGENCY if change.emergency else ChangeType.NORMAL,
            justification="Customers are failing now: the fix cannot wait for approval."
            if change.emergency
            else "",
            planned_start=change.started_at,
            planned_end=change.started_at + timedelta(hours=1),
            requester=requester,
            submitted_at=created + timedelta(minutes=5),
            started_at=change.started_at,
            finished_at=change.rolled_back_at or change.finished_at,
            state=ReleaseState.ROLLED_BACK if change.rolled_back_at else ReleaseState.SUCCEEDED,
        )
        release.created_at = created
        if change.production and service.owner.slug == supply_chain.SIGNING_TEAM:
            self._signed(release, change, now)
        policies = applicable_policies(release, self.policies)
        approvals = []
        if change.emergency:
            # It started before approval; the approvals came with the review, if it happened.
            release.retrospective_due_at = release.submitted_at + timedelta(days=2)
            reviewed = release.retrospective_due_at + timedelta(days=self.rng.uniform(-1, 4))
            if reviewed < now:
                approvals = self._approvals(release, policies, change.finished_at, reviewed)
                release.retrospective_done_at = reviewed
        else:
            approvals = self._approvals(
                release, policies, release.submitted_at, change.started_at - timedelta(minutes=5)
            )
            release.approved_at = approvals[-1].created_at if approvals else release.submitted_at
        self.releases.append(release)
        self.rows[ReleaseCommit] += [
            ReleaseCommit(
                release=release,
                sha=sha,
                author=f"{requester.username}@runway.example",
                message=f"Change {index} for {change.semver}",
                committed_at=committed_at,
            )
            for index, (sha, committed_at) in enumerate(change.commits, start=1)
        ]
        self.rows[Approval] += approvals
        self.rows[ReleaseCheck] += self._checks(release, change, policies)
        self.rows[ReleaseTransition] += _transitions(release, change, approvals)
        self._rollouts(release, change, requester)

    def _signed(self, release: Release, change: Change[Service], now: datetime) -> None:
        """Since the team began signing, its production releases started verified; one first
        attempt in six (by the version, not the shared random draws) came before CI had
        uploaded the signature, and passed at a later attempt."""
        if change.started_at < now - supply_chain.SIGNING_FOR:
            return
        first_failed = int(hashlib.sha256(change.version.encode()).hexdigest(), 16) % 6 == 0
        release.artifact_verified = True
        release.supply_chain_first_passed = not first_failed
        release.supply_chain_first_at = change.started_at - timedelta(
            minutes=40 if first_failed else 5
        )

    def _requester(self, service) -> User:
        members = [u for u in self.users if service.owner_id in team_ids_of(u)]
        return self.rng.choice(members or self.users)

    def _approvals(self, release: Release, policies, start, end) -> list[Approval]:
        """Approvers eligible under each rule, never the requester, between start and end."""
        chosen, taken = [], {release.requester.pk}
        for policy in policies:
            for rule in policy.rules.all():
                eligible = [u for u in self.users if u.pk not in taken and is_eligible(rule, u)]
                for approver in self.rng.sample(eligible, min(rule.required_count, len(eligible))):
                    taken.add(approver.pk)
                    chosen.append((policy, rule, approver))
        moments = sorted(start + (end - start) * self.rng.uniform(0.1, 0.9) for _ in chosen)
        approvals = []
        for (policy, rule, approver), moment in zip(chosen, moments, strict=True):
            approval = Approval(
                release=release,
                approver=approver,
                decision=Approval.Decision.APPROVE,
                rule=rule,
                is_retrospective=release.change_type == ChangeType.EMERGENCY,
                expires_at=moment + timedelta(hours=policy.approval_ttl_hours),
            )
            approval.created_at = moment
            approvals.append(approval)
        return approvals

    def _checks(self, release: Release, change: Change[Service], policies) -> list[ReleaseCheck]:
        """The policies' required checks, passed; "unreported": CI never reported them;
        "pending": a security scan was still running when the release went out."""
        if not change.production or change.evidence_gap == "unreported":
            return []
        statuses = {
            name: ReleaseCheck.Status.PASSED for p in policies for name in p.required_checks
        }
        if change.evidence_gap == "pending":
            statuses["security-scan"] = ReleaseCheck.Status.PENDING
        build = f"https://ci.example.com/{release.service.name}/{change.commits[-1][0][:8]}"
        checks = []
        for name, status in sorted(statuses.items()):
            check = ReleaseCheck(
                release=release,
                name=name,
                status=status,
                details_url=build,
                reported_by=self.ci_for.get(release.service.owner_id),
            )
            check.reported_at = release.submitted_at - timedelta(minutes=2)
            checks.append(check)
        return checks

    def _rollouts(self, release: Release, change: Change[Service], requester: User) -> None:
        service = release.service
        steps = plans.plan(service.strategy, service.strategy_params)
        rollout = _rollout(
            release,
            image=release.version,
            previous_image=change.previous.version if change.previous else "",
            state=RolloutState.SUCCEEDED,
            current_step=len(steps),
            weight=100 if service.strategy == Strategy.CANARY else 0,
            started_at=change.started_at,
            finished_at=change.finished_at,
            # A blue/green rollout without automatic promotion waits for a person to promote.
            manual_interventions=int(
                service.strategy == Strategy.BLUE_GREEN
                and not service.strategy_params.get("auto_promotion")
            ),
        )
        failed_at = None
        if change.runway_kind == AUTO:
            analyses = [index for index, (kind, _) in enumerate(steps) if kind == "analysis"]
            failed_at = analyses[0] if analyses else max(len(steps) - 2, 0)
            rollout.state, rollout.current_step = RolloutState.ROLLED_BACK, failed_at
            rollout.failure_detected_at = (
                change.started_at + (rollout.finished_at - rollout.started_at) * 0.7
            )
            rollout.finished_at = change.rolled_back_at
            rollout.failure_reason = (
                f"Analysis {steps[failed_at][1]['template']} failed: 2 of 3 measurements failed"
                if analyses
                else "Pods not ready after 300 s: CrashLoopBackOff"
            )
        elif service.strategy == Strategy.ROLLING and self.rng.random() < 0.15:
            rollout.manual_interventions += 1  # paused to look, then resumed
        self.rollouts.append(rollout)
        self.steps.append((rollout, _steps(rollout, steps, failed_at)))
        if change.runway_kind not in (MANUAL, FAILED_FIRST):
            return
        attempts = [(timedelta(minutes=4), RolloutState.SUCCEEDED)]
        if change.runway_kind == FAILED_FIRST:
            attempts.insert(0, (timedelta(minutes=25), RolloutState.FAILED))
        for before, state in attempts:
            started = change.rolled_back_at - before
            rollback = _rollout(
                release,
                image=rollout.previous_image,
                state=state,
                is_rollback=True,
                rolls_back=rollout,
                started_by=requester,
                started_at=started,
                finished_at=started + timedelta(minutes=3),
                manual_interventions=1,
                failure_reason=f"Manual rollback by {requester.username}: errors after the release",
            )
            if state == RolloutState.FAILED:
                rollback.failure_detected_at = rollback.finished_at
                rollback.failure_reason += (
                    "; rollback failed: Kubernetes refused the rollback: admission webhook "
                    "denied the request"
                )
            self.rollouts.append(rollback)

    def save(self) -> list[Release]:
        _bulk_create_dated(Release, self.releases, "created_at")
        ReleaseCommit.objects.bulk_create(self.rows.pop(ReleaseCommit), batch_size=500)
        for model, rows in self.rows.items():
            _bulk_create_dated(model, rows, MOMENTS[model])
        # As the finished ones would have kept them, once their approvals and checks exist.
        audit_facts_record(Release.objects.filter(pk__in=[release.pk for release in self.releases]))
        originals = [r for r in self.rollouts if not r.is_rollback]
        _bulk_create_dated(Rollout, originals, "created_at")
        rollbacks = [r for r in self.rollouts if r.is_rollback]
        _bulk_create_dated(Rollout, rollbacks, "created_at")  # they name their original
        RolloutStep.objects.bulk_create(
            [step for rollout, steps in self.steps for step in _attached(rollout, steps)],
            batch_size=500,
        )
        return self.releases


def _rollout(release: Release, **fields) -> Rollout:
    environment = release.environment
    rollout = Rollout(
        release=release,
        service=release.service,
        environment=environment,
        cluster=environment.cluster,
        namespace=environment.namespace,
        strategy=release.service.strategy,
        replicas=environment.replicas,
        **fields,
    )
    rollout.created_at = rollout.started_at
    return rollout


def _steps(rollout: Rollout, steps, failed_at: int | None) -> list[RolloutStep]:
    """The plan's steps, spread over the rollout: all done, or done up to the one that failed
    (the rest never ran)."""
    end = rollout.failure_detected_at if failed_at is not None else rollout.finished_at
    share = (end - rollout.started_at) / max(len(steps), 1)
    rows = []
    for index, (kind, params) in enumerate(steps):
        state = (
            StepState.SUCCEEDED
            if failed_at is None or index < failed_at
            else StepState.FAILED
            if index == failed_at
            else StepState.PENDING
        )
        ran = state != StepState.PENDING
        started = rollout.started_at + share * index
        rows.append(
            RolloutStep(
                index=index,
                kind=kind,
                params=params,
                state=state,
                attempts=int(ran),
                started_at=started if ran else None,
                finished_at=started + share if ran else None,
            )
        )
    return rows


def _attached(rollout: Rollout, steps: list[RolloutStep]) -> list[RolloutStep]:
    for step in steps:
        step.rollout = rollout
    return steps


def _bulk_create_dated(model, rows: list, name: str) -> None:
    """bulk_create sets auto_now(_add) fields to now: put each row's moment back after."""
    moments = [getattr(row, name) for row in rows]
    model.objects.bulk_create(rows, batch_size=500)
    for row, moment in zip(rows, moments, strict=True):
        setattr(row, name, moment)
    model.objects.bulk_update(rows, [name], batch_size=500)


def _transitions(release: Release, change: Change[Service], approvals: list[Approval]) -> list:
    S, requester = ReleaseState, release.requester
    edges: list[tuple[str, str, datetime, User | None]]
    if change.emergency:
        edges = [
            (S.DRAFT, S.PENDING_APPROVAL, release.submitted_at, requester),
            (S.PENDING_APPROVAL, S.IN_PROGRESS, release.started_at, requester),
        ]
    else:
        approver = approvals[-1].approver if approvals else None
        edges = [
            (S.DRAFT, S.PENDING_APPROVAL, release.submitted_at, requester),
            (S.PENDING_APPROVAL, S.APPROVED, release.approved_at, approver),
        ]
        if approver is None:  # no policy applied: approved on submission
            edges = [(S.DRAFT, S.APPROVED, release.submitted_at, requester)]
        edges += [
            (S.APPROVED, S.SCHEDULED, release.approved_at, approver or requester),
            (S.SCHEDULED, S.IN_PROGRESS, release.started_at, None),
        ]
    if change.runway_kind in (MANUAL, FAILED_FIRST):
        edges += [
            (S.IN_PROGRESS, S.SUCCEEDED, change.finished_at, None),
            (S.SUCCEEDED, S.ROLLED_BACK, release.finished_at, None),
        ]
    else:
        edges.append((S.IN_PROGRESS, release.state, release.finished_at, None))
    rows = []
    for from_state, to_state, at, actor in edges:
        row = ReleaseTransition(
            release=release, from_state=from_state, to_state=to_state, actor=actor
        )
        row.at = at
        rows.append(row)
    return rows
