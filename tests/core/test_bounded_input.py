"""Odd input gets a 4xx naming the field, never a 500: NUL bytes (PostgreSQL cannot store them),
JSON nested deeper than anyone means, UTC offsets PostgreSQL refuses, bodies too large to read,
and an edit racing a delete. API errors are JSON; pages are HTML."""

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog.models import Service
from apps.core.views import server_error
from apps.releases import services as release_services
from apps.releases.models import Release
from portal.body_limit import BodyLimit
from tests.factories import ServiceFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/events/deployments?source=a%00", "source"),
        ("/releases/calendar/feeds/ab%00cd.ics", "path"),
    ],
)
def test_a_nul_byte_from_anyone_is_a_400_naming_where_it_was(client, url, field):
    response = client.post(url) if "events" in url else client.get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.json() == {field: ["Contains a NUL byte."]}
    else:
        assert f"<strong>{field}</strong>: Contains a NUL byte." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/services/?owner=pay%00ments", "owner"),
        ("/api/v1/services/?team=a%00", "team"),
        ("/api/v1/services/a%00b/", "path"),
        ("/api/v1/releases/?service=web%00", "service"),
        ("/catalog/services/a%00b/", "path"),
        ("/reports/services/a%00b/", "path"),
        ("/catalog/?q=%00", "q"),
    ],
)
def test_a_nul_byte_in_a_lookup_is_a_400_naming_it(client_as, developer, web, url, field):
    response = client_as(developer).get(url)
    assert response.status_code == 400
    assert field in (response.json() if url.startswith("/api/") else response.content.decode())


@pytest.mark.django_db
def test_a_nul_byte_in_a_posted_form_is_refused_and_nothing_is_saved(client_as, developer, web):
    start = timezone.now() + timedelta(days=1)
    response = client_as(developer).post(
        "/releases/new/",
        {
            "service": "web",
            "environment": web.environments.get(name="dev").pk,
            "version": "registry/web:2.0.0",
            "title": "Launch\x00",
            "change_type": "normal",
            "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
            "planned_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 400
    assert "<strong>title</strong>" in response.content.decode()
    assert not Release.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/freezes/", {"name": "F", "scope": "service", "service": "w\x00"}, "service"),
        ("/api/v1/services/web/dependencies/", {"services": ["ok", "a\x00"]}, "services[1]"),
        ("/api/v1/catalog/import", {"yaml": "kind: Component\x00"}, "yaml"),
        ("/api/v1/releases/", {"title\x00": "x"}, "body"),
    ],
)
def test_a_nul_byte_in_a_json_body_is_a_400_naming_the_field(
    api_as, platform_admin, web, url, body, field
):
    response = api_as(platform_admin).generic(
        "PUT" if "dependencies" in url else "POST",
        url,
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json() == {field: ["Contains a NUL byte."]}


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [65, 100_000])  # 64 is allowed
def test_json_nested_deeper_than_anyone_means_is_a_400(api_as, developer, depth):
    body = "[" * depth + "]" * depth
    response = api_as(developer).post("/api/v1/releases/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"body": ["Nested more than 64 deep."]}


@pytest.mark.django_db
def test_an_offset_postgresql_refuses_is_taken_as_the_instant_it_names(
    api_as, client_as, developer, web
):
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    release = release_services.release_create(
        actor=developer,
        service=web,
        environment=web.environments.get(name="dev"),
        version="v1",
        title="Noon",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    # +16:30 is beyond what PostgreSQL stores: 2025-12-31T07:30Z, before the release ends.
    response = api_as(developer).get("/api/v1/releases/?since=2026-01-01T00:00:00%2B16:30")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [release.pk]
    later = api_as(developer).get("/api/v1/releases/?since=2026-01-02T06:00:00%2B16:30")
    assert later.json()["results"] == []
    assert (
        client_as(developer).get("/releases/?since=2026-01-01T00:00:00%2B16:30").status_code == 200
    )


@pytest.mark.django_db
def test_an_instant_with_no_utc_form_is_a_400_naming_the_filter(api_as, developer):
    response = api_as(developer).get("/api/v1/releases/?since=0001-01-01T00:00:00%2B01:00")
    assert response.status_code == 400
    assert "out of range" in str(response.json()["since"])


# --- Errors as JSON under /api/ ---------------------------------------------------------------


@pytest.mark.django_db
def test_api_errors_are_json_and_pages_are_html(api_as, client_as, developer):
    missing = api_as(developer).get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    assert "text/html" in client_as(developer).get("/no-such-page/")["Content-Type"]
    request = RequestFactory().get("/api/v1/services/")
    request.request_id = "r-1"
    crashed = server_error(request)
    assert crashed.status_code == 500 and crashed["Content-Type"] == "application/json"
    assert json.loads(crashed.content)["request_id"] == "r-1"


@pytest.mark.django_db
def test_a_host_not_allowed_is_a_json_400_under_api_and_a_page_elsewhere(api_as, developer):
    # Django refuses it before any view (DisallowedHost): its 400 was an HTML page under /api/ too.
    api = api_as(developer)
    refused = api.get("/api/v1/me/", HTTP_HOST="evil.example")
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"
    assert refused.json() == {"detail": "Bad request."}
    page = api.get("/catalog/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and "text/html" in page["Content-Type"]


# --- Bodies too large to read -----------------------------------------------------------------


class Recorder:
    """An ASGI app that reads the whole body, as Django does, and says what it got."""

    def __init__(self):
        self.body, self.called = b"", False

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def serve(path: str, chunks: list[bytes], *, length: int | None, limit: int = 100):
    app, sent, read = Recorder(), [], []
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {"type": "http", "path": path, "headers": headers}
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive():
        read.append(messages[len(read)])
        return read[-1]

    async def send(message):
        sent.append(message)

    # In a thread of its own: Playwright's tests leave an event loop running in this one.
    thread = threading.Thread(
        target=asyncio.run, args=(BodyLimit(app, max_bytes=limit)(scope, receive, send),)
    )
    thread.start()
    thread.join(timeout=10)
    return app, sent, len(read)


def test_a_body_declared_too_large_is_refused_before_a_byte_of_it_is_read():
    app, sent, chunks_read = serve("/api/v1/services/", [b"x" * 50], length=50_000_000)
    assert (app.called, chunks_read) == (False, 0)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"detail": "The request body is larger than 100 bytes."}


def test_a_body_without_a_length_stops_being_read_once_past_the_limit():
    _, sent, chunks_read = serve("/catalog/import/", [b"x" * 60] * 5, length=None)
    assert chunks_read == 2  # the chunk that passed the limit, and not one more
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert sent[1]["body"] == b"The request body is larger than 100 bytes."


def test_a_body_within_the_limit_reaches_the_app_whole():
    app, sent, _ = serve("/api/v1/services/", [b"a" * 40, b"b" * 40], length=80)
    assert app.body == b"a" * 40 + b"b" * 40
    assert sent[0]["status"] == 200


def test_the_served_application_carries_the_limit(settings):
    from portal.asgi import application

    assert isinstance(application, BodyLimit)
    assert application.max_bytes == settings.MAX_REQUEST_BYTES


# --- An edit racing a delete ------------------------------------------------------------------


def race(*calls) -> list:
    """Run the calls at once, each on a connection of its own; their responses."""
    start, responses = threading.Barrier(len(calls)), [None] * len(calls)

    def run(index, call):
        try:
            start.wait()
            responses[index] = call()
        except Exception as exc:  # the test client re-raises what the view raised
            responses[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.mark.django_db(transaction=True)
def test_edits_and_deletes_racing_on_one_service_answer_404_or_409_never_500(
    platform_admin, payments
):
    if connection.vendor != "postgresql":
        pytest.skip("races need PostgreSQL's row locks and concurrent connections")

    def as_admin():
        client = APIClient()
        client.force_authenticate(platform_admin)
        return client

    outcomes = set()
    for round_ in range(8):
        ServiceFactory(name=f"racer{round_}", owner=payments)
        target = ServiceFactory(name=f"target{round_}", owner=payments)
        url = f"/api/v1/services/racer{round_}/"
        responses = race(
            lambda url=url: as_admin().patch(url, {"description": "edited"}, format="json"),
            lambda url=url: as_admin().delete(url),
            lambda url=url: as_admin().delete(url),
            lambda url=url, target=target: as_admin().put(
                f"{url}dependencies/", {"services": [target.name]}, format="json"
            ),
            lambda target=target: as_admin().delete(f"/api/v1/services/{target.name}/"),
        )
        codes = [getattr(response, "status_code", response) for response in responses]
        assert all(code in (200, 204, 404, 409) for code in codes[:3] + codes[4:]), codes
        # The dependency's own delete may win before the PUT reads its body: then the body names
        # a service that does not exist, which is the client's to fix.
        assert codes[3] in (200, 400, 404, 409), codes
        if codes[3] == 400:
            assert target.name in str(responses[3].json()["services"])
        assert sorted(codes[1:3]) == [204, 404]  # one delete wins, the other finds it gone
        outcomes.update(codes)
        assert not Service.objects.filter(name=f"racer{round_}").exists()
    assert 500 not in outcomes
