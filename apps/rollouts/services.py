"""Starting, advancing and steering rollouts. Celery tasks call `rollout_advance` one step at a
time; waiting is re-scheduling, never sleeping. The row lock (skip-locked) makes sure only one
worker moves a rollout at a time. Every change of state goes through transitions.py.

Waits survive any broker: when a step is next due is kept on the rollout (`next_run_at`), and
no task waits in the broker longer than ROLLOUT_MAX_COUNTDOWN_SECONDS (Redis's visibility
timeout and RabbitMQ's consumer timeout redeliver longer ones). A longer wait is a chain of
short hops that each carry the due time they were sent for; a hop for a due time that has been
replaced is dropped, so chains never multiply. The reconciler dispatches whatever is overdue."""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record, audit_records, audit_refusals
from apps.catalog.models import Cluster
from apps.core import clock, outbox
from apps.core.bulk import bulk_save
from apps.core.exceptions import Conflict
from apps.releases import first_outcome
from apps.releases import services as release_services
from apps.releases.models import Release, ReleaseState
from apps.releases.policies import ApprovalStatus
from apps.releases.transitions import refuse_if_steered
from apps.rollouts import live, plans, rings, steps
from apps.rollouts.kube import Kube, KubeError, KubeUnavailable
from apps.rollouts.models import (
    Rollout,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    StepState,
)
from apps.rollouts.tasks import rollout_advance_task
from apps.rollouts.transitions import (
    STEER_REFUSED,
    lock_rollout,
    require_action,
    rollout_transition,
    rollouts_transition,
)
from apps.trains.models import TrainMember
from apps.trains.services import TRAIN_STEP_TASK

log = logging.getLogger(__name__)

MAX_UNREACHABLE_ATTEMPTS = 8
RUNNABLE = (RolloutState.PENDING, RolloutState.RUNNING, RolloutState.ROLLING_BACK)
RESEND_AT_MOST_EVERY = timedelta(minutes=5)


# A hop that starts what someone waits for (a rollout's first step, a promote, a resume, a
# rollback) is prompt: on Redis it goes ahead of the others (next steps, polls), which are sent
# at a lower priority, a list of its own that workers take from once the prompt one is empty
# (kombu: 0, the default, first). RabbitMQ's queues are first in, first out: Runway declares
# them without x-max-priority, and the broker ignores a message's priority.
LATER_HOP_PRIORITY = 3


def _send_hop(rollout_id: int, due: datetime, *, prompt: bool = False) -> None:
    """Publish the next run, at most ROLLOUT_MAX_COUNTDOWN_SECONDS ahead. A broker that is down
    loses nothing: the due time is in the database and the reconciler sends it again."""
    longest = settings.ROLLOUT_MAX_COUNTDOWN_SECONDS
    delay = min(max((due - clock.now()).total_seconds(), 0), longest)
    outbox.send_task_quietly(
        rollout_advance_task.name,
        args=[rollout_id, due.isoformat()],
        countdown=delay,
        priority=None if prompt else LATER_HOP_PRIORITY,
    )


def _due(rollout: Rollout, delay: float) -> datetime:
    """Make the rollout due in `delay` seconds; the caller sends its hop once it commits."""
    due = clock.now() + timedelta(seconds=max(delay, 0))
    rollout.next_run_at, rollout.resend_after = due, None
    return due


def _schedule(rollout: Rollout, delay: float, *, prompt: bool = False) -> None:
    """Make the rollout due in `delay` seconds, and send its hop once this transaction commits
    (`prompt`: ahead of the others, see LATER_HOP_PRIORITY)."""
    due = _due(rollout, delay)
    # A new rollout has its pk by then.
    transaction.on_commit(lambda: _send_hop(rollout.pk, due, prompt=prompt))


def _event(rollout: Rollout, message: str, *, level=RolloutEvent.Level.INFO, step=None) -> None:
    RolloutEvent.objects.create(
        rollout=rollout,
        message=message[:2000],
        level=level,
        step_index=step.index if step is not None else None,
    )


def _who(actor: User | None) -> str:
    return actor.get_username() if actor is not None else "runway"


@audit_refusals("rollout.start", target="release")
@first_outcome.keeps_supply_chain_outcome
@transaction.atomic
def rollout_start(
    *,
    actor: User | None,
    release: Release,
    as_steerer: bool = False,
    approval: ApprovalStatus | None = None,
) -> Rollout:
    """Roll out an approved release: its gates are checked (again) first, against `approval`
    when given (see release_begin). A release rolls out once: a second start, even one racing
    the first, is a Conflict naming the rollout.

    A release steered from elsewhere (a train's member) is started only by what steers it,
    passing `as_steerer=True`; anyone else is refused with a Conflict naming it. Runway's own
    dispatcher (no actor) still rolls out such a release once its steerer has begun it.

    With rings, this starts ring 0 (the release's start, once); the later rings start from
    rings.py when the soak before them is over."""
    # The environment's row too: the rollout takes its cluster and replicas, which an edit of
    # the environment (apps/catalog/environments.py) changes only while no rollout is active;
    # its rings are read under the same lock (rings.py).
    release = (
        Release.objects.select_for_update(of=("self", "environment"))
        .select_related("service", "environment__cluster")
        .get(pk=release.pk)
    )
    if actor is not None:
        permissions.require(permissions.can_steer_rollout(actor, release.service), STEER_REFUSED)
    if not as_steerer and (actor is not None or release.state != ReleaseState.IN_PROGRESS):
        refuse_if_steered(release)
    existing = release.rollouts.filter(is_rollback=False).order_by("-id").first()
    if existing is not None:
        raise Conflict(_already_started(release.pk, existing.pk))
    if release.state in (ReleaseState.SCHEDULED, ReleaseState.PENDING_APPROVAL):
        started, release = release_services.release_begin(
            release=release, actor=actor, as_steerer=as_steerer, approval=approval
        )
        if not started:
            raise first_outcome.StartHeld(
                release.hold_reason or "The release is not ready to start.", release=release
            )
    elif release.state != ReleaseState.IN_PROGRESS:
        raise ValidationError(
            f"Release #{release.pk} is {release.get_state_display().lower()}: only approved "
            "releases roll out."
        )
    first_ring = rings.first_ring(release.environment)
    rings.refuse_while_between_rings(release)
    return _create_rollout(
        release=release,
        actor=actor,
        cluster=first_ring.cluster if first_ring else release.environment.cluster,
        ring=first_ring.position if first_ring else None,
    )


def _already_started(release_id: int, rollout_id: int) -> str:
    return f"Release #{release_id} has already started: rollout #{rollout_id}."


def rollouts_start_steered(
    *, release_ids: list[int], approval: ApprovalStatus, scheduled: dict[int, str]
) -> tuple[list[Rollout], dict[int, str]]:
    """rollout_start for many approved releases that what steers them (a train) starts
    together, with `as_steerer` and `approval`: the same refusals (already started, another
    release between two rings of the environment) and the same gates (releases_begin_steered),
    each read once for all of them, and for those that pass a rollout each, as
    _create_rollout makes one. A release refused or held stays approved and says why
    (releases_hold). Returns the rollouts started and the reasons of the releases held, by
    id; a Conflict, and nothing started, when a rollout could not be created for one of them
    (another rollout there became active meanwhile): the caller tries them one by one then."""
    releases = list(
        Release.objects.select_for_update(of=("self", "environment"))
        .select_related("service", "environment__cluster", "train_membership")
        .prefetch_related("checks", "commits")
        .filter(pk__in=release_ids, state=ReleaseState.APPROVED)
        .order_by("pk")
    )
    # The first steps go out first once this commits, before the audit seal, the live notices
    # and the notifications the start leaves for after the commit too.
    first_steps: list[Rollout] = []
    transaction.on_commit(lambda: _send_first_hops(first_steps), robust=True)
    held: dict[int, str] = {}
    for release_id, rollout_id in (
        Rollout.objects.filter(release__in=releases, is_rollback=False)
        .order_by("id")
        .values_list("release_id", "pk")
    ):
        held[release_id] = _already_started(release_id, rollout_id)
    held |= rings.between_rings([r for r in releases if r.pk not in held])
    begun, gates_held = release_services.releases_begin_steered(
        releases=[r for r in releases if r.pk not in held], approval=approval, scheduled=scheduled
    )
    held |= gates_held
    first = rings.first_rings({release.environment_id for release in begun})
    rollouts = _create_rollouts(
        starts=[
            (release, ring.cluster, ring.position)
            if (ring := first.get(release.environment_id))
            else (release, release.environment.cluster, None)
            for release in begun
        ],
        actor=None,
        first_steps=first_steps,
    )
    release_services.releases_hold(
        releases=[r for r in releases if r.pk in held], reasons=held, actor=None
    )
    return rollouts, held


def _create_rollout(
    *, release: Release, actor: User | None, cluster: Cluster | None, ring: int | None
) -> Rollout:
    """A new rollout of the release to `cluster` (its ring's, with rings), running, its first
    step due now. The caller holds the release's lock and has checked it may start."""
    return _create_rollouts(starts=[(release, cluster, ring)], actor=actor)[0]


def _send_first_hops(rollouts: list[Rollout]) -> None:
    """What runs on the rollouts' clusters is noted first (rollouts_note_running); then their
    first steps go out together, to write at once."""
    try:
        rollouts_note_running(rollouts)
    finally:  # the first steps note what they find unnoted
        outbox.send_tasks_quietly(
            rollout_advance_task.name,
            [
                ([rollout.pk, rollout.next_run_at.isoformat()], 0)
                for rollout in rollouts
                if rollout.next_run_at is not None
            ],
        )


# Clusters read at once when a batch of rollouts starts: each read waits on the network.
NOTE_RUNNING_THREADS = 8


def rollouts_note_running(rollouts: list[Rollout]) -> None:
    """Note what each newly started rollout's cluster runs, as its first step would
    (steps.note_running), side by side on NOTE_RUNNING_THREADS threads, and keep the notes in
    one transaction: a batch's first Kubernetes calls are made at once, and each first step
    writes instead of taking a hop to read. A rollout whose cluster does not answer, or that a
    step of its own has noted meanwhile, is left to its first step, which notes it then."""

    def note(rollout: Rollout) -> Rollout | None:
        try:  # no database here: the rollout comes with its service, environment and cluster
            noted = steps.note_running(steps.Context(rollout, Kube.for_cluster(rollout.cluster)))
        except (KubeUnavailable, KubeError) as exc:
            log.info("rollout #%s: its first step reads its cluster (%s)", rollout.pk, exc)
            return None
        return rollout if noted else None

    with ThreadPoolExecutor(NOTE_RUNNING_THREADS, thread_name_prefix="note-running") as pool:
        noted = [rollout for rollout in pool.map(note, rollouts) if rollout is not None]
    if not noted:
        return
    with transaction.atomic():
        unnoted = set(
            Rollout.objects.select_for_update(skip_locked=True)
            .filter(pk__in=[rollout.pk for rollout in noted], state=RolloutState.RUNNING)
            .exclude(plan_state__has_key="previous_recorded")
            .values_list("pk", flat=True)
        )
        bulk_save(
            [rollout for rollout in noted if rollout.pk in unnoted],
            ["plan_state", "previous_template", "previous_image"],
        )


def _create_rollouts(
    *,
    starts: list[tuple[Release, Cluster | None, int | None]],
    actor: User | None,
    first_steps: list[Rollout] | None = None,
) -> list[Rollout]:
    """_create_rollout for many releases at once, each (release, cluster, ring), in a few
    queries whatever their number; a Conflict, and none of them, when one of them may not
    start (another rollout active there, or its ring started). Each one's first step is sent
    once this commits; with `first_steps`, the rollouts are added to it instead, for the
    caller's own hook to send (_send_first_hops)."""
    now = clock.now()
    rollouts = []
    for release, cluster, ring in starts:
        service, environment = release.service, release.environment
        rollout = Rollout(
            release=release,
            service=service,
            environment=environment,
            cluster=cluster,
            ring=ring,
            namespace=environment.namespace,
            strategy=service.strategy,
            image=release.version,
            replicas=environment.replicas,
            state=RolloutState.PENDING,
            started_at=now,
            started_by=actor if actor else None,
        )
        # Due at once, and its first hop registered before the audit seal and the live notice,
        # so it is the first thing sent once this transaction commits.
        if first_steps is None:
            _schedule(rollout, 0, prompt=True)
        else:
            _due(rollout, 0)
        rollouts.append(rollout)
    try:
        with transaction.atomic():
            Rollout.objects.bulk_create(rollouts)
    except IntegrityError:
        names = ", ".join(f"{r.service.name} to {r.environment.name}" for r in rollouts[:3])
        raise Conflict(
            f"Another rollout of {names} is still active, or this ring has started already."
            if len(rollouts) == 1
            else f"Another rollout of one of {names} ... is still active, or a ring has started."
        ) from None
    RolloutStep.objects.bulk_create(
        RolloutStep(rollout=rollout, index=i, kind=kind, params=params)
        for rollout in rollouts
        for i, (kind, params) in enumerate(
            plans.plan(rollout.service.strategy, rollout.service.strategy_params)
        )
    )
    audited, reasons = [], {}
    for rollout in rollouts:
        service, release, cluster = rollout.service, rollout.release, rollout.cluster
        after = {"release": release.pk, "strategy": rollout.strategy, "image": rollout.image}
        reason = f"{service.get_strategy_display()} of {release.version}"
        if rollout.ring is not None:
            where = cluster.name if cluster is not None else "the default cluster"
            after.update(ring=rollout.ring, cluster=where)
            reason += f" to ring {rollout.ring} ({where})"
        audited.append((rollout, None, after))
        reasons[rollout.pk] = reason
    audit_records(actor=actor, action="rollout.start", targets=audited)
    rollouts_transition(
        rollouts=rollouts, to_state=RolloutState.RUNNING, actor=actor, reasons=reasons
    )
    live.announce_many(rollouts)
    if first_steps is not None:
        first_steps += rollouts
    return rollouts


def rollout_advance(rollout_id: int, due: str | None = None) -> None:
    """Run the rollout's current step once and schedule what comes next. `due` is the run
    time the task was sent for: a task for a replaced due time is dropped, one that came
    early (a hop of a long wait) sends the next hop."""
    with transaction.atomic():
        rollout = (
            Rollout.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("service__owner", "environment", "cluster", "release__train_membership")
            .filter(pk=rollout_id)
            .first()
        )
        if rollout is None or rollout.state not in RUNNABLE:
            return  # another worker holds it, or there is nothing to do
        if due is not None and datetime.fromisoformat(due) != rollout.next_run_at:
            return  # rescheduled since this task was sent: the newer hop will come
        now = clock.now()
        if rollout.next_run_at and rollout.next_run_at > now + timedelta(seconds=1):
            next_run_at = rollout.next_run_at
            transaction.on_commit(lambda: _send_hop(rollout_id, next_run_at))
            return
        step = rollout.steps.filter(index=rollout.current_step).first()
        seen_before = _visible_state(rollout, step)
        try:
            kube = Kube.for_cluster(rollout.cluster)
        except KubeUnavailable as exc:
            _cluster_unusable(rollout, exc)
        else:
            ctx = steps.Context(rollout, kube)
            if rollout.state == RolloutState.ROLLING_BACK:
                _advance_rollback(ctx)
            else:
                _advance_step(ctx, step)
        rollout.last_worked_at = now
        rollout.save()
        if _visible_state(rollout) != seen_before:
            live.announce(rollout)


def _cluster_unusable(rollout: Rollout, exc: Exception) -> None:
    """No client for the cluster (a kubeconfig gone or broken): retry a few times, then fail
    the step with the reason, on the rollout page rather than only in the worker log."""
    if rollout.state == RolloutState.ROLLING_BACK:
        _retry_rollback_or_fail(rollout, exc)
        return
    step = rollout.steps.get(index=rollout.current_step)
    outcome = _unreachable(rollout, step, exc)
    step.message = outcome.message
    if outcome.kind == "fail":
        step.state, step.finished_at = StepState.FAILED, clock.now()
        step.save()
        _begin_rollback(rollout, outcome.message, step=step)
        return
    step.save()
    _schedule(rollout, outcome.delay)


def _visible_state(rollout: Rollout, step: RolloutStep | None = None) -> tuple:
    """What a person watching the rollout sees: announce only when it changes. `step`, the
    current step as just read, spares reading it again."""
    shown = (
        (step.state, step.message)
        if step is not None
        else rollout.steps.filter(index=rollout.current_step)
        .values_list("state", "message")
        .first()
    )
    return (rollout.state, rollout.current_step, rollout.weight, shown)


def _advance_step(ctx: steps.Context, step: RolloutStep | None) -> None:
    rollout = ctx.rollout
    if step is None:
        step = rollout.steps.get(index=rollout.current_step)
    while step.state == StepState.SKIPPED:  # promoted past by a person
        rollout.current_step += 1
        if rollout.current_step >= rollout.steps.count():
            _finish(rollout, RolloutState.SUCCEEDED)
            return
        step = rollout.steps.get(index=rollout.current_step)
    if step.started_at is None:
        step.started_at = clock.now()
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
        step.state, step.finished_at = StepState.SUCCEEDED, clock.now()
        step.save()
        _event(rollout, outcome.message or f"{step.kind} done", step=step)
        rollout.current_step += 1
        if rollout.current_step >= rollout.steps.count():
            _finish(rollout, RolloutState.SUCCEEDED)
        else:
            _schedule(rollout, 0)
    elif outcome.kind == "wait":
        step.state = StepState.WAITING
        step.save()
        _schedule(rollout, outcome.delay)
    elif outcome.kind == "pause":
        step.state = StepState.WAITING
        step.save()
        _event(rollout, outcome.message, level=RolloutEvent.Level.WARNING, step=step)
        rollout_transition(
            rollout=rollout,
            to_state=RolloutState.PAUSED,
            actor=None,
            reason=outcome.message,
            locked=True,
        )
    else:
        step.state, step.finished_at = StepState.FAILED, clock.now()
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


def _begin_rollback(
    rollout: Rollout, reason: str, *, step: RolloutStep | None = None, actor: User | None = None
) -> None:
    rollout_transition(
        rollout=rollout,
        to_state=RolloutState.ROLLING_BACK,
        actor=actor,
        reason=reason,
        locked=True,
    )
    _schedule(rollout, 0, prompt=True)


def _retry_rollback_or_fail(rollout: Rollout, exc: Exception) -> None:
    attempts = rollout.plan_state.get("rollback_attempts", 0) + 1
    rollout.plan_state["rollback_attempts"] = attempts
    if attempts <= MAX_UNREACHABLE_ATTEMPTS:
        _event(
            rollout,
            f"Cluster unreachable while rolling back ({exc}); retrying",
            level=RolloutEvent.Level.WARNING,
        )
        _schedule(rollout, min(2**attempts, 60))
        return
    _rollback_failed(rollout, f"cluster unreachable: {exc}")


def _rollback_failed(rollout: Rollout, why: str) -> None:
    rollout.failure_reason = f"{rollout.failure_reason}; rollback failed: {why}"
    _event(rollout, f"Rollback failed: {why}", level=RolloutEvent.Level.ERROR)
    _finish(rollout, RolloutState.FAILED)


def _advance_rollback(ctx: steps.Context) -> None:
    rollout = ctx.rollout
    try:
        outcome = steps.roll_back(ctx)
    except KubeUnavailable as exc:
        _retry_rollback_or_fail(rollout, exc)
        return
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
        _rollback_failed(rollout, outcome.message)
    else:
        _schedule(rollout, outcome.delay)


RELEASE_OUTCOME: dict[str, str] = {
    RolloutState.SUCCEEDED: ReleaseState.SUCCEEDED,
    RolloutState.ROLLED_BACK: ReleaseState.ROLLED_BACK,
    RolloutState.ABORTED: ReleaseState.ROLLED_BACK,
    RolloutState.FAILED: ReleaseState.FAILED,
}


def _finish(rollout: Rollout, state: str) -> None:
    reason = "" if state == RolloutState.SUCCEEDED else rollout.failure_reason
    rollout_transition(rollout=rollout, to_state=state, actor=None, reason=reason, locked=True)
    _tell_train(rollout, state)
    if rollout.ring is not None:  # the release finishes with its rings (rings.py)
        rings.ring_finished(rollout, state)
        return
    if rollout.is_rollback:
        _finish_rollback_of(rollout, state)
        return
    release_services.release_finish(
        release=rollout.release, outcome=RELEASE_OUTCOME[state], reason=rollout.failure_reason
    )


def _tell_train(rollout: Rollout, state: str) -> None:
    """A member of a train finished: its train's next step, once this commits (the outbox;
    keyed, so a finish recorded twice asks once)."""
    train_id = (
        TrainMember.objects.filter(release_id=rollout.release_id)
        .values_list("train_id", flat=True)
        .first()
    )
    if train_id is not None:
        outbox.enqueue(
            TRAIN_STEP_TASK,
            args=[train_id],
            kwargs={"why": f"rollout #{rollout.pk} {state}"},
            key=f"train-step:{train_id}:rollout:{rollout.pk}:{state}",
        )


def _finish_rollback_of(rollout: Rollout, state: str) -> None:
    if state != RolloutState.SUCCEEDED:
        return
    # The rollback carries the release it rolls back, so it finishes that release even when the
    # rollout it undid is gone (an admin deleted it: rolls_back is then empty).
    release_services.release_finish(
        release=rollout.release,
        outcome=ReleaseState.ROLLED_BACK,
        reason=f"Rolled back by rollout #{rollout.pk}",
    )


# --- People steering ---------------------------------------------------------------------


def _steered(rollout: Rollout, actor: User | None, action: str) -> Rollout:
    """Lock the rollout and check `action` against what `available_actions` offers now."""
    rollout = lock_rollout(rollout.pk)
    require_action(rollout, actor, action)
    rollout.manual_interventions += 1
    return rollout


def _steering_record(
    rollout: Rollout, actor, action: str, *, before: str, reason: str = ""
) -> None:
    """The audit row of a person steering a rollout: what they did, at which step, and its
    state before and after."""
    after = {"state": rollout.state, "step": rollout.current_step}
    audit_record(
        actor=actor,
        action=f"rollout.{action}",
        target=rollout,
        before={"state": before},
        after={**after, "reason": reason} if reason else after,
    )


@audit_refusals("rollout.promote", target="rollout")
@transaction.atomic
def rollout_promote(*, actor: User, rollout: Rollout, full: bool = False) -> Rollout:
    """Go past the current pause or inconclusive analysis; `full` skips every remaining
    weight, pause and analysis step and promotes at once."""
    rollout = _steered(rollout, actor, "promote_full" if full else "promote")
    who = _who(actor)
    remaining = list(
        rollout.steps.filter(index__gte=rollout.current_step)
        .exclude(state=StepState.SKIPPED)
        .order_by("index")
    )
    kinds = ("pause", "analysis", "set_weight") if full else ("pause", "analysis")
    to_skip = [step for step in remaining if step.kind in kinds] if full else remaining[:1]
    for step in to_skip:
        step.state, step.finished_at = StepState.SKIPPED, clock.now()
        step.message = f"Promoted by {who}"
        step.save()
    _event(rollout, f"{'Fully promoted' if full else 'Promoted'} by {who}")
    if rollout.state == RolloutState.PAUSED:
        rollout_transition(rollout=rollout, to_state=RolloutState.RUNNING, actor=actor, locked=True)
    _schedule(rollout, 0, prompt=True)
    rollout.save()
    audit_record(
        actor=actor,
        action="rollout.promote",
        target=rollout,
        after={"full": full, "skipped": len(to_skip)},
    )
    live.announce(rollout)
    return rollout


@audit_refusals("rollout.pause", target="rollout")
@transaction.atomic
def rollout_pause(*, actor: User, rollout: Rollout) -> Rollout:
    rollout = _steered(rollout, actor, "pause")
    before = rollout.state
    rollout.save(update_fields=["manual_interventions"])
    rollout_transition(rollout=rollout, to_state=RolloutState.PAUSED, actor=actor, locked=True)
    _steering_record(rollout, actor, "pause", before=before)
    live.announce(rollout)
    return rollout


@audit_refusals("rollout.resume", target="rollout")
@transaction.atomic
def rollout_resume(*, actor: User, rollout: Rollout) -> Rollout:
    rollout = _steered(rollout, actor, "resume")
    before = rollout.state
    rollout_transition(rollout=rollout, to_state=RolloutState.RUNNING, actor=actor, locked=True)
    _schedule(rollout, 0, prompt=True)
    rollout.save()
    _steering_record(rollout, actor, "resume", before=before)
    live.announce(rollout)
    return rollout


@audit_refusals("rollout.abort", target="rollout")
@transaction.atomic
def rollout_abort(*, actor: User | None, rollout: Rollout, reason: str = "") -> Rollout:
    """Weight back to zero and the previous version restored; the rollout ends aborted."""
    rollout = _steered(rollout, actor, "abort")
    before = rollout.state
    rollout.plan_state["aborted"] = True
    why = f"Aborted by {_who(actor)}" + (f": {reason}" if reason else "")
    _begin_rollback(rollout, why, actor=actor)
    rollout.save()
    _steering_record(rollout, actor, "abort", before=before, reason=reason)
    live.announce(rollout)
    return rollout


@audit_refusals("rollout.rollback", target="rollout")
@transaction.atomic
def rollout_rollback(*, actor: User | None, rollout: Rollout, reason: str = "") -> Rollout:
    """Roll a finished, successful rollout back to the version before it."""
    original = lock_rollout(rollout.pk)
    require_action(original, actor, "rollback")
    if original.ring is not None:
        rings.require_last_standing(original)
    now = clock.now()
    rollback = Rollout(
        release=original.release,
        service=original.service,
        environment=original.environment,
        cluster=original.cluster,
        ring=original.ring,
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
        failure_detected_at=now,
        manual_interventions=1,
        failure_reason=reason or f"Manual rollback by {_who(actor)}",
    )
    try:
        with transaction.atomic():
            rollback.save()
    except IntegrityError:
        raise Conflict("Another rollout of this service and environment is active.") from None
    _event(rollback, f"Rolling back rollout #{original.pk} to {original.previous_image}")
    audit_record(
        actor=actor,
        action="rollout.rollback",
        target=original,
        after={"rollback": rollback.pk, "reason": reason},
    )
    if original.next_ring_at is not None:  # rolled back while soaking: the next ring never starts
        original.next_ring_at = None
        original.save(update_fields=["next_ring_at"])
    _schedule(rollback, 0, prompt=True)
    rollback.save(update_fields=["next_run_at", "resend_after"])
    live.announce(rollback)
    return rollback


# --- Runway's own bookkeeping -------------------------------------------------------------


def rollouts_dispatch() -> list[int]:
    """Start a rollout for every release that has begun and has none yet, in the order they
    were planned: of two releases of one service to one environment, the earlier ships first
    and the later waits for the next round. Then the next ring of every release whose ring's
    soak is over."""
    started = []
    begun = Release.objects.filter(state=ReleaseState.IN_PROGRESS, rollouts__isnull=True)
    for release in begun.order_by("planned_start", "id")[:200]:
        try:
            started.append(rollout_start(actor=None, release=release).pk)
        except ValidationError:
            continue  # another dispatcher took it, or a rollout is active there: next round
    return started + rings.rings_dispatch()


def rollouts_reconcile(*, stale_after: timedelta = timedelta(seconds=20)) -> list[int]:
    """Send again the runs that are overdue: their worker died, their task was lost, or the
    broker was down when it was sent. A hop goes with the due time it is for, so if the first
    one was only late, whichever comes second is dropped. A rollout is sent again each time
    it has grown twice as late (20 s, 40 s, 80 s ... then every RESEND_AT_MOST_EVERY): copies
    of a hop wait behind each other in the queue, and one per round while workers are away
    would leave a returning worker a backlog that grows faster than it drains."""
    now = clock.now()
    overdue = list(
        Rollout.objects.filter(state__in=RUNNABLE, next_run_at__lt=now - stale_after)
        .filter(Q(resend_after__isnull=True) | Q(resend_after__lte=now))
        .order_by("next_run_at")
        .values_list("pk", "next_run_at")[:500]
    )
    for rollout_id, due in overdue:
        if due is None:  # not due at all: the filter above leaves none of these
            continue
        wait = min(now - due, RESEND_AT_MOST_EVERY)
        # Only while it is still due then: a worker that has moved it on since wins.
        Rollout.objects.filter(pk=rollout_id, next_run_at=due).update(resend_after=now + wait)
        _send_hop(rollout_id, due)
    return [rollout_id for rollout_id, _ in overdue]
