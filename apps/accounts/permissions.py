"""Who may do what: the one place every view, API endpoint and service asks.

Roles are granted per user (RoleGrant). Developers act for the teams they belong to, release
managers approve changes, leadership reads and changes nothing, platform admins run the portal.
A user may hold several roles. Results are cached on the user object for the request.

Service accounts are CI's identities, not people: they hold no role and belong to no team,
whatever rows may say, so every rule below that asks for a role or a team refuses them. What
they may do is report checks for the teams they are scoped to (`can_report_checks`), which no
person may do.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework.permissions import BasePermission

from apps.accounts.models import Role
from apps.accounts.system import is_system_account

Rule = Callable[..., bool]
_M = TypeVar("_M", bound=Model)


def is_service_account(user) -> bool:
    return bool(getattr(user, "is_service_account", False))


def roles_of(user) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if is_service_account(user):
        return frozenset()
    cached = getattr(user, "_runway_roles", None)
    if cached is None:
        cached = frozenset(user.role_grants.values_list("role", flat=True))
        user._runway_roles = cached
    return cached


def team_ids_of(user) -> frozenset[int]:
    if not getattr(user, "is_authenticated", False) or is_service_account(user):
        return frozenset()
    cached = getattr(user, "_runway_team_ids", None)
    if cached is None:
        cached = frozenset(user.memberships.values_list("team_id", flat=True))
        user._runway_team_ids = cached
    return cached


def check_team_ids_of(user) -> frozenset[int]:
    """The teams a service account reports checks for; none for anyone else."""
    if not getattr(user, "is_authenticated", False) or not is_service_account(user):
        return frozenset()
    cached = getattr(user, "_runway_check_team_ids", None)
    if cached is None:
        cached = frozenset(user.reports_checks_for.values_list("pk", flat=True))
        user._runway_check_team_ids = cached
    return cached


def forget_cached(user) -> None:
    """After changing a user's roles or teams, so the same request sees the change."""
    for attr in ("_runway_roles", "_runway_team_ids", "_runway_check_team_ids"):
        user.__dict__.pop(attr, None)


def has_role(user, role: Role) -> bool:
    return role in roles_of(user)


# --- Rules ------------------------------------------------------------------------------------


def can_read(user) -> bool:
    """Everybody signed in reads the catalog, releases, rollouts and reports."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def is_platform_admin(user) -> bool:
    return (
        can_read(user)
        and not is_service_account(user)
        and (user.is_superuser or has_role(user, Role.PLATFORM_ADMIN))
    )


def can_view_audit(user) -> bool:
    return is_platform_admin(user)


def can_manage_teams(user) -> bool:
    return is_platform_admin(user)


def can_view_reports(user) -> bool:
    return can_read(user)


def can_manage_webhooks(user) -> bool:
    """Webhook sources (their secrets) and mapping deliveries nobody could match to a service."""
    return is_platform_admin(user)


def can_manage_service_accounts(user) -> bool:
    """Service accounts (CI identities) and the tokens CI uses."""
    return is_platform_admin(user)


def can_manage_scorecards(user) -> bool:
    """The scorecard rules: their levels and whether they count."""
    return is_platform_admin(user)


def can_act_for_team(user, team_id: int | None) -> bool:
    """Developers change what their own teams own; platform admins change anything."""
    if is_platform_admin(user):
        return True
    return has_role(user, Role.DEVELOPER) and team_id in team_ids_of(user)


def can_request_releases(user, team_id: int | None) -> bool:
    """Who may ask for a release of a team's service: those who act for the team, and Runway's
    own account (apps/accounts/system.py) for what it asks by itself, an automatic promotion.
    No other service account, and no person, comes through the second door."""
    return can_act_for_team(user, team_id) or is_system_account(user)


def can_create_services(user) -> bool:
    return is_platform_admin(user) or (has_role(user, Role.DEVELOPER) and bool(team_ids_of(user)))


def can_manage_change_calendar(user) -> bool:
    """Change windows and freezes."""
    return can_approve_releases(user) or is_platform_admin(user)


def can_follow_calendar(user, team) -> bool:
    """A calendar feed of one's own releases, or of a team one belongs to. Checked when a feed
    is made and whenever it is read, so a feed stops when its maker leaves the team."""
    if not can_read(user):
        return False
    return team is None or is_platform_admin(user) or team.pk in team_ids_of(user)


def can_approve_releases(user) -> bool:
    return can_read(user) and has_role(user, Role.RELEASE_MANAGER)


def can_report_checks(user, team_id: int | None) -> bool:
    """A check (tests, a scan, provenance) is CI's word about a build, so only CI says it: an
    active service account scoped to the owning team. No person does, not even an admin: a
    developer who could post `tests: passed` could ship untested code alone."""
    return can_read(user) and team_id in check_team_ids_of(user)


def can_break_glass(user, *, requester_id: int, team_id: int | None) -> bool:
    """Who may start an emergency change to production without an independent approval: its
    requester (still of the owning team), who is on call and may have nobody to ask at 3 a.m.,
    and release managers, who run the change process. Not other team members, so one person
    answers for it; not platform admins, who are paged about it rather than doing it. Breaking
    glass pages leadership and platform admins and makes a retrospective due, so using it is
    never quiet."""
    if getattr(user, "pk", None) == requester_id and can_act_for_team(user, team_id):
        return True
    return can_approve_releases(user)


def can_steer_rollout(user, service) -> bool:
    """Start, promote, pause, resume, abort and roll back a service's rollouts: its owning
    team, release managers and platform admins."""
    return can_act_for_team(user, service.owner_id) or can_approve_releases(user)


def can_hold_versions(user, service) -> bool:
    """Pin a service's environment to a version, lift a pin, mark a version bad: those who
    steer its rollouts."""
    return can_steer_rollout(user, service)


# --- Enforcement ------------------------------------------------------------------------------


def require(allowed: bool, message: str = "You do not have permission to do this.") -> None:
    if not allowed:
        raise PermissionDenied(message)


def get_visible_or_404(queryset: QuerySet[_M], **lookup: Any) -> _M:
    """One row of `queryset`, or a 404 for a missing row or a malformed lookup (a non-numeric
    id). The queryset decides what may be found: everybody signed in reads the catalog,
    releases and rollouts, so their querysets hold every row; a person's own things (API
    tokens, calendar feeds) come from a queryset of that person's, so another person's token
    is a 404, revealing nothing, not even that it exists."""
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


def rule_required(rule: Rule):
    """For function views."""

    def decorator(view):
        def wrapped(request, *args, **kwargs):
            require(rule(request.user))
            return view(request, *args, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorator


def api_rule(rule: Rule, *, safe_rule: Rule | None = None) -> type[BasePermission]:
    """A DRF permission class from a rule; `safe_rule` (if given) governs GET/HEAD/OPTIONS."""

    class _RulePermission(BasePermission):
        message = "You do not have permission to do this."

        def has_permission(self, request, view) -> bool:
            if safe_rule is not None and request.method in ("GET", "HEAD", "OPTIONS"):
                return safe_rule(request.user)
            return rule(request.user)

    _RulePermission.__name__ = f"Allows_{rule.__name__}"
    return _RulePermission


def can_manage_trust(user) -> bool:
    """Trusted keys, trust policies and suppressions decide what may run: platform admins only."""
    return is_platform_admin(user)


def can_upload_evidence(user) -> bool:
    """Signatures and attestations are CI's to send: an active service account, or a platform
    admin by hand. Storing evidence trusts nothing: it is verified against the trusted keys each
    time a release is checked."""
    return can_read(user) and (is_service_account(user) or is_platform_admin(user))
