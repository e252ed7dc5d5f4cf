"""What runs in each of a service's environments, and what holds its versions: the service
page's Versions panel and the API read this one answer, in three queries."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch

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
    bad_versions = list(BadVersion.objects.filter(service=service).select_related("marked_by"))
    marks = {bad.version: bad for bad in bad_versions}
    pins = VersionPin.objects.filter(lifted_at__isnull=True).select_related("pinned_by")
    environments = with_running_version(
        Environment.objects.filter(service=service)
        .prefetch_related(Prefetch("pins", queryset=pins, to_attr="pins_in_force"))
        .order_by("order")
    )
    rows = []
    for environment in environments:
        # The service in hand, not a join: its row carries its manifests and other JSON, which
        # decoding again cost the service page more than the rest of this read.
        environment.service = service
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
                pin=next(iter(getattr(environment, "pins_in_force", [])), None),
                bad=marks.get(environment.running or ""),
            )
        )
    return ServiceVersions(environments=rows, bad_versions=bad_versions)
