"""Who may hold a session: a service account is CI's identity and speaks with its API token
alone, so nobody is CI from a browser. Django asks `user_can_authenticate` at sign-in and on
every request of a session, so a session of an account that became a service account is not
honoured either. (allauth lets its sign-in flow go on for an account refused here, to say why;
`AccountAdapter.pre_login` ends that flow for service accounts.)"""

from allauth.account import auth_backends
from django.contrib.auth import backends


class _PeopleOnly:
    def user_can_authenticate(self, user) -> bool:
        allowed = super().user_can_authenticate(user)  # type: ignore[misc]
        return allowed and not getattr(user, "is_service_account", False)


class ModelBackend(_PeopleOnly, backends.ModelBackend):
    pass


class AuthenticationBackend(_PeopleOnly, auth_backends.AuthenticationBackend):
    pass
