import pytest

from apps.audit.models import AuditEvent

LOGIN = "/accounts/login/"


@pytest.mark.django_db
def test_sign_in_with_username(client, developer, password):
    response = client.post(LOGIN, {"login": "dana", "password": password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_sign_in_with_email(client, developer, password):
    response = client.post(LOGIN, {"login": developer.email, "password": password})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor=developer).exists()


@pytest.mark.django_db
def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client, developer):
    wrong_password = client.post(LOGIN, {"login": "dana", "password": "nope-nope-nope"})
    unknown_user = client.post(LOGIN, {"login": "nobody-here", "password": "nope-nope-nope"})
    assert wrong_password.status_code == unknown_user.status_code == 200

    def errors(response):
        return response.context["form"].non_field_errors()

    assert errors(wrong_password) == errors(unknown_user)
    assert errors(wrong_password)
    assert AuditEvent.objects.filter(action="auth.login_failed").count() >= 1


@pytest.mark.django_db
def test_repeated_failures_are_rate_limited(client, developer, password):
    for attempt in range(5):
        client.post(LOGIN, {"login": "dana", "password": f"wrong-{attempt}"})
    # Even the right password is refused while the limit holds.
    response = client.post(LOGIN, {"login": "dana", "password": password})
    assert response.status_code == 200
    assert "Too many failed login attempts" in str(response.context["form"].non_field_errors())
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_failures_from_elsewhere_do_not_lock_the_owner_out(client, developer, password):
    for attempt in range(12):  # past both the per-address and the per-account limits
        client.post(
            LOGIN, {"login": "dana", "password": f"x-{attempt}"}, REMOTE_ADDR="198.51.100.7"
        )
    owner = client.post(LOGIN, {"login": "dana", "password": password}, REMOTE_ADDR="192.0.2.10")
    assert owner.status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_sign_up_is_closed_by_default(client):
    from apps.accounts.models import User

    response = client.post(
        "/accounts/signup/",
        {
            "username": "eve",
            "email": "eve@example.com",
            "password1": "x" * 20,
            "password2": "x" * 20,
        },
    )
    assert b"Sign Up Closed" in response.content
    assert not User.objects.filter(username="eve").exists()


@pytest.mark.django_db
def test_sign_out_is_audited(client_as, developer):
    client = client_as(developer)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.logout", actor=developer).exists()
    assert client.get("/").status_code == 302


def totp_now(secret: str) -> str:
    """RFC 6238 with the defaults authenticator apps use (SHA-1, 30 s, 6 digits)."""
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@pytest.mark.django_db
def test_a_user_turns_on_totp_and_is_then_asked_for_a_code(client, developer, password):
    from allauth.mfa.models import Authenticator

    client.post(LOGIN, {"login": "dana", "password": password})
    # Changing how you sign in asks for the password again first.
    first_try = client.get("/accounts/2fa/totp/activate/")
    assert first_try["Location"].startswith("/accounts/reauthenticate/")
    client.post("/accounts/reauthenticate/", {"password": password})
    activate = client.get("/accounts/2fa/totp/activate/")
    assert activate.status_code == 200
    secret = activate.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=developer, type=Authenticator.Type.TOTP).exists()

    client.post("/accounts/logout/")
    response = client.post(LOGIN, {"login": "dana", "password": password})
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/").status_code == 302  # not signed in until the code is given


def _with_authenticator_app(user):
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


@pytest.mark.django_db
def test_the_right_password_of_an_account_with_a_second_factor_gets_through_a_throttle(
    client, developer, password
):
    """Someone guessing from the owner's own address (an office, a VPN) throttles it; the
    owner's password still opens the second step, and only that."""
    _with_authenticator_app(developer)
    for attempt in range(12):  # past the per-address and the per-account limits
        client.post(LOGIN, {"login": "dana", "password": f"x-{attempt}"})
    guess = client.post(LOGIN, {"login": "dana", "password": "still-guessing"})
    assert "Too many failed login attempts" in str(guess.context["form"].non_field_errors())
    owner = client.post(LOGIN, {"login": "dana", "password": password})
    assert owner.status_code == 302
    assert owner["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/").status_code == 302  # not signed in before the code


@pytest.mark.django_db
def test_without_a_second_factor_the_throttle_holds_even_for_the_right_password(
    client, developer, password
):
    for attempt in range(12):
        client.post(LOGIN, {"login": "dana", "password": f"x-{attempt}"})
    owner = client.post(LOGIN, {"login": "dana", "password": password})
    assert owner.status_code == 200
    assert "Too many failed login attempts" in str(owner.context["form"].non_field_errors())
