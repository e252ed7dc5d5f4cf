import pytest

from apps.catalog.models import Dependency, Service
from apps.trains import selectors
from apps.trains.planning import PlanCycle, plan_waves
from tests.factories import TeamFactory


def test_a_diamond_rolls_out_from_the_bottom_up():
    graph = {"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}
    assert plan_waves("abcde", graph) == [["d", "e"], ["b", "c"], ["a"]]


def test_a_member_waits_for_a_member_it_reaches_through_services_outside_the_train():
    graph = {"a": {"x"}, "x": {"y"}, "y": {"b"}}
    assert plan_waves(["a", "b"], graph) == [["b"], ["a"]]


def test_the_walk_stops_at_members_so_their_own_dependencies_are_theirs():
    graph = {"a": {"b"}, "b": {"c"}}
    # c is no member: a waits for b only; b waits for nobody in the train.
    assert plan_waves(["a", "b"], graph) == [["b"], ["a"]]


def test_a_cycle_among_members_is_refused_naming_it_in_order():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    with pytest.raises(PlanCycle) as refused:
        plan_waves("abcd", graph)
    assert refused.value.cycle == ["a", "b", "c", "a"]
    assert "a → b → c → a" in refused.value.messages[0]


def test_a_cycle_through_services_outside_the_train_names_them_too():
    graph = {"b": {"x"}, "x": {"a"}, "a": {"b"}}
    with pytest.raises(PlanCycle) as refused:
        plan_waves(["a", "b"], graph)
    assert refused.value.cycle == ["a", "b", "x", "a"]


def test_a_member_that_reaches_only_itself_again_is_no_cycle_among_members():
    assert plan_waves(["a", "b"], {"a": {"x"}, "x": {"a"}}) == [["a", "b"]]


@pytest.mark.django_db
def test_planning_200_members_over_10000_services_takes_one_query(django_assert_num_queries):
    team = TeamFactory()
    Service.objects.bulk_create(Service(name=f"s{number}", owner=team) for number in range(10_000))
    ids = dict(Service.objects.values_list("name", "pk"))
    # A chain s0 ← s1 ← ... with side branches: every service depends on the one before it
    # and on one a hundred before.
    Dependency.objects.bulk_create(
        Dependency(source_id=ids[f"s{n}"], target_service_id=ids[f"s{m}"])
        for n in range(1, 10_000)
        for m in {n - 1, max(n - 100, 0)}
    )
    members = [f"s{n}" for n in range(0, 10_000, 50)]
    assert len(members) == 200
    with django_assert_num_queries(1):
        waves = selectors.plan_for(members)
    assert waves == [[name] for name in members]


@pytest.mark.django_db
def test_the_plan_reads_only_the_part_of_the_catalog_its_members_reach():
    team = TeamFactory()
    names = ["a", "b", "x", "y", "hub", "other", "lonely"]
    ids = {
        s.name: s.pk
        for s in Service.objects.bulk_create(Service(name=n, owner=team) for n in names)
    }
    edges = [("a", "x"), ("x", "y"), ("y", "b"), ("b", "hub"), ("other", "hub"), ("other", "a")]
    Dependency.objects.bulk_create(
        Dependency(source_id=ids[source], target_service_id=ids[target]) for source, target in edges
    )
    # "other" depends on the members but nothing they reach depends on it.
    assert selectors.dependencies_reachable_from(["a", "b"]) == {
        "a": {"x"},
        "x": {"y"},
        "y": {"b"},
        "b": {"hub"},
    }
    assert selectors.dependencies_reachable_from(["lonely"]) == {}
    assert selectors.plan_for(["a", "b"]) == [["b"], ["a"]]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(6))
def test_planning_from_the_part_reached_gives_the_plan_of_the_whole_catalog(seed):
    import random

    chance = random.Random(seed)
    team = TeamFactory()
    services = Service.objects.bulk_create(Service(name=f"s{n:03}", owner=team) for n in range(120))
    # Edges mostly towards lower numbers, and a few back, so some draws hold cycles.
    edges = {
        (source, target)
        for source in services
        for target in chance.sample(services, 3)
        if target is not source and (target.pk < source.pk or chance.random() < 0.02)
    }
    Dependency.objects.bulk_create(Dependency(source=s, target_service=t) for s, t in edges)
    members = sorted(s.name for s in chance.sample(services, 25))

    def plan(graph):
        try:
            return plan_waves(members, graph)
        except PlanCycle as cycle:
            return cycle.cycle

    assert plan(selectors.dependencies_reachable_from(members)) == plan(
        selectors.catalog_dependencies()
    )
