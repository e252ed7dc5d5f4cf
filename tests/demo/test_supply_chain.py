"""The demo's supply chain (apps.demo.supply_chain, loaded by seed_demo after the releases in
flight): a trusted key, payments' production trust policy, and evidence that passes for one
release and fails for another."""

import pytest
from django.db import transaction
from django.utils import timezone

from apps.demo import organisation, releases_in_flight, supply_chain
from apps.releases.gates import readiness
from apps.releases.models import Release
from apps.supplychain.models import Attestation, TrustedKey, TrustPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    with transaction.atomic():  # as seed_demo loads it
        organisation.load()
        releases_in_flight.load()
        return supply_chain.load()


def supply_chain_gates(service_name: str) -> dict[str, tuple[bool, bool]]:
    release = Release.objects.get(service__name=service_name, environment__name="prod")
    return {
        gate.name: (gate.passed, gate.pending)
        for gate in readiness(release, now=timezone.now())
        if gate.key.startswith("supply_chain:")
    }


def test_ledgers_signed_release_with_provenance_passes_its_supply_chain_gates(loaded):
    gates = supply_chain_gates("ledger")
    assert {"Supply chain: digest", "Supply chain: signature"} <= set(gates)
    assert any(name.startswith("Supply chain: provenance") for name in gates)
    assert all(passed for passed, _ in gates.values()), gates


def test_payments_apis_release_signed_by_an_untrusted_key_fails_without_waiting(loaded):
    gates = supply_chain_gates("payments-api")
    assert gates["Supply chain: digest"] == (True, False)
    assert gates["Supply chain: signature"] == (False, False)


def test_the_policy_covers_only_payments_production(loaded):
    policy = TrustPolicy.objects.get()
    assert (policy.team.slug, policy.environment_kind) == ("payments", "production")
    assert supply_chain_gates("search-api") == {}


def test_loading_the_supply_chain_again_adds_nothing(loaded):
    counts = (TrustedKey.objects.count(), Attestation.objects.count(), Release.objects.count())
    assert supply_chain.load() == []
    assert (TrustedKey.objects.count(), Attestation.objects.count(), Release.objects.count()) == (
        counts
    )
