from types import SimpleNamespace

from apps.accounts.adapters import AccountAdapter, SocialAccountAdapter


def sso_login(*addresses: tuple[str, bool]):
    return SimpleNamespace(
        email_addresses=[SimpleNamespace(email=e, verified=v) for e, v in addresses]
    )


def test_password_sign_up_follows_the_setting(settings):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    assert not AccountAdapter().is_open_for_signup(None)
    settings.ACCOUNT_ALLOW_SIGNUP = True
    assert AccountAdapter().is_open_for_signup(None)


def test_sso_sign_up_is_open_when_no_domains_are_listed(settings):
    settings.SSO_ALLOWED_EMAIL_DOMAINS = []
    assert SocialAccountAdapter().is_open_for_signup(None, sso_login(("a@anywhere.io", True)))


def test_sso_sign_up_needs_a_verified_address_in_an_allowed_domain(settings):
    settings.SSO_ALLOWED_EMAIL_DOMAINS = ["example.com"]
    adapter = SocialAccountAdapter()
    assert adapter.is_open_for_signup(None, sso_login(("dana@Example.com", True)))
    assert not adapter.is_open_for_signup(None, sso_login(("dana@example.com", False)))
    assert not adapter.is_open_for_signup(None, sso_login(("mallory@evil.test", True)))
