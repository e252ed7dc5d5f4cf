"""Fixtures for the release calendar: two teams' services, and releases written straight to
the database (the services that create releases are not what these tests are about)."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.catalog.models import Environment, EnvironmentKind
from apps.releases.calendar import services
from apps.releases.models import ChangeWindow, Freeze, Release, ReleaseState, WindowScope
from tests.factories import ServiceFactory
from tests.releases.calendar.helpers import utc


def _with_environments(service):
    for order, (name, kind) in enumerate(
        [("staging", EnvironmentKind.STAGING), ("production", EnvironmentKind.PRODUCTION)],
        start=1,
    ):
        Environment.objects.create(
            service=service, name=name, kind=kind, order=order, namespace=f"{service.name}-{name}"
        )
    return service


@pytest.fixture
def checkout(payments):
    """Team payments' service, with staging and production."""
    return _with_environments(ServiceFactory(name="checkout", owner=payments))


@pytest.fixture
def indexer(search):
    """Team search's service, with staging and production."""
    return _with_environments(ServiceFactory(name="indexer", owner=search))


@pytest.fixture
def release_at(developer):
    def make(
        service,
        start: datetime,
        *,
        environment: str = "production",
        hours: float = 1,
        state: str = ReleaseState.APPROVED,
        version: str = "1.4.0",
        title: str = "Faster checkout",
        requester=None,
    ) -> Release:
        return Release.objects.create(
            service=service,
            environment=service.environments.get(name=environment),
            requester=requester or developer,
            version=version,
            title=title,
            planned_start=start,
            planned_end=start + timedelta(hours=hours),
            state=state,
        )

    return make


# A deny window every Friday afternoon in Berlin, and a freeze in force now, both made through
# the services: the pages and the API that manage them start from these.
@pytest.fixture
def window(release_manager) -> ChangeWindow:
    return services.change_window_create(
        actor=release_manager,
        name="Friday afternoons",
        kind="deny",
        rrule="FREQ=WEEKLY;BYDAY=FR",
        starts_at_local=utc(2026, 1, 2, 14),
        duration_minutes=180,
        time_zone="Europe/Berlin",
        scope=WindowScope.ORGANISATION,
    )


@pytest.fixture
def freeze(release_manager) -> Freeze:
    now = timezone.now()
    return services.freeze_create(
        actor=release_manager,
        name="Incident 4711",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=5),
        scope=WindowScope.ORGANISATION,
    )
