"""The train benchmark's choice of members and its reading of the simulator's request log."""

import pytest

from apps.trains.planning import PlanCycle, plan_waves
from benchmarks.trains import _first_calls, middling_members


def test_the_members_are_of_middling_use_and_each_depends_on_something():
    graph = {"popular": set(), "common": {"popular"}, "rare": set()}
    graph |= {f"app{n}": {"popular", "common"} | ({"app0"} if n % 2 else set()) for n in range(6)}
    members = middling_members(graph, 4)
    assert len(members) == 4 and all(graph[name] for name in members)
    assert "rare" not in members  # depends on nothing
    assert plan_waves(members, graph)[0]


def test_too_few_services_with_dependencies_is_said():
    with pytest.raises(RuntimeError, match="fewer than 4 services"):
        middling_members({"a": {"b"}, "b": set()}, 4)


def test_a_cycle_among_them_is_named():
    with pytest.raises(PlanCycle):
        middling_members({"a": {"b"}, "b": {"a"}}, 2)


def test_the_first_call_about_each_member_counts_its_canary_and_colours(tmp_path):
    log = tmp_path / "requests.log"
    log.write_text(
        "10.0 GET /apis/apps/v1/namespaces/team/deployments/api-canary 200\n"
        "11.0 GET /apis/apps/v1/namespaces/team/deployments/api 200\n"
        "12.0 PATCH /apis/apps/v1/namespaces/team/deployments/api-gateway 200\n"
        "13.0 GET /api/v1/namespaces/team/pods?labelSelector=app%3Dweb 200\n"
        "14.0 GET /apis/apps/v1/namespaces/team/deployments/web-blue 200\n"
    )
    assert _first_calls(log, {"api", "web", "db"}) == {"api": 10.0, "web": 14.0}
