import pytest

from apps.audit.services import audit_record


def seed_events(actor, count=120):
    for n in range(count):
        audit_record(
            actor=actor if n % 2 else None,
            action="team.create" if n % 3 else "release.approve",
            target_type="test.thing",
            target_id=str(n),
        )


@pytest.mark.django_db
def test_admins_filter_the_audit_page_by_action_and_actor(client_as, platform_admin):
    seed_events(platform_admin, 30)
    client = client_as(platform_admin)
    response = client.get("/audit/", {"action": "release.approve", "actor": "ada"})
    events = list(response.context["page"])
    assert events and all(e.action == "release.approve" and e.actor_label == "ada" for e in events)


@pytest.mark.django_db
def test_an_action_prefix_matches_a_family(client_as, platform_admin):
    seed_events(platform_admin, 12)
    response = client_as(platform_admin).get("/audit/", {"action": "team."})
    assert {e.action for e in response.context["page"]} == {"team.create"}


@pytest.mark.django_db
def test_a_bad_date_filter_is_reported_not_crashed(client_as, platform_admin):
    response = client_as(platform_admin).get("/audit/", {"since": "yesterday-ish"})
    assert response.status_code == 200
    assert "since" in response.context["filter"].errors


@pytest.mark.django_db
def test_htmx_gets_only_the_table(client_as, platform_admin):
    seed_events(platform_admin, 3)
    response = client_as(platform_admin).get("/audit/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="events">')
    assert "<html" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "release_manager", "leadership", "outsider"])
def test_only_admins_read_the_audit_log(client_as, api_client, persona, request):
    user = request.getfixturevalue(persona)
    assert client_as(user).get("/audit/").status_code == 403
    api_client.force_login(user)
    assert api_client.get("/api/v1/audit-events/").status_code == 403


@pytest.mark.django_db
def test_the_audit_page_and_api_keep_a_query_budget(
    client_as, api_client, platform_admin, django_assert_max_num_queries
):
    seed_events(platform_admin, 300)
    client = client_as(platform_admin)
    with django_assert_max_num_queries(8):
        assert client.get("/audit/?page=2").status_code == 200
    api_client.force_login(platform_admin)
    with django_assert_max_num_queries(8):
        body = api_client.get("/api/v1/audit-events/", {"page_size": 200}).json()
    assert len(body["results"]) == 200


@pytest.mark.django_db
def test_the_api_uses_the_same_filters(api_client, platform_admin):
    seed_events(platform_admin, 30)
    api_client.force_login(platform_admin)
    body = api_client.get("/api/v1/audit-events/", {"target_id": "7"}).json()
    assert [e["target_id"] for e in body["results"]] == ["7"]
