"""Promoting a train that succeeded in staging to production: a new train of the same members,
versions and commits, once, under a release's promotion rules (soak, bad versions, pins)."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.core.exceptions import Conflict
from apps.releases.models import (
    ApprovalPolicy,
    ApprovalRule,
    BadVersion,
    ChangeType,
    Release,
    VersionPin,
)
from apps.trains.models import Train, TrainState
from apps.trains.promotion import train_promote
from apps.trains.signals import train_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_policy(db):
    policy = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=1
    )
    return policy


def members_of(train: Train) -> dict[str, Release]:
    return {
        release.service.name: release
        for release in Release.objects.filter(train_membership__train=train).select_related(
            "service", "environment"
        )
    }


def refusal(exc) -> str:
    return " ".join(exc.value.messages)


def test_a_succeeded_train_is_promoted_once_as_a_requested_train_of_the_same_versions(
    staged, succeeded_train, developer, production_policy
):
    staged("ab")
    source = succeeded_train("ab")
    changed = []

    def heard(sender, train, **kwargs):
        changed.append(train.pk)

    train_changed.connect(heard)
    try:
        promoted = train_promote(actor=developer, train=source, submit=True)
    finally:
        train_changed.disconnect(heard)
    assert source.pk in changed  # its page is told: it links to the new train now

    assert (promoted.environment_name, promoted.name) == ("prod", source.name)
    assert promoted.state == TrainState.SUBMITTED  # its own policy still decides
    assert promoted.promoted_from == source
    before, after = members_of(source), members_of(promoted)
    for name in "ab":
        assert after[name].environment.name == "prod"
        assert after[name].version == before[name].version
        assert list(after[name].commits.values_list("sha", flat=True)) == ["9f2c1e7aa"]
        assert after[name].change_type == ChangeType.NORMAL
    assert promoted.plan == source.plan

    on_source = AuditEvent.objects.get(action="train.promote", target_id=str(source.pk))
    assert on_source.after == {"train": promoted.pk, "environment": "prod", "emergency": False}
    on_promoted = AuditEvent.objects.get(action="train.promoted", target_id=str(promoted.pk))
    assert on_promoted.before == {"train": source.pk, "environment": "staging"}

    with pytest.raises(Conflict) as twice:
        train_promote(actor=developer, train=source)
    assert refusal(twice) == f"Already promoted to prod: train #{promoted.pk}."
    assert Train.objects.filter(environment_name="prod").count() == 1


def test_only_a_train_that_succeeded_is_promoted_and_never_past_the_last_environment(
    staged, prod_services, succeeded_train, make_train, developer
):
    staged("ab")
    planned = make_train("ab", environment_name="staging")
    with pytest.raises(ValidationError) as not_done:
        train_promote(actor=developer, train=planned)
    assert not_done.value.message_dict == {
        "state": ["Only a train that succeeded is promoted; this one is draft."]
    }
    prod_services("xy")
    last = succeeded_train("xy", environment_name="prod")
    with pytest.raises(ValidationError) as end:
        train_promote(actor=developer, train=last)
    assert end.value.message_dict == {"environment": ["No environment after prod for x, y."]}
    assert not AuditEvent.objects.filter(action="train.promote").exists()


def test_a_soak_not_over_refuses_naming_the_member_and_the_time_left_unless_an_emergency(
    staged, succeeded_train, developer
):
    staged("ab", soak_seconds=24 * 3600)
    source = succeeded_train("ab", finished_ago=timedelta(hours=20))
    with pytest.raises(ValidationError) as soaking:
        train_promote(actor=developer, train=source)
    message = refusal(soaking)
    assert message.startswith("a: registry/a@sha256:aaaaaaaa needs 1 d in staging")
    assert "4 h left" in message and "b: registry/b@sha256" in message

    with pytest.raises(ValidationError) as unexplained:
        train_promote(actor=developer, train=source, emergency=True, justification="  ")
    assert "justification" in unexplained.value.message_dict

    promoted = train_promote(
        actor=developer, train=source, emergency=True, justification="Card payments are down"
    )
    for release in members_of(promoted).values():
        assert release.change_type == ChangeType.EMERGENCY
        assert release.justification == "Card payments are down"
    event = AuditEvent.objects.get(action="train.promote")
    assert event.after["emergency"] is True
    assert event.after["justification"] == "Card payments are down"


def test_a_soak_that_is_over_lets_the_train_through(staged, succeeded_train, developer):
    staged("ab", soak_seconds=3600)
    source = succeeded_train("ab", finished_ago=timedelta(hours=2))
    assert train_promote(actor=developer, train=source).environment_name == "prod"


def test_a_version_marked_bad_or_a_pin_on_another_version_refuses_naming_the_member(
    staged, succeeded_train, developer
):
    staged("ab")
    source = succeeded_train("ab")
    b = members_of(source)["b"]
    pin = VersionPin.objects.create(
        environment=b.service.environments.get(name="prod"),
        version="registry/b:1",
        reason="Holding for the audit",
        pinned_by=developer,
    )
    with pytest.raises(ValidationError) as pinned:
        train_promote(actor=developer, train=source)
    assert refusal(pinned) == (
        "b: prod is pinned to registry/b:1 (Holding for the audit): lift the pin first."
    )
    pin.delete()
    BadVersion.objects.create(
        service=b.service, version=b.version, reason="Leaks memory", marked_by=developer
    )
    with pytest.raises(ValidationError) as bad:
        train_promote(actor=developer, train=source)
    assert refusal(bad).startswith("b: version: ") and "Leaks memory" in refusal(bad)
    assert not Train.objects.filter(environment_name="prod").exists()


def test_only_the_teams_of_every_member_promote_a_train(
    staged, succeeded_train, other_developer, leadership
):
    staged("ab")
    source = succeeded_train("ab")
    for stranger in (other_developer, leadership):
        with pytest.raises(PermissionDenied):
            train_promote(actor=stranger, train=source)


def test_the_api_promotes_and_answers_409_the_second_time(
    api_as, staged, succeeded_train, developer
):
    staged("ab")
    source = succeeded_train("ab")
    client = api_as(developer)
    bad = client.post(f"/api/v1/trains/{source.pk}/promote/", {"emergency": "perhaps"})
    assert bad.status_code == 400 and "emergency" in bad.json()
    first = client.post(f"/api/v1/trains/{source.pk}/promote/", {}, format="json")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["environment"], body["state"], body["promoted_from"]) == (
        "prod",
        "draft",
        source.pk,
    )
    again = client.post(f"/api/v1/trains/{source.pk}/promote/", {}, format="json")
    assert again.status_code == 409
    assert "Already promoted to prod" in str(again.json())
    detail = client.get(f"/api/v1/trains/{source.pk}/").json()
    assert detail["promoted_to"] == body["id"] and "promote" not in detail["actions"]


def test_the_api_names_the_member_whose_soak_is_not_over(
    api_as, staged, succeeded_train, developer
):
    staged("ab", soak_seconds=3600)
    source = succeeded_train("ab", finished_ago=timedelta(minutes=30))
    answer = api_as(developer).post(f"/api/v1/trains/{source.pk}/promote/", {}, format="json")
    assert answer.status_code == 400
    assert "a: registry/a@sha256:aaaaaaaa needs 1 h in staging" in str(answer.json()["members"])
    assert "30 min left" in str(answer.json()["members"])


def test_the_train_page_offers_promotion_to_the_teams_of_every_member(
    client_as, staged, succeeded_train, developer, leadership
):
    staged("ab")
    source = succeeded_train("ab")
    assert "Promote to prod" in client_as(developer).get(f"/trains/{source.pk}/").content.decode()
    assert (
        "Promote to prod" not in client_as(leadership).get(f"/trains/{source.pk}/").content.decode()
    )
    assert client_as(leadership).post(f"/trains/{source.pk}/promote/").status_code == 403

    response = client_as(developer).post(f"/trains/{source.pk}/promote/")
    promoted = Train.objects.get(environment_name="prod")
    assert response["Location"] == f"/trains/{promoted.pk}/"
    assert promoted.state != TrainState.DRAFT  # submitted from the page
    page = client_as(developer).get(f"/trains/{source.pk}/").content.decode()
    assert "Promote to prod" not in page
    assert f'Promoted to prod as <a href="/trains/{promoted.pk}/">' in page


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_promote_once(staged, succeeded_train, developer):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and concurrent connections")
    staged("ab")
    source = succeeded_train("ab")
    start, outcomes = threading.Barrier(2), []

    def click():
        try:
            start.wait()
            train_promote(actor=developer, train=source)
            outcomes.append("promoted")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict", "promoted"]
    assert Train.objects.filter(environment_name="prod").count() == 1
