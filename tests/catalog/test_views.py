import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Dependency, Service, System, Tag
from tests.factories import ServiceFactory, TeamFactory


def many_services(count=120):
    teams = [TeamFactory(slug=f"team-{i}") for i in range(10)]
    tags = [Tag.objects.create(name=f"tag-{i}") for i in range(5)]
    services = [
        ServiceFactory(
            name=f"svc-{i:03d}",
            owner=teams[i % 10],
            tier=1 + i % 3,
            lifecycle=["production", "experimental"][i % 2],
            description="handles falcon traffic" if i % 40 == 0 else "",
        )
        for i in range(count)
    ]
    for i, service in enumerate(services):
        service.tags.set(tags[: 1 + i % 5])
        if i:
            Dependency.objects.create(source=service, target_service=services[i - 1])
    return services


@pytest.mark.django_db
def test_the_catalog_page_keeps_a_fixed_query_budget_with_many_rows(
    client_as, developer, django_assert_max_num_queries
):
    many_services(120)
    client = client_as(developer)
    with django_assert_max_num_queries(15):
        response = client.get("/catalog/", {"size": 100, "ordering": "-name"})
    assert response.status_code == 200
    page = list(response.context["page"])
    assert len(page) == 100
    assert page[0].name == "svc-119"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [{}, {"lifecycle": "production", "tier": "2"}, {"q": "falcon"}, {"owner": "nobody-here"}],
)
def test_the_pager_counts_the_matching_services_from_the_facets_without_a_count_query(
    client_as, developer, params
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    many_services(120)
    with CaptureQueriesContext(connection) as queries:
        response = client_as(developer).get("/catalog/", {**params, "size": 25})
    assert response.status_code == 200
    matching = [service.name for service in response.context["filter"].qs]
    page = response.context["page"]
    assert page.paginator.count == len(matching)
    assert page.paginator.num_pages == max(1, -(-len(matching) // 25))
    assert not any('AS "__count"' in query["sql"] for query in queries.captured_queries)


@pytest.mark.django_db
def test_the_catalog_page_reads_only_the_columns_it_shows(client_as, developer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    many_services(3)
    with CaptureQueriesContext(connection) as queries:
        response = client_as(developer).get("/catalog/")
    assert response.status_code == 200
    page_sql = [q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"]]
    assert page_sql and not any('"manifests"' in sql for sql in page_sql)
    page = response.content.decode()
    assert all(f"svc-00{i}" in page and f"team-{i}" in page for i in range(3))


@pytest.mark.django_db
def test_search_matches_name_title_description_and_tags(client_as, developer):
    many_services(120)
    client = client_as(developer)
    by_description = {s.name for s in client.get("/catalog/", {"q": "falcon"}).context["page"]}
    assert by_description == {"svc-000", "svc-040", "svc-080"}
    by_tag = client.get("/catalog/", {"q": "tag-4", "size": 100}).context["page"]
    assert by_tag.paginator.count == 24
    by_name = client.get("/catalog/", {"q": "SVC-11"}).context["page"]
    assert {s.name for s in by_name} == {f"svc-11{i}" for i in range(10)}


@pytest.mark.django_db
def test_filters_combine_and_stay_in_the_url(client_as, developer):
    many_services(60)
    response = client_as(developer).get(
        "/catalog/", {"owner": "team-3", "lifecycle": "experimental", "tier": "1"}
    )
    names = {s.name for s in response.context["page"]}
    expected = {
        s.name
        for s in Service.objects.filter(owner__slug="team-3", lifecycle="experimental", tier=1)
    }
    assert names == expected and names
    assert "owner=team-3" in response.context["query"]


@pytest.mark.django_db
def test_the_team_and_system_selects_list_every_one_escaped_with_the_chosen_selected(
    client_as, developer
):
    TeamFactory(slug="r-and-d", name="R&D <lab>")
    System.objects.create(name="billing", title='Billing "core"')
    System.objects.create(name="untitled", title="")
    html = client_as(developer).get("/catalog/", {"owner": "r-and-d"}).content.decode()
    assert '<option value="r-and-d" selected>R&amp;D &lt;lab&gt;</option>' in html
    assert '<option value="billing">Billing &quot;core&quot;</option>' in html
    assert '<option value="untitled">untitled</option>' in html  # no title: its name
    html = client_as(developer).get("/catalog/", {"system": "billing"}).content.decode()
    assert '<option value="billing" selected>' in html
    assert '<option value="r-and-d">R&amp;D &lt;lab&gt;</option>' in html


@pytest.mark.django_db
def test_an_invalid_filter_value_is_reported(client_as, developer):
    response = client_as(developer).get("/catalog/", {"tier": "9"})
    assert "tier" in response.context["filter"].errors


@pytest.mark.django_db
def test_htmx_gets_just_the_results(client_as, developer):
    many_services(5)
    body = client_as(developer).get("/catalog/", HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<div id="results">')


@pytest.mark.django_db
def test_the_detail_page_shows_both_directions_and_keeps_a_budget(
    client_as, leadership, django_assert_max_num_queries
):
    services = many_services(30)
    middle = services[15]
    client = client_as(leadership)
    # The scorecard panel takes 5 of these while the service has never been scored (evaluated
    # live); the versions panel 1 (environments with what runs there, and whether a pin or a mark
    # holds a version); the rollouts and rings panels none (none of either: read with the row).
    with django_assert_max_num_queries(20):
        response = client.get(f"/catalog/services/{middle.name}/")
    body = response.content.decode()
    assert 'href="/catalog/services/svc-014/"' in body  # upstream
    assert 'href="/catalog/services/svc-016/"' in body  # downstream
    assert "Edit" not in body  # leadership reads only


@pytest.mark.django_db
def test_the_detail_page_links_each_tag_to_the_catalog_filtered_by_it_in_name_order(
    client_as, developer
):
    service = ServiceFactory(name="tagged")
    service.tags.set([Tag.objects.create(name=name) for name in ("web", "api", "python")])
    body = client_as(developer).get("/catalog/services/tagged/").content.decode()
    links = [
        body.index(f'href="/catalog/?tag={name}">{name}</a>') for name in ("api", "python", "web")
    ]
    assert links == sorted(links)


@pytest.mark.django_db
def test_the_detail_page_of_an_untagged_service_says_so(client_as, developer):
    ServiceFactory(name="plain")
    body = client_as(developer).get("/catalog/services/plain/").content.decode()
    assert "<dt>Tags</dt><dd>—</dd>" in body


@pytest.mark.django_db
def test_an_unknown_service_is_a_404(client_as, developer):
    assert client_as(developer).get("/catalog/services/nope/").status_code == 404


@pytest.mark.django_db
def test_the_owning_team_edits_through_the_form(client_as, developer, payments):
    service = ServiceFactory(name="web", owner=payments)
    ServiceFactory(name="ledger")
    response = client_as(developer).post(
        "/catalog/services/web/edit/",
        {
            "title": "Web", "owner": payments.pk, "type": "service", "lifecycle": "production",
            "tier": 1, "container_port": 8080, "replicas": 2, "cpu": "250m", "memory": "256Mi",
            "health_path": "/healthz", "strategy": "rolling", "tags": "web, python",
            "depends_on": "ledger", "links": "[]", "strategy_params": "{}",
        },
    )  # fmt: skip
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.title == "Web" and service.tier == 1
    assert sorted(service.tags.values_list("name", flat=True)) == ["python", "web"]
    assert service.dependencies.get().target_service.name == "ledger"


@pytest.mark.django_db
def test_an_edit_error_is_shown_next_to_the_field(client_as, developer, payments):
    ServiceFactory(name="web", owner=payments)
    response = client_as(developer).post(
        "/catalog/services/web/edit/",
        {
            "owner": payments.pk, "type": "service", "lifecycle": "production", "tier": 1,
            "container_port": 8080, "replicas": 3, "autoscale_max": 1, "cpu": "lots",
            "memory": "256Mi", "health_path": "/", "strategy": "rolling", "depends_on": "ghost",
        },
    )  # fmt: skip
    errors = response.context["form"].errors
    assert "depends_on" in errors
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_refused_edit_saves_and_audits_nothing(client_as, developer, payments):
    service = ServiceFactory(name="web", owner=payments, title="Old", tier=2)
    ledger = ServiceFactory(name="ledger")
    Dependency.objects.create(source=service, target_service=ledger)
    client = client_as(developer)
    events = AuditEvent.objects.count()
    response = client.post(
        "/catalog/services/web/edit/",
        {
            "title": "New", "owner": payments.pk, "type": "service", "lifecycle": "production",
            "tier": 1, "container_port": 8080, "replicas": 2, "cpu": "250m", "memory": "256Mi",
            "health_path": "/healthz", "strategy": "rolling", "tags": "web",
            "depends_on": "ledger, web", "links": "[]", "strategy_params": "{}",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["depends_on"] == ["A service cannot depend on itself."]
    service.refresh_from_db()
    assert (service.title, service.tier) == ("Old", 2)
    assert not service.tags.exists()
    assert [d.target_service.name for d in service.dependencies.all()] == ["ledger"]
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_another_team_cannot_open_or_post_the_edit_form(client_as, other_developer, payments):
    ServiceFactory(name="web", owner=payments)
    client = client_as(other_developer)
    assert client.get("/catalog/services/web/edit/").status_code == 403
    assert client.post("/catalog/services/web/edit/", {"title": "x"}).status_code == 403
    assert client.post("/catalog/services/web/delete/").status_code == 403
