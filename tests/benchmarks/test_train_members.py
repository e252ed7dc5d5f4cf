"""The train benchmark's choice of members and its reading of the simulator's request log."""

import pytest

from apps.trains.planning import plan_waves
from benchmarks.trains import _first_calls, connected_members


def test_the_members_are_linked_by_dependencies_and_hold_no_cycle():
    graph = {
        "hub": {"a", "b", "c"},
        "a": {"d"},
        "d": {"a"},  # a cycle the choice must leave half out
        "b": {"e"},
        "c": set(),
        "lonely": set(),
    }
    members = connected_members(graph, 5)
    assert members[0] == "hub" and len(set(members)) == 5
    assert not {"a", "d"} <= set(members)
    assert "lonely" not in members
    assert plan_waves(members, graph)[0]  # plans without a cycle


def test_too_few_linked_services_is_said():
    with pytest.raises(RuntimeError, match="no 4 connected services"):
        connected_members({"a": {"b"}}, 4)


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
