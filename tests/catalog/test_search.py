"""The catalog search (`q`): name, title, description and tags, case-insensitive substrings,
every term required; on PostgreSQL answered from trigram indexes (catalog migration 0007)."""

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Service, Tag
from tests.catalog.test_views import many_services
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/services/"
trigram_migration = importlib.import_module("apps.catalog.migrations.0007_service_search_trigram")


def found(client, q: str) -> set[str]:
    body = client.get(URL, {"q": q, "page_size": 200}).json()
    return {row["name"] for row in body["results"]}


@pytest.fixture
def catalog(payments):
    ServiceFactory(name="ledger", owner=payments, title="General Ledger", description="")
    ServiceFactory(name="orders", owner=payments, title="", description="Takes FALCON orders")
    tagged = ServiceFactory(name="invoices", owner=payments, title="", description="")
    tagged.tags.add(Tag.objects.create(name="billing-core"))
    ServiceFactory(name="unrelated", owner=payments, title="Nothing", description="at all")


def test_it_finds_a_substring_of_the_name_title_or_description_in_any_case(
    api_as, developer, catalog
):
    client = api_as(developer)
    assert found(client, "EDGE") == {"ledger"}  # le-dge-r in the name, led-ge-r in the title
    assert found(client, "general") == {"ledger"}
    assert found(client, "falcon") == {"orders"}
    assert found(client, "RDER") == {"orders"}


def test_it_finds_a_substring_of_a_tag(api_as, developer, catalog):
    assert found(api_as(developer), "LING-CO") == {"invoices"}


def test_every_term_must_match_though_each_may_match_elsewhere(api_as, developer, catalog):
    client = api_as(developer)
    assert found(client, "invoices billing") == {"invoices"}
    assert found(client, "invoices falcon") == set()
    assert found(client, "orders falcon") == {"orders"}


def test_a_term_matching_nothing_finds_nothing(api_as, developer, catalog):
    assert found(api_as(developer), "zebra") == set()


def matches(service: Service, q: str) -> bool:
    """The search's meaning, spelled out in Python."""
    texts = [service.name, service.title, service.description]
    texts += [tag.name for tag in service.tags.all()]
    return all(any(term.lower() in text.lower() for text in texts) for term in q.split())


@pytest.mark.parametrize("q", ["falcon", "tag-4", "SVC-11", "svc tag-3", "1 TAG", "g-", "x"])
def test_it_finds_exactly_the_services_the_search_means(api_as, developer, q):
    many_services(120)
    expected = {s.name for s in Service.objects.prefetch_related("tags") if matches(s, q)}
    assert found(api_as(developer), q) == expected


def test_a_search_keeps_the_list_query_budget(api_as, developer, django_assert_max_num_queries):
    many_services(150)
    client = api_as(developer)
    # The session, the user, the tags the term matches, the services it matches (once, not
    # in the count and again in the page), the count, the page, its tags.
    with django_assert_max_num_queries(7):
        body = client.get(URL, {"q": "tag-2", "ordering": "name", "page_size": 200}).json()
    assert body["count"] == Service.objects.filter(tags__name="tag-2").count() == 90
    assert all("tag-2" in row["tags"] for row in body["results"])


def test_a_page_searches_the_catalog_once_for_its_count_facets_and_rows(client_as, developer):
    many_services(60)
    with CaptureQueriesContext(connection) as queries:
        response = client_as(developer).get("/catalog/", {"q": "tag-2 svc"})
    assert response.status_code == 200
    assert "svc-" in response.content.decode()
    # Only the services' search reads descriptions: the tags' own search does not.
    searches = [
        q["sql"]
        for q in queries.captured_queries
        if '"description"' in q["sql"] and "%svc%" in q["sql"]
    ]
    assert len(searches) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_the_search_can_use_the_trigram_indexes(developer):
    from apps.catalog.filters import _services_matching

    sql, params = _services_matching("falcon").query.sql_with_params()
    with connection.cursor() as cursor:
        # Too few rows here for the planner to prefer an index; forbid it the alternative.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for column in ("name", "title", "description"):
        assert f"service_{column}_trgm_idx" in plan


def test_the_index_migration_does_nothing_on_sqlite():
    executed = []
    sqlite = SimpleNamespace(vendor="sqlite")
    editor = SimpleNamespace(connection=sqlite, execute=lambda *args, **kw: executed.append(args))
    trigram_migration.create_indexes(None, editor)
    trigram_migration.drop_indexes(None, editor)
    assert executed == []
