"""Columns later apps add to a train's members table (the rollouts app: each member's rollouts),
so the train page shows them without this app knowing of them."""

from collections.abc import Callable
from dataclasses import dataclass

from apps.releases.models import Release


@dataclass(frozen=True)
class MemberColumn:
    key: str
    title: str
    template: str
    # The cells of every member at once (one query, whatever the number of members): release id
    # -> the cell's template context.
    collect: Callable[[list[Release]], dict[int, dict]]


_columns: dict[str, MemberColumn] = {}


def register_member_column(column: MemberColumn) -> None:
    _columns[column.key] = column


def member_columns() -> list[MemberColumn]:
    return list(_columns.values())


def member_rows(releases: list[Release]) -> list[tuple[Release, list[tuple[MemberColumn, dict]]]]:
    """Each release with its cells, [(column, context)], in the columns' order."""
    collected = [(column, column.collect(releases)) for column in member_columns()]
    return [
        (release, [(column, cells.get(release.pk, {})) for column, cells in collected])
        for release in releases
    ]
