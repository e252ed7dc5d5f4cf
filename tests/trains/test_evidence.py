"""A train's evidence as one download, from its page and the API: its own record and each
member's evidence pack with its rollouts, in a fixed number of queries."""

import csv
import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Role
from apps.trains import services
from apps.trains.models import Train, TrainState
from tests.factories import UserFactory
from tests.trains.fixtures import members_of
from tests.trains.running import deploy_first_versions, run_train

pytestmark = pytest.mark.django_db


def unzipped(response) -> dict[str, bytes]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def approved(make_train, release_manager, security_reviewer, union_policies) -> Train:
    """The diamond's train, approved under the union policy by two release managers and
    security."""
    train = make_train(submit=True)
    second = UserFactory(username="rio", roles=[Role.RELEASE_MANAGER])
    for approver in (release_manager, second, security_reviewer):
        services.train_approve(actor=approver, train=train, comment=f"ok from {approver}")
    train.refresh_from_db()
    assert train.state == TrainState.APPROVED
    return train


def test_the_train_page_offers_its_evidence_as_one_zip(client_as, outsider, approved):
    client = client_as(outsider)
    assert (
        f'href="/trains/{approved.pk}/evidence/"'
        in client.get(f"/trains/{approved.pk}/").content.decode()
    )
    response = client.get(f"/trains/{approved.pk}/evidence/")
    assert f'filename="train-{approved.pk}-evidence.zip"' in response["Content-Disposition"]
    files = unzipped(response)
    members = {m.service_name: m.release_id for m in approved.members.all()}
    assert set(files) == {
        "train.json",
        "index.csv",
        "README.txt",
        *(f"releases/release-{pk}.json" for pk in members.values()),
    }
    record = json.loads(files["train.json"])
    assert record["train"]["state"] == "approved"
    assert record["plan"]["waves"] == [["d", "e"], ["b", "c"], ["a"]]
    assert record["plan"]["frozen_at"] == approved.plan_frozen_at.isoformat()
    policy = record["union_policy"]
    assert policy["policies"] == ["Production", "Tier 2"]
    assert {(r["rule"], r["required"], r["satisfied"]) for r in policy["rules"]} == {
        ("Release managers", 2, True),
        ("Security", 1, True),
    }
    assert [(d["approver"], d["decision"], d["rule"]) for d in record["decisions"]] == [
        ("riley", "approve", "Release managers"),
        ("rio", "approve", "Release managers"),
        ("sasha", "approve", "Security"),
    ]
    assert [(step["from"], step["to"]) for step in record["history"]] == [
        ("draft", "submitted"),
        ("submitted", "approved"),
    ]
    actions = [event["action"] for event in record["audit_events"]]
    assert actions[0] == "train.create" and actions.count("train.approve") == 3
    assert all(event["seal"] for event in record["audit_events"])
    assert record["audit_checkpoint"]
    assert [m["service"] for m in record["members"]] == list("abcde")

    pack = json.loads(files[f"releases/release-{members['a']}.json"])
    assert pack["release"]["service"] == "a"
    assert pack["rollouts"] == []  # not started yet: the section is there, empty
    assert pack["audit_checkpoint"] == record["audit_checkpoint"]
    index = list(csv.reader(io.StringIO(files["index.csv"].decode())))
    assert [row[1] for row in index[1:]] == list("abcde")


def test_a_train_that_ran_carries_each_members_rollout(
    cluster, diamond, make_train, developer, api_as
):
    members = [service for service in diamond if service.name in "ab"]
    deploy_first_versions(members, actor=developer)
    train = make_train(
        "ab", submit=True, members=[{"service": n, "version": f"{n}:2"} for n in "ab"]
    )
    train = run_train(services.train_start(actor=developer, train=train))
    assert train.state == TrainState.SUCCEEDED
    files = unzipped(api_as(developer).get(f"/api/v1/trains/{train.pk}/evidence/"))
    record = json.loads(files["train.json"])
    assert record["history"][-1]["to"] == "succeeded"
    for member in record["members"]:
        pack = json.loads(files[member["evidence_file"]])
        assert [rollout["state"] for rollout in pack["rollouts"]] == ["succeeded"]


def test_the_api_refuses_strangers_and_names_a_missing_train(api_client, api_as, outsider):
    assert api_client.get("/api/v1/trains/1/evidence/").status_code in (401, 403)
    assert api_as(outsider).get("/api/v1/trains/999999/evidence/").status_code == 404


def test_the_page_sends_someone_signed_out_to_sign_in(client, approved):
    response = client.get(f"/trains/{approved.pk}/evidence/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_evidence_of_60_members_takes_as_many_queries_as_that_of_2(
    api_as, developer, make_train, prod_services
):
    names = [f"svc{index:02d}" for index in range(60)]
    prod_services(names)
    small = make_train(members=members_of(names[:2]), submit=True)
    large = make_train(members=members_of(names), submit=True)
    client = api_as(developer)
    # The first export seals the audit events written so far (one row each): not measured.
    unzipped(client.get(f"/api/v1/trains/{small.pk}/evidence/"))
    with CaptureQueriesContext(connection) as two:
        unzipped(client.get(f"/api/v1/trains/{small.pk}/evidence/"))
    with CaptureQueriesContext(connection) as sixty:
        files = unzipped(client.get(f"/api/v1/trains/{large.pk}/evidence/"))
    assert len(files) == 3 + 60
    assert len(sixty) == len(two)
    # One of them: the export's audit seal, as a holder of the chain's lock, looks again for
    # events a commit left to it.
    assert len(sixty) <= 21
