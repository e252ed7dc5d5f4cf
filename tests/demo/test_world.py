"""The organisation builder the demo and the benchmark share (apps.demo.world): the demo's part
is the same at every scale, and a generated one is the same for the same seed."""

import random

import pytest

from apps.demo.world import SERVICES, Size, organisation


def generated(scale: float = 0.01, seed: int = 7):
    return organisation(scale=scale, rng=random.Random(seed))


def test_the_demo_has_its_sign_ins_teams_and_services():
    demo = organisation()

    assert [p.username for p in demo.people] == ["dev", "dev2", "rm", "rm2", "lead", "admin", "ci"]
    assert [t.slug for t in demo.teams] == ["payments", "search", "platform"]
    assert [s.name for s in demo.services] == [spec[0] for spec in SERVICES]
    assert demo.busyness == {}
    assert demo.clusters == []


def test_the_demo_part_is_the_same_at_every_scale():
    demo, grown = organisation(), generated()

    assert grown.teams[: len(demo.teams)] == demo.teams
    assert grown.people[: len(demo.people)] == demo.people
    assert grown.systems[: len(demo.systems)] == demo.systems
    assert grown.services[: len(demo.services)] == demo.services
    assert grown.templates == demo.templates


def test_the_same_seed_and_scale_give_the_same_organisation():
    assert generated(seed=7) == generated(seed=7)
    assert generated(seed=7).services != generated(seed=8).services


@pytest.mark.parametrize("scale", [0.01, 0.05])
def test_a_generated_organisation_has_the_size_of_its_scale(scale):
    size, grown = Size.at(scale), generated(scale)

    assert len(grown.teams) == size.teams
    assert len(grown.systems) == size.systems
    assert len(grown.services) == size.services
    assert sum(len(s.depends_on) for s in grown.services) == size.dependencies
    assert sum(grown.busyness.values()) == pytest.approx(1)


def test_everything_a_generated_organisation_names_exists_once():
    grown = generated()
    teams = {t.slug for t in grown.teams}
    services = {s.name for s in grown.services}
    systems = {s.name for s in grown.systems}

    assert len(teams) == len(grown.teams)
    assert len(services) == len(grown.services)
    assert len({p.username for p in grown.people}) == len(grown.people)
    assert {slug for p in grown.people for slug in p.teams} <= teams
    assert {s.owner for s in grown.services} | {s.owner for s in grown.systems} <= teams
    assert {s.system for s in grown.services} - {None} <= systems
    for service in grown.services:
        assert set(service.depends_on) <= services - {service.name}
        assert len(set(service.depends_on)) == len(service.depends_on)
        assert {e.cluster for e in service.environments} - {""} <= set(grown.clusters)


def test_a_generated_service_has_a_namespace_of_its_own():
    # The benchmark's dispatch tells rollouts apart by the namespace their first call names.
    grown = generated()
    namespaces = [
        (env.cluster, env.namespace)
        for s in grown.services[len(organisation().services) :]
        for env in s.environments
    ]

    assert len(set(namespaces)) == len(namespaces)


def test_a_generated_catalog_has_no_dependency_cycle_so_any_train_of_it_has_an_order():
    from apps.trains.planning import plan_waves

    grown = generated(scale=0.05)
    graph = {s.name: set(s.depends_on) for s in grown.services}
    waves = plan_waves(list(graph), graph)  # PlanCycle otherwise, naming it

    assert sum(len(wave) for wave in waves) == len(graph)
    assert len(waves) > 2  # services wait for what they depend on
