"""Runway itself as an actor: the requester of what it asks for by its own rules (an automatic
promotion), so audit rows, the release page and separation of duties name Runway, not a
person. It is a service account with no password, no token, no team and no role: nobody signs in
as it, it approves nothing, and only the code paths that name it let it through."""

from django.contrib.auth.hashers import make_password

from apps.accounts.models import User

SYSTEM_USERNAME = "runway"


def system_account() -> User:
    """Runway's own account, made the first time it is needed (two first runs at once make
    one). A person who took the name first is never adopted: creating it fails on the unique
    username."""
    account, _ = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        is_service_account=True,
        defaults={"first_name": "Runway", "password": make_password(None)},
    )
    return account


def is_system_account(user) -> bool:
    return bool(
        getattr(user, "is_service_account", False)
        and getattr(user, "username", None) == SYSTEM_USERNAME
        and getattr(user, "pk", None) is not None
    )
