"""The webhooks page: platform admins manage sources and name the service of unmatched
deliveries in the browser, through the same services as the API."""

import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, EnvironmentKind
from apps.insights import crypto
from apps.insights.models import DeliveryStatus, ServiceAlias, WebhookDelivery, WebhookSource
from tests.factories import ServiceFactory
from tests.insights.test_webhooks_api import DEPLOYMENT_STATUS

pytestmark = pytest.mark.django_db

PAGE = "/reports/webhooks/"


@pytest.mark.parametrize("persona", ["developer", "release_manager", "leadership"])
def test_only_platform_admins_open_the_page_or_act_on_it(client_as, request, persona):
    client = client_as(request.getfixturevalue(persona))
    assert client.get(PAGE).status_code == 403
    assert (
        client.post("/reports/webhooks/sources/", {"name": "x", "kind": "generic"}).status_code
        == 403
    )
    assert client.post("/reports/webhooks/sources/1/rotate/").status_code == 403
    assert client.post("/reports/webhooks/sources/1/deactivate/").status_code == 403
    assert client.post("/reports/webhooks/deliveries/1/map/").status_code == 403
    assert not WebhookSource.objects.exists()
    assert 'href="/reports/webhooks/"' not in client.get("/").content.decode()


def test_an_admin_adds_a_source_and_sees_its_secret_once(client_as, platform_admin):
    client = client_as(platform_admin)
    assert 'href="/reports/webhooks/"' in client.get("/").content.decode()
    response = client.post("/reports/webhooks/sources/", {"name": "CI bot", "kind": "generic"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    source = WebhookSource.objects.get()
    secret = crypto.decrypt(source.secret_encrypted)
    html = response.content.decode()
    assert f'<code data-testid="secret">{secret}</code>' in html
    assert f"/api/v1/events/deployments?source={source.slug}" in html
    assert AuditEvent.objects.filter(action="webhook_source.create", actor=platform_admin).exists()
    # Shown once: the page itself never shows it again.
    assert secret not in client.get(PAGE).content.decode()


def test_a_bad_source_names_the_field_and_makes_nothing(client_as, platform_admin):
    response = client_as(platform_admin).post(
        "/reports/webhooks/sources/", {"name": "PagerDuty", "kind": "pagerduty"}
    )
    assert response.status_code == 400
    assert "PagerDuty generates the signing secret" in response.content.decode()
    assert not WebhookSource.objects.exists()


def test_rotating_shows_the_new_secret_and_when_the_old_one_stops(
    client_as, platform_admin, generic_source
):
    source, old = generic_source
    response = client_as(platform_admin).post(
        f"/reports/webhooks/sources/{source.pk}/rotate/", {"grace_hours": "2"}
    )
    source.refresh_from_db()
    new = crypto.decrypt(source.secret_encrypted)
    assert new != old and f'data-testid="secret">{new}<' in response.content.decode()
    assert "The old secret keeps working until" in response.content.decode()
    refused = client_as(platform_admin).post(
        f"/reports/webhooks/sources/{source.pk}/rotate/", {"grace_hours": "100000"}
    )
    assert refused.status_code == 302
    source.refresh_from_db()
    assert crypto.decrypt(source.secret_encrypted) == new


def test_deactivating_refuses_the_sources_deliveries(client_as, platform_admin, generic_source):
    source, _ = generic_source
    client_as(platform_admin).post(f"/reports/webhooks/sources/{source.pk}/deactivate/")
    source.refresh_from_db()
    assert not source.is_active
    assert AuditEvent.objects.filter(action="webhook_source.deactivate").count() == 1


def test_an_admin_names_the_service_of_an_unmatched_delivery(
    client_as, platform_admin, payments, post_github
):
    post_github("deployment_status", DEPLOYMENT_STATUS, delivery="early")
    delivery = WebhookDelivery.objects.get()
    client = client_as(platform_admin)
    html = client.get(PAGE).content.decode()
    assert f'data-delivery="{delivery.pk}"' in html
    assert "github.com/codertocat/hello-world" in html

    refused = client.post(f"/reports/webhooks/deliveries/{delivery.pk}/map/", {"service": "nope"})
    assert refused.status_code == 400
    assert "No service has that name." in refused.content.decode()

    service = ServiceFactory(name="greeter", owner=payments)
    Environment.objects.create(
        service=service, name="production", kind=EnvironmentKind.PRODUCTION, order=1, namespace="g"
    )
    done = client.post(
        f"/reports/webhooks/deliveries/{delivery.pk}/map/",
        {"service": "greeter", "remember": "on"},
        follow=True,
    )
    assert "Recorded 1 delivery as greeter&#x27;s." in done.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RECORDED and delivery.mapped_by == platform_admin
    assert ServiceAlias.objects.get().service == service
    assert "Nothing waits" in done.content.decode()


def test_the_page_keeps_a_query_budget_with_many_sources_and_deliveries(
    client_as, platform_admin, generic_source, django_assert_max_num_queries
):
    source, _ = generic_source
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            source=source,
            delivery_id=f"d{index}",
            event="deployment",
            status=DeliveryStatus.UNMATCHED,
            match_kind="repository",
            match_key=f"github.com/acme/repo-{index}",
        )
        for index in range(120)
    )
    client = client_as(platform_admin)
    with django_assert_max_num_queries(10):
        html = client.get(PAGE).content.decode()
    assert html.count("data-delivery=") == 50
    assert "120 deliveries" in html
