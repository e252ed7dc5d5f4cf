"""Recurrence rules of change windows: what a rule may ask for, and its occurrences near an
instant in work bounded by the span asked about, never by the rule's age.

dateutil walks a rule from its start, even for `between()`: a minutely rule started in the
year 1 took minutes to answer "is 10:00 today in the window?". So rules are limited on the way in
(below), and evaluated from a start moved forward by whole periods to just before the span asked
about (same phase, same wall-clock time), up to the end of that span.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any, NoReturn

from dateutil import parser
from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr
from django.core.exceptions import ValidationError

# Windows are hourly at the finest: at most one occurrence an hour.
FREQUENCIES = {
    "HOURLY": HOURLY,
    "DAILY": DAILY,
    "WEEKLY": WEEKLY,
    "MONTHLY": MONTHLY,
    "YEARLY": YEARLY,
}
MAX_INTERVAL = 1000
MAX_COUNT = 1000
EARLIEST_START = datetime(2000, 1, 1)
LATEST_START = datetime(2100, 1, 1)
# A rule must occur within this of its start, and a COUNT must be used up within it.
HORIZON = relativedelta(years=10)
# The longest span evaluated at once (the calendar's feed is the longest), and the most
# occurrences returned for it.
MAX_SPAN = timedelta(days=500)
MAX_OCCURRENCES = 2000

_FIXED_PERIOD = {HOURLY: timedelta(hours=1), DAILY: timedelta(days=1), WEEKLY: timedelta(weeks=1)}
_PERIOD: dict[int, timedelta | relativedelta] = {
    **_FIXED_PERIOD,
    MONTHLY: relativedelta(months=1),
    YEARLY: relativedelta(years=1),
}
_DAY_SELECTORS = ("BYMONTHDAY", "BYDAY", "BYYEARDAY", "BYWEEKNO")


def _refuse(message: str, field: str = "rrule") -> NoReturn:
    raise ValidationError({field: message})


def _parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if not body.upper().startswith("FREQ="):
        _refuse("Start with FREQ=…, e.g. FREQ=WEEKLY;BYDAY=MO,TU")
    if any(char in body for char in "\r\n:\x00"):
        _refuse("One rule only, e.g. FREQ=WEEKLY;BYDAY=MO,TU (no DTSTART or other lines).")
    parts = {}
    for part in body.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not value or name.upper() in parts:
            _refuse(f"Not a valid RRULE part: {part[:40]!r}")
        parts[name.upper()] = value
    return parts


def _bounded_int(parts: dict, name: str, maximum: int) -> int | None:
    if name not in parts:
        return None
    try:
        value = int(parts[name])
    except ValueError:
        _refuse(f"{name} must be a whole number.")
    if not 1 <= value <= maximum:
        _refuse(f"{name} must be between 1 and {maximum}.")
    return value


@dataclass(frozen=True)
class Rule:
    """A checked rule, ready to evaluate near any instant."""

    rule: rrule
    start: datetime  # naive wall-clock time in the window's zone
    freq: int
    interval: int
    until: datetime | None  # the last instant it may occur (a COUNT becomes one)
    # The parts dateutil would otherwise take from the start: a start moved forward by whole
    # months or years can land on another day of the month (31 Jan + 1 month is 28 Feb).
    fixed: tuple[tuple[str, int], ...]

    def anchor(self, near: datetime) -> datetime:
        """The latest start of a period of this rule at least one period before `near`."""
        if near <= self.start:
            return self.start
        if self.freq in (MONTHLY, YEARLY):
            periods = (near.year - self.start.year) * (12 if self.freq == MONTHLY else 1)
            periods += near.month - self.start.month if self.freq == MONTHLY else 0
        else:
            periods = (near - self.start) // _FIXED_PERIOD[self.freq]
        steps = max(periods // self.interval - 1, 0)
        return self.start + _PERIOD[self.freq] * (steps * self.interval)

    def occurrences(self, after: datetime, before: datetime) -> Iterator[datetime]:
        """Occurrences in [after, before] (naive wall-clock times), earliest first, lazily: a
        check that needs the first one does the work of finding it, not of listing them all."""
        if before - after > MAX_SPAN:
            raise ValueError(f"spans of more than {MAX_SPAN.days} days are not evaluated")
        until = before if self.until is None else min(before, self.until)
        if until < self.start:
            return iter(())
        fixed: dict[str, Any] = dict(self.fixed)
        bounded = self.rule.replace(dtstart=self.anchor(after), count=None, until=until, **fixed)
        return (occurrence for occurrence in bounded if occurrence >= after)

    def between(self, after: datetime, before: datetime) -> list[datetime]:
        """All occurrences in [after, before], at most MAX_OCCURRENCES."""
        return list(islice(self.occurrences(after, before), MAX_OCCURRENCES))


def _fixed(freq: int, parts: dict, start: datetime) -> tuple:
    if any(name in parts for name in _DAY_SELECTORS):
        return ()
    if freq == MONTHLY:
        return (("bymonthday", start.day),)
    if freq == YEARLY:
        month = () if "BYMONTH" in parts else (("bymonth", start.month),)
        return (*month, ("bymonthday", start.day))
    return ()


@lru_cache(maxsize=1024)
def compile_rule(text: str, start: datetime) -> Rule:
    """The rule, checked, or a ValidationError on `rrule` or `starts_at_local` saying what is
    wrong. `start` is the first occurrence as naive wall-clock time."""
    parts = _parts(text)
    if parts["FREQ"].upper() not in FREQUENCIES:
        _refuse(f"FREQ must be one of {', '.join(FREQUENCIES)}: windows are hourly at the finest.")
    freq = FREQUENCIES[parts["FREQ"].upper()]
    interval = _bounded_int(parts, "INTERVAL", MAX_INTERVAL) or 1
    count = _bounded_int(parts, "COUNT", MAX_COUNT)
    if "BYSECOND" in parts:
        _refuse("BYSECOND is not supported: windows are set to the minute.")
    if "," in parts.get("BYMINUTE", ""):
        _refuse("BYMINUTE takes one value: a window occurs at most once an hour.")
    if not EARLIEST_START <= start < LATEST_START:
        _refuse(
            f"The first occurrence must be between {EARLIEST_START.year} and "
            f"{LATEST_START.year - 1}.",
            "starts_at_local",
        )
    try:
        rule = rrulestr(text.strip(), dtstart=start)
        until = parser.parse(parts["UNTIL"]).replace(tzinfo=None) if "UNTIL" in parts else None
    except (ValueError, TypeError, OverflowError) as exc:
        _refuse(f"Not a valid RRULE: {exc}")
    if not isinstance(rule, rrule):  # a set of rules: _parts lets one rule only through
        _refuse("One rule only, e.g. FREQ=WEEKLY;BYDAY=MO,TU (no DTSTART or other lines).")
    fixed = _fixed(freq, parts, start)
    horizon = start + HORIZON
    within = rule.replace(count=None, until=horizon if until is None else min(until, horizon))
    first = list(islice(within, count or 1))
    if not first:
        _refuse("This rule never occurs in the ten years after its first occurrence.")
    if count is not None:
        if len(first) < count:
            _refuse(f"COUNT={count} is not used up within ten years of the first occurrence.")
        until = first[-1]
    return Rule(rule, start, freq, interval, until, fixed)
