"""Demo teams and one user per role. Safe to run again."""

from apps.accounts.models import Role, RoleGrant, Team, TeamMembership, User

DEMO_PASSWORD = "runway-demo"

TEAMS = [
    ("payments", "Payments", "Checkout, billing and refunds."),
    ("search", "Search", "Search and recommendations."),
    ("platform", "Platform", "The paved road: clusters, pipelines and Runway itself."),
]

# username, name, e-mail, roles, teams
USERS = [
    ("dev", "Dana Developer", [Role.DEVELOPER], ["payments", "search"]),
    ("dev2", "Devon Second", [Role.DEVELOPER], ["payments"]),
    ("rm", "Riley Release-Manager", [Role.RELEASE_MANAGER], ["platform"]),
    ("rm2", "Robin Approver", [Role.RELEASE_MANAGER], []),
    ("lead", "Lee Leadership", [Role.LEADERSHIP], []),
    ("admin", "Ada Admin", [Role.PLATFORM_ADMIN, Role.DEVELOPER], ["platform"]),
]
# The demo's CI: a service account that reports checks for every demo team. It has no token;
# `manage.py service_account_create` makes one for a real CI (see README).
CI_ACCOUNT = "ci"


def load() -> list[str]:
    """Returns what it created."""
    created: list[str] = []
    teams = {}
    for slug, name, description in TEAMS:
        teams[slug], was_created = Team.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
        if was_created:
            created.append(f"team {slug}")
    for username, full_name, roles, team_slugs in USERS:
        first, _, last = full_name.partition(" ")
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@runway.example",
            },
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            if Role.PLATFORM_ADMIN in roles:
                user.is_staff = user.is_superuser = True
            user.save()
            created.append(f"user {username}")
        for role in roles:
            RoleGrant.objects.get_or_create(user=user, role=role)
        for slug in team_slugs:
            TeamMembership.objects.get_or_create(user=user, team=teams[slug])
    ci, was_created = User.objects.get_or_create(
        username=CI_ACCOUNT, defaults={"is_service_account": True}
    )
    if was_created:
        ci.set_unusable_password()
        ci.save()
        created.append(f"service account {CI_ACCOUNT}")
    ci.reports_checks_for.add(*teams.values())
    return created
