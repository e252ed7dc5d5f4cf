"""Fixtures for the release calendar: two teams' services, and releases written straight to
the database (the services that create releases are not what these tests are about)."""

from datetime import datetime, timedelta

import pytest

from apps.catalog.models import Environment, EnvironmentKind
from apps.releases.models import Release, ReleaseState
from tests.factories import ServiceFactory


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
