"""A train as one item in the releases' inbox and calendar (apps/releases/groups.py): its
members are not listed by themselves there."""

from collections.abc import Sequence

from django.db.models import F
from django.urls import reverse

from apps.core.lookups import AnyOf
from apps.releases.groups import Grouping, GroupMember, ReleaseGroup, register_grouping
from apps.trains.models import TrainMember, TrainState
from apps.trains.selectors import trains_awaiting_decision_by


def _member_ids():
    return TrainMember.objects.values("release_id")


def trains_of(release_ids: Sequence[int]) -> dict[int, ReleaseGroup]:
    """Each release's train, by release id, with all of the train's members: one query."""
    # One array of ids (AnyOf): a busy month asks about a hundred releases or more.
    trains = TrainMember.objects.filter(AnyOf(F("release_id"), release_ids)).values("train_id")
    memberships = (
        TrainMember.objects.filter(train_id__in=trains)
        .select_related("train", "release")
        .only(
            "service_name",
            "train__name",
            "train__environment_name",
            "train__state",
            "train__updated_at",
            "release__version",
            "release__state",
            "release__planned_start",
            "release__planned_end",
            "release__updated_at",
        )
        .order_by("train_id", "service_name")
    )
    by_train: dict[int, list[TrainMember]] = {}
    for membership in memberships:
        by_train.setdefault(membership.train_id, []).append(membership)
    found: dict[int, ReleaseGroup] = {}
    for train_id, rows in by_train.items():
        train = rows[0].train
        group = ReleaseGroup(
            key=f"train-{train_id}",
            kind="Train",
            name=train.name,
            url=reverse("trains:detail", args=[train_id]),
            environment_name=train.environment_name,
            state=train.state,
            state_display=TrainState(train.state).label,
            planned_start=min(row.release.planned_start for row in rows),
            planned_end=max(row.release.planned_end for row in rows),
            updated_at=max([train.updated_at, *(row.release.updated_at for row in rows)]),
            members=tuple(_member(row) for row in rows),
        )
        for row in rows:
            found[row.release_id] = group
    return found


def _member(row: TrainMember) -> GroupMember:
    return GroupMember(row.release_id, row.service_name, row.release.version, row.release.state)


register_grouping(
    Grouping(
        "trains",
        member_ids=_member_ids,
        groups_of=trains_of,
        inbox_items=trains_awaiting_decision_by,
    )
)
