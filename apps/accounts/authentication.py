from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken
from apps.accounts.system import is_system_account

# Recording every use would turn each API read into a write; once a minute is enough to tell
# a token in use from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer rw_…` (or `Token rw_…`) with a personal API token."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2 or not header[1].startswith(ApiToken.PREFIX):
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        # By its unique hash alone, whether it is usable checked here: the least work in the
        # database and the ORM for what every API call does first.
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(header[1]))
            .first()
        )
        # Runway's own account has no token; one that somehow exists is not honoured.
        if (
            token is None
            or not token.is_usable
            or not token.user.is_active
            or is_system_account(token.user)
        ):
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (rw_…), created on your profile page.",
        }
