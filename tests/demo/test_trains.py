"""The demo's trains (apps.demo.trains, loaded by seed_demo after the releases in flight)."""

import pytest
from django.db import transaction

from apps.demo import organisation, releases_in_flight, trains
from apps.releases.models import Release, ReleaseState
from apps.trains.models import Train, TrainState

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    with transaction.atomic():  # as seed_demo loads it
        organisation.load()
        releases_in_flight.load()
        return trains.load()


def members(train: Train) -> dict[str, str]:
    rows = Release.objects.filter(train_membership__train=train)
    return dict(rows.values_list("service__name", "state"))


def test_payments_three_services_to_staging_are_approved_in_wave_order(loaded):
    train = Train.objects.get(name="Payments spring release")
    assert train.state == TrainState.APPROVED and train.environment_name == "staging"
    assert train.plan == [["ledger"], ["fraud-check"], ["payments-api"]]
    assert members(train) == dict.fromkeys(
        ["payments-api", "ledger", "fraud-check"], ReleaseState.APPROVED
    )


def test_search_to_production_waits_for_its_second_approval(loaded):
    train = Train.objects.get(name="Search stack 2.4")
    assert train.state == TrainState.SUBMITTED and train.environment_name == "prod"
    assert list(train.approvals.values_list("approver__username", flat=True)) == ["rm"]
    assert set(members(train).values()) == {ReleaseState.DRAFT}
    assert len(loaded) == 2


def test_loading_the_trains_again_adds_nothing(loaded):
    assert trains.load() == []
    assert Train.objects.count() == 2
