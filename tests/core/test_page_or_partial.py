"""Every URL that answers htmx with a part of a page and everyone else with the whole page says
so in Vary, so that no cache (nor the browser's back button) serves one for the other."""

import pytest

from apps.audit.services import audit_record
from apps.rollouts.models import RolloutState
from tests.rollouts.builders import rollout_row

HTMX = {"HX-Request": "true"}

# path, and how its partial starts
PAGES_OR_PARTIALS = {
    "catalog": ("/catalog/", '<div id="results">'),
    "backstage import": ("/catalog/import/", None),
    "releases": ("/releases/", '<div id="release-list">'),
    "calendar": ("/releases/calendar/", '<div id="calendar"'),
    "rollouts": ("/rollouts/", '<div id="rollout-list"'),
    "rollout": ("/rollouts/{rollout}/", None),
    "audit": ("/audit/", '<div id="events">'),
    "onboarding": ("/onboard/", None),
    "onboarding step": ("/onboard/steps/runtime/", None),
}


@pytest.fixture
def admin_client(client_as, platform_admin, web, prod, developer):
    rollout = rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.PAUSED
    )
    audit_record(actor=platform_admin, action="team.create", target_type="x", target_id="1")
    client = client_as(platform_admin)
    client.rollout = rollout
    return client


def get(client, path: str, **headers):
    response = client.get(path.format(rollout=client.rollout.pk), headers=headers)
    assert response.status_code == 200, path
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES_OR_PARTIALS.values(), ids=PAGES_OR_PARTIALS.keys())
def test_each_page_or_partial_varies_on_hx_request(admin_client, page):
    path, _ = page
    for headers in ({}, HTMX):
        assert "HX-Request" in get(admin_client, path, **headers)["Vary"], path


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES_OR_PARTIALS.values(), ids=PAGES_OR_PARTIALS.keys())
def test_htmx_gets_the_partial_and_everyone_else_the_page(admin_client, page):
    path, partial_start = page
    assert "<html" in get(admin_client, path).content.decode()
    partial = get(admin_client, path, **HTMX).content.decode()
    assert "<html" not in partial
    if partial_start:
        assert partial.lstrip().startswith(partial_start)


@pytest.mark.django_db
def test_a_history_restore_of_a_list_gets_the_whole_page(admin_client):
    restore = {**HTMX, "HX-History-Restore-Request": "true"}
    response = get(admin_client, "/audit/?action=team.&page=1", **restore)
    assert "<html" in response.content.decode()
    assert "HX-History-Restore-Request" in response["Vary"]


@pytest.mark.django_db
def test_a_list_keeps_its_filters_in_the_pager_but_not_the_page(admin_client):
    response = get(admin_client, "/audit/?action=team.&page=1", **HTMX)
    assert response.context["query"] == "action=team."
    assert response.context["filter"].form["action"].value() == "team."
    assert [event.action for event in response.context["page"]] == ["team.create"]
