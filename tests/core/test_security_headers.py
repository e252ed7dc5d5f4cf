"""Every page carries a Content-Security-Policy without inline script or eval, and a
Permissions-Policy switching off what Runway never uses."""

import pytest

pytestmark = pytest.mark.django_db


def test_pages_carry_a_strict_csp_and_a_permissions_policy(client):
    response = client.get("/accounts/login/")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert "unsafe" not in policy["script-src"] and "unsafe" not in policy["style-src"]
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "camera=()" in response["Permissions-Policy"]
