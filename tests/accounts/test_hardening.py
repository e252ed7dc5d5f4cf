"""Sign-in and sessions hold: a deactivated person's tokens stay dead when they come back, the
admin signs in through Runway's rate-limited sign-in, and a refusal is one line in the log."""

import io
import logging

import pytest

from apps.accounts import services
from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_a_token_stays_revoked_after_its_owner_is_deactivated_and_reactivated(
    api_client, developer
):
    services.api_token_create(actor=developer, name="laptop")
    _, key = services.api_token_create(actor=developer, name="ci")
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 200
    developer.is_active = False
    developer.save()
    developer.is_active = True
    developer.save()
    assert api_client.get("/api/v1/me/", **bearer(key)).status_code == 401
    assert not ApiToken.objects.usable().exists()
    (event,) = AuditEvent.objects.filter(action="api_token.revoke_all")
    assert event.after == {"tokens": ["ci", "laptop"], "reason": "deactivated"}


def test_saving_an_inactive_person_again_revokes_nothing_more(developer):
    developer.is_active = False
    developer.save()
    developer.save(update_fields=["last_name"])
    assert AuditEvent.objects.filter(action="api_token.revoke_all").count() == 0  # had none


def test_the_admin_signs_in_through_runways_sign_in(client, platform_admin, password):
    page = client.get("/admin/login/?next=/admin/catalog/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/admin/catalog/"
    # The admin's own form is not there to guess passwords at.
    posted = client.post("/admin/login/", {"username": "ada", "password": password})
    assert posted.status_code == 302 and posted["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session


@pytest.fixture
def web_log():
    """What the configured console handler (settings.LOGGING, with its filters) writes."""
    (console,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    written = io.StringIO()
    previous = console.setStream(written)
    yield written
    console.setStream(previous)


def test_a_refusal_is_one_line_in_the_log_with_its_request_id(client_as, outsider, web_log):
    response = client_as(outsider).get("/audit/")
    assert response.status_code == 403
    lines = web_log.getvalue().splitlines()
    refusals = [line for line in lines if "Forbidden" in line]
    assert len(refusals) == 1, lines
    assert f"[{response['X-Request-ID']}]" in refusals[0]
    assert "Traceback" not in web_log.getvalue()
