"""How long a version has run without a break in an environment: the soak that a promotion from
it waits for (`Environment.soak_seconds`). A failure or a rollback there starts the count again;
an approval does not shorten it, only an emergency with its justification skips it."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from django.db.models import OuterRef, QuerySet, Subquery

from apps.catalog.models import Environment
from apps.releases.models import Release, ReleaseState

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _Running(TypedDict):
        running: str | None
        succeeded_at: datetime | None
        broken_at: datetime | None

    RunningEnvironment: TypeAlias = WithAnnotations[Environment, _Running]

BROKEN = (ReleaseState.FAILED, ReleaseState.ROLLED_BACK)


def with_running_version(
    environments: QuerySet[Environment],
) -> "QuerySet[RunningEnvironment]":
    """The environments, each annotated with `running` (the version that last succeeded there),
    `succeeded_at` (when) and `broken_at` (the last failure or rollback there since, which put
    that version back or left it: either way it has not run healthy since). One query."""
    last_success = Release.objects.filter(
        environment=OuterRef("pk"), state=ReleaseState.SUCCEEDED, finished_at__isnull=False
    ).order_by("-finished_at", "-pk")
    last_break = Release.objects.filter(
        environment=OuterRef("pk"), state__in=BROKEN, finished_at__gt=OuterRef("succeeded_at")
    ).order_by("-finished_at")
    return environments.annotate(
        running=Subquery(last_success.values("version")[:1]),
        succeeded_at=Subquery(last_success.values("finished_at")[:1]),
    ).annotate(broken_at=Subquery(last_break.values("finished_at")[:1]))


def healthy_since(environment: "RunningEnvironment") -> datetime | None:
    """Of an environment from `with_running_version`: since when its version has run unbroken."""
    return environment.broken_at or environment.succeeded_at


def running_since(environment: Environment, version: str) -> datetime | None:
    """Since when `version` has run in `environment` with no failure or rollback there since;
    None when it is not the version that last succeeded there."""
    annotated = with_running_version(Environment.objects.filter(pk=environment.pk)).get()
    return healthy_since(annotated) if annotated.running == version else None


def soaked_at(environment: Environment, version: str) -> datetime | None:
    """When `version` will have soaked long enough in `environment`; None when it is not running
    there."""
    since = running_since(environment, version)
    return None if since is None else since + timedelta(seconds=environment.soak_seconds)
