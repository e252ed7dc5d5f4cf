"""iCalendar (RFC 5545) for the calendar feeds, built with the icalendar library.

Every time is written in UTC, so the feed needs no VTIMEZONE and each client shows the events in
its own zone. UIDs are stable (release-<id>@runway; a train, one event for all its members,
train-<id>@runway), so a re-planned release moves in the
subscriber's calendar instead of appearing twice. A recurring freeze is written as its
occurrences in the feed's range, each an event of its own (freeze-<id>-<start>@runway): an
RRULE in UTC would drift by an hour across the freeze zone's daylight-saving changes.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from apps.core.image_refs import ImageRef
from apps.releases.calendar.manage_selectors import scope_label
from apps.releases.groups import ReleaseGroup
from apps.releases.models import Freeze, Release, ReleaseState

PRODID = "-//Runway//Release calendar//EN"
REFRESH = timedelta(hours=1)

STATUS_BY_STATE: dict[str, str] = {
    ReleaseState.DRAFT: "TENTATIVE",
    ReleaseState.PENDING_APPROVAL: "TENTATIVE",
    ReleaseState.APPROVED: "CONFIRMED",
    ReleaseState.SCHEDULED: "CONFIRMED",
    ReleaseState.IN_PROGRESS: "CONFIRMED",
    ReleaseState.SUCCEEDED: "CONFIRMED",
    ReleaseState.FAILED: "CONFIRMED",
    ReleaseState.ROLLED_BACK: "CONFIRMED",
    ReleaseState.REJECTED: "CANCELLED",
    ReleaseState.CANCELLED: "CANCELLED",
}


def release_summary(release: Release) -> str:
    version = ImageRef.parse(release.version).short_digest
    return f"{release.service.name} {version} → {release.environment.name}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def release_event(release: Release, url: str) -> Event:
    requester = release.requester
    event = Event()
    event.add("uid", f"release-{release.pk}@runway")
    # Without METHOD, DTSTAMP is when the event was last revised (RFC 5545 3.8.7.2).
    event.add("dtstamp", _utc(release.updated_at))
    event.add("dtstart", _utc(release.planned_start))
    event.add("dtend", _utc(release.planned_end))
    event.add("summary", release_summary(release))
    event.add(
        "description",
        "\n".join(
            [
                release.title,
                f"State: {release.get_state_display()}",
                f"Risk: {release.risk}",
                f"Requested by: {requester.display_name} ({requester.username})",
                f"Version: {release.version}",
                url,
            ]
        ),
    )
    event.add("url", url)
    event.add("status", STATUS_BY_STATE.get(release.state, "TENTATIVE"))
    event.add("categories", ["Release", release.get_state_display()])
    event.add("created", _utc(release.created_at))
    event.add("last-modified", _utc(release.updated_at))
    # Information, not a meeting: subscribers' free/busy stays free.
    event.add("transp", "TRANSPARENT")
    return event


def group_event(group: ReleaseGroup, url: str) -> Event:
    """Releases that travel together (a train) as one event, its members in the description."""
    event = Event()
    event.add("uid", f"{group.key}@runway")
    event.add("dtstamp", _utc(group.updated_at))
    event.add("dtstart", _utc(group.planned_start))
    event.add("dtend", _utc(group.planned_end))
    event.add(
        "summary", f"{group.kind} {group.name} ({group.member_count}) → {group.environment_name}"
    )
    event.add(
        "description",
        "\n".join(
            [
                f"{group.kind} {group.name}",
                f"State: {group.state_display}",
                f"{group.member_count} releases: {group.summary}",
                url,
            ]
        ),
    )
    event.add("url", url)
    # Confirmed once any member is; cancelled when every member is; tentative until then.
    statuses = {STATUS_BY_STATE.get(member.state, "TENTATIVE") for member in group.members}
    status = "CONFIRMED" if "CONFIRMED" in statuses else "TENTATIVE"
    event.add("status", "CANCELLED" if statuses == {"CANCELLED"} else status)
    event.add("categories", [group.kind, group.state_display])
    event.add("last-modified", _utc(group.updated_at))
    event.add("transp", "TRANSPARENT")
    return event


def freeze_event(freeze: Freeze, starts: datetime, ends: datetime, generated_at: datetime) -> Event:
    """One occurrence of a freeze (the whole of a one-off one) as an event."""
    event = Event()
    occurrence = f"-{_utc(starts):%Y%m%dT%H%M%SZ}" if freeze.rrule else ""
    event.add("uid", f"freeze-{freeze.pk}{occurrence}@runway")
    event.add("dtstamp", _utc(generated_at))  # a freeze keeps no modification time
    event.add("dtstart", _utc(starts))
    event.add("dtend", _utc(ends))
    event.add("summary", f"Change freeze: {freeze.name}")
    lines = [f"Scope: {scope_label(freeze)}"]
    if freeze.reason:
        lines.append(freeze.reason)
    if freeze.ended_early_at is not None and starts <= freeze.ended_early_at <= ends:
        lines.append(f"Ended early: {freeze.end_reason}")
    event.add("description", "\n".join(lines))
    event.add("status", "CONFIRMED")
    event.add("categories", ["Freeze"])
    event.add("transp", "TRANSPARENT")
    return event


def feed_calendar(
    *,
    name: str,
    releases: Iterable[Release],
    freezes: Iterable[tuple[Freeze, datetime, datetime]],
    release_url: Callable[[Release], str],
    generated_at: datetime,
    groups: Mapping[int, ReleaseGroup] | None = None,
    group_url: Callable[[ReleaseGroup], str] = lambda group: group.url,
) -> bytes:
    """The feed. A grouped release (a train's member, by release id in `groups`) is not an
    event of its own: its group is, once."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("name", name)  # RFC 7986's spelling of X-WR-CALNAME
    # How often clients should fetch again (RFC 7986, and the older Outlook property).
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    groups = groups or {}
    written: set[str] = set()
    for release in releases:
        group = groups.get(release.pk)
        if group is None:
            calendar.add_component(release_event(release, release_url(release)))
        elif group.key not in written:
            written.add(group.key)
            calendar.add_component(group_event(group, group_url(group)))
    for freeze, starts, ends in freezes:
        calendar.add_component(freeze_event(freeze, starts, ends, generated_at))
    return calendar.to_ical()
