"""Runway's clock for waits that span minutes or hours (rollout pauses and deadlines).

It is the system clock, unless RUNWAY_CLOCK_OFFSET_FILE names a file: then the seconds in that
file are added, in every process that reads it (web, workers, tests). Drills move time forward
that way, so a two-hour pause is tested without waiting two hours."""

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def now() -> datetime:
    moment = timezone.now()
    offset_file = settings.RUNWAY_CLOCK_OFFSET_FILE
    if not offset_file:
        return moment
    try:
        seconds = float(Path(offset_file).read_text().strip() or 0)
    except (OSError, ValueError):
        seconds = 0.0
    return moment + timedelta(seconds=seconds)
