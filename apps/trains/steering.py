"""A train's members are steered only through their train: the releases app asks this before
any action on a release by itself, and before starting one (apps/releases/transitions.py)."""

from django.db.models import QuerySet

from apps.releases.models import Release
from apps.releases.transitions import register_steered_ids, register_steerer
from apps.trains.models import Train, TrainMember


def train_of(release: Release) -> Train | None:
    """The train the release belongs to, if any: one query, read once per release object (the
    release page's train link and its refusals share it)."""
    if not hasattr(release, "_train"):
        membership = TrainMember.objects.select_related("train").filter(release_id=release.pk)
        found = membership.first()
        release._train = found.train if found else None  # type: ignore[attr-defined]
    return release._train  # type: ignore[attr-defined]


def train_steers(release: Release) -> str:
    """Why a member release is not acted on by itself; "" for a release in no train."""
    train = train_of(release)
    return "" if train is None else f"Part of train “{train.name}”: act on the train."


def train_member_ids() -> QuerySet:
    """Every train's members, as a subquery: releases that no beat acts on by themselves."""
    return TrainMember.objects.values("release_id")


register_steerer(train_steers)
register_steered_ids(train_member_ids)
