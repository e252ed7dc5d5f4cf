"""Two approvers deciding on one train at the same moment, for real: separate threads and
PostgreSQL connections released together (tests/releases/test_races.py's `race`). The train's
row lock must make exactly one transition whatever the interleaving."""

import pytest
from django.db import connection

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.releases.models import ApprovalPolicy, ApprovalRule, Release, ReleaseTransition
from apps.trains.models import TrainApproval, TrainState, TrainTransition
from tests.factories import UserFactory
from tests.releases.test_races import race

ITERATIONS = 4

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(f"Race tests need PostgreSQL; this run uses {connection.vendor}.")


def approve_path(train) -> str:
    return f"/api/v1/trains/{train.pk}/approve/"


@pytest.mark.parametrize("required", [1, 2])
def test_two_approvers_at_once_make_exactly_one_transition(make_train, diamond, required):
    policy = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=required
    )
    riley = UserFactory(username="riley", roles=[Role.RELEASE_MANAGER])
    robin = UserFactory(username="robin", roles=[Role.RELEASE_MANAGER])
    for _ in range(ITERATIONS):
        train = make_train(submit=True)
        responses = race(
            (riley, approve_path(train), {"comment": "riley"}),
            (robin, approve_path(train), {"comment": "robin"}),
        )
        codes = sorted(r.status_code for r in responses)
        # With one approval needed the second finds the train approved; with two both count.
        assert codes == ([200, 400] if required == 1 else [200, 200]), [r.json() for r in responses]
        train.refresh_from_db()
        assert train.state == TrainState.APPROVED
        assert TrainApproval.objects.filter(train=train).count() == required
        assert list(
            TrainTransition.objects.filter(train=train).values_list("from_state", "to_state")
        ) == [("draft", "submitted"), ("submitted", "approved")]
        members = Release.objects.filter(train_membership__train=train)
        assert set(members.values_list("state", flat=True)) == {"approved"}
        assert ReleaseTransition.objects.filter(release__in=members).count() == 5
        events = AuditEvent.objects.filter(target_type="trains.train", target_id=str(train.pk))
        assert events.filter(action="train.transition", after__state="approved").count() == 1
