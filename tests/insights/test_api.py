"""The signed-in API: webhook sources for platform admins, the DORA report for everybody."""

import pytest

from apps.audit.models import AuditEvent
from apps.insights import services
from apps.insights.models import WebhookDelivery, WebhookSource
from tests.insights.conftest import utc

pytestmark = pytest.mark.django_db

SOURCES = "/api/v1/webhook-sources/"
DORA = "/api/v1/reports/dora"


# --- Webhook sources --------------------------------------------------------------------------


def test_an_admin_creates_a_source_and_the_secret_is_shown_only_then(api_as, platform_admin):
    api = api_as(platform_admin)
    created = api.post(SOURCES, {"name": "GitHub acme", "kind": "github"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["endpoint"] == "http://testserver/api/v1/events/deployments?source=github-acme"
    secret = body["secret"]
    assert len(secret) >= 40
    listed = api.get(SOURCES)
    assert secret not in listed.content.decode()
    assert "secret" not in listed.json()["results"][0]
    assert secret not in api.get(f"{SOURCES}{body['id']}/").content.decode()
    assert AuditEvent.objects.filter(action="webhook_source.create").count() == 1


def test_a_pagerduty_source_points_at_the_incidents_endpoint(api_as, platform_admin):
    response = api_as(platform_admin).post(
        SOURCES, {"name": "PD", "kind": "pagerduty", "secret": "from-pagerduty-0123"}
    )
    assert response.json()["endpoint"].endswith("/api/v1/events/incidents?source=pd")


def test_bad_source_input_names_the_field(api_as, platform_admin):
    api = api_as(platform_admin)
    assert "kind" in api.post(SOURCES, {"name": "X", "kind": "svn"}).json()
    assert "secret" in api.post(SOURCES, {"name": "PD", "kind": "pagerduty"}).json()
    assert not WebhookSource.objects.exists()


def test_rotating_returns_the_new_secret_once_with_the_grace_asked_for(
    api_as, platform_admin, github_source
):
    source, old = github_source
    api = api_as(platform_admin)
    response = api.post(f"{SOURCES}{source.pk}/rotate/", {"grace_hours": 2})
    assert response.status_code == 200, response.content
    new = response.json()["secret"]
    assert new != old
    source.refresh_from_db()
    assert services.source_secrets(source) == [new, old]
    refused = api.post(f"{SOURCES}{source.pk}/rotate/", {"grace_hours": 721})
    assert refused.status_code == 400 and "grace_hours" in refused.json()


def test_deactivate_through_the_api(api_as, platform_admin, github_source):
    source, _ = github_source
    response = api_as(platform_admin).post(f"{SOURCES}{source.pk}/deactivate/")
    assert response.status_code == 200 and response.json()["is_active"] is False


@pytest.mark.parametrize("persona", ["developer", "release_manager", "leadership", "outsider"])
def test_only_platform_admins_manage_sources(api_as, request, github_source, persona):
    api = api_as(request.getfixturevalue(persona))
    source, _ = github_source
    assert api.get(SOURCES).status_code == 403
    assert api.post(SOURCES, {"name": "Mine", "kind": "generic"}).status_code == 403
    assert api.post(f"{SOURCES}{source.pk}/rotate/", {}).status_code == 403


def test_the_source_list_takes_a_fixed_number_of_queries(
    api_as, platform_admin, django_assert_max_num_queries
):
    for index in range(30):
        services.webhook_source_create(actor=platform_admin, name=f"Source {index}", kind="generic")
    api = api_as(platform_admin)
    # session, user, roles, count, the page (with its creators): 5 for 30 sources
    with django_assert_max_num_queries(5):
        response = api.get(SOURCES)
    assert response.json()["count"] == 30


def test_the_unmatched_list_takes_a_fixed_number_of_queries(
    api_as, platform_admin, generic_source, django_assert_max_num_queries
):
    source, _ = generic_source
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            source=source,
            delivery_id=str(index),
            event="deployment",
            status="unmatched",
            match_kind="repository",
            match_key=f"github.com/acme/repo-{index}",
            payload={"n": index},
        )
        for index in range(40)
    )
    api = api_as(platform_admin)
    # session, user, roles, count, the page with its sources: 5 whatever the number of deliveries
    with django_assert_max_num_queries(5):
        response = api.get("/api/v1/events/unmatched/")
    assert response.json()["count"] == 40
    assert "payload" not in response.json()["results"][0]


# --- The DORA report --------------------------------------------------------------------------


def test_every_signed_in_user_reads_the_report(api_as, outsider, checkout, deploy):
    deploy(checkout, started=(2025, 3, 12, 10), finished=(2025, 3, 12, 10, 30))
    response = api_as(outsider).get(
        DORA, {"scope": "service", "name": "checkout", "from": "2025-03-03", "to": "2025-03-30"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["scope"], body["name"], body["start"], body["end"]) == (
        "service",
        "checkout",
        "2025-03-03",
        "2025-03-30",
    )
    assert body["deployment_frequency"]["deployments"] == 1
    assert body["deployment_frequency"]["weekly"][1] == {
        "week": "2025-03-10",
        "deployments": 1,
        "failures": 0,
        "days_with_deployments": 1,
    }
    assert body["change_failure_rate"] == {
        "rate": 0.0,
        "failures": 0,
        "deployments": 1,
        "tier": "elite",
    }
    assert body["lead_time"] == {"median_seconds": None, "commits": 0, "tier": None}
    assert set(body["recovery"]) == {
        "median_seconds",
        "tier",
        "incidents",
        "incident_median_seconds",
        "rollbacks",
        "rollback_median_seconds",
        "incidents_unknown_start",
    }


def test_the_report_needs_a_sign_in(api_client):
    assert api_client.get(DORA).status_code in (401, 403)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"scope": "galaxy"}, "scope"),
        ({"scope": "team"}, "name"),
        ({"scope": "org", "name": "payments"}, "name"),
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-03-30", "to": "2025-03-01"}, "from"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, "from"),
    ],
)
def test_bad_report_parameters_are_named(api_as, developer, query, field):
    response = api_as(developer).get(DORA, query)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(("scope", "name"), [("team", "nobody"), ("service", "nothing")])
def test_an_unknown_team_or_service_is_a_404(api_as, developer, scope, name):
    response = api_as(developer).get(DORA, {"scope": scope, "name": name})
    assert response.status_code == 404
    assert name in response.json()["detail"]


def test_a_team_report_by_slug(api_as, leadership, checkout, deploy):
    deploy(checkout, started=utc(2025, 3, 12, 10), finished=utc(2025, 3, 12, 10, 30))
    response = api_as(leadership).get(
        DORA, {"scope": "team", "name": "payments", "from": "2025-03-01", "to": "2025-03-31"}
    )
    assert response.status_code == 200
    assert response.json()["deployment_frequency"]["deployments"] == 1
