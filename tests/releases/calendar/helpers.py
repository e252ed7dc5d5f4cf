"""Small helpers the calendar tests share."""

import re
from datetime import UTC, datetime

from apps.releases.models import ChangeWindow, Freeze, WindowScope


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day_cell(html: str, day: str) -> str:
    """The markup of one day of a month or week grid (or of the agenda), by its ISO date."""
    match = re.search(rf'data-date="{day}"(.*?)(?=data-date="|$)', html, re.S)
    assert match, f"no day {day} in the calendar"
    return match.group(1)


def mondays_nine_to_five_in_berlin(**fields) -> ChangeWindow:
    return ChangeWindow.objects.create(
        name="Monday changes",
        kind=fields.pop("kind", ChangeWindow.Kind.ALLOW),
        rrule="FREQ=WEEKLY;BYDAY=MO",
        starts_at_local=utc(2025, 1, 6, 9),  # wall-clock time, stored with a UTC marker
        duration_minutes=8 * 60,
        time_zone="Europe/Berlin",
        scope=fields.pop("scope", WindowScope.ORGANISATION),
        **fields,
    )


def freeze(name: str, starts_at, ends_at, **fields) -> Freeze:
    return Freeze.objects.create(
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        scope=fields.pop("scope", WindowScope.ORGANISATION),
        **fields,
    )
