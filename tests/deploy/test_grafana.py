"""The sample Grafana dashboard: importable JSON whose queries name Runway's metrics."""

import json
import re

from tests.deploy.conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "runway.json"
METRICS = {
    "django_http_requests_latency_seconds_by_view_method",
    "runway_task_duration_seconds",
    "runway_queue_depth",
    "runway_rollouts",
    "runway_outbox_backlog",
}
# A histogram's series carry these suffixes after the metric's name.
METRIC_NAME = re.compile(r"\b([a-z_]+?)(?:_bucket|_sum|_count)?(?=[{\[)\s]|$)")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_it_is_a_dashboard_with_the_panels_runway_needs():
    titles = [panel["title"] for panel in dashboard()["panels"]]
    assert titles == [
        "Request latency p95 by view",
        "Task latency p95 by task",
        "Queue depth per queue",
        "Rollouts by state",
        "Outbox backlog",
    ]


def test_every_query_names_one_of_runways_metrics():
    for panel in dashboard()["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            named = set(METRIC_NAME.findall(target["expr"])) & METRICS
            assert len(named) == 1, f"{panel['title']}: {target['expr']}"


def test_the_metric_pattern_tells_a_metric_from_a_near_miss():
    assert set(METRIC_NAME.findall("sum(rate(runway_task_duration_seconds_bucket[5m]))")) & METRICS
    assert not set(METRIC_NAME.findall("sum(runway_rollouts_total)")) & METRICS
    assert not set(METRIC_NAME.findall("sum(runway_queue_depths)")) & METRICS


def test_the_prometheus_data_source_is_chosen_on_import():
    board = dashboard()
    (variable,) = board["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    reference = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    for panel in board["panels"]:
        assert panel["datasource"] == reference
        assert all(target["datasource"] == reference for target in panel["targets"])
