"""GET /api/v1/services/export: the whole catalog as newline-delimited JSON, streamed."""

import gzip
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Service, Tag
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/services/export/"


def services(owner, n: int, **fields) -> list[Service]:
    made = [ServiceFactory(name=f"exp-{i:03d}", owner=owner, **fields) for i in range(n)]
    tag, _ = Tag.objects.get_or_create(name="payments")
    for service in made[::2]:
        service.tags.add(tag)
    return made


def lines(response) -> list[dict]:
    body = b"".join(response.streaming_content)
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return [json.loads(line) for line in body.decode().splitlines()]


def test_it_streams_every_service_with_the_fields_of_the_list(api_client, developer, payments):
    services(payments, 7)
    api_client.force_login(developer)
    response = api_client.get(URL)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    rows = lines(response)
    listed = api_client.get("/api/v1/services/", {"ordering": "name"}).json()["results"]
    assert [row["name"] for row in rows] == [row["name"] for row in listed]
    assert {key for row in rows for key in row} == set(listed[0])
    for exported, shown in zip(rows, listed, strict=True):
        assert {k: v for k, v in exported.items() if k != "updated_at"} == {
            k: v for k, v in shown.items() if k != "updated_at"
        }


def test_it_exports_what_the_catalog_filters_select(api_client, developer, payments):
    services(payments, 4, lifecycle="production")
    ServiceFactory(name="old-thing", owner=payments, lifecycle="deprecated")
    api_client.force_login(developer)
    rows = lines(api_client.get(URL, {"lifecycle": "deprecated"}))
    assert [row["name"] for row in rows] == ["old-thing"]


def test_it_compresses_when_the_client_accepts_gzip(api_client, developer, payments):
    services(payments, 5)
    api_client.force_login(developer)
    response = api_client.get(URL, HTTP_ACCEPT_ENCODING="br;q=1.0, gzip;q=0.8")
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert len(lines(response)) == 5
    refused = api_client.get(URL, HTTP_ACCEPT_ENCODING="gzip;q=0")
    assert not refused.has_header("Content-Encoding")


def test_it_needs_a_signed_in_reader(api_client, payments):
    services(payments, 1)
    assert api_client.get(URL).status_code in (401, 403)


def test_it_runs_the_same_queries_for_ten_services_as_for_three_hundred(
    api_client, developer, payments
):
    services(payments, 10)
    api_client.force_login(developer)
    b"".join(api_client.get(URL).streaming_content)
    with CaptureQueriesContext(connection) as few:
        assert len(b"".join(api_client.get(URL).streaming_content).splitlines()) == 10
    Service.objects.bulk_create(
        Service(name=f"bulk-{i}", owner=payments, title="Bulk") for i in range(290)
    )
    with CaptureQueriesContext(connection) as many:
        assert len(b"".join(api_client.get(URL).streaming_content).splitlines()) == 300
    assert len(many) == len(few)


def test_a_service_without_a_template_lists_none_for_it(api_client, developer, payments):
    ServiceFactory(name="plain", owner=payments, template=None)
    api_client.force_login(developer)
    (listed,) = api_client.get("/api/v1/services/").json()["results"]
    assert listed["template"] is None


def test_it_exports_what_a_search_selects_with_their_tags(api_client, developer, payments):
    services(payments, 4)
    ServiceFactory(name="falcon-gateway", owner=payments)
    api_client.force_login(developer)
    assert [row["name"] for row in lines(api_client.get(URL, {"q": "falcon"}))] == [
        "falcon-gateway"
    ]
    tagged = lines(api_client.get(URL, {"q": "PAYMENTS exp"}))
    assert [(row["name"], row["tags"]) for row in tagged] == [
        ("exp-000", ["payments"]),
        ("exp-002", ["payments"]),
    ]


def test_each_line_has_the_fields_in_the_order_of_the_list(api_client, developer, payments):
    services(payments, 2)
    api_client.force_login(developer)
    body = b"".join(api_client.get(URL).streaming_content)
    listed = api_client.get("/api/v1/services/", {"ordering": "name"}).json()["results"]
    assert [list(json.loads(line)) for line in body.splitlines()] == [list(r) for r in listed]
