"""Service accounts: CI's identities. Platform admins create them with a token for CI; they
report checks for the teams they are scoped to and do nothing a person does."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from apps.accounts import permissions, services
from apps.accounts.models import ApiToken, Role, User
from apps.audit.models import AuditEvent
from apps.releases.models import ApprovalRule
from apps.releases.policies import is_eligible
from tests.factories import TeamFactory


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.mark.django_db
def test_a_platform_admin_creates_a_service_account_with_a_token_and_it_is_audited(
    platform_admin, payments, api_client
):
    account, token, key = services.service_account_create(
        actor=platform_admin, username="ci-payments", teams=[payments], token_name="github"
    )
    assert account.is_service_account and not account.has_usable_password()
    assert list(account.reports_checks_for.all()) == [payments]
    assert token.user == account and key.startswith("rw_")
    event = AuditEvent.objects.get(action="service_account.create")
    assert event.actor == platform_admin and event.target_id == str(account.pk)
    assert event.after["reports_checks_for"] == ["payments"] and event.after["token"] == "github"
    assert api_client.get("/api/v1/me/", **bearer(key)).json()["username"] == "ci-payments"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "release_manager", "leadership"])
def test_only_platform_admins_create_service_accounts(request, payments, persona):
    with pytest.raises(PermissionDenied):
        services.service_account_create(
            actor=request.getfixturevalue(persona), username="ci-x", teams=[payments]
        )
    assert not User.objects.filter(username="ci-x").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [({"username": "", "teams": "payments"}, "username"), ({"username": "ci-x"}, "teams")],
)
def test_a_bad_service_account_is_refused_naming_the_field(platform_admin, payments, fields, field):
    teams = [payments] if fields.get("teams") else []
    with pytest.raises(ValidationError) as refusal:
        services.service_account_create(
            actor=platform_admin, username=fields["username"], teams=teams
        )
    assert field in refusal.value.message_dict
    assert not User.objects.filter(is_service_account=True).exists()


@pytest.mark.django_db
def test_a_service_account_holds_no_role_no_team_and_approves_nothing(ci, payments):
    from apps.accounts.models import RoleGrant, TeamMembership

    # Even rows written around the services do not make it a person.
    RoleGrant.objects.create(user=ci, role=Role.PLATFORM_ADMIN)
    TeamMembership.objects.create(user=ci, team=payments)
    permissions.forget_cached(ci)
    assert permissions.roles_of(ci) == frozenset() and permissions.team_ids_of(ci) == frozenset()
    assert not permissions.is_platform_admin(ci)
    assert not permissions.can_act_for_team(ci, payments.pk)
    rule = ApprovalRule(name="Payments", team=payments)
    assert not is_eligible(rule, ci)
    assert permissions.can_report_checks(ci, payments.pk)
    assert not permissions.can_report_checks(ci, TeamFactory(slug="other").pk)


@pytest.mark.django_db
def test_no_role_or_membership_is_given_to_a_service_account(platform_admin, ci, payments):
    with pytest.raises(ValidationError) as refusal:
        services.role_grant(actor=platform_admin, user=ci, role=Role.DEVELOPER)
    assert "role" in refusal.value.message_dict
    with pytest.raises(ValidationError):
        services.team_member_add(actor=platform_admin, team=payments, user=ci)


@pytest.mark.django_db
def test_a_service_account_cannot_mint_its_own_tokens(api_client, platform_admin, payments):
    _, _, key = services.service_account_create(
        actor=platform_admin, username="ci-payments", teams=[payments]
    )
    response = api_client.post("/api/v1/tokens/", {"name": "mine"}, format="json", **bearer(key))
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_an_admin_issues_another_token_to_rotate_cis_secret(platform_admin, ci, developer):
    token, _ = services.service_account_token_issue(
        actor=platform_admin, account=ci, name="rotated", expires_in_days=90
    )
    assert token.user == ci and token.expires_at is not None
    assert AuditEvent.objects.get(action="service_account.token_issue").after["token"] == "rotated"
    with pytest.raises(ValidationError) as refusal:
        services.service_account_token_issue(actor=platform_admin, account=developer, name="x")
    assert "account" in refusal.value.message_dict


@pytest.mark.django_db
def test_the_command_creates_one_and_prints_its_token_once(platform_admin, payments, search):
    out, err = StringIO(), StringIO()
    call_command(
        "service_account_create",
        "ci-shop",
        "--team=payments",
        "--team=search",
        "--actor=ada",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    account = User.objects.get(username="ci-shop")
    assert ApiToken.objects.get(key_hash=ApiToken.hash_key(key)).user == account
    assert sorted(team.slug for team in account.reports_checks_for.all()) == ["payments", "search"]
    assert "shown once" in err.getvalue()
    with pytest.raises(CommandError, match="No team is called nowhere"):
        call_command("service_account_create", "ci-2", "--team=nowhere", "--actor=ada")


@pytest.mark.django_db
def test_the_command_refuses_an_actor_who_is_no_admin(developer, payments):
    with pytest.raises(CommandError, match="Only platform admins"):
        call_command("service_account_create", "ci-x", "--team=payments", "--actor=dana")


@pytest.mark.django_db
def test_the_api_creates_lists_and_issues_tokens_for_platform_admins_only(
    api_as, platform_admin, developer, payments
):
    client = api_as(platform_admin)
    response = client.post(
        "/api/v1/service-accounts/",
        {"username": "ci-payments", "teams": ["payments"], "token_name": "github"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reports_checks_for"] == ["payments"] and body["token"]["key"].startswith("rw_")
    listed = client.get("/api/v1/service-accounts/").json()["results"]
    assert [account["username"] for account in listed] == ["ci-payments"]
    more = client.post(f"/api/v1/service-accounts/{body['id']}/tokens/", {"name": "gitlab"})
    assert more.status_code == 201 and more.json()["name"] == "gitlab"
    bad = client.post("/api/v1/service-accounts/", {"username": "ci-2", "teams": ["nope"]})
    assert bad.status_code == 400 and "teams" in bad.json()
    assert api_as(developer).get("/api/v1/service-accounts/").status_code == 403


@pytest.mark.django_db
def test_the_people_page_marks_service_accounts(client_as, platform_admin, ci):
    page = client_as(platform_admin).get("/people/").content.decode()
    assert "service account" in page and "reports checks for payments" in page


@pytest.mark.django_db
def test_nobody_signs_in_as_a_service_account_even_with_a_password(client, ci, password):
    ci.set_password(password)
    ci.save()
    client.post("/accounts/login/", {"login": "ci-payments", "password": password})
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="auth.login").exists()


@pytest.mark.django_db
def test_a_session_of_a_service_account_is_not_honoured(client, ci):
    client.force_login(ci)  # as if it had been signed in before it became a service account
    response = client.get("/releases/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
