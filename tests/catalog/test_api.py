import pytest
from django.db import connection

from apps.accounts import services as account_services
from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, GoldenPathTemplate, Service, System
from tests.catalog.test_views import many_services
from tests.factories import ServiceFactory

NEW_SERVICE = {
    "name": "orders-api",
    "title": "Orders API",
    "owner": "payments",
    "tier": 2,
    "tags": ["orders"],
    "strategy": "blue-green",
    "strategy_params": {"auto_promotion": True, "auto_promotion_seconds": 60},
    "environments": [
        {"name": "staging", "kind": "staging"},
        {"name": "prod", "kind": "production", "replicas": 4},
    ],
}


@pytest.mark.django_db
def test_a_developer_creates_a_service_through_the_same_service_function(api_as, developer):
    response = api_as(developer).post("/api/v1/services/", NEW_SERVICE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == "payments" and body["tags"] == ["orders"]
    assert [e["name"] for e in body["environments"]] == ["staging", "prod"]
    assert body["environments"][1]["replicas"] == 4
    assert body["strategy_params"]["auto_promotion_seconds"] == 60
    assert AuditEvent.objects.filter(action="service.create", actor=developer).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Orders API"}, "name"),
        ({"owner": "search"}, "owner"),
        ({"owner": "no-such-team"}, "owner"),
        ({"repository_url": "nope"}, "repository_url"),
        ({"strategy_params": {"auto_promotion": "maybe"}}, "strategy_params"),
        ({"environments": [{"name": "prod", "kind": "production"}] * 2}, "environments"),
    ],
)
def test_bad_input_is_refused_naming_the_field(api_as, developer, search, change, field):
    response = api_as(developer).post("/api/v1/services/", {**NEW_SERVICE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_name_is_a_400_on_name(api_as, developer):
    client = api_as(developer)
    client.post("/api/v1/services/", NEW_SERVICE, format="json")
    response = client.post("/api/v1/services/", NEW_SERVICE, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["name"][0]


@pytest.mark.django_db
def test_leadership_reads_but_cannot_write(api_as, leadership, payments):
    ServiceFactory(name="web", owner=payments)
    client = api_as(leadership)
    assert client.get("/api/v1/services/web/").status_code == 200
    assert client.post("/api/v1/services/", NEW_SERVICE, format="json").status_code == 403
    assert client.patch("/api/v1/services/web/", {"title": "x"}, format="json").status_code == 403
    assert client.delete("/api/v1/services/web/").status_code == 403


@pytest.mark.django_db
def test_the_owner_updates_and_an_admin_deletes(api_as, developer, platform_admin, payments):
    ServiceFactory(name="web", owner=payments)
    ServiceFactory(name="ledger")
    response = api_as(developer).patch(
        "/api/v1/services/web/", {"tier": 1, "depends_on": ["ledger"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["tier"] == 1
    deps = api_as(developer).get("/api/v1/services/web/dependencies/").json()
    assert [n["name"] for n in deps["upstream"]] == ["ledger"]
    assert api_as(developer).delete("/api/v1/services/web/").status_code == 403
    assert api_as(platform_admin).delete("/api/v1/services/web/").status_code == 204


@pytest.mark.django_db
def test_a_refused_update_saves_and_audits_nothing(api_as, developer, payments):
    ServiceFactory(name="web", owner=payments, title="Old")
    client = api_as(developer)
    events = AuditEvent.objects.count()
    response = client.patch(
        "/api/v1/services/web/", {"title": "New", "depends_on": ["web"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["depends_on"] == ["A service cannot depend on itself."]
    service = Service.objects.get(name="web")
    assert service.title == "Old" and not service.dependencies.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_token_acts_with_its_owners_rights(api_client, developer, search):
    _, key = account_services.api_token_create(actor=developer, name="ci")
    response = api_client.post(
        "/api/v1/services/",
        {**NEW_SERVICE, "owner": "search"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 400 and "owner" in response.json()


@pytest.mark.django_db
def test_the_list_api_filters_like_the_page_and_keeps_a_query_budget(
    api_as, developer, django_assert_max_num_queries
):
    many_services(150)
    client = api_as(developer)
    with django_assert_max_num_queries(6):
        body = client.get(
            "/api/v1/services/",
            {"lifecycle": "production", "tier": 2, "ordering": "name", "page_size": 200},
        ).json()
    expected = list(
        Service.objects.filter(lifecycle="production", tier=2)
        .order_by("name")
        .values_list("name", flat=True)
    )
    assert [s["name"] for s in body["results"]] == expected
    assert all(s["tags"] for s in body["results"])


@pytest.mark.django_db
def test_facets_count_over_the_filtered_set(api_as, developer):
    many_services(30)
    body = api_as(developer).get("/api/v1/services/facets/", {"lifecycle": "production"}).json()
    assert body["lifecycle"] == [{"value": "production", "label": "Production", "count": 15}]
    assert sum(item["count"] for item in body["owner"]) == 15


@pytest.mark.django_db
def test_dependencies_depth_is_bounded(api_as, developer):
    services = many_services(10)
    body = (
        api_as(developer)
        .get(f"/api/v1/services/{services[9].name}/dependencies/", {"depth": 2})
        .json()
    )
    assert [n["name"] for n in body["upstream"]] == ["svc-008", "svc-007"]


@pytest.mark.django_db
def test_templates_get_new_versions_from_admins_only(api_as, platform_admin, developer):
    payload = {"name": "python-web", "title": "Python web", "strategy": "canary"}
    assert api_as(developer).post("/api/v1/templates/", payload, format="json").status_code == 403
    client = api_as(platform_admin)
    client.post("/api/v1/templates/", payload, format="json")
    second = client.post("/api/v1/templates/", payload, format="json").json()
    assert second["version"] == 2
    names = [(t["name"], t["version"]) for t in client.get("/api/v1/templates/").json()["results"]]
    assert names == [("python-web", 2), ("python-web", 1)]


@pytest.mark.django_db
def test_systems_are_created_for_your_own_team(api_as, developer, search):
    client = api_as(developer)
    ok = client.post("/api/v1/systems/", {"name": "checkout", "owner": "payments"}, format="json")
    assert ok.status_code == 201
    refused = client.post("/api/v1/systems/", {"name": "other", "owner": "search"}, format="json")
    assert refused.status_code == 400 and "owner" in refused.json()


def bearer_for(user) -> dict:
    _, key = account_services.api_token_create(actor=user, name="script")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.mark.django_db
def test_one_service_by_token_reads_in_three_queries_on_postgresql(
    api_client, developer, payments, django_assert_num_queries
):
    service = ServiceFactory(name="web", owner=payments)
    for tag in ("zeta", "alpha", "mid"):
        service.tags.create(name=tag)
    for order, (name, kind) in enumerate([("staging", "staging"), ("prod", "production")]):
        Environment.objects.create(service=service, name=name, kind=kind, order=order)
    auth = bearer_for(developer)
    first = api_client.get("/api/v1/services/web/", **auth)  # records the token's last use
    assert first.status_code == 200
    # The token and its person, the service with its tags, its environments (SQLite: the
    # tags in a query of their own).
    with django_assert_num_queries(3 if connection.vendor == "postgresql" else 4):
        body = api_client.get("/api/v1/services/web/", **auth).json()
    assert body == first.json()
    assert body["tags"] == ["alpha", "mid", "zeta"]
    assert [e["name"] for e in body["environments"]] == ["staging", "prod"]


@pytest.mark.django_db
def test_one_service_without_tags_lists_none(api_as, developer, payments):
    ServiceFactory(name="bare", owner=payments)
    assert api_as(developer).get("/api/v1/services/bare/").json()["tags"] == []


@pytest.mark.django_db
def test_one_service_still_answers_to_the_catalog_filters_in_its_query_string(
    api_as, developer, payments
):
    ServiceFactory(name="web", owner=payments, lifecycle="production")
    client = api_as(developer)
    assert client.get("/api/v1/services/web/", {"lifecycle": "production"}).status_code == 200
    assert client.get("/api/v1/services/web/", {"lifecycle": "deprecated"}).status_code == 404


@pytest.mark.django_db
def test_the_list_reads_only_what_it_shows_and_no_row_more_than_once(
    api_as, developer, payments, django_assert_max_num_queries
):
    template = GoldenPathTemplate.objects.create(name="python-web", version=3, title="Py")
    system = System.objects.create(name="billing", owner=payments)
    for i in range(30):
        service = ServiceFactory(name=f"s-{i:02d}", owner=payments, template=template)
        service.system = system if i % 2 else None
        service.manifests = {"deployment": {"replicas": i}}
        service.save()
    client = api_as(developer)
    # The session, the user, the count, the page, its tags: none per service.
    with django_assert_max_num_queries(5):
        rows = client.get("/api/v1/services/", {"ordering": "name", "page_size": 50}).json()
    assert rows["count"] == 30
    first, second = rows["results"][:2]
    assert first["template"] == "python-web v3" and first["owner"] == "payments"
    assert first["system"] is None and second["system"] == "billing"
    assert "manifests" not in first
