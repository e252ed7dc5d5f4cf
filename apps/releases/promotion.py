"""Promoting a release that succeeded: the same version (the same artifact, best named by its
digest) and commits asked of the service's next environment. The new release stands on its own:
its environment's policy, windows and freezes apply, and the soak asked here holds its start.
A train's promotion asks the same of each member, and refuses at once what would hold it: a soak
not over (unless an emergency) or a pin on another version."""

from datetime import datetime

from apps.accounts import permissions
from apps.catalog.models import Environment
from apps.core.durations import format_duration
from apps.releases.models import Release, ReleaseState, VersionPin
from apps.releases.soak import soaked_at

# A release of the same version in the next environment in any of these states means it was
# promoted already (or asked for by hand): promoting again would ask twice.
STILL_ASKED = (
    ReleaseState.DRAFT,
    ReleaseState.PENDING_APPROVAL,
    ReleaseState.APPROVED,
    ReleaseState.SCHEDULED,
    ReleaseState.IN_PROGRESS,
    ReleaseState.SUCCEEDED,
)


def next_environment(release: Release) -> Environment | None:
    return (
        Environment.objects.filter(
            service_id=release.service_id, order__gt=release.environment.order
        )
        .order_by("order")
        .first()
    )


def promotion_refusal(release: Release, target: Environment | None) -> tuple[str, str] | None:
    """(field, why) when `release` cannot be promoted to `target` now; None when it can."""
    if release.state != ReleaseState.SUCCEEDED:
        return "state", "Only a release that succeeded is promoted."
    if target is None:
        return "environment", (
            f"{release.environment.name} is {release.service.name}'s last environment."
        )
    asked = (
        Release.objects.filter(environment=target, version=release.version, state__in=STILL_ASKED)
        .values_list("pk", flat=True)
        .first()
    )
    if asked is not None:
        return "environment", f"{release.version} is already asked of {target.name}: #{asked}."
    return None


def promotion_offer(release: Release, user) -> Environment | None:
    """The environment the page offers `user` to promote `release` to, if any."""
    if release.state != ReleaseState.SUCCEEDED:
        return None  # no query for the releases that are not done
    if not permissions.can_act_for_team(user, release.service.owner_id):
        return None
    target = next_environment(release)
    return None if promotion_refusal(release, target) else target


def soak_refusal(release: Release, *, at: datetime) -> str:
    """Why `release`'s version has not run long enough in its environment, with how long is
    left, to be promoted from it at `at`; "" when it has or no soak is asked there."""
    environment = release.environment
    if not environment.soak_seconds:
        return ""
    ready_at = soaked_at(environment, release.version)
    if ready_at is None:
        return f"{release.version} is not what runs in {environment.name} now."
    if ready_at <= at:
        return ""
    return (
        f"{release.version} needs {format_duration(environment.soak_seconds)} in "
        f"{environment.name} without a failure or rollback: "
        f"{format_duration((ready_at - at).total_seconds())} left."
    )


def pin_refusal(release: Release, target: Environment) -> str:
    """Why `target` would hold `release`'s version at its start: pinned to another one."""
    pin = VersionPin.objects.filter(environment=target, lifted_at__isnull=True).first()
    if pin is None or pin.version == release.version:
        return ""
    return f"{target.name} is pinned to {pin.version} ({pin.reason}): lift the pin first."
