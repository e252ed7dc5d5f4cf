"""Promoting a train that succeeded: the same members, versions (digests) and commits asked of
the next environment in the catalog's order, as a new train that goes through its own policies.
Each member is held to a release's promotion rules (apps/releases/promotion.py): its soak in
this environment must be over, unless an emergency says why it cannot wait, and neither a
version marked bad nor a pin on another version may stand in its way."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.catalog.models import Environment
from apps.core.exceptions import Conflict
from apps.releases.models import ChangeType, Release
from apps.releases.promotion import (
    next_environment,
    pin_refusal,
    promotion_refusal,
    soak_refusal,
)
from apps.trains import selectors
from apps.trains.models import Train
from apps.trains.services import train_create, train_submit
from apps.trains.signals import train_changed
from apps.trains.transitions import lock_train, require_action


@transaction.atomic
def train_promote(
    *,
    actor: User,
    train: Train,
    emergency: bool = False,
    justification: str = "",
    submit: bool = False,
) -> Train:
    """A new train of the same members to the next environment: a draft, submitted when
    `submit`. The source row is locked, so two clicks at once promote once (the second is a
    Conflict). Refused whole, naming the member, when any member may not be promoted yet."""
    train = lock_train(train.pk)
    members = selectors.train_members(train)
    require_action(train, actor, "promote", members=members)
    justification = (justification or "").strip()
    if emergency and not justification:
        raise ValidationError(
            {"justification": "An emergency promotion skips the soak: say why it cannot wait."}
        )
    targets = {release.pk: next_environment(release) for release in members}
    target = _next_environment_name(members, targets)
    _refuse_what_holds_a_member(members, targets, emergency=emergency)
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    length = max(r.planned_end for r in members) - min(r.planned_start for r in members)
    promoted = train_create(
        actor=actor,
        name=train.name,
        environment_name=target,
        planned_start=start,
        planned_end=start + length,
        members=[_member(release, emergency, justification) for release in members],
        max_parallel=train.max_parallel,
        rollback_policy=train.rollback_policy,
    )
    promoted.promoted_from = train
    promoted.save(update_fields=["promoted_from", "updated_at"])
    # The source page offers promotion no more and links to the new train: say it changed.
    train.save(update_fields=["updated_at"])
    train_changed.send(sender=Train, train=train)
    what = {"emergency": emergency, **({"justification": justification} if emergency else {})}
    audit_record(
        actor=actor,
        action="train.promote",
        target=train,
        before={"environment": train.environment_name},
        after={"train": promoted.pk, "environment": target, **what},
    )
    audit_record(
        actor=actor,
        action="train.promoted",
        target=promoted,
        before={"train": train.pk, "environment": train.environment_name},
        after={"environment": target, **what},
    )
    return train_submit(actor=actor, train=promoted) if submit else promoted


def _next_environment_name(members: list[Release], targets: dict[int, Environment | None]) -> str:
    """The one environment every member goes to next, or a refusal naming the members that
    have none, or the members' differing next environments."""
    nexts = {release.service.name: targets[release.pk] for release in members}
    last = sorted(name for name, environment in nexts.items() if environment is None)
    if last:
        where = members[0].environment.name
        raise ValidationError(
            {"environment": f"No environment after {where} for {', '.join(last)}."}
        )
    names = {environment.name for environment in nexts.values() if environment is not None}
    if len(names) > 1:
        differing = ", ".join(
            f"{name} → {environment.name}"
            for name, environment in sorted(nexts.items())
            if environment is not None
        )
        raise ValidationError(
            {"environment": f"The members go on to different environments: {differing}."}
        )
    return names.pop()


def _refuse_what_holds_a_member(
    members: list[Release], targets: dict[int, Environment | None], *, emergency: bool
) -> None:
    """A release's own promotion rules, member by member, each refusal naming its member: asked
    of the next environment already (409), a soak not over, a version marked bad or a pin on
    another version there (400)."""
    now = timezone.now()
    asked: list[str] = []
    held: list[str] = []
    for release in members:
        name, target = release.service.name, targets[release.pk]
        refusal = promotion_refusal(release, target)
        if refusal is not None:
            (asked if refusal[0] == "environment" else held).append(f"{name}: {refusal[1]}")
            continue
        assert target is not None  # promotion_refusal says so otherwise
        for why in (
            "" if emergency else soak_refusal(release, at=now),
            pin_refusal(release, target),
        ):
            if why:
                held.append(f"{name}: {why}")
    if asked:
        raise Conflict({"members": " ".join(asked)})
    if held:
        raise ValidationError({"members": " ".join(held)})


def _member(release: Release, emergency: bool, justification: str) -> dict:
    """The member as train_create asks for it: the same version and commits as `release`."""
    return {
        "service": release.service.name,
        "version": release.version,
        "title": release.title,
        "description": release.description,
        "links": release.links,
        "commits": [
            {"sha": c.sha, "author": c.author, "message": c.message, "committed_at": c.committed_at}
            for c in release.commits.all()
        ],
        **(
            {"change_type": ChangeType.EMERGENCY, "justification": justification}
            if emergency
            else {}
        ),
    }
