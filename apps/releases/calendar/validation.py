"""What a change window or a freeze must be before it is saved, or previewed: the one place
these rules live, for the services that save and for the forms' preview that does not.
Every refusal is a ValidationError naming the field."""

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.accounts.models import validate_time_zone
from apps.releases.models import ChangeWindow, Freeze, WindowScope
from apps.releases.windows import freeze_rule, parse_rrule

MAX_FREEZE_SPAN = timedelta(days=366)
MAX_WINDOW_MINUTES = 31 * 24 * 60
# An occurrence of a recurring freeze lasts no longer than a window: evaluating it near an
# instant then stays within the rule engine's bounded span (apps/releases/rules.py).
MAX_RECURRING_FREEZE_SPAN = timedelta(minutes=MAX_WINDOW_MINUTES)

# Times far outside these make no sense for a freeze, and date arithmetic near the year 1 or
# 9999 overflows.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
# The field each scope names, and those it leaves empty.
SCOPE_FIELDS: dict[str, str] = {
    WindowScope.TEAM: "team",
    WindowScope.SERVICE: "service",
    WindowScope.ENVIRONMENT: "environment_kind",
}


def validate_time_zone_field(value: str) -> None:
    try:
        validate_time_zone(value)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from None


def _clean_scope(obj: ChangeWindow | Freeze) -> None:
    """The scope names what it needs, and nothing of another scope stays behind (an edit from
    a team's window to the organisation's forgets the team)."""
    needed = SCOPE_FIELDS.get(obj.scope)
    if needed and not getattr(obj, needed if needed == "environment_kind" else f"{needed}_id"):
        scope = obj.get_scope_display().lower()
        kind = "window" if isinstance(obj, ChangeWindow) else "freeze"
        raise ValidationError({needed: f"A {scope} {kind} names its {needed.replace('_', ' ')}."})
    if needed != "team":
        obj.team = None
    if needed != "service":
        obj.service = None
    if needed != "environment_kind":
        obj.environment_kind = ""


def clean_window(window: ChangeWindow) -> None:
    """Check a window, saved or not, the way the services save it."""
    if window.starts_at_local and timezone.is_naive(window.starts_at_local):
        # Wall-clock time in the window's zone, kept in a UTC-labelled column.
        window.starts_at_local = window.starts_at_local.replace(tzinfo=UTC)
    validate_time_zone_field(window.time_zone)
    if window.duration_minutes and window.duration_minutes > MAX_WINDOW_MINUTES:
        raise ValidationError(
            {"duration_minutes": f"A window lasts at most {MAX_WINDOW_MINUTES // 1440} days."}
        )
    if window.starts_at_local is not None:
        parse_rrule(window.rrule or "", window.starts_at_local)
    _clean_scope(window)
    window.full_clean()


def clean_freeze(freeze: Freeze) -> None:
    """Check a freeze, saved or not, the way the services save it."""
    freeze.rrule = (freeze.rrule or "").strip()
    starts, ends = freeze.starts_at, freeze.ends_at
    if starts and ends and ends <= starts:
        raise ValidationError({"ends_at": "The end must be after the start."})
    longest = MAX_RECURRING_FREEZE_SPAN if freeze.rrule else MAX_FREEZE_SPAN
    if starts and ends and ends - starts > longest:
        what = "An occurrence of a recurring freeze" if freeze.rrule else "A freeze"
        raise ValidationError({"ends_at": f"{what} lasts at most {longest.days} days."})
    for name, moment in (("starts_at", starts), ("ends_at", ends)):
        if moment is not None and not EARLIEST <= moment < LATEST:
            raise ValidationError(
                {name: f"Pick a time between {EARLIEST.year} and {LATEST.year - 1}."}
            )
    validate_time_zone_field(freeze.time_zone)
    if freeze.rrule and starts and ends:
        try:
            freeze_rule(freeze)
        except ValidationError as exc:
            # The rule engine speaks of windows' `starts_at_local`; a freeze's is `starts_at`.
            raise ValidationError(
                {
                    ("starts_at" if field == "starts_at_local" else field): messages
                    for field, messages in exc.message_dict.items()
                }
            ) from None
    _clean_scope(freeze)
    freeze.full_clean()
