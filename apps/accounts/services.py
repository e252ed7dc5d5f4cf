import re
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Alias, ApiToken, Role, RoleGrant, Team, TeamMembership, User
from apps.accounts.system import SYSTEM_USERNAME, is_system_account
from apps.audit.services import audit_record, snapshot

TEAM_FIELDS = ("slug", "name", "description")


@transaction.atomic
def team_create(*, actor: User, slug: str, name: str, description: str = "") -> Team:
    permissions.require(permissions.can_manage_teams(actor), "Only platform admins create teams.")
    team = Team(slug=slug, name=name, description=description)
    team.full_clean()
    team.save()
    audit_record(actor=actor, action="team.create", target=team, after=snapshot(team, TEAM_FIELDS))
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, **changes) -> Team:
    permissions.require(permissions.can_manage_teams(actor), "Only platform admins edit teams.")
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = snapshot(team, TEAM_FIELDS)
    for field, value in changes.items():
        if field not in TEAM_FIELDS:
            raise ValidationError({field: "This field cannot be changed here."})
        setattr(team, field, value)
    team.full_clean()
    team.save()
    audit_record(
        actor=actor,
        action="team.update",
        target=team,
        before=before,
        after=snapshot(team, TEAM_FIELDS),
    )
    return team


@transaction.atomic
def team_member_add(*, actor: User, team: Team, user: User) -> TeamMembership:
    permissions.require(permissions.can_manage_teams(actor), "Only platform admins add members.")
    _refuse_service_account(user, "user", "A service account is no team member")
    membership, created = TeamMembership.objects.get_or_create(team=team, user=user)
    if created:
        audit_record(
            actor=actor, action="team.member_add", target=team, after={"user": user.username}
        )
        permissions.forget_cached(user)
    return membership


@transaction.atomic
def team_member_remove(*, actor: User, team: Team, user: User) -> None:
    permissions.require(permissions.can_manage_teams(actor), "Only platform admins remove members.")
    deleted, _ = TeamMembership.objects.filter(team=team, user=user).delete()
    if deleted:
        audit_record(
            actor=actor, action="team.member_remove", target=team, before={"user": user.username}
        )
        permissions.forget_cached(user)


@transaction.atomic
def role_grant(*, actor: User, user: User, role: str) -> RoleGrant:
    permissions.require(permissions.is_platform_admin(actor), "Only platform admins grant roles.")
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {Role.values}."})
    _refuse_service_account(user, "role", "A service account holds no role")
    grant, created = RoleGrant.objects.get_or_create(user=user, role=role)
    if created:
        audit_record(actor=actor, action="user.role_grant", target=user, after={"role": role})
        permissions.forget_cached(user)
    return grant


@transaction.atomic
def role_revoke(*, actor: User, user: User, role: str) -> bool:
    """Take a role away; False when the user did not hold it (nothing changes)."""
    permissions.require(permissions.is_platform_admin(actor), "Only platform admins revoke roles.")
    if actor.pk == user.pk and role == Role.PLATFORM_ADMIN:
        raise ValidationError({"role": "You cannot take away your own platform admin role."})
    deleted, _ = RoleGrant.objects.filter(user=user, role=role).delete()
    if deleted:
        audit_record(actor=actor, action="user.role_revoke", target=user, before={"role": role})
        permissions.forget_cached(user)
    return bool(deleted)


def _refuse_service_account(user: User, field: str, why: str) -> None:
    if user.is_service_account:
        raise ValidationError({field: f"{why}: {user.username} is CI's identity."})


def _new_token(*, user: User, name: str, expires_in_days: int | None) -> tuple[ApiToken, str]:
    if expires_in_days is not None and not 1 <= expires_in_days <= 366:
        raise ValidationError({"expires_in_days": "Choose between 1 and 366 days, or none."})
    key = ApiToken.PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "").strip(),
        key_hash=ApiToken.hash_key(key),
        key_hint=key[: len(ApiToken.PREFIX) + 6],
        expires_at=timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def api_token_create(
    *, actor: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Returns (token, key). The key is shown to the user once and never stored."""
    permissions.require(permissions.can_read(actor))
    # A leaked CI token must end when an admin revokes it, not live on in one it minted.
    permissions.require(
        not actor.is_service_account, "A service account's tokens are issued by platform admins."
    )
    token, key = _new_token(user=actor, name=name, expires_in_days=expires_in_days)
    audit_record(
        actor=actor,
        action="api_token.create",
        target=token,
        after={"name": token.name, "expires_at": token.expires_at},
    )
    return token, key


# --- Service accounts: CI's identities ------------------------------------------------------


def _require_service_account_rights(actor: User) -> None:
    permissions.require(
        permissions.can_manage_service_accounts(actor),
        "Only platform admins manage service accounts.",
    )


@transaction.atomic
def service_account_create(
    *,
    actor: User,
    username: str,
    teams: list[Team],
    token_name: str = "ci",  # noqa: S107 (the token's label, not a secret)
    expires_in_days: int | None = None,
) -> tuple[User, ApiToken, str]:
    """A CI identity that reports checks for `teams`, with its first API token. Returns
    (account, token, key); the key is shown once, to be stored in CI's secrets."""
    _require_service_account_rights(actor)
    teams = list(teams)
    if not teams:
        raise ValidationError({"teams": "Name the teams whose checks it reports."})
    if (username or "").strip() == SYSTEM_USERNAME:
        raise ValidationError({"username": f"{SYSTEM_USERNAME} is Runway's own account."})
    account = User(username=(username or "").strip(), is_service_account=True)
    account.set_unusable_password()  # CI uses its token; nobody signs in as it
    account.full_clean(exclude=["password"])
    account.save()
    account.reports_checks_for.set(teams)
    token, key = _new_token(user=account, name=token_name, expires_in_days=expires_in_days)
    audit_record(
        actor=actor,
        action="service_account.create",
        target=account,
        after={
            "username": account.username,
            "reports_checks_for": sorted(team.slug for team in teams),
            "token": token.name,
            "expires_at": token.expires_at,
        },
    )
    return account, token, key


@transaction.atomic
def service_account_token_issue(
    *, actor: User, account: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Another token for a service account (to rotate CI's secret). Returns (token, key)."""
    _require_service_account_rights(actor)
    account = User.objects.select_for_update().get(pk=account.pk)
    if not account.is_service_account:
        raise ValidationError(
            {"account": f"{account.username} is a person: people make their own tokens."}
        )
    if is_system_account(account):
        raise ValidationError({"account": f"{account.username} is Runway's own: it has no token."})
    if not account.is_active:
        raise ValidationError({"account": f"{account.username} is deactivated."})
    token, key = _new_token(user=account, name=name, expires_in_days=expires_in_days)
    audit_record(
        actor=actor,
        action="service_account.token_issue",
        target=account,
        after={"token": token.name, "expires_at": token.expires_at},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    permissions.require(token.user_id == actor.pk or permissions.is_platform_admin(actor))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            target=token,
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at},
        )
    return token


@transaction.atomic
def api_tokens_revoke_all(*, user: User, reason: str, actor: User | None = None) -> int:
    """Revoke every usable token of a person (deactivated, say); one audit row for them all."""
    tokens = list(ApiToken.objects.usable().select_for_update().filter(user=user))
    if tokens:
        now = timezone.now()
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=now)
        audit_record(
            actor=actor,
            action="api_token.revoke_all",
            target=user,
            after={"tokens": sorted(t.name for t in tokens), "reason": reason},
        )
    return len(tokens)


@transaction.atomic
def user_time_zone_set(*, actor: User, time_zone: str) -> User:
    user = User.objects.select_for_update().get(pk=actor.pk)
    before = {"time_zone": user.time_zone}
    user.time_zone = time_zone
    user.full_clean(validate_unique=False, exclude=["password"])
    user.save(update_fields=["time_zone"])
    audit_record(
        actor=actor,
        action="user.preferences",
        target=user,
        before=before,
        after={"time_zone": time_zone},
    )
    return user


@transaction.atomic
def alias_add(*, actor: User, kind: str, value: str) -> Alias:
    """List another e-mail or VCS login as the actor's own. One alias names one person."""
    value = value.strip().lower()
    if kind not in Alias.Kind.values:
        raise ValidationError({"kind": "Choose e-mail or VCS login."})
    if kind == Alias.Kind.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"value": "Enter an e-mail address."}) from None
    elif not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", value):
        raise ValidationError({"value": "A login is letters, digits, '.', '_' and '-'."})
    if Alias.objects.filter(kind=kind, value=value).exists():
        raise ValidationError({"value": "Someone already lists this as theirs."})
    alias = Alias.objects.create(user=actor, kind=kind, value=value)
    audit_record(
        actor=actor, action="alias.add", target=alias, after={"kind": kind, "value": value}
    )
    return alias


@transaction.atomic
def alias_remove(*, actor: User, alias: Alias) -> None:
    locked = Alias.objects.select_for_update().filter(pk=alias.pk).first()
    if locked is None:
        return
    alias = locked
    permissions.require(alias.user_id == actor.pk or permissions.is_platform_admin(actor))
    audit_record(
        actor=actor,
        action="alias.remove",
        target=alias,
        before={"user": alias.user.username, "kind": alias.kind, "value": alias.value},
    )
    alias.delete()
