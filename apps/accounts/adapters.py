from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # An internal portal: accounts come from admins or single sign-on, unless switched on.
        return settings.ACCOUNT_ALLOW_SIGNUP

    def pre_login(self, request, user, **kwargs):
        # A service account is CI's identity and speaks with its API token alone: nobody signs
        # in as it, even if an admin gave it a password, so nobody is CI from a browser.
        if getattr(user, "is_service_account", False):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return self.respond_user_inactive(request, user)
        return super().pre_login(request, user, **kwargs)

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # Failed sign-ins count per account and address (allauth counts per account alone):
        # someone guessing at an account from elsewhere slows themselves down, and cannot lock
        # its owner out. The address is the one uvicorn believed (see TRUSTED_PROXIES).
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}:{request.META.get('REMOTE_ADDR', '')}"

    def authenticate(self, request, **credentials):
        """While failed sign-ins are throttled, the right password still gets an account with
        an authenticator app through to its second step, which has its own limit: guesses
        from an address the owner shares (an office, a VPN) cannot keep the owner out, and the
        password alone opens nothing. Without a second factor the throttle holds."""
        try:
            return super().authenticate(request, **credentials)
        except ValidationError as refusal:
            if refusal.code != "too_many_login_attempts":
                raise
            AuthenticationBackend.unstash_authenticated_user()
            user = authenticate(request, **credentials)
            user = user or AuthenticationBackend.unstash_authenticated_user()
            second_factors = Authenticator.objects.filter(user=user).exclude(
                type=Authenticator.Type.RECOVERY_CODES
            )
            if user is None or not second_factors.exists():
                raise
            return user


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Whoever the company's identity provider vouches for may have an account; with a
        # public provider (GitHub, gitlab.com) SSO_ALLOWED_EMAIL_DOMAINS keeps strangers out.
        allowed = settings.SSO_ALLOWED_EMAIL_DOMAINS
        if not allowed:
            return True
        return any(
            address.verified and address.email.rsplit("@", 1)[-1].lower() in allowed
            for address in sociallogin.email_addresses
        )
