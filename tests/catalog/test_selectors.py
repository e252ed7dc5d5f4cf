import pytest

from apps.catalog.models import Dependency, Environment, EnvironmentKind, Resource
from apps.catalog.selectors import (
    dependency_graph,
    environment_names,
    service_facets,
    service_list,
)
from tests.factories import ServiceFactory


def depends(source, *targets):
    for target in targets:
        Dependency.objects.create(source=source, target_service=target)


@pytest.mark.django_db
def test_the_graph_walks_both_ways_and_survives_a_cycle(django_assert_max_num_queries):
    a, b, c, d = (ServiceFactory(name=n) for n in "abcd")
    depends(a, b)
    depends(b, c)
    depends(c, a)  # a cycle back to the start
    depends(d, a)
    with django_assert_max_num_queries(6):
        graph = dependency_graph(a, max_depth=5)
    assert [(n.name, n.depth) for n in graph.upstream] == [("b", 1), ("c", 2)]
    assert [(n.name, n.depth) for n in graph.downstream] == [("c", 1), ("d", 1), ("b", 2)]


@pytest.mark.django_db
def test_resources_appear_upstream_and_stop_the_walk():
    a = ServiceFactory(name="a")
    db = Resource.objects.create(name="orders-db", type="database")
    Dependency.objects.create(source=a, target_resource=db)
    graph = dependency_graph(a)
    assert [(n.name, n.kind) for n in graph.upstream] == [("orders-db", "resource")]


@pytest.mark.django_db
def test_the_graph_is_cut_at_its_limit():
    hub = ServiceFactory(name="hub")
    depends(hub, *(ServiceFactory(name=f"leaf-{i}") for i in range(12)))
    graph = dependency_graph(hub, limit=5)
    assert len(graph.upstream) == 5 and graph.truncated


@pytest.mark.django_db
def test_facets_are_counted_by_the_database(payments, search):
    for i in range(3):
        ServiceFactory(name=f"p{i}", owner=payments, lifecycle="production", tier=1)
    ServiceFactory(name="s0", owner=search, lifecycle="experimental", tier=3)
    facets = service_facets(service_list())
    assert facets["owner"][0] == {"value": "payments", "label": "payments", "count": 3}
    assert {f["value"]: f["count"] for f in facets["lifecycle"]} == {
        "production": 3,
        "experimental": 1,
    }
    assert {f["label"] for f in facets["tier"]} == {"Tier 1 (critical)", "Tier 3"}


@pytest.mark.django_db
def test_environment_names_lists_each_name_once_in_order(django_assert_num_queries):
    assert environment_names() == []
    for index, names in enumerate([("staging", "production"), ("production", "dev", "staging")]):
        service = ServiceFactory(name=f"svc-names-{index}")
        for order, name in enumerate(names):
            Environment.objects.create(
                service=service, name=name, kind=EnvironmentKind.DEVELOPMENT, order=order
            )
    with django_assert_num_queries(1):
        assert environment_names() == ["dev", "production", "staging"]
