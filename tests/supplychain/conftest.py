"""A service with a development environment, a signer whose key Runway trusts, and a policy
asking for its signature in development."""

import pytest

from apps.catalog.models import Environment
from apps.supplychain import services
from tests.factories import ServiceFactory
from tests.supplychain.signing import Signer, pem

REPOSITORY = "https://github.com/acme/web"


@pytest.fixture
def web(payments):
    service = ServiceFactory(name="web", owner=payments, repository_url=REPOSITORY)
    Environment.objects.create(
        service=service, name="dev", kind="development", order=1, namespace="web-dev"
    )
    return service


@pytest.fixture
def signer():
    return Signer()


@pytest.fixture
def key(platform_admin, signer):
    return services.trusted_key_add(
        actor=platform_admin, name="ci-signing", pem=pem(signer.private.public_key())
    )


@pytest.fixture
def signed_policy(platform_admin, key):
    return services.trust_policy_create(
        actor=platform_admin,
        name="signed in dev",
        key_names=["ci-signing"],
        environment_kind="development",
    )
