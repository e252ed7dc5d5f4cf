"""How long a version has run without a break in an environment: the soak that a promotion from
it waits for (`Environment.soak_seconds`). A failure or a rollback there starts the count again;
an approval does not shorten it, only an emergency with its justification skips it."""

from datetime import datetime, timedelta

from apps.catalog.models import Environment
from apps.releases.models import Release, ReleaseState

FINISHED = (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK)


def running_since(environment: Environment, version: str) -> datetime | None:
    """Since when `version` has run in `environment` with no failure or rollback there since;
    None when it is not the version that last succeeded there."""
    finished = Release.objects.filter(
        environment=environment, state__in=FINISHED, finished_at__isnull=False
    ).order_by("-finished_at", "-pk")
    last_success = (
        finished.filter(state=ReleaseState.SUCCEEDED).values("version", "finished_at").first()
    )
    if last_success is None or last_success["version"] != version:
        return None
    # A later release that failed or was rolled back put this version back, or left it: either
    # way it has not run healthy since then.
    last_break = (
        finished.exclude(state=ReleaseState.SUCCEEDED)
        .filter(finished_at__gt=last_success["finished_at"])
        .values_list("finished_at", flat=True)
        .first()
    )
    return last_break or last_success["finished_at"]


def soaked_at(environment: Environment, version: str) -> datetime | None:
    """When `version` will have soaked long enough in `environment`; None when it is not running
    there."""
    since = running_since(environment, version)
    return None if since is None else since + timedelta(seconds=environment.soak_seconds)


def duration(seconds: float) -> str:
    """3 d 4 h, 2 h 5 min, 12 min, 40 s: a soak in words."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
