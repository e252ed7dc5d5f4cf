import pytest

from apps.accounts.models import ApiToken, Role
from apps.audit.models import AuditEvent
from tests.factories import TeamFactory, UserFactory


@pytest.mark.django_db
def test_a_token_is_created_from_the_profile_page_and_shown_once(client_as, developer):
    client = client_as(developer)
    response = client.post(
        "/profile/tokens/", {"name": "laptop", "expires_in_days": "30"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    token = ApiToken.objects.get(user=developer)
    assert 'data-testid="new-token"' in body
    assert token.key_hint in body
    assert 'data-testid="new-token"' not in client.get("/profile/").content.decode()


@pytest.mark.django_db
def test_revoking_someone_elses_token_from_the_page_is_a_404(client_as, developer, other_developer):
    from apps.accounts import services

    token, _ = services.api_token_create(actor=developer, name="mine")
    response = client_as(other_developer).post(f"/profile/tokens/{token.pk}/revoke/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_only_admins_open_the_team_form(client_as, developer, platform_admin):
    assert client_as(developer).get("/teams/new/").status_code == 403
    assert client_as(platform_admin).get("/teams/new/").status_code == 200


@pytest.mark.django_db
def test_a_team_form_error_names_the_field(client_as, platform_admin):
    response = client_as(platform_admin).post("/teams/new/", {"slug": "Bad Slug", "name": "X"})
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors


@pytest.mark.django_db
def test_an_admin_creates_a_team_in_the_browser(client_as, platform_admin):
    response = client_as(platform_admin).post("/teams/new/", {"slug": "billing", "name": "Billing"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="team.create").exists()


@pytest.mark.django_db
def test_an_admin_edits_a_team_from_its_page(client_as, platform_admin, payments):
    client = client_as(platform_admin)
    assert 'href="/teams/payments/edit/"' in client.get("/teams/payments/").content.decode()
    response = client.post(
        "/teams/payments/edit/",
        {"slug": "payments-billing", "name": "Payments & Billing", "description": "Money in."},
    )
    assert response.status_code == 302 and response["Location"] == "/teams/payments-billing/"
    payments.refresh_from_db()
    assert (payments.slug, payments.name) == ("payments-billing", "Payments & Billing")
    event = AuditEvent.objects.get(action="team.update")
    assert event.actor == platform_admin
    assert event.before["slug"] == "payments" and event.after["slug"] == "payments-billing"


@pytest.mark.django_db
def test_a_team_edit_error_names_the_field_and_saves_nothing(
    client_as, platform_admin, payments, search
):
    client = client_as(platform_admin)
    response = client.post("/teams/payments/edit/", {"slug": search.slug, "name": "Payments"})
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert "<h1>Edit Payments</h1>" in response.content.decode()
    payments.refresh_from_db()
    assert payments.slug == "payments"
    assert not AuditEvent.objects.filter(action="team.update").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "release_manager", "leadership"])
def test_only_admins_edit_teams(request, client_as, payments, persona):
    client = client_as(request.getfixturevalue(persona))
    assert "/teams/payments/edit/" not in client.get("/teams/payments/").content.decode()
    assert client.get("/teams/payments/edit/").status_code == 403
    response = client.post("/teams/payments/edit/", {"slug": "mine", "name": "Mine"})
    assert response.status_code == 403
    payments.refresh_from_db()
    assert payments.slug == "payments"


@pytest.mark.django_db
def test_a_developer_cannot_add_members_even_by_posting_directly(client_as, developer, payments):
    response = client_as(developer).post(f"/teams/{payments.slug}/members/", {"username": "x"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_an_admin_grants_a_role_in_place(client_as, platform_admin, outsider):
    response = client_as(platform_admin).post(
        f"/people/{outsider.pk}/grant/", {"role": Role.RELEASE_MANAGER}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Release manager" in response.content.decode()
    assert outsider.role_grants.filter(role=Role.RELEASE_MANAGER).exists()
    assert f"Release manager granted to {outsider.username}." in response.content.decode()


@pytest.mark.django_db
def test_an_admin_taking_away_their_own_admin_role_is_told_why_in_a_toast(
    client_as, platform_admin
):
    response = client_as(platform_admin).post(
        f"/people/{platform_admin.pk}/revoke/",
        {"role": Role.PLATFORM_ADMIN},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert 'class="toast toast-error"' in body
    assert "You cannot take away your own platform admin role." in body
    assert platform_admin.role_grants.filter(role=Role.PLATFORM_ADMIN).exists()
    # The row comes back with the role still chosen, to try again or act on the next one.
    assert '<option value="platform_admin" selected>' in body


@pytest.mark.django_db
def test_taking_away_a_role_someone_does_not_hold_says_so_and_changes_nothing(
    client_as, platform_admin, outsider
):
    response = client_as(platform_admin).post(
        f"/people/{outsider.pk}/revoke/", {"role": Role.DEVELOPER}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "olly does not hold Developer." in body and "taken from" not in body
    assert not AuditEvent.objects.filter(action="user.role_revoke").exists()


@pytest.mark.django_db
def test_leadership_cannot_change_roles(client_as, leadership, outsider):
    response = client_as(leadership).post(
        f"/people/{outsider.pk}/grant/", {"role": Role.PLATFORM_ADMIN}
    )
    assert response.status_code == 403
    assert not outsider.role_grants.exists()


@pytest.mark.django_db
def test_team_and_people_pages_keep_a_query_budget(
    client_as, platform_admin, django_assert_max_num_queries
):
    for n in range(40):
        team = TeamFactory(slug=f"bulk-{n}")
        UserFactory(username=f"member-{n}", teams=[team], roles=[Role.DEVELOPER])
    client = client_as(platform_admin)
    with django_assert_max_num_queries(12):
        assert client.get("/teams/").status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get("/people/").status_code == 200
