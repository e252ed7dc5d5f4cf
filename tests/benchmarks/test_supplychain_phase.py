"""The supply-chain benchmark: its evidence passes the policy it makes, and it leaves the loaded
database as it found it."""

import pytest

from apps.accounts.models import Role
from apps.catalog.models import Environment
from apps.supplychain.models import Attestation, TrustedKey, TrustPolicy
from benchmarks import supplychain
from benchmarks.config import Config
from tests.factories import ServiceFactory, UserFactory


@pytest.mark.django_db
def test_the_phase_verifies_three_passing_attestations_and_rolls_everything_back(payments):
    UserFactory(username="admin", roles=[Role.PLATFORM_ADMIN])
    service = ServiceFactory(name="ledger", owner=payments)
    Environment.objects.create(
        service=service, name="prod", kind="production", order=3, namespace="ledger"
    )
    result = supplychain.run(Config(samples=2, warmup=0))
    assert result["attestations"] == 3 and result["passed"]
    # digest, signature, provenance (builder, repository, ref), scan (age, findings)
    assert result["requirements"] == 7
    assert not TrustedKey.objects.exists() and not TrustPolicy.objects.exists()
    assert not Attestation.objects.exists()
    service.refresh_from_db()
    assert service.repository_url == ""
