import logging

import pytest

from apps.audit.models import AuditEvent
from apps.core.request_context import RequestIdLogFilter, bind_request


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_a_well_formed_incoming_request_id_is_kept(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="edge-proxy-1234abcd")
    assert response["X-Request-ID"] == "edge-proxy-1234abcd"


@pytest.mark.django_db
def test_an_incoming_request_id_that_could_inject_log_lines_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc\nFAKE LOG LINE")
    assert "FAKE" not in response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


def test_log_lines_carry_the_bound_request_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    bind_request(request_id="req-12345678", ip=None)
    try:
        RequestIdLogFilter().filter(record)
    finally:
        bind_request(request_id=None, ip=None)
    assert record.request_id == "req-12345678"


@pytest.mark.django_db
def test_audit_rows_written_during_a_request_record_its_id_and_address(client, password, developer):
    response = client.post(
        "/accounts/login/",
        {"login": developer.username, "password": password},
        HTTP_X_REQUEST_ID="login-req-0001",
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login")
    assert event.request_id == "login-req-0001"
    assert event.ip == "10.1.2.3"
    assert event.actor == developer
