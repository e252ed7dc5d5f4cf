"""Vendor timestamps: ISO 8601 (GitHub, PagerDuty, generic) and GitLab's own forms
(`2021-04-28 21:50:00 +0200`, `2016-08-12 15:23:28 UTC`). Times without an offset are refused:
a lead time needs to know which instant was meant."""

from datetime import UTC, datetime

from apps.insights.webhooks.errors import BadPayload

_GITLAB_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S.%f %z")


def parse_time(value, field: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        parsed = _parse_text(value.strip(), field)
    else:
        raise BadPayload({field: ["A timestamp is required (ISO 8601 with a time zone)."]})
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise BadPayload({field: [f"{value!r} has no time zone: add Z or an offset like +02:00."]})
    return parsed


def parse_optional_time(value, field: str) -> datetime | None:
    return None if value in (None, "") else parse_time(value, field)


def _parse_text(text: str, field: str) -> datetime:
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + " +0000"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in _GITLAB_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise BadPayload(
        {field: [f"{text!r} is not a timestamp (use ISO 8601, e.g. 2025-01-31T09:00Z)."]}
    )


def seconds_between(earlier: datetime, later: datetime) -> int:
    """Real elapsed seconds. Python subtracts two times of the *same* zone by their wall clocks,
    which is an hour off across a DST change; in UTC it is the real time."""
    return int((later.astimezone(UTC) - earlier.astimezone(UTC)).total_seconds())
