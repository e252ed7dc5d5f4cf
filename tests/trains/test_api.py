from datetime import timedelta

import pytest
from django.utils import timezone

from apps.releases.models import Release
from apps.trains import services
from apps.trains.models import Train
from tests.trains.fixtures import members_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/trains/"


def body(names="abcde", **extra) -> dict:
    start = timezone.now() + timedelta(days=1)
    return {
        "name": "December train",
        "environment": "prod",
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(hours=2)).isoformat(),
        "members": members_of(names),
        **extra,
    }


def test_a_developer_requests_a_train_and_reads_its_plan(api_as, developer, diamond):
    response = api_as(developer).post(URL, body(max_parallel=2), format="json")
    assert response.status_code == 201, response.json()
    train = response.json()
    assert train["state"] == "draft"
    assert train["plan"] == [["d", "e"], ["b", "c"], ["a"]]
    assert train["max_parallel"] == 2
    assert train["rollback_policy"] == "leave"
    assert [m["service"] for m in train["members"]] == list("abcde")
    assert {m["state"] for m in train["members"]} == {"draft"}
    assert train["actions"] == ["cancel", "submit"]

    detail = api_as(developer).get(f"{URL}{train['id']}/").json()
    assert detail["plan"] == train["plan"]
    assert detail["member_count"] == 5


def test_a_cycle_is_a_400_on_members_naming_it(api_as, developer, prod_services):
    prod_services("abc", {"a": "b", "b": "c", "c": "a"})
    response = api_as(developer).post(URL, body("abc"), format="json")
    assert response.status_code == 400
    assert "a → b → c → a" in response.json()["members"][0]
    assert not Train.objects.exists()


def test_201_members_are_a_400_on_members(api_as, developer, prod_services):
    names = [f"svc{n}" for n in range(201)]
    prod_services(names)
    response = api_as(developer).post(URL, body(names), format="json")
    assert response.status_code == 400
    assert response.json() == {"members": ["A train has 2 to 200 members; this one has 201."]}
    assert not Release.objects.exists()


def test_a_member_without_a_version_is_a_400_naming_the_field(api_as, developer, diamond):
    request = body("ab")
    del request["members"][1]["version"]
    response = api_as(developer).post(URL, request, format="json")
    assert response.status_code == 400
    assert response.json() == {"members": {"1": {"version": ["This field is required."]}}}


def test_plan_answers_the_waves_and_writes_nothing(api_as, developer, diamond):
    plan = {"environment": "prod", "members": members_of("abcde")}
    response = api_as(developer).post(f"{URL}plan/", plan, format="json")
    assert response.status_code == 200
    assert response.json() == {"waves": [["d", "e"], ["b", "c"], ["a"]]}
    assert not Train.objects.exists()
    assert not Release.objects.exists()


def test_plan_names_a_cycle(api_as, developer, prod_services):
    prod_services("xyz", {"x": "y", "y": "x"})
    plan = {"environment": "prod", "members": members_of("xyz")}
    response = api_as(developer).post(f"{URL}plan/", plan, format="json")
    assert response.status_code == 400
    assert "x → y → x" in response.json()["members"][0]


def test_leadership_cannot_request_a_train(api_as, leadership, diamond):
    response = api_as(leadership).post(URL, {}, format="json")
    assert response.status_code == 403


def test_a_developer_cannot_approve(api_as, developer, other_developer, union_policies):
    train = api_as(developer).post(URL, body(submit=True), format="json").json()
    assert train["state"] == "submitted"
    response = api_as(other_developer).post(f"{URL}{train['id']}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "not in a group that approves this train" in response.json()["detail"]


def test_approve_reject_and_cancel_through_the_api(
    api_as, developer, release_manager, second_release_manager, security_reviewer, union_policies
):
    first = api_as(developer).post(URL, body(submit=True), format="json").json()
    for approver in (release_manager, second_release_manager):
        answer = api_as(approver).post(f"{URL}{first['id']}/approve/", {}, format="json")
        assert answer.status_code == 200
    assert answer.json()["approval"] == "Waiting for 1 from Security"
    answer = api_as(security_reviewer).post(f"{URL}{first['id']}/approve/", {}, format="json")
    assert answer.json()["state"] == "approved"
    assert {m["state"] for m in answer.json()["members"]} == {"approved"}

    second = api_as(developer).post(URL, body(name="Second", submit=True), format="json").json()
    refused = api_as(release_manager).post(f"{URL}{second['id']}/reject/", {}, format="json")
    assert refused.status_code == 400
    assert "comment" in refused.json()
    rejected = api_as(release_manager).post(
        f"{URL}{second['id']}/reject/", {"comment": "Not now"}, format="json"
    )
    assert rejected.json()["state"] == "rejected"
    assert {m["state"] for m in rejected.json()["members"]} == {"cancelled"}

    third = api_as(developer).post(URL, body(name="Third"), format="json").json()
    cancelled = api_as(developer).post(f"{URL}{third['id']}/cancel/", {}, format="json")
    assert cancelled.json()["state"] == "cancelled"
    assert {m["state"] for m in cancelled.json()["members"]} == {"cancelled"}
    assert cancelled.json()["history"][-1]["to_state"] == "cancelled"


def test_the_list_takes_a_fixed_number_of_queries_however_many_trains(
    api_as, developer, diamond, django_assert_max_num_queries
):
    for number in range(30):
        services.train_create(
            actor=developer,
            name=f"Train {number}",
            environment_name="prod",
            planned_start=timezone.now() + timedelta(days=1),
            planned_end=timezone.now() + timedelta(days=1, hours=1),
            members=members_of("ab"),
        )
    client = api_as(developer)
    with django_assert_max_num_queries(4):
        response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 30
    assert {train["member_count"] for train in response.json()["results"]} == {2}


@pytest.mark.parametrize("count", [5, 60])
def test_the_detail_takes_the_same_queries_for_5_or_60_members(
    api_as, developer, prod_services, union_policies, count, django_assert_max_num_queries
):
    names = [f"m{n:03}" for n in range(count)]
    prod_services(names, {name: [names[0]] for name in names[1:]})
    start = timezone.now() + timedelta(days=1)
    train = services.train_request(
        actor=developer,
        submit=True,
        name="Wide",
        environment_name="prod",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        members=members_of(names),
    )
    client = api_as(developer)
    with django_assert_max_num_queries(12):
        response = client.get(f"{URL}{train.pk}/")
    assert response.json()["plan"] == [names[:1], names[1:]]
