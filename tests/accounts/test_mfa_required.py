"""Approvers and administrators set up an authenticator app before anything else, when
MFA_REQUIRED_ROLES says so (the default outside development)."""

import pytest
from allauth.mfa.models import Authenticator

pytestmark = pytest.mark.django_db

ACTIVATE = "/accounts/2fa/totp/activate/"


@pytest.fixture(autouse=True)
def _required(settings):
    settings.MFA_REQUIRED_ROLES = ["release_manager", "platform_admin"]


def test_a_release_manager_without_a_second_factor_is_sent_to_set_one_up(
    client_as, release_manager
):
    client = client_as(release_manager)
    response = client.get("/releases/inbox/")
    assert response.status_code == 302 and response["Location"] == ACTIVATE
    # Setting it up (after confirming the password) and signing out stay open.
    assert client.get(ACTIVATE)["Location"].startswith("/accounts/reauthenticate/")
    api = client.get("/api/v1/releases/")
    assert api.status_code == 403 and "two-factor" in api.json()["detail"]


def test_with_an_authenticator_app_everything_opens(client_as, release_manager):
    Authenticator.objects.create(
        user=release_manager, type=Authenticator.Type.TOTP, data={"secret": "x"}
    )
    assert client_as(release_manager).get("/releases/inbox/").status_code == 200


def test_roles_not_named_are_not_asked(client_as, developer):
    assert client_as(developer).get("/releases/").status_code == 200
