"""A train in the release managers' inbox: one item with its members, decided through the
train's own services and refusals."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.releases.models import Release, ReleaseState
from apps.trains.models import TrainApproval, TrainState
from tests.trains.fixtures import members_of

pytestmark = pytest.mark.django_db

INBOX = "/releases/inbox/"


def train_item(html: str, train) -> str:
    found = re.search(rf'<article[^>]*id="inbox-train-{train.pk}"(.*?)</article>', html, re.S)
    assert found, f"train #{train.pk} is not in the inbox"
    return re.sub(r"\s+", " ", found.group(1))


def test_a_submitted_train_is_one_inbox_item_with_its_members(
    client_as, release_manager, make_train, union_policies
):
    train = make_train(submit=True)
    html = client_as(release_manager).get(INBOX).content.decode()
    item = train_item(html, train)
    assert f"Train #{train.pk} December train" in item
    assert f'href="/trains/{train.pk}/"' in item
    assert "5 releases</strong> → prod" in item
    assert "Submitted" in item
    assert "a@2.0.0</code>" in item and "e@2.0.0</code>" in item
    assert "Release managers: 0 of 2, needs 2" in item
    assert f'action="/trains/{train.pk}/inbox/approve/"' in item
    assert "asks for your password again" in item
    # The members are in the train's item, not items of their own.
    assert 'class="card inbox-item"' not in html
    assert html.count("inbox-item") == 1


def test_the_inbox_shows_a_train_only_to_those_who_may_approve_it(
    client_as, developer, security_reviewer, outsider, make_train, union_policies
):
    train = make_train(submit=True)
    assert f"inbox-train-{train.pk}" in client_as(security_reviewer).get(INBOX).content.decode()
    # The requester (separation of duties) and someone in no approving group see nothing.
    assert f"inbox-train-{train.pk}" not in client_as(developer).get(INBOX).content.decode()
    assert f"inbox-train-{train.pk}" not in client_as(outsider).get(INBOX).content.decode()


def test_a_draft_or_approved_train_and_one_already_decided_on_are_not_in_the_inbox(
    client_as, release_manager, make_train, union_policies
):
    draft = make_train("ab")
    decided = make_train("cd", submit=True)
    TrainApproval.objects.create(
        train=decided, approver=release_manager, decision="approve", rule=None
    )
    html = client_as(release_manager).get(INBOX).content.decode()
    assert f"inbox-train-{draft.pk}" not in html
    assert f"inbox-train-{decided.pk}" not in html


def test_a_member_release_is_never_listed_by_itself_in_the_inbox(
    client_as, release_manager, make_train, union_policies
):
    train = make_train(submit=True)
    # Even a member somehow pending approval by itself is shown only through its train.
    member = train.members.get(service_name="a").release
    Release.objects.filter(pk=member.pk).update(state=ReleaseState.PENDING_APPROVAL)
    html = client_as(release_manager).get(INBOX).content.decode()
    assert f'id="inbox-{member.pk}"' not in html
    assert f"inbox-train-{train.pk}" in html


def test_approving_a_production_train_from_the_inbox_asks_for_the_password_then_returns(
    client_as, release_manager, other_developer, make_train, union_policies, password
):
    train = make_train(submit=True)
    assert (
        client_as(other_developer)
        .post(f"/trains/{train.pk}/inbox/approve/", {"comment": "no"})
        .status_code
        == 403
    )
    client = client_as(release_manager)
    asked = client.post(f"/trains/{train.pk}/inbox/approve/", {"comment": "fine"})
    assert asked["Location"].startswith("/accounts/reauthenticate/")
    assert not train.approvals.exists()
    confirmed = client.post(asked["Location"], {"password": password}, follow=True)
    assert confirmed.redirect_chain[-1][0] == INBOX
    assert "You approved train" in confirmed.content.decode()
    approval = train.approvals.get()
    assert (approval.approver, approval.comment) == (release_manager, "fine")
    # Decided: it leaves this person's inbox.
    assert f"inbox-train-{train.pk}" not in confirmed.content.decode()


def test_rejecting_from_the_inbox_without_a_reason_is_refused_in_a_toast(
    client_as, security_reviewer, make_train, union_policies, password
):
    train = make_train(submit=True)
    client = client_as(security_reviewer)
    client.post("/accounts/reauthenticate/", {"password": password})
    refused = client.post(f"/trains/{train.pk}/inbox/reject/", {"comment": " "}, follow=True)
    assert "Say why you reject it" in refused.content.decode()
    train.refresh_from_db()
    assert train.state == TrainState.SUBMITTED
    rejected = client.post(f"/trains/{train.pk}/inbox/reject/", {"comment": "Not this week"})
    assert rejected["Location"] == INBOX
    train.refresh_from_db()
    assert train.state == TrainState.REJECTED
    assert set(train.members.values_list("release__state", flat=True)) == {"cancelled"}


def test_the_inbox_keeps_a_fixed_number_of_queries_with_many_trains(
    client_as, release_manager, make_train, prod_services, union_policies
):
    client = client_as(release_manager)
    names = [f"svc{index:02d}" for index in range(20)]
    prod_services(names)
    make_train(members=members_of(names), submit=True)
    with CaptureQueriesContext(connection) as one:
        client.get(INBOX)
    for _ in range(9):
        make_train(members=members_of(names), submit=True)
    with CaptureQueriesContext(connection) as ten:
        response = client.get(INBOX)
    html = response.content.decode()
    assert html.count("inbox-train-") >= 10
    assert html.count("svc07@2.0.0") == 10
    assert len(ten) == len(one)
    # session, user; active policies (policies, rules, their users), read once; my roles, my
    # teams, my aliases; the commits that may be mine (separation of duties); trains, their
    # approvals, members (with release, service, environment), commits; how many await me in
    # all (with each train's place among them); the page of releases
    assert len(ten) <= 15, "\n".join(q["sql"][:150] for q in ten.captured_queries)


def test_with_htmx_a_decision_answers_with_that_one_item(
    client_as, release_manager, make_train, union_policies, password
):
    train = make_train(submit=True)
    client = client_as(release_manager)
    client.post("/accounts/reauthenticate/", {"password": password})
    refused = client.post(
        f"/trains/{train.pk}/inbox/reject/", {"comment": ""}, HTTP_HX_REQUEST="true"
    )
    html = refused.content.decode()
    assert f'id="inbox-train-{train.pk}"' in html
    assert 'role="alert"' in html and "Say why you reject it" in html
    assert "<html" not in html

    approved = client.post(
        f"/trains/{train.pk}/inbox/approve/", {"comment": "fine"}, HTTP_HX_REQUEST="true"
    )
    html = approved.content.decode()
    assert 'data-testid="inbox-outcome"' in html
    assert "Approved — 2 more approvals needed" in html
    train.refresh_from_db()
    assert train.state == TrainState.SUBMITTED
    assert train.approvals.get().approver == release_manager
