from django.db.models import Count, Prefetch, QuerySet

from apps.accounts import permissions
from apps.accounts.models import ApiToken, Role, Team, TeamMembership, User


def user_profile_summary(*, user: User) -> dict:
    roles = sorted(permissions.roles_of(user))
    return {
        "user": user,
        "roles": [Role(role).label for role in roles],
        "role_values": roles,
        "teams": list(Team.objects.filter(memberships__user=user).order_by("name")),
        "is_platform_admin": permissions.is_platform_admin(user),
    }


def team_list() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("memberships")).order_by("name")


def team_detail_queryset() -> QuerySet[Team]:
    members = TeamMembership.objects.select_related("user").order_by("user__username")
    return Team.objects.prefetch_related(Prefetch("memberships", queryset=members))


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def user_list() -> QuerySet[User]:
    return User.objects.prefetch_related("role_grants", "teams", "reports_checks_for").order_by(
        "username"
    )


def service_accounts() -> QuerySet[User]:
    return (
        User.objects.filter(is_service_account=True)
        .prefetch_related("reports_checks_for")
        .order_by("username")
    )
