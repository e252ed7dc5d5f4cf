"""The schema's error answers (apps/core/schema.py), declared once for every operation. That they
are what the API really answers is tests/api/test_schema_fuzz.py's job."""

import pytest
from drf_spectacular.generators import SchemaGenerator

# Webhook receivers: the source's secret authenticates them, not a Runway user.
RECEIVERS = {"POST /api/v1/events/deployments", "POST /api/v1/events/incidents"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def operations(schema) -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_every_operation_that_needs_a_user_declares_401_and_403(operations):
    for key, operation in operations.items():
        if key not in RECEIVERS:
            assert {"401", "403"} <= set(operation["responses"]), key


def test_webhook_receivers_declare_their_own_refusals_and_no_403(operations):
    receiver = operations["POST /api/v1/events/deployments"]
    assert {"400", "401", "413"} <= set(receiver["responses"])
    assert "403" not in receiver["responses"]
    # The receivers read any Content-Type as JSON: they never answer 415.
    assert "415" not in receiver["responses"]


def test_operations_with_a_body_declare_400_413_and_415(operations):
    for key, operation in operations.items():
        if "requestBody" in operation and key not in RECEIVERS:
            assert {"400", "413", "415"} <= set(operation["responses"]), key


def test_detail_operations_and_pages_declare_404(operations):
    assert "404" in operations["GET /api/v1/services/{name}/"]["responses"]
    assert "404" in operations["GET /api/v1/services/"]["responses"]  # a page past the last
    assert "404" not in operations["GET /api/v1/me/"]["responses"]


def test_every_error_answer_has_a_body(operations):
    for key, operation in operations.items():
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert response.get("content"), f"{key} {code}"


def test_bad_input_is_described_by_field_and_refusals_by_detail(operations):
    services = operations["POST /api/v1/services/"]["responses"]
    assert services["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
    assert services["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_fields_are_declared_as_they_are_answered(schema):
    components = schema["components"]["schemas"]
    service = components["ServiceList"]["properties"]
    assert service["system"]["nullable"] and service["template"]["nullable"]
    # A check reported without a link has "" there, which the `uri` format alone refuses.
    assert {"type": "string", "maxLength": 0} in components["Check"]["properties"]["details_url"][
        "oneOf"
    ]
    starts = components["ChangeWindow"]["properties"]["starts_at_local"]
    assert "format" not in starts and starts["pattern"].endswith(r"(\.\d{1,6})?$")  # no offset
    assert components["TierFacetValue"]["properties"]["value"]["type"] == "integer"
