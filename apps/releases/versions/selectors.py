"""What runs in each of a service's environments, and what holds its versions: the service
page's Versions panel and the API read this one answer, in one query while nothing holds a
version, and one more each for the pins in force and the marks when there are some."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from apps.catalog.models import Environment, Service
from apps.releases.models import BadVersion, VersionPin
from apps.releases.soak import healthy_since, with_running_version


@dataclass(frozen=True)
class EnvironmentVersion:
    environment: Environment
    running: str | None  # the version that last succeeded there
    healthy_since: datetime | None  # since the last failure or rollback, or its success
    soaked_at: datetime | None  # when a soak asked for there is over
    pin: VersionPin | None  # in force
    bad: BadVersion | None  # the running version's mark, if it is marked bad


@dataclass(frozen=True)
class ServiceVersions:
    environments: list[EnvironmentVersion]
    bad_versions: list[BadVersion]


def service_versions(service: Service) -> ServiceVersions:
    # The environments' read says whether any pin is in force and any version is marked bad:
    # most services have neither, and then the two reads of them are skipped.
    environments = _environments(service.pk)
    pins: dict[int, VersionPin] = {}
    if any(environment.pinned for environment in environments):
        pins = {
            pin.environment_id: pin
            for pin in VersionPin.objects.filter(
                environment__service=service, lifted_at__isnull=True
            ).select_related("pinned_by")
        }
    bad_versions = (
        list(BadVersion.objects.filter(service=service).select_related("marked_by"))
        if not environments or environments[0].marked
        else []
    )
    marks = {bad.version: bad for bad in bad_versions}
    rows = []
    for environment in environments:
        # The service in hand, not a join: its row carries its manifests and other JSON, which
        # decoding again cost the service page more than the rest of this read.
        environment.service = service
        pin = pins.get(environment.pk)
        if pin is not None:
            pin.environment = environment  # whose service decides who may lift it
        since = healthy_since(environment)
        soaked = (
            since + timedelta(seconds=environment.soak_seconds)
            if since and environment.soak_seconds
            else None
        )
        rows.append(
            EnvironmentVersion(
                environment=environment,
                running=environment.running,
                healthy_since=since,
                soaked_at=soaked,
                pin=pin,
                bad=marks.get(environment.running or ""),
            )
        )
    return ServiceVersions(environments=rows, bad_versions=bad_versions)


def _environments_query(service_id: int) -> QuerySet[Environment]:
    in_force = VersionPin.objects.filter(environment=OuterRef("pk"), lifted_at__isnull=True)
    return with_running_version(
        Environment.objects.filter(service_id=service_id)
        .annotate(
            pinned=Exists(in_force),
            marked=Exists(BadVersion.objects.filter(service=OuterRef("service_id"))),
        )
        .order_by("order")
    )


def _environments(service_id: int) -> list:
    if connection.vendor != "postgresql":  # raw rows' dates need PostgreSQL's own types
        return list(_environments_query(service_id))
    statement, params = _environments_statement()
    return list(
        Environment.objects.raw(statement, [service_id if p == _STAND_IN else p for p in params])
    )


_STAND_IN = -987654321  # for the service's id, which no row has


@cache
def _environments_statement() -> tuple[str, tuple]:
    """The environments' SQL, compiled once: it differs between services only in the service's
    id, and compiling its five subqueries cost the page three times what running them does."""
    statement, params = _environments_query(_STAND_IN).query.sql_with_params()
    assert params.count(_STAND_IN) == 1, params  # the service's id is the one parameter that varies
    return statement, params
