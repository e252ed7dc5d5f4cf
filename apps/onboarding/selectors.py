from django.db.models import OuterRef, QuerySet, Subquery

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.catalog.models import GoldenPathTemplate, Service, System
from apps.onboarding.models import OnboardingDraft


def draft_for(*, user) -> OnboardingDraft | None:
    return OnboardingDraft.objects.filter(user=user).first()


def owner_teams(*, user) -> QuerySet[Team]:
    """The teams a new service may belong to: the user's own, or every team for admins."""
    if permissions.is_platform_admin(user):
        return Team.objects.order_by("name")
    return Team.objects.filter(pk__in=permissions.team_ids_of(user)).order_by("name")


def system_choices() -> QuerySet[System]:
    return System.objects.order_by("name")


def latest_templates() -> QuerySet[GoldenPathTemplate]:
    """The newest version of each golden-path template: new services start from that one."""
    newest = (
        GoldenPathTemplate.objects.filter(name=OuterRef("name"))
        .order_by("-version")
        .values("version")[:1]
    )
    return GoldenPathTemplate.objects.filter(version=Subquery(newest)).order_by("name")


def default_template() -> GoldenPathTemplate | None:
    """The golden path the wizard starts from: the default version, while it is its template's
    newest (an older one would not be on the latest golden path)."""
    return latest_templates().filter(is_default=True).first()


def service_name_taken(*, name: str) -> bool:
    return Service.objects.filter(name=name).exists()
