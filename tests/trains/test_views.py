from datetime import timedelta

import pytest
from django.utils import timezone

from apps.trains.models import Train, TrainState

pytestmark = pytest.mark.django_db


def form(names="abcde", **extra) -> dict:
    start = timezone.now() + timedelta(days=1)
    return {
        "name": "December train",
        "environment_name": "prod",
        "planned_start": start.strftime("%Y-%m-%d %H:%M"),
        "planned_end": (start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
        "max_parallel": "5",
        "rollback_policy": "leave",
        "members": "\n".join(f"{name} registry/{name}:2.0.0" for name in names),
        **extra,
    }


def test_the_trains_page_is_in_the_menu_and_lists_trains(
    client_as, developer, make_train, diamond, django_assert_max_num_queries
):
    for _ in range(10):
        make_train("ab")
    client = client_as(developer)
    with django_assert_max_num_queries(6):
        page = client.get("/trains/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/trains/"' in html
    assert html.count("December train") == 10
    assert "Request a train" in html


def test_leadership_sees_trains_but_not_the_request_button_or_form(
    client_as, leadership, make_train, diamond
):
    make_train("ab")
    client = client_as(leadership)
    assert "Request a train" not in client.get("/trains/").content.decode()
    assert client.get("/trains/new/").status_code == 403
    assert client.post("/trains/new/plan/", form()).status_code == 403


def test_the_form_shows_the_plan_before_submission(client_as, developer, diamond):
    client = client_as(developer)
    assert client.get("/trains/new/").status_code == 200
    partial = client.post("/trains/new/plan/", form(), HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "Wave 1: d, e" in html
    assert "Wave 2: b, c" in html
    assert "Wave 3: a" in html
    assert not Train.objects.exists()


def test_the_plan_names_a_cycle_in_place(client_as, developer, prod_services):
    prod_services("abc", {"a": "b", "b": "c", "c": "a"})
    html = client_as(developer).post("/trains/new/plan/", form("abc")).content.decode()
    assert 'role="alert"' in html
    assert "a → b → c → a" in html
    assert "Wave" not in html


def test_submitting_the_form_requests_the_train(client_as, developer, diamond):
    response = client_as(developer).post("/trains/new/", form(submit="1"))
    train = Train.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/trains/{train.pk}/"
    assert train.state == TrainState.APPROVED  # no policy covers it


def test_the_form_shows_a_refusal_next_to_the_members(client_as, developer, prod_services):
    prod_services("abc", {"a": "b", "b": "a"})
    html = client_as(developer).post("/trains/new/", form("abc")).content.decode()
    assert "a → b → a" in html
    assert not Train.objects.exists()


def test_the_detail_page_offers_what_available_actions_allow(
    client_as, developer, release_manager, make_train, union_policies
):
    train = make_train(submit=True)
    as_requester = client_as(developer).get(f"/trains/{train.pk}/").content.decode()
    assert "Wave 1: d, e" in as_requester
    assert "Cancel train and members" in as_requester
    assert ">Approve</button>" not in as_requester
    assert "You requested this train" in as_requester

    as_approver = client_as(release_manager).get(f"/trains/{train.pk}/").content.decode()
    assert ">Approve</button>" in as_approver
    assert "Waiting for 2 from Release managers, 1 from Security" in as_approver


def test_approving_a_train_to_production_asks_for_the_password_first(
    client_as, developer, release_manager, other_developer, make_train, union_policies, password
):
    train = make_train(submit=True)
    assert client_as(other_developer).post(f"/trains/{train.pk}/approve/").status_code == 403
    client = client_as(release_manager)
    asked = client.post(f"/trains/{train.pk}/approve/", {"comment": "fine"})
    assert asked.status_code == 302
    assert asked["Location"].startswith("/accounts/reauthenticate/")
    assert not train.approvals.exists()
    # Once confirmed, allauth sends the kept decision again: it is made as it was sent.
    confirmed = client.post(asked["Location"], {"password": password}, follow=True)
    assert confirmed.status_code == 200
    assert train.approvals.get().comment == "fine"
    assert client_as(developer).post(f"/trains/{train.pk}/cancel/").status_code == 302
    train.refresh_from_db()
    assert train.state == TrainState.CANCELLED


def test_a_member_release_page_links_to_its_train(client_as, developer, make_train, diamond):
    train = make_train("ab")
    release = train.members.get(service_name="a").release
    html = client_as(developer).get(f"/releases/{release.pk}/").content.decode()
    assert f'href="/trains/{train.pk}/"' in html
