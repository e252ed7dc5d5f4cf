from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import Role
from apps.catalog.models import Environment, EnvironmentKind
from apps.releases import services
from apps.releases.models import ApprovalPolicy, ApprovalRule
from tests.factories import ServiceFactory, UserFactory


@pytest.fixture
def web(payments):
    """A tier-2 service of team payments with dev, staging and prod."""
    service = ServiceFactory(name="web", owner=payments, tier=2)
    for order, (name, kind) in enumerate(
        [
            ("dev", EnvironmentKind.DEVELOPMENT),
            ("staging", EnvironmentKind.STAGING),
            ("prod", EnvironmentKind.PRODUCTION),
        ],
        start=1,
    ):
        Environment.objects.create(
            service=service, name=name, kind=kind, order=order, namespace=f"payments-{name}"
        )
    return service


@pytest.fixture
def prod(web):
    return web.environments.get(name="prod")


@pytest.fixture
def second_release_manager(db):
    return UserFactory(username="robin", roles=[Role.RELEASE_MANAGER])


@pytest.fixture
def prod_policy(db):
    """Production needs two release managers."""
    policy = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=2
    )
    return policy


@pytest.fixture
def make_release(developer, web):
    def make(environment=None, *, actor=None, hours_from_now=2, **fields):
        start = timezone.now() + timedelta(hours=hours_from_now)
        return services.release_create(
            actor=actor or developer,
            service=web,
            environment=environment or web.environments.get(name="prod"),
            version=fields.pop("version", "registry/web:1.4.0"),
            title=fields.pop("title", "Faster checkout"),
            planned_start=fields.pop("planned_start", start),
            planned_end=fields.pop("planned_end", start + timedelta(hours=1)),
            **fields,
        )

    return make
