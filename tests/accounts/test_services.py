import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts import services
from apps.accounts.models import ApiToken, Role, Team
from apps.audit.models import AuditEvent


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("id")


@pytest.mark.django_db
def test_team_create_records_an_audit_event(platform_admin):
    team = services.team_create(actor=platform_admin, slug="billing", name="Billing")
    event = last_event("team.create")
    assert event.actor == platform_admin
    assert event.target_type == "accounts.team" and event.target_id == str(team.pk)
    assert event.after == {"slug": "billing", "name": "Billing", "description": ""}


@pytest.mark.django_db
def test_only_platform_admins_create_teams(developer):
    with pytest.raises(PermissionDenied):
        services.team_create(actor=developer, slug="billing", name="Billing")
    assert not Team.objects.filter(slug="billing").exists()
    assert not AuditEvent.objects.filter(action="team.create").exists()


@pytest.mark.django_db
def test_a_bad_team_slug_is_refused_naming_the_field_and_nothing_is_saved(platform_admin):
    with pytest.raises(ValidationError) as error:
        services.team_create(actor=platform_admin, slug="Not A Slug", name="X")
    assert "slug" in error.value.message_dict
    assert not Team.objects.exists()


@pytest.mark.django_db
def test_team_update_records_before_and_after(platform_admin, payments):
    services.team_update(actor=platform_admin, team=payments, name="Payments & Billing")
    event = last_event("team.update")
    assert event.before["name"] == "Payments"
    assert event.after["name"] == "Payments & Billing"


@pytest.mark.django_db
def test_adding_a_member_twice_is_one_membership_and_one_event(platform_admin, payments, outsider):
    services.team_member_add(actor=platform_admin, team=payments, user=outsider)
    services.team_member_add(actor=platform_admin, team=payments, user=outsider)
    assert payments.memberships.filter(user=outsider).count() == 1
    assert AuditEvent.objects.filter(action="team.member_add").count() == 1


@pytest.mark.django_db
def test_role_grant_and_revoke_are_audited_and_take_effect(platform_admin, outsider):
    from apps.accounts import permissions

    services.role_grant(actor=platform_admin, user=outsider, role=Role.RELEASE_MANAGER)
    assert permissions.can_approve_releases(outsider)
    services.role_revoke(actor=platform_admin, user=outsider, role=Role.RELEASE_MANAGER)
    assert not permissions.can_approve_releases(outsider)
    assert [e.action for e in AuditEvent.objects.order_by("id")] == [
        "user.role_grant",
        "user.role_revoke",
    ]


@pytest.mark.django_db
def test_an_unknown_role_is_refused_naming_the_field(platform_admin, outsider):
    with pytest.raises(ValidationError) as error:
        services.role_grant(actor=platform_admin, user=outsider, role="wizard")
    assert "role" in error.value.message_dict


@pytest.mark.django_db
def test_an_admin_cannot_remove_their_own_admin_role(platform_admin):
    with pytest.raises(ValidationError):
        services.role_revoke(actor=platform_admin, user=platform_admin, role=Role.PLATFORM_ADMIN)


@pytest.mark.django_db
def test_an_api_token_is_stored_only_as_a_hash(developer):
    token, key = services.api_token_create(actor=developer, name="CI", expires_in_days=30)
    assert key.startswith("rw_") and len(key) > 40
    assert token.key_hash == ApiToken.hash_key(key)
    assert key not in str(AuditEvent.objects.get(action="api_token.create").after)
    assert not ApiToken.objects.filter(key_hash=key).exists()


@pytest.mark.django_db
def test_an_api_token_with_an_out_of_range_expiry_is_refused(developer):
    with pytest.raises(ValidationError) as error:
        services.api_token_create(actor=developer, name="CI", expires_in_days=1000)
    assert "expires_in_days" in error.value.message_dict
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_nobody_revokes_someone_elses_token(developer, other_developer):
    token, _ = services.api_token_create(actor=developer, name="CI")
    with pytest.raises(PermissionDenied):
        services.api_token_revoke(actor=other_developer, token=token)
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_revoking_twice_records_one_event(developer):
    token, _ = services.api_token_create(actor=developer, name="CI")
    services.api_token_revoke(actor=developer, token=token)
    services.api_token_revoke(actor=developer, token=token)
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


@pytest.mark.django_db
def test_time_zone_must_be_a_real_zone(developer):
    with pytest.raises(ValidationError) as error:
        services.user_time_zone_set(actor=developer, time_zone="Mars/Olympus")
    assert "time_zone" in error.value.message_dict
    services.user_time_zone_set(actor=developer, time_zone="Europe/Berlin")
    developer.refresh_from_db()
    assert developer.time_zone == "Europe/Berlin"
