from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts import services
from apps.accounts.models import ApiToken
from tests.factories import TeamFactory, UserFactory


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.mark.django_db
def test_me_requires_authentication(api_client):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_me_returns_user_teams_and_roles_with_a_session(api_client, developer):
    api_client.force_login(developer)
    body = api_client.get("/api/v1/me/").json()
    assert body["username"] == "dana"
    assert body["roles"] == ["developer"]
    assert [team["slug"] for team in body["teams"]] == ["payments"]
    assert body["is_platform_admin"] is False


@pytest.mark.django_db
def test_me_works_with_a_personal_token(api_client, release_manager):
    _, key = services.api_token_create(actor=release_manager, name="script")
    response = api_client.get("/api/v1/me/", **bearer(key))
    assert response.status_code == 200
    assert response.json()["roles"] == ["release_manager"]
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.django_db
def test_a_revoked_token_is_refused(api_client, developer):
    token, key = services.api_token_create(actor=developer, name="old")
    services.api_token_revoke(actor=developer, token=token)
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 401


@pytest.mark.django_db
def test_an_expired_token_is_refused(api_client, developer):
    token, key = services.api_token_create(actor=developer, name="old", expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 401


@pytest.mark.django_db
def test_a_made_up_token_is_refused(api_client, developer):
    assert api_client.get("/api/v1/me/", **bearer("rw_made-up")).status_code == 401
    assert api_client.get("/api/v1/me/", **bearer("not-even-ours")).status_code == 401


@pytest.mark.django_db
def test_tokens_are_created_shown_once_and_revoked_through_the_api(api_client, developer):
    api_client.force_login(developer)
    created = api_client.post("/api/v1/tokens/", {"name": "deploy bot"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    listed = api_client.get("/api/v1/tokens/").json()["results"]
    assert "key" not in listed[0]
    revoked = api_client.post(f"/api/v1/tokens/{created.json()['id']}/revoke/")
    assert revoked.json()["revoked_at"] is not None
    api_client.logout()
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 401


@pytest.mark.django_db
def test_a_bad_token_request_names_the_field(api_client, developer):
    api_client.force_login(developer)
    response = api_client.post("/api/v1/tokens/", {"name": "", "expires_in_days": 0}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "expires_in_days"}


@pytest.mark.django_db
def test_someone_elses_token_is_a_404_not_a_403(api_client, developer, other_developer):
    token, _ = services.api_token_create(actor=developer, name="mine")
    api_client.force_login(other_developer)
    assert api_client.get(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert api_client.post(f"/api/v1/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_team_list_runs_a_fixed_number_of_queries(
    api_client, developer, django_assert_max_num_queries
):
    for n in range(60):
        team = TeamFactory(slug=f"bulk-{n}")
        UserFactory(username=f"member-{n}", teams=[team])
    api_client.force_login(developer)
    with django_assert_max_num_queries(6):
        response = api_client.get("/api/v1/teams/?page_size=100")
    assert response.json()["count"] == 61
    assert {t["member_count"] for t in response.json()["results"]} == {1}


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_are_served(api_client, developer):
    api_client.force_login(developer)
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/me/" in schema["paths"]
    assert "/api/v1/tokens/{id}/revoke/" in schema["paths"]
    docs = api_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_the_schema_generates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", "/dev/null")


@pytest.mark.django_db
def test_a_token_of_a_person_no_longer_active_is_refused(api_client, developer):
    _, key = services.api_token_create(actor=developer, name="ci")
    type(developer).objects.filter(pk=developer.pk).update(is_active=False)  # tokens untouched
    assert ApiToken.objects.usable().exists()
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 401


@pytest.mark.django_db
def test_a_token_expiring_later_is_honoured(api_client, developer):
    _, key = services.api_token_create(actor=developer, name="ci", expires_in_days=1)
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 200
