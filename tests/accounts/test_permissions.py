import pytest

from apps.accounts import permissions
from apps.accounts.models import Role
from tests.factories import UserFactory


@pytest.mark.django_db
def test_developers_act_only_for_their_own_teams(developer, payments, search):
    assert permissions.can_act_for_team(developer, payments.pk)
    assert not permissions.can_act_for_team(developer, search.pk)


@pytest.mark.django_db
def test_platform_admins_act_for_every_team(platform_admin, search):
    assert permissions.can_act_for_team(platform_admin, search.pk)
    assert permissions.can_view_audit(platform_admin)


@pytest.mark.django_db
def test_leadership_reads_everything_and_changes_nothing(leadership, payments):
    assert permissions.can_read(leadership)
    assert permissions.can_view_reports(leadership)
    assert not permissions.can_act_for_team(leadership, payments.pk)
    assert not permissions.can_create_services(leadership)
    assert not permissions.can_approve_releases(leadership)
    assert not permissions.can_view_audit(leadership)


@pytest.mark.django_db
def test_a_team_member_without_the_developer_role_cannot_act_for_it(payments):
    viewer = UserFactory(username="viewer", roles=[Role.LEADERSHIP], teams=[payments])
    assert not permissions.can_act_for_team(viewer, payments.pk)


@pytest.mark.django_db
def test_only_release_managers_approve(release_manager, developer, platform_admin):
    assert permissions.can_approve_releases(release_manager)
    assert not permissions.can_approve_releases(developer)
    assert not permissions.can_approve_releases(platform_admin)


@pytest.mark.django_db
def test_a_deactivated_user_holds_no_role(release_manager):
    release_manager.is_active = False
    assert permissions.roles_of(release_manager) == frozenset()
    assert not permissions.can_read(release_manager)


def test_anonymous_users_may_do_nothing():
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    assert not permissions.can_read(anonymous)
    assert not permissions.is_platform_admin(anonymous)
    assert not permissions.can_act_for_team(anonymous, 1)


@pytest.mark.django_db
def test_roles_are_read_once_per_request(developer, django_assert_num_queries):
    developer.refresh_from_db()
    with django_assert_num_queries(1):
        for _ in range(5):
            permissions.has_role(developer, Role.DEVELOPER)


@pytest.mark.django_db
def test_the_owning_team_release_managers_and_platform_admins_steer_rollouts(
    developer, other_developer, release_manager, platform_admin, leadership, web
):
    assert permissions.can_steer_rollout(developer, web)
    assert permissions.can_steer_rollout(release_manager, web)
    assert permissions.can_steer_rollout(platform_admin, web)
    assert not permissions.can_steer_rollout(other_developer, web)
    assert not permissions.can_steer_rollout(leadership, web)
