"""Every write to trains. One user intent, one transaction: a train's members are ordinary
releases, created, approved and cancelled through the releases' own services and transitions
in the train's transaction."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record, audit_refusals
from apps.catalog.models import Environment, Service
from apps.core import outbox
from apps.releases.models import ChangeWindow, Freeze, Release, ReleaseState
from apps.releases.services import release_create
from apps.releases.transitions import ALLOWED as RELEASE_ALLOWED
from apps.releases.transitions import release_transition
from apps.releases.windows import verdict_among
from apps.trains import selectors
from apps.trains.models import (
    MAX_MEMBERS,
    MIN_MEMBERS,
    RollbackPolicy,
    Train,
    TrainApproval,
    TrainMember,
    TrainState,
)
from apps.trains.planning import PlanCycle
from apps.trains.policies import approval_ttl, train_approval_status, train_rule_for_approver
from apps.trains.transitions import (
    EXECUTING,
    lock_train,
    may_request_trains,
    require_action,
    train_transition,
)


def train_members_check(*, environment_name: str, members: list[dict]) -> dict[str, Environment]:
    """The members' environments by service name, or a ValidationError on `members` naming the
    problem: too few or too many, a service twice, an unknown service, a service without the
    environment. Two queries whatever the number of members."""
    names = [str(member.get("service", "")).strip() for member in members]
    if len(names) < MIN_MEMBERS or len(names) > MAX_MEMBERS:
        raise ValidationError(
            {
                "members": f"A train has {MIN_MEMBERS} to {MAX_MEMBERS} members; "
                f"this one has {len(names)}."
            }
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValidationError({"members": f"Each service once: {', '.join(twice)} twice."})
    environments = {
        environment.service.name: environment
        for environment in Environment.objects.select_related("service__owner").filter(
            service__name__in=names, name=environment_name
        )
    }
    missing = [name for name in names if name not in environments]
    if missing:
        known = set(Service.objects.filter(name__in=missing).values_list("name", flat=True))
        unknown = [name for name in missing if name not in known]
        if unknown:
            raise ValidationError({"members": f"No service is called {', '.join(unknown)}."})
        raise ValidationError(
            {
                "members": f"{', '.join(missing)} "
                f"{'has' if len(missing) == 1 else 'have'} no environment called "
                f"“{environment_name}”."
            }
        )
    return environments


def train_plan(*, environment_name: str, members: list[dict]) -> list[list[str]]:
    """The waves a train of these members would roll out in, or a ValidationError (a cycle,
    on `members`). Writes nothing."""
    environments = train_members_check(environment_name=environment_name, members=members)
    return _plan(list(environments))


def _plan(service_names: list[str]) -> list[list[str]]:
    try:
        return selectors.plan_for(service_names)
    except PlanCycle as cycle:
        raise ValidationError({"members": cycle.messages}) from None


# What a promotion carries over to each member's new release, besides version and commits.
PROMOTED_FIELDS = ("description", "links", "change_type", "justification")


@transaction.atomic
def train_create(
    *,
    actor: User,
    name: str,
    environment_name: str,
    planned_start: datetime,
    planned_end: datetime,
    members: list[dict],
    max_parallel: int = 5,
    rollback_policy: str = RollbackPolicy.LEAVE,
) -> Train:
    """A draft train and one draft release per member (each {service, version, title?,
    commits?}, and for a promotion the source's description, links and emergency), with its
    plan. Refused whole: nothing is saved when any member is."""
    permissions.require(
        may_request_trains(actor), "Only developers of a team and platform admins request trains."
    )
    environments = train_members_check(environment_name=environment_name, members=members)
    plan = _plan(list(environments))
    train = Train(
        name=(name or "").strip(),
        environment_name=environment_name,
        requested_by=actor,
        max_parallel=max_parallel,
        rollback_policy=rollback_policy,
        plan=plan,
    )
    train.full_clean(exclude=["requested_by"])
    train.save()
    memberships = []
    for member in members:
        service_name = str(member["service"]).strip()
        environment = environments[service_name]
        version = str(member.get("version", "")).strip()
        try:
            release = release_create(
                actor=actor,
                service=environment.service,
                environment=environment,
                version=version,
                title=member.get("title") or f"{train.name}: {service_name} {version}"[:200],
                planned_start=planned_start,
                planned_end=planned_end,
                commits=member.get("commits") or [],
                **{field: member[field] for field in PROMOTED_FIELDS if field in member},
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise ValidationError({"members": f"{service_name}: {problems}"}) from None
        memberships.append(TrainMember(train=train, release=release, service_name=service_name))
    TrainMember.objects.bulk_create(memberships)
    audit_record(
        actor=actor,
        action="train.create",
        target=train,
        after={
            "name": train.name,
            "environment": environment_name,
            "max_parallel": train.max_parallel,
            "rollback_policy": train.rollback_policy,
            "members": {m.service_name: m.release_id for m in memberships},
            "plan": plan,
        },
    )
    return train


@transaction.atomic
def train_submit(*, actor: User, train: Train) -> Train:
    """Submit a draft for approval; a train no policy covers is approved at once."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    require_action(train, actor, "submit", members=members)
    _refuse_if_window_closed(members)
    train.plan = _plan([release.service.name for release in members])
    train.save(update_fields=["plan", "updated_at"])
    train = train_transition(train=train, to_state=TrainState.SUBMITTED, actor=actor, locked=True)
    status = train_approval_status(train, members, now=timezone.now())
    if not status.required:
        train = _approve(train, members, actor, reason=status.summary())
    return train


def _refuse_if_window_closed(members: list[Release]) -> None:
    """At submission, as for a release: a freeze or a closed window over any member's planned
    time refuses the train, naming each member it stops. Freezes and windows are read once."""
    start = min(release.planned_start for release in members)
    end = max(release.planned_end for release in members)
    freezes = list(Freeze.objects.in_force().overlapping(start, end))
    windows = list(ChangeWindow.objects.in_force())
    closed = []
    for release in members:
        verdict = verdict_among(
            release.service,
            release.environment,
            release.planned_start,
            release.planned_end,
            freezes=freezes,
            windows=windows,
        )
        if not verdict.allowed:
            closed.append(f"{release.service.name}: {verdict.reason}")
    if closed:
        raise ValidationError({"planned_start": f"{'; '.join(closed)}. Choose another time."})


# Executing the waves is the rollouts app's work (apps/rollouts/trains.py): the train asks for
# a step by the task's name, so this app imports nothing of it.
TRAIN_STEP_TASK = "rollouts.train_step"


def train_step_request(train: Train, *, why: str) -> None:
    """Ask for a step of the executor once this transaction commits (through the outbox, so a
    broker that is down loses nothing; a reconciler sends steps of executing trains again)."""
    outbox.enqueue(TRAIN_STEP_TASK, args=[train.pk], kwargs={"why": why})


def _start(train: Train, members: list[Release], actor: User | None, *, reason: str) -> Train:
    train = train_transition(
        train=train, to_state=TrainState.RUNNING, actor=actor, reason=reason, locked=True
    )
    train_step_request(train, why="started")
    return train


def _approve(train: Train, members, actor: User, *, reason: str = "") -> Train:
    """Freeze the plan, approve the train and every member release, in the caller's
    transaction. The members wait in `approved`: executing the waves schedules them. A train
    whose planned start has come runs at once; a later one when it is due, or by hand."""
    train.plan = _plan([release.service.name for release in members])
    train.plan_frozen_at = timezone.now()
    train.save(update_fields=["plan", "plan_frozen_at", "updated_at"])
    train = train_transition(
        train=train, to_state=TrainState.APPROVED, actor=actor, reason=reason, locked=True
    )
    for release in members:
        release_transition(
            release=release,
            to_state=ReleaseState.APPROVED,
            actor=actor,
            reason=f"Approved with train #{train.pk}",
        )
    if min(release.planned_start for release in members) <= timezone.now():
        train = _start(train, members, actor, reason="Approved, and its planned start has come")
    return train


@transaction.atomic
def train_start(*, actor: User | None, train: Train) -> Train:
    """Run an approved train now: its first wave's members start (the executor's step). With
    no actor, Runway starts a train whose planned start has come."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    if actor is not None:
        require_action(train, actor, "start", members=members)
    reason = "Started by hand" if actor is not None else "Its planned start has come"
    train = _start(train, members, actor, reason=reason)
    audit_record(actor=actor, action="train.start", target=train, after={"reason": reason})
    return train


@transaction.atomic
def train_rollback(*, actor: User, train: Train, reason: str = "") -> Train:
    """Roll a halted train's succeeded members back, last wave first (the executor's steps)."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    require_action(train, actor, "rollback", members=members)
    why = (reason or "").strip() or "Rolled back by hand"
    train = train_transition(
        train=train, to_state=TrainState.ROLLING_BACK, actor=actor, reason=why, locked=True
    )
    audit_record(actor=actor, action="train.rollback", target=train, after={"reason": why})
    train_step_request(train, why="rollback")
    return train


@audit_refusals("train.approve", target="train")
@transaction.atomic
def train_approve(*, actor: User, train: Train, comment: str = "") -> TrainApproval:
    """Approve under the first group of the union policy the approver is eligible for that
    still needs approvals. Concurrent approvers serialise on the train row; the one whose
    approval completes the policy approves the train and its members."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    now = timezone.now()
    status = train_approval_status(train, members, now=now)
    require_action(train, actor, "approve", members=members, status=status)
    rule = train_rule_for_approver(train, members, actor, status)
    try:
        with transaction.atomic():
            approval = TrainApproval.objects.create(
                train=train,
                approver=actor,
                decision=TrainApproval.Decision.APPROVE,
                rule=rule,
                comment=(comment or "").strip(),
                expires_at=now + approval_ttl(status),
            )
    except IntegrityError:
        raise ValidationError("You have already decided on this train.") from None
    audit_record(
        actor=actor,
        action="train.approve",
        target=train,
        after={"rule": str(rule), "policy": rule.policy.name, "comment": approval.comment},
    )
    for rule_status in status.rules:
        if rule_status.rule.pk == rule.pk:
            rule_status.approvers.append(actor.username)
    if status.satisfied:
        _approve(train, members, actor, reason=status.summary())
    return approval


@audit_refusals("train.reject", target="train")
@transaction.atomic
def train_reject(*, actor: User, train: Train, comment: str) -> TrainApproval:
    """Reject the train, saying why; its member releases are cancelled with it."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    status = train_approval_status(train, members, now=timezone.now())
    require_action(train, actor, "reject", members=members, status=status)
    if not comment or not comment.strip():
        raise ValidationError({"comment": "Say why you reject it: the requester needs to know."})
    rule = train_rule_for_approver(train, members, actor, status, rejecting=True)
    approval = TrainApproval.objects.create(
        train=train,
        approver=actor,
        decision=TrainApproval.Decision.REJECT,
        rule=rule,
        comment=comment.strip(),
    )
    audit_record(
        actor=actor,
        action="train.reject",
        target=train,
        after={"rule": str(rule), "policy": rule.policy.name, "comment": approval.comment},
    )
    train_transition(
        train=train, to_state=TrainState.REJECTED, actor=actor, reason=comment.strip(), locked=True
    )
    _cancel_members(train, members, actor, reason=f"Train #{train.pk} was rejected")
    return approval


@transaction.atomic
def train_cancel(*, actor: User, train: Train, reason: str = "") -> Train:
    """Cancel the train and every member release not yet finished: members that have not
    started are cancelled here, rollouts under way are aborted by the executor's step."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    require_action(train, actor, "cancel", members=members)
    was_executing = train.state in EXECUTING
    train = train_transition(
        train=train, to_state=TrainState.CANCELLED, actor=actor, reason=reason, locked=True
    )
    _cancel_members(train, members, actor, reason=f"Train #{train.pk} was cancelled")
    if was_executing:
        train_step_request(train, why="cancelled")
    return train


def _cancel_members(train: Train, members, actor: User, *, reason: str) -> None:
    for release in members:
        if ReleaseState.CANCELLED in RELEASE_ALLOWED[release.state]:
            release_transition(
                release=release, to_state=ReleaseState.CANCELLED, actor=actor, reason=reason
            )


@transaction.atomic(durable=True)
def train_request(*, actor: User, submit: bool, **arguments) -> Train:
    """What a person asks for on the form or through the API: a train, submitted right away
    when `submit` is set, in one transaction. `arguments` are train_create's."""
    train = train_create(actor=actor, **arguments)
    if submit:
        train = train_submit(actor=actor, train=train)
    return train
