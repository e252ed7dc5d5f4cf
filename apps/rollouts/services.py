"""Starting, advancing and steering rollouts. Celery tasks call `rollout_advance` one step at a
time; waiting is re-scheduling, never sleeping. The row lock (skip-locked) makes sure only one
worker moves a rollout at a time, and the reconciler resumes rollouts whose worker died."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.audit.services import audit_record
from apps.releases import services as release_services
from apps.releases.models import Release, ReleaseState
from apps.rollouts import live, plans, steps
from apps.rollouts.kube import Kube, KubeError, KubeUnavailable
from apps.rollouts.models import (
    Deployment,
    Rollout,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    StepState,
)
from apps.rollouts.signals import deployment_recorded

MAX_UNREACHABLE_ATTEMPTS = 8
RUNNABLE = (RolloutState.PENDING, RolloutState.RUNNING, RolloutState.ROLLING_BACK)


def _schedule(rollout: Rollout, delay: float) -> None:
    from apps.rollouts.tasks import advance

    rollout_id = rollout.pk
    transaction.on_commit(lambda: advance.apply_async((rollout_id,), countdown=max(delay, 0)))


def _event(rollout: Rollout, message: str, *, level=RolloutEvent.Level.INFO, step=None) -> None:
    RolloutEvent.objects.create(
        rollout=rollout,
        message=message[:2000],
        level=level,
        step_index=step.index if step is not None else None,
    )


def _who(actor) -> str:
    return actor.get_username() if actor is not None else "runway"


def _require_operator(actor, rollout_or_release) -> None:
    if actor is None:  # Runway itself: the dispatcher and the reconciler
        return
    permissions.require(
        permissions.can_act_for_team(actor, rollout_or_release.service.owner_id)
        or permissions.can_approve_releases(actor),
        "Only the owning team, release managers and platform admins steer rollouts.",
    )


@transaction.atomic
def rollout_start(*, actor, release: Release) -> Rollout:
    """Roll out an approved release: its gates are checked (again) first."""
    release = (
        Release.objects.select_for_update(of=("self",))
        .select_related("service", "environment__cluster")
        .get(pk=release.pk)
    )
    _require_operator(actor, release)
    existing = release.rollouts.order_by("-id").first()
    if existing is not None and not existing.is_rollback:
        return existing  # starting twice is starting once
    if release.state in (ReleaseState.SCHEDULED, ReleaseState.PENDING_APPROVAL):
        started, release = release_services.release_begin(release=release, actor=actor)
        if not started:
            raise ValidationError(release.hold_reason or "The release is not ready to start.")
    elif release.state != ReleaseState.IN_PROGRESS:
        raise ValidationError(
            f"Release #{release.pk} is {release.get_state_display().lower()}: only approved "
            "releases roll out."
        )
    service, environment = release.service, release.environment
    now = timezone.now()
    rollout = Rollout(
        release=release,
        service=service,
        environment=environment,
        cluster=environment.cluster,
        namespace=environment.namespace,
        strategy=service.strategy,
        image=release.version,
        replicas=environment.replicas,
        state=RolloutState.RUNNING,
        started_at=now,
        next_run_at=now,
        started_by=actor if actor else None,
    )
    try:
        with transaction.atomic():
            rollout.save()
    except IntegrityError:
        raise ValidationError(
            f"Another rollout of {service.name} to {environment.name} is still active."
        ) from None
    RolloutStep.objects.bulk_create(
        RolloutStep(rollout=rollout, index=i, kind=kind, params=params)
        for i, (kind, params) in enumerate(plans.plan(service.strategy, service.strategy_params))
    )
    _event(rollout, f"Started {service.get_strategy_display().lower()} of {release.version}")
    audit_record(
        actor=actor,
        action="rollout.start",
        target=rollout,
        after={"release": release.pk, "strategy": rollout.strategy, "image": rollout.image},
    )
    live.announce(rollout.pk)
    _schedule(rollout, 0)
    return rollout


def rollout_advance(rollout_id: int) -> None:
    """Run the rollout's current step once and schedule what comes next."""
    with transaction.atomic():
        rollout = (
            Rollout.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("service__owner", "environment", "cluster", "release")
            .filter(pk=rollout_id)
            .first()
        )
        if rollout is None or rollout.state not in RUNNABLE:
            return  # another worker holds it, or there is nothing to do
        now = timezone.now()
        if rollout.next_run_at and rollout.next_run_at > now + timedelta(seconds=1):
            return  # an early duplicate: the scheduled run will come
        seen_before = _visible_state(rollout)
        ctx = steps.Context(rollout, None)
        try:
            ctx.kube = Kube.for_cluster(rollout.cluster)
        except KubeUnavailable as exc:
            _event(
                rollout,
                f"Cluster unreachable ({exc}); retrying in 10 s",
                level=RolloutEvent.Level.WARNING,
            )
            _reschedule(rollout, 10)
        else:
            if rollout.state == RolloutState.ROLLING_BACK:
                _advance_rollback(ctx)
            else:
                _advance_step(ctx)
        rollout.last_worked_at = now
        rollout.save()
        if _visible_state(rollout) != seen_before:
            live.announce(rollout.pk)


def _visible_state(rollout: Rollout) -> tuple:
    """What a person watching the rollout sees: announce only when it changes."""
    step = rollout.steps.filter(index=rollout.current_step).values_list("state", "message").first()
    return (rollout.state, rollout.current_step, rollout.weight, step)


def _advance_step(ctx: steps.Context) -> None:
    rollout = ctx.rollout
    step = rollout.steps.get(index=rollout.current_step)
    while step.state == StepState.SKIPPED:  # promoted past by a person
        rollout.current_step += 1
        if rollout.current_step >= rollout.steps.count():
            _finish(rollout, RolloutState.SUCCEEDED)
            return
        step = rollout.steps.get(index=rollout.current_step)
    if step.started_at is None:
        step.started_at = timezone.now()
        _event(rollout, f"Step {step.index + 1}: {step.kind.replace('_', ' ')}", step=step)
    step.state = StepState.RUNNING
    try:
        outcome = steps.HANDLERS[step.kind](ctx, step)
    except KubeUnavailable as exc:
        outcome = _unreachable(rollout, step, exc)
    except KubeError as exc:
        outcome = steps.fail(f"Kubernetes refused: {exc}")
    else:
        step.attempts = 0
    step.message = outcome.message
    if outcome.kind == "done":
        step.state, step.finished_at = StepState.SUCCEEDED, timezone.now()
        step.save()
        _event(rollout, outcome.message or f"{step.kind} done", step=step)
        rollout.current_step += 1
        if rollout.current_step >= rollout.steps.count():
            _finish(rollout, RolloutState.SUCCEEDED)
        else:
            _reschedule(rollout, 0)
    elif outcome.kind == "wait":
        step.state = StepState.WAITING
        step.save()
        _reschedule(rollout, outcome.delay)
    elif outcome.kind == "pause":
        step.state = StepState.WAITING
        step.save()
        rollout.state, rollout.next_run_at = RolloutState.PAUSED, None
        _event(rollout, outcome.message, level=RolloutEvent.Level.WARNING, step=step)
    else:
        step.state, step.finished_at = StepState.FAILED, timezone.now()
        step.save()
        _begin_rollback(rollout, outcome.message, step=step)


def _unreachable(rollout: Rollout, step: RolloutStep, exc: Exception) -> steps.Outcome:
    step.attempts += 1
    if step.attempts > MAX_UNREACHABLE_ATTEMPTS:
        return steps.fail(f"Cluster unreachable after {step.attempts} attempts: {exc}")
    delay = min(2**step.attempts, 60)
    message = f"Cluster unreachable ({exc}); retry {step.attempts} in {delay} s"
    _event(rollout, message, level=RolloutEvent.Level.WARNING, step=step)
    return steps.wait(message, delay)


def _reschedule(rollout: Rollout, delay: float) -> None:
    rollout.next_run_at = timezone.now() + timedelta(seconds=delay)
    _schedule(rollout, delay)


def _begin_rollback(rollout: Rollout, reason: str, *, step=None) -> None:
    rollout.state = RolloutState.ROLLING_BACK
    rollout.failure_reason = reason
    rollout.failure_detected_at = rollout.failure_detected_at or timezone.now()
    _event(rollout, f"Failed: {reason}. Rolling back.", level=RolloutEvent.Level.ERROR, step=step)
    _reschedule(rollout, 0)


def _advance_rollback(ctx: steps.Context) -> None:
    rollout = ctx.rollout
    try:
        outcome = steps.roll_back(ctx)
    except KubeUnavailable as exc:
        attempts = rollout.plan_state.get("rollback_attempts", 0) + 1
        rollout.plan_state["rollback_attempts"] = attempts
        if attempts <= MAX_UNREACHABLE_ATTEMPTS:
            _event(
                rollout,
                f"Cluster unreachable while rolling back ({exc}); retrying",
                level=RolloutEvent.Level.WARNING,
            )
            _reschedule(rollout, min(2**attempts, 60))
            return
        outcome = steps.fail(f"Cluster unreachable while rolling back: {exc}")
    except KubeError as exc:
        outcome = steps.fail(f"Kubernetes refused the rollback: {exc}")
    if outcome.kind == "done":
        _event(rollout, outcome.message)
        if rollout.is_rollback:  # a person asked for this rollback, and it worked
            _finish(rollout, RolloutState.SUCCEEDED)
        elif rollout.plan_state.get("aborted"):
            _finish(rollout, RolloutState.ABORTED)
        else:
            _finish(rollout, RolloutState.ROLLED_BACK)
    elif outcome.kind == "fail":
        rollout.failure_reason = f"{rollout.failure_reason}; rollback failed: {outcome.message}"
        _event(rollout, f"Rollback failed: {outcome.message}", level=RolloutEvent.Level.ERROR)
        _finish(rollout, RolloutState.FAILED)
    else:
        _reschedule(rollout, outcome.delay)


RELEASE_OUTCOME = {
    RolloutState.SUCCEEDED: ReleaseState.SUCCEEDED,
    RolloutState.ROLLED_BACK: ReleaseState.ROLLED_BACK,
    RolloutState.ABORTED: ReleaseState.ROLLED_BACK,
    RolloutState.FAILED: ReleaseState.FAILED,
}


def deployment_of(rollout: Rollout) -> Deployment:
    """The record of what a finished rollout deployed (unsaved): its result from the rollout's
    final state, anything other than succeeded or failed being a rollback."""
    return Deployment(
        rollout=rollout,
        release=rollout.release,
        service=rollout.service,
        environment=rollout.environment,
        version=rollout.image,
        started_at=rollout.started_at,
        finished_at=rollout.finished_at,
        result={
            RolloutState.SUCCEEDED: Deployment.Result.SUCCEEDED,
            RolloutState.FAILED: Deployment.Result.FAILED,
        }.get(rollout.state, Deployment.Result.ROLLED_BACK),
    )


def _finish(rollout: Rollout, state: str) -> None:
    rollout.state, rollout.finished_at, rollout.next_run_at = state, timezone.now(), None
    _event(
        rollout,
        f"Rollout {RolloutState(state).label.lower()}",
        level=RolloutEvent.Level.INFO
        if state == RolloutState.SUCCEEDED
        else RolloutEvent.Level.ERROR,
    )
    audit_record(
        actor=None,
        action=f"rollout.{state}",
        target=rollout,
        after={"state": state, "reason": rollout.failure_reason},
    )
    if rollout.is_rollback:
        _finish_rollback_of(rollout, state)
        return
    release_services.release_finish(
        release=rollout.release, outcome=RELEASE_OUTCOME[state], reason=rollout.failure_reason
    )
    deployment = deployment_of(rollout)
    deployment.save()
    transaction.on_commit(
        lambda: deployment_recorded.send(sender=Deployment, deployment=deployment)
    )


def _finish_rollback_of(rollout: Rollout, state: str) -> None:
    if state != RolloutState.SUCCEEDED:
        return
    original = rollout.rolls_back
    release_services.release_finish(
        release=original.release,
        outcome=ReleaseState.ROLLED_BACK,
        reason=f"Rolled back by rollout #{rollout.pk}",
    )
    deployment = Deployment.objects.filter(rollout=original).first()
    if deployment is not None:
        deployment.rolled_back_at = rollout.finished_at
        deployment.save(update_fields=["rolled_back_at"])
        transaction.on_commit(
            lambda: deployment_recorded.send(sender=Deployment, deployment=deployment)
        )


# --- People steering ---------------------------------------------------------------------


def _locked(rollout: Rollout) -> Rollout:
    return (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("service", "release")
        .get(pk=rollout.pk)
    )


def _waiting_for_a_person(rollout: Rollout, step) -> bool:
    """Promote means "go past what you are waiting on": a pause or analysis that has begun.
    A second click, after the first moved on, finds nothing waiting and is refused."""
    if step is None or step.kind not in ("pause", "analysis") or step.started_at is None:
        return False
    return rollout.state == RolloutState.PAUSED or step.kind == "pause"


@transaction.atomic
def rollout_promote(*, actor, rollout: Rollout, full: bool = False) -> Rollout:
    """Go past the current pause or inconclusive analysis; `full` skips every remaining
    weight, pause and analysis step and promotes at once."""
    rollout = _locked(rollout)
    _require_operator(actor, rollout)
    if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED):
        raise ValidationError(
            f"A rollout that is {rollout.get_state_display().lower()} cannot be promoted."
        )
    who = _who(actor)
    remaining = list(
        rollout.steps.filter(index__gte=rollout.current_step)
        .exclude(state=StepState.SKIPPED)
        .order_by("index")
    )
    if full:
        to_skip = [step for step in remaining if step.kind in ("pause", "analysis", "set_weight")]
    elif _waiting_for_a_person(rollout, remaining[0] if remaining else None):
        to_skip = [remaining[0]]
    else:
        raise ValidationError("The current step is not a pause or an analysis: nothing to skip.")
    for step in to_skip:
        step.state, step.finished_at = StepState.SKIPPED, timezone.now()
        step.message = f"Promoted by {who}"
        step.save()
    rollout.state = RolloutState.RUNNING
    rollout.manual_interventions += 1
    _event(rollout, f"{'Fully promoted' if full else 'Promoted'} by {who}")
    _reschedule(rollout, 0)
    rollout.save()
    audit_record(
        actor=actor,
        action="rollout.promote",
        target=rollout,
        after={"full": full, "skipped": len(to_skip)},
    )
    live.announce(rollout.pk)
    return rollout


@transaction.atomic
def rollout_pause(*, actor, rollout: Rollout) -> Rollout:
    rollout = _locked(rollout)
    _require_operator(actor, rollout)
    if rollout.state != RolloutState.RUNNING:
        raise ValidationError(
            f"A rollout that is {rollout.get_state_display().lower()} cannot be paused."
        )
    rollout.state, rollout.next_run_at = RolloutState.PAUSED, None
    rollout.manual_interventions += 1
    rollout.save()
    _event(rollout, f"Paused by {_who(actor)}", level=RolloutEvent.Level.WARNING)
    audit_record(actor=actor, action="rollout.pause", target=rollout)
    live.announce(rollout.pk)
    return rollout


@transaction.atomic
def rollout_resume(*, actor, rollout: Rollout) -> Rollout:
    rollout = _locked(rollout)
    _require_operator(actor, rollout)
    if rollout.state != RolloutState.PAUSED:
        raise ValidationError(
            f"A rollout that is {rollout.get_state_display().lower()} cannot be resumed."
        )
    rollout.state = RolloutState.RUNNING
    rollout.manual_interventions += 1
    _reschedule(rollout, 0)
    rollout.save()
    _event(rollout, f"Resumed by {_who(actor)}")
    audit_record(actor=actor, action="rollout.resume", target=rollout)
    live.announce(rollout.pk)
    return rollout


@transaction.atomic
def rollout_abort(*, actor, rollout: Rollout, reason: str = "") -> Rollout:
    """Weight back to zero and the previous version restored; the rollout ends aborted."""
    rollout = _locked(rollout)
    _require_operator(actor, rollout)
    if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED, RolloutState.PENDING):
        raise ValidationError(
            f"A rollout that is {rollout.get_state_display().lower()} cannot be aborted."
        )
    rollout.plan_state["aborted"] = True
    rollout.manual_interventions += 1
    _begin_rollback(rollout, f"Aborted by {_who(actor)}" + (f": {reason}" if reason else ""))
    rollout.save()
    audit_record(actor=actor, action="rollout.abort", target=rollout, after={"reason": reason})
    live.announce(rollout.pk)
    return rollout


@transaction.atomic
def rollout_rollback(*, actor, rollout: Rollout, reason: str = "") -> Rollout:
    """Roll a finished, successful rollout back to the version before it."""
    original = _locked(rollout)
    _require_operator(actor, original)
    if original.state != RolloutState.SUCCEEDED or original.is_rollback:
        raise ValidationError("Only a rollout that succeeded can be rolled back.")
    if original.previous_template is None and not original.plan_state.get("active"):
        raise ValidationError("This was the first deployment: there is no earlier version.")
    now = timezone.now()
    rollback = Rollout(
        release=original.release,
        service=original.service,
        environment=original.environment,
        cluster=original.cluster,
        namespace=original.namespace,
        strategy=original.strategy,
        image=original.previous_image,
        replicas=original.replicas,
        state=RolloutState.ROLLING_BACK,
        previous_template=original.previous_template,
        plan_state=dict(original.plan_state, first=False),
        is_rollback=True,
        rolls_back=original,
        started_by=actor,
        started_at=now,
        next_run_at=now,
        failure_reason=reason or f"Manual rollback by {_who(actor)}",
    )
    try:
        with transaction.atomic():
            rollback.save()
    except IntegrityError:
        raise ValidationError(
            "Another rollout of this service and environment is active."
        ) from None
    rollback.manual_interventions = 1
    rollback.save(update_fields=["manual_interventions"])
    _event(rollback, f"Rolling back rollout #{original.pk} to {original.previous_image}")
    audit_record(
        actor=actor,
        action="rollout.rollback",
        target=original,
        after={"rollback": rollback.pk, "reason": reason},
    )
    live.announce(rollback.pk)
    _schedule(rollback, 0)
    return rollback


# --- Runway's own bookkeeping -------------------------------------------------------------


def rollouts_dispatch() -> list[int]:
    """Start a rollout for every release that has begun and has none yet."""
    started = []
    for release in Release.objects.filter(state=ReleaseState.IN_PROGRESS, rollouts__isnull=True)[
        :200
    ]:
        try:
            started.append(rollout_start(actor=None, release=release).pk)
        except ValidationError:
            continue  # another dispatcher took it, or a rollout is active there: next round
    return started


def rollouts_reconcile(*, stale_after: timedelta = timedelta(seconds=20)) -> list[int]:
    """Resume rollouts whose next run is overdue: their worker died or their task was lost."""
    overdue = Rollout.objects.filter(
        state__in=RUNNABLE, next_run_at__lt=timezone.now() - stale_after
    ).values_list("pk", flat=True)[:500]
    from apps.rollouts.tasks import advance

    resumed = list(overdue)
    for rollout_id in resumed:
        advance.delay(rollout_id)
    return resumed
