"""Executing approved trains, wave by wave (the trains app decides; this app executes, as it
does for single releases).

A train's progress is its members' releases and rollouts in the database, so a step reads it
there and does what is due now: start the current wave's next members (at most `max_parallel`
under way), finish the train, halt it on a failed member, roll back succeeded members last
wave first, or abort what a cancelled train still has under way. Steps are idempotent and
never wait: a step is asked for when the train starts, is cancelled or rolled back (the trains
app, through the outbox), when one of its members' rollouts finishes (`train_step_request`,
through the outbox), and by the reconciler every round for every train that still has work.
One step at a time per train: the row lock, skip-locked (another step is moving it)."""

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core import outbox
from apps.core.exceptions import Conflict
from apps.releases import services as release_services
from apps.releases.models import Release, ReleaseState
from apps.releases.policies import ApprovalStatus
from apps.releases.transitions import release_transition
from apps.rollouts import rings, services
from apps.rollouts.models import Rollout, RolloutState
from apps.trains import selectors as train_selectors
from apps.trains import services as train_services
from apps.trains.models import MAX_MEMBERS, RollbackPolicy, Train, TrainMember, TrainState
from apps.trains.policies import train_approval_status
from apps.trains.transitions import EXECUTING, train_transition

log = logging.getLogger(__name__)

UNDER_WAY = (ReleaseState.SCHEDULED, ReleaseState.IN_PROGRESS)
FAILED = (ReleaseState.FAILED, ReleaseState.ROLLED_BACK, ReleaseState.CANCELLED)
NOT_STARTED = (ReleaseState.APPROVED,)
ROLLOUT_ACTIVE = (
    RolloutState.PENDING,
    RolloutState.RUNNING,
    RolloutState.PAUSED,
    RolloutState.ROLLING_BACK,
)
ABORTABLE = (RolloutState.RUNNING, RolloutState.PAUSED)


@dataclass
class Member:
    service_name: str
    wave: int
    release: Release
    rollout: Rollout | None  # the member's own rollout
    rollback: Rollout | None  # the latest rollback of it, if any

    @property
    def state(self) -> str:
        return self.release.state

    @property
    def rolling_back(self) -> bool:
        return self.rollback is not None and self.rollback.state in ROLLOUT_ACTIVE


def train_members(train: Train) -> list[Member]:
    """The members with their wave in the frozen plan, release and rollouts, in three queries."""
    wave_of = {name: index for index, wave in enumerate(train.plan) for name in wave}
    memberships = list(TrainMember.objects.filter(train=train).select_related("release"))
    rollouts: dict[int, Rollout] = {}
    rollbacks: dict[int, Rollout] = {}
    for rollout in Rollout.objects.filter(
        release_id__in=[m.release_id for m in memberships]
    ).order_by("id"):
        (rollbacks if rollout.is_rollback else rollouts)[rollout.release_id] = rollout
    return sorted(
        (
            Member(
                service_name=m.service_name,
                wave=wave_of.get(m.service_name, len(train.plan)),
                release=m.release,
                rollout=rollouts.get(m.release_id),
                rollback=rollbacks.get(m.release_id),
            )
            for m in memberships
        ),
        key=lambda member: (member.wave, member.service_name),
    )


def train_members_start(
    *, train: Train, members: list[Member], approval: ApprovalStatus
) -> list[Rollout]:
    """The one place a train starts its member releases, a batch at once: each scheduled by
    the train and rolled out as the rollouts' own start would (rollouts_start_steered), its
    gates checked again with the train's `approval` (the union of the members' policies) as
    its approvals, read once for the whole batch. A member its gates hold stays approved and
    says why, and the next step tries again; the others start. When the batch cannot start
    as one (another rollout of a member became active meanwhile), its members are tried one
    by one, so that one of them holds back only itself. The caller's transaction holds the
    train's lock. Returns the rollouts started."""
    try:
        with transaction.atomic():
            return _start_batch(train, members, approval)
    except Conflict as exc:
        if len(members) == 1:
            release = members[0].release
            release.refresh_from_db()
            release_services.releases_hold(
                releases=[release], reasons={release.pk: " ".join(exc.messages)}
            )
            return []
    started = []
    for member in members:
        started += train_members_start(train=train, members=[member], approval=approval)
    return started


def _start_batch(train: Train, members: list[Member], approval: ApprovalStatus) -> list[Rollout]:
    rollouts, _held = services.rollouts_start_steered(
        release_ids=[member.release.pk for member in members],
        approval=approval,
        scheduled={m.release.pk: f"Wave {m.wave + 1} of train #{train.pk}" for m in members},
    )
    return rollouts


def train_step(train_id: int, why: str = "") -> str | None:
    """Do what is due now for one train; return its state, or None when another step holds it
    or it does not exist. Members are started after the step's transaction, a batch in each
    transaction of its own (see _start_members)."""
    with transaction.atomic():
        train = (
            Train.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=train_id)
            .first()
        )
        if train is None:
            return None
        log.debug("train #%s: a step (%s) while %s", train_id, why or "asked", train.state)
        members = train_members(train)
        to_start: list[Member] = []
        if train.state == TrainState.RUNNING:
            to_start = _run(train, members)
        elif train.state == TrainState.ROLLING_BACK:
            _roll_back(train, members)
        elif train.state == TrainState.CANCELLED:
            _abort_under_way(train, members)
    if to_start:
        _start_members(train, to_start)
    return train.state


def _run(train: Train, members: list[Member]) -> list[Member]:
    """Finish or halt the train when it is time; otherwise the members to start now."""
    failed = [m for m in members if m.state in FAILED]
    if failed:
        _halt(train, members, failed)
        return []
    pending = [m for m in members if m.state != ReleaseState.SUCCEEDED]
    if not pending:
        train_transition(
            train=train,
            to_state=TrainState.SUCCEEDED,
            actor=None,
            reason=f"Every member succeeded ({len(members)})",
            locked=True,
        )
        return []
    # A wave starts once every earlier wave has succeeded: what a member depends on is in an
    # earlier wave of the frozen plan. The members picked are always the first not started,
    # in the plan's order, so steps that overlap pick the same ones: never more than
    # `max_parallel` under way.
    wave = min(m.wave for m in pending)
    current = [m for m in pending if m.wave == wave]
    room = train.max_parallel - sum(1 for m in current if m.state in UNDER_WAY)
    return [m for m in current if m.state in NOT_STARTED][: max(room, 0)]


# Members started in one transaction: their gates are read once for all of them, and a
# cancel or a halt waits for at most one batch's start. A wave of the largest train is one
# batch, so that its members' clusters are read and their first steps sent together: a later
# batch's start waited for the CPU behind the steps of the batches before it (194 members in
# batches of 50: the first Kubernetes calls p95 7 s after the start; in one, under 1 s).
START_BATCH = MAX_MEMBERS


def _start_members(train: Train, to_start: list[Member]) -> None:
    """Start the members in batches of START_BATCH, each in a transaction of its own, under
    the train's lock for just that long: a batch rolls out as soon as it is started, and a
    cancel or a halt waits for one batch's start. A member that another step started
    meanwhile is passed over; a train no longer running starts nothing more. Steps asked for
    while this held the lock were passed over (skip-locked): one more is asked for when
    done."""
    approval = train_approval_status(
        train, train_selectors.train_members(train), now=timezone.now()
    )
    started = 0
    for first in range(0, len(to_start), START_BATCH):
        batch = to_start[first : first + START_BATCH]
        with transaction.atomic():
            current = Train.objects.select_for_update(of=("self",)).filter(pk=train.pk).first()
            if current is None or current.state != TrainState.RUNNING:
                break
            started += len(train_members_start(train=current, members=batch, approval=approval))
    if started:
        with transaction.atomic():
            train_services.train_step_request(train, why="members started")


def _halt(train: Train, members: list[Member], failed: list[Member]) -> None:
    """Nothing new starts: members not started are cancelled; with `reverse` what succeeded
    is rolled back, with `leave` it stays and the train ends halted."""
    reason = "; ".join(f"{m.service_name} {m.release.get_state_display().lower()}" for m in failed)
    for member in members:
        if member.state in NOT_STARTED:
            member.release = release_transition(
                release=member.release,
                to_state=ReleaseState.CANCELLED,
                actor=None,
                reason=f"Train #{train.pk} halted: {reason}",
            )
    if train.rollback_policy == RollbackPolicy.REVERSE:
        train_transition(
            train=train, to_state=TrainState.ROLLING_BACK, actor=None, reason=reason, locked=True
        )
        _roll_back(train, members)
    else:
        train_transition(
            train=train, to_state=TrainState.HALTED, actor=None, reason=reason, locked=True
        )


def _roll_back(train: Train, members: list[Member]) -> None:
    """Roll back succeeded members, last wave first, at most `max_parallel` at once; a wave
    starts once every member still under way has finished and the later waves are undone."""
    if any(m.state in UNDER_WAY for m in members):
        return  # a member still rolling out: roll back once it has finished either way
    # Only this rollback's failures halt it: a person rolling a halted train back again tries
    # the members whose earlier rollback failed once more.
    since = train.transitions.filter(to_state=TrainState.ROLLING_BACK).latest("at", "id").at
    broken = [
        m
        for m in members
        if m.rollback is not None
        and m.rollback.state == RolloutState.FAILED
        and (m.rollback.started_at or since) >= since
    ]
    if broken:
        names = ", ".join(m.service_name for m in broken)
        train_transition(
            train=train,
            to_state=TrainState.HALTED,
            actor=None,
            reason=f"The rollback of {names} failed",
            locked=True,
        )
        return
    to_undo = [m for m in members if m.state == ReleaseState.SUCCEEDED]
    if not to_undo:
        train_transition(
            train=train,
            to_state=TrainState.ROLLED_BACK,
            actor=None,
            reason="Every succeeded member is rolled back",
            locked=True,
        )
        return
    wave = max(m.wave for m in to_undo)
    if any(m.rolling_back and m.wave != wave for m in to_undo):
        return
    in_wave = [m for m in to_undo if m.wave == wave]
    room = train.max_parallel - sum(1 for m in in_wave if m.rolling_back)
    for member in [m for m in in_wave if not m.rolling_back][: max(room, 0)]:
        if member.rollout is None:
            continue
        reason = f"Train #{train.pk} rolls back wave {wave + 1}"
        try:
            with transaction.atomic():
                if member.rollout.ring is not None:  # its rings, the last first
                    rings.roll_back_next(member.release, why=reason)
                else:
                    services.rollout_rollback(actor=None, rollout=member.rollout, reason=reason)
        except ValidationError as exc:
            log.warning("train #%s: %s not rolled back: %s", train.pk, member.service_name, exc)


def _abort_under_way(train: Train, members: list[Member]) -> None:
    """A cancelled train: abort its members' rollouts under way (members not started were
    cancelled with it), and roll back a member soaking between two of its rings."""
    for member in members:
        if member.rollout is None:
            continue
        if member.rollout.next_ring_at is not None and member.state == ReleaseState.IN_PROGRESS:
            try:
                with transaction.atomic():
                    services.rollout_rollback(
                        actor=None,
                        rollout=member.rollout,
                        reason=f"Train #{train.pk} was cancelled between two rings",
                    )
            except ValidationError as exc:
                log.warning("train #%s: %s not rolled back: %s", train.pk, member.service_name, exc)
            continue
        if member.rollout.state not in ABORTABLE:
            continue
        try:
            with transaction.atomic():
                services.rollout_abort(
                    actor=None, rollout=member.rollout, reason=f"Train #{train.pk} was cancelled"
                )
        except ValidationError as exc:
            log.warning("train #%s: %s not aborted: %s", train.pk, member.service_name, exc)


def trains_reconcile() -> list[int]:
    """Beat: start approved trains whose planned start has come, and ask again for a step of
    every train that still has work (its step was lost, or the broker was down): running and
    rolling-back trains, and cancelled ones with a member's rollout still to abort. Returns the
    ids of the trains stepped."""
    now = timezone.now()
    due = (
        Train.objects.filter(state=TrainState.APPROVED, members__release__planned_start__lte=now)
        .values_list("pk", flat=True)
        .distinct()
    )
    for train_id in list(due)[:200]:
        try:
            train_services.train_start(actor=None, train=Train(pk=train_id))
        except ValidationError:
            continue  # started or cancelled meanwhile
    with_work = Train.objects.filter(
        Q(state__in=EXECUTING)
        | Q(
            state=TrainState.CANCELLED,
            members__release__rollouts__state__in=ABORTABLE,
            members__release__rollouts__is_rollback=False,
        )
    )
    stepped = list(with_work.values_list("pk", flat=True).distinct().order_by("pk")[:500])
    for train_id in stepped:
        outbox.send_task_quietly(train_services.TRAIN_STEP_TASK, args=[train_id])
    return stepped
