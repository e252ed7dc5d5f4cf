"""What later apps add to a train's page without this app knowing of them: columns of its
members table (the rollouts app: each member's rollouts and the step each is at), and the live
stream that tells the page to re-fetch its waves and members (the rollouts app's)."""

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


# The URL of the stream a train page follows, with the version the page is rendered at; the
# rollouts app sets it. Without one the page is static.
_live_stream: list[Callable[[int], str]] = []


def register_live_stream(url_for: Callable[[int], str]) -> None:
    _live_stream[:] = [url_for]


def live_stream_url(train_id: int) -> str:
    """Read before what the page shows: a change in between makes the stream re-fetch."""
    return _live_stream[0](train_id) if _live_stream else ""
