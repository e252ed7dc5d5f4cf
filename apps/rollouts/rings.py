"""Rings: an environment rolled out cluster by cluster, ring 0 first (see models.Ring).

A release to an environment with rings has one rollout per ring, each against its ring's
cluster with its own steps and automatic rollback. When ring N succeeds, the time its soak is
over is kept on its rollout (`next_ring_at`); the dispatcher's beat starts ring N+1 once that
time has come (`rings_dispatch`): no task waits for it. The release succeeds with its last
ring. When a ring fails (it rolls itself back as any rollout does), nothing further starts
and the rings that succeeded are rolled back, the highest first, one at a time: each rollback
that finishes starts the next (`ring_finished`); the last one finishes the release, failed or
rolled back as the failed ring's own rollout would have it.

Rings change only while no release to the environment is in progress, and a start reads them
under the environment's row lock, so a release never mixes two sets of rings."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.catalog.models import MAX_SOAK_SECONDS, Cluster, Environment
from apps.core import clock, outbox
from apps.core.exceptions import Conflict
from apps.releases import services as release_services
from apps.releases.models import Release, ReleaseState
from apps.rollouts.models import (
    ACTIVE_STATES,
    MAX_RINGS,
    Ring,
    Rollout,
    RolloutEvent,
    RolloutState,
)
from apps.rollouts.tasks import rollouts_dispatch_task
from apps.rollouts.transitions import state_actions

EDITORS_ONLY = "Only the owning team and platform admins change a service's environments."
RING_FAILED_OUTCOME: dict[str, str] = {
    RolloutState.ROLLED_BACK: ReleaseState.ROLLED_BACK,
    RolloutState.ABORTED: ReleaseState.ROLLED_BACK,
    RolloutState.FAILED: ReleaseState.FAILED,
}


def _event(rollout: Rollout, message: str, level: str = RolloutEvent.Level.INFO) -> None:
    RolloutEvent.objects.create(rollout=rollout, message=message[:2000], level=level)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- Reading ------------------------------------------------------------------------------


def environment_rings(environment: Environment) -> list[Ring]:
    return list(
        Ring.objects.filter(environment=environment).select_related("cluster").order_by("position")
    )


def first_ring(environment: Environment) -> Ring | None:
    """Ring 0 of the environment, None without rings. Takes the environment's row lock, which a
    change of its rings waits for (and which waits for a change under way)."""
    Environment.objects.select_for_update(no_key=True).filter(pk=environment.pk).first()
    rings = environment_rings(environment)
    return rings[0] if rings else None


def refuse_while_between_rings(release: Release) -> None:
    """Another release to the environment soaking between two of its rings has no rollout
    active, yet the environment is still its own: this one waits until it has finished (the
    caller holds the environment's lock, see first_ring)."""
    refusal = between_rings([release]).get(release.pk)
    if refusal:
        raise Conflict(refusal)


def between_rings(releases: list[Release]) -> dict[int, str]:
    """refuse_while_between_rings for many releases in one query: the refusal of each that
    waits, by release id."""
    soaking: dict[int, list[int]] = {}
    for environment_id, release_id in (
        Rollout.objects.filter(
            environment__in={release.environment_id for release in releases},
            next_ring_at__isnull=False,
        )
        .order_by("pk")
        .values_list("environment_id", "release_id")
    ):
        soaking.setdefault(environment_id, []).append(release_id)
    refusals = {}
    for release in releases:
        other = next((i for i in soaking.get(release.environment_id, []) if i != release.pk), None)
        if other is not None:
            refusals[release.pk] = (
                f"Release #{other} to {release.environment.name} is between two of its rings: "
                "this release starts once it has finished."
            )
    return refusals


def first_rings(environment_ids: set[int]) -> dict[int, Ring]:
    """Ring 0 of each of these environments that has rings, in one query; the caller holds
    their rows' locks (see first_ring)."""
    found: dict[int, Ring] = {}
    for ring in (
        Ring.objects.filter(environment__in=environment_ids)
        .select_related("cluster")
        .order_by("position")
    ):
        found.setdefault(ring.environment_id, ring)
    return found


def release_rings(release: Release) -> list[dict]:
    """For the release page: each ring (position, cluster, soak_seconds) with the release's
    rollout there, None before it starts. A finished release shows its rings as they were
    rolled out, whatever the environment's rings are now."""
    current = [] if release.finished_at is not None else environment_rings(release.environment)
    if release.finished_at is None and not current:
        return []
    rollouts = {
        rollout.ring: rollout
        for rollout in release.rollouts.filter(is_rollback=False, ring__isnull=False)
        .select_related("cluster")
        .order_by("ring")
    }
    if release.finished_at is not None:
        return [
            {"position": position, "cluster": r.cluster, "soak_seconds": None, "rollout": r}
            for position, r in rollouts.items()
        ]
    return [
        {
            "position": ring.position,
            "cluster": ring.cluster,
            "soak_seconds": ring.soak_seconds,
            "rollout": rollouts.get(ring.position),
        }
        for ring in current
    ]


# --- Setting an environment's rings -----------------------------------------------------


def _rings_snapshot(rings: list[Ring]) -> list[dict]:
    return [{"cluster": ring.cluster.name, "soak_seconds": ring.soak_seconds} for ring in rings]


def _ring_error(message: str, position: int, **params) -> ValidationError:
    # `ring` (its place in the list given) lets a form put the refusal next to that row.
    return ValidationError(message, code="invalid", params={"ring": position, **params})


def _check_ring_specs(specs: list[dict]) -> None:
    if len(specs) > MAX_RINGS:
        raise ValidationError({"rings": f"At most {MAX_RINGS} rings."})
    seen: set[int] = set()
    for position, spec in enumerate(specs):
        cluster, soak = spec.get("cluster"), spec.get("soak_seconds", 0)
        if not isinstance(cluster, Cluster):
            raise ValidationError(
                {"cluster": _ring_error("Ring %(ring)s: name a registered cluster.", position)}
            )
        if cluster.pk in seen:
            raise ValidationError(
                {
                    "cluster": _ring_error(
                        "Ring %(ring)s: cluster %(cluster)s is already a ring.",
                        position,
                        cluster=cluster.name,
                    )
                }
            )
        seen.add(cluster.pk)
        if not isinstance(soak, int) or not 0 <= soak <= MAX_SOAK_SECONDS:
            raise ValidationError(
                {
                    "soak_seconds": _ring_error(
                        "Ring %(ring)s: between 0 and %(most)s seconds.",
                        position,
                        most=MAX_SOAK_SECONDS,
                    )
                }
            )


@transaction.atomic
def environment_rings_set(
    *, actor: User, environment: Environment, rings: list[dict]
) -> list[Ring]:
    """Replace the environment's rings by `rings`, in order: [{cluster, soak_seconds}]. No
    rings: the environment rolls out to its own cluster. Refused while a release to the
    environment is in progress or a rollout there is active."""
    environment = (
        Environment.objects.select_for_update(of=("self",))
        .select_related("service")
        .get(pk=environment.pk)
    )
    permissions.require(
        permissions.can_act_for_team(actor, environment.service.owner_id), EDITORS_ONLY
    )
    _check_ring_specs(rings)
    busy = Release.objects.filter(environment=environment, state=ReleaseState.IN_PROGRESS).first()
    if busy is not None:
        raise Conflict(
            f"Release #{busy.pk} to {environment.name} is in progress: change the rings once it "
            "has finished."
        )
    if Rollout.objects.filter(environment=environment, state__in=ACTIVE_STATES).exists():
        raise Conflict(f"A rollout to {environment.name} is active: change the rings after it.")
    before = _rings_snapshot(environment_rings(environment))
    Ring.objects.filter(environment=environment).delete()
    Ring.objects.bulk_create(
        Ring(
            environment=environment,
            position=position,
            cluster=spec["cluster"],
            soak_seconds=spec.get("soak_seconds", 0),
        )
        for position, spec in enumerate(rings)
    )
    saved = environment_rings(environment)
    after = _rings_snapshot(saved)
    if after != before:
        audit_record(
            actor=actor,
            action="environment.rings_set",
            target=environment,
            before={"rings": before},
            after={"rings": after},
        )
    return saved


# --- Executing: a ring finished ------------------------------------------------------------


def ring_finished(rollout: Rollout, state: str) -> None:
    """A rollout of a ring (or a rollback of one) has finished, in the executor's transaction:
    what comes next for its release."""
    if rollout.is_rollback:
        _rollback_finished(rollout, state)
    elif state == RolloutState.SUCCEEDED:
        _ring_succeeded(rollout)
    else:
        audit_record(
            actor=None,
            action="rollout.ring_halt",
            target=rollout.release,
            after={"ring": rollout.ring, "state": state},
        )
        roll_back_next(rollout.release, why=f"ring {rollout.ring} {state.replace('_', ' ')}")


def _ring_succeeded(rollout: Rollout) -> None:
    assert rollout.ring is not None
    rings = {ring.position: ring for ring in environment_rings(rollout.environment)}
    later = sorted(position for position in rings if position > rollout.ring)
    if not later:
        release_services.release_finish(
            release=rollout.release, outcome=ReleaseState.SUCCEEDED, reason=""
        )
        return
    this, following = rings.get(rollout.ring), rings[later[0]]
    soak = this.soak_seconds if this is not None else 0
    due = clock.now() + timedelta(seconds=soak)
    rollout.next_ring_at = due
    Rollout.objects.filter(pk=rollout.pk).update(next_ring_at=due)
    _event(
        rollout,
        f"Ring {following.position} (cluster {following.cluster.name}) starts after the soak "
        f"of ring {rollout.ring} ends at {_when(due)}",
    )
    audit_record(
        actor=None,
        action="rollout.ring_soak",
        target=rollout,
        after={"ring": rollout.ring, "next_ring": following.position, "due": due.isoformat()},
    )
    if soak == 0:  # no soak: the next ring now, not at the next beat
        transaction.on_commit(lambda: outbox.send_task_quietly(rollouts_dispatch_task.name))


def _rollback_finished(rollback: Rollout, state: str) -> None:
    if state == RolloutState.SUCCEEDED:
        roll_back_next(rollback.release, why=f"ring {rollback.ring} rolled back")
        return
    # The chain stops: a ring Runway could not put back needs a person.
    release = Release.objects.get(pk=rollback.release_id)
    if release.state == ReleaseState.IN_PROGRESS:
        release_services.release_finish(
            release=release,
            outcome=ReleaseState.FAILED,
            reason=f"The rollback of ring {rollback.ring} failed: {rollback.failure_reason}",
        )


def _standing(release: Release) -> list[Rollout]:
    """The release's ring rollouts that succeeded and are neither rolled back nor rolling
    back, the highest ring first."""
    rollouts = list(
        Rollout.objects.filter(release=release, ring__isnull=False)
        .select_related("service", "environment", "cluster", "release")
        .order_by("id")
    )
    undone = {
        r.rolls_back_id
        for r in rollouts
        if r.is_rollback and (r.state == RolloutState.SUCCEEDED or r.state in ACTIVE_STATES)
    }
    standing = [
        r
        for r in rollouts
        if not r.is_rollback and r.state == RolloutState.SUCCEEDED and r.pk not in undone
    ]
    return sorted(standing, key=lambda r: r.ring or 0, reverse=True)


def require_last_standing(rollout: Rollout) -> None:
    """A ring is rolled back only once the rings after it are: roll back the highest one and
    the rest follow. A ring with nothing to go back to (the version was the first there) is
    left as it is and does not hold the others."""
    standing = [r for r in _standing(rollout.release) if "rollback" in state_actions(r)]
    if standing and standing[0].pk != rollout.pk:
        raise ValidationError(
            f"Roll back ring {standing[0].ring} (rollout #{standing[0].pk}) first: the "
            "rings before it are rolled back after it, in turn."
        )


def roll_back_next(release: Release, *, why: str) -> Rollout | None:
    """Roll back the highest ring still on the new version; with none left, finish the
    release. Returns the rollback started."""
    from apps.rollouts import services

    for rollout in _standing(release):
        try:
            with transaction.atomic():
                rollback = services.rollout_rollback(
                    actor=None, rollout=rollout, reason=f"Rings roll back: {why}"
                )
        except ValidationError as exc:
            _event(
                rollout,
                f"Ring {rollout.ring} not rolled back: {' '.join(exc.messages)}",
                RolloutEvent.Level.WARNING,
            )
            continue
        audit_record(
            actor=None,
            action="rollout.ring_rollback",
            target=rollout,
            after={"ring": rollout.ring, "rollback": rollback.pk, "why": why},
        )
        return rollback
    _finish_rolled_back(release)
    return None


def _finish_rolled_back(release: Release) -> None:
    """Every ring is back: the release ends as the ring that failed ended (failed when even
    its own rollback failed), or rolled back when none failed (a person rolled it back)."""
    failed = (
        Rollout.objects.filter(
            release=release, is_rollback=False, state__in=list(RING_FAILED_OUTCOME)
        )
        .order_by("id")
        .first()
    )
    outcome = RING_FAILED_OUTCOME[failed.state] if failed else ReleaseState.ROLLED_BACK
    reason = (
        f"Ring {failed.ring} {failed.get_state_display().lower()}: {failed.failure_reason}"
        if failed
        else "Every ring is rolled back"
    )
    release_services.release_finish(release=release, outcome=outcome, reason=reason)


# --- Executing: the next ring -------------------------------------------------------------


def rings_dispatch() -> list[int]:
    """Start the next ring of every release whose ring's soak is over (the dispatcher's
    beat). Returns the ids of the rollouts started."""
    due = Rollout.objects.filter(next_ring_at__lte=clock.now(), is_rollback=False)
    started = []
    for rollout_id in due.order_by("next_ring_at").values_list("pk", flat=True)[:200]:
        try:
            rollout = ring_start_next(rollout_id=rollout_id)
        except ValidationError:
            continue  # another dispatcher started it: the unique ring constraint
        if rollout is not None:
            started.append(rollout.pk)
    return started


@transaction.atomic
def ring_start_next(*, rollout_id: int) -> Rollout | None:
    """Start the ring after the one `rollout_id` rolled out, if its soak is over and it still
    stands; None when there is nothing to start (started already, or no longer due). Two
    starts at once start one rollout: the earlier ring's row lock, and the unique ring."""
    from apps.rollouts import services

    previous = (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("environment", "release")
        .filter(pk=rollout_id)
        .first()
    )
    now = clock.now()
    if previous is None or previous.next_ring_at is None or previous.next_ring_at > now:
        return None
    previous.next_ring_at = None
    previous.save(update_fields=["next_ring_at", "updated_at"])
    release = (
        Release.objects.select_for_update(of=("self",))
        .select_related("service", "environment")
        .get(pk=previous.release_id)
    )
    if previous.state != RolloutState.SUCCEEDED or release.state != ReleaseState.IN_PROGRESS:
        _event(previous, f"The next ring does not start: the release is {release.state}.")
        return None
    Environment.objects.select_for_update(no_key=True).filter(pk=release.environment_id).first()
    following = (
        Ring.objects.filter(environment=release.environment_id, position__gt=previous.ring)
        .select_related("cluster")
        .order_by("position")
        .first()
    )
    if following is None:  # cannot happen while rings are fixed during a release
        release_services.release_finish(
            release=release, outcome=ReleaseState.SUCCEEDED, reason="No ring left"
        )
        return None
    rollout = services._create_rollout(
        release=release, actor=None, cluster=following.cluster, ring=following.position
    )
    _event(
        previous,
        f"The soak of ring {previous.ring} ended: ring {following.position} (cluster "
        f"{following.cluster.name}) started as rollout #{rollout.pk}",
    )
    audit_record(
        actor=None,
        action="rollout.ring_start",
        target=rollout,
        after={"ring": following.position, "cluster": following.cluster.name, "after": previous.pk},
    )
    return rollout
