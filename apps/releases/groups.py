"""Releases that travel together (a train's members) shown as one item: the inbox and the
calendar ask the groupings the apps after releases register from their AppConfig.ready()
(apps/trains/groups.py), as the release page's actions are (page_actions.py). The releases app
names none of them.

    register_grouping(Grouping("trains", member_ids=..., groups_of=..., inbox_items=...))
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from apps.core.image_refs import ImageRef

__all__ = [
    "GroupMember",
    "Grouping",
    "ReleaseGroup",
    "grouped_inbox_items",
    "groups_of",
    "register_grouping",
    "ungrouped",
]


@dataclass(frozen=True)
class GroupMember:
    release_id: int
    service: str
    version: str
    state: str

    @property
    def label(self) -> str:
        """service@tag (or the short reference when the version has no tag)."""
        ref = ImageRef.parse(self.version)
        return f"{self.service}@{ref.tag or ref.short}"


@dataclass(frozen=True)
class ReleaseGroup:
    """Several releases shown as one: what a calendar entry or an iCalendar event of it says."""

    key: str  # unique across groupings and stable, e.g. "train-12" (an iCalendar UID's stem)
    kind: str  # e.g. "Train"
    name: str
    url: str
    environment_name: str
    state: str
    state_display: str
    planned_start: datetime
    planned_end: datetime
    updated_at: datetime
    members: tuple[GroupMember, ...] = field(default=())

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def member_ids(self) -> frozenset[int]:
        return frozenset(member.release_id for member in self.members)

    @property
    def summary(self) -> str:
        """The members compactly, service@version."""
        return ", ".join(member.label for member in self.members)


@dataclass(frozen=True)
class Grouping:
    key: str
    # The ids of every grouped release, as a subquery: lists that show groups leave these out.
    member_ids: Callable[[], QuerySet]
    # The groups of these releases, by member release id, in a fixed number of queries.
    groups_of: Callable[[Sequence[int]], dict[int, ReleaseGroup]]
    # Items awaiting this user's decision, each a dict with "template" (drawn given `item`)
    # and "planned_start" (where it sorts among the releases); given the user and the active
    # approval policies, read once for the whole inbox.
    inbox_items: Callable[..., list[dict]]


_groupings: dict[str, Grouping] = {}


def register_grouping(grouping: Grouping) -> None:
    _groupings[grouping.key] = grouping


def ungrouped() -> Q:
    """Releases in no group: a filter for lists that show each group as one item."""
    q = Q()
    for grouping in _groupings.values():
        q &= ~Q(pk__in=grouping.member_ids())
    return q


def groups_of(releases: Iterable[Any]) -> dict[int, ReleaseGroup]:
    """The group of each grouped release among these, by release id."""
    ids = [release.pk for release in releases]
    found: dict[int, ReleaseGroup] = {}
    if not ids:
        return found
    for grouping in _groupings.values():
        found.update(grouping.groups_of(ids))
    return found


def grouped_inbox_items(user, *, policies: list) -> list[dict]:
    return [
        item
        for grouping in _groupings.values()
        for item in grouping.inbox_items(user, policies=policies)
    ]
