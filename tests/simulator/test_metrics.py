"""The Prometheus-compatible query endpoint and the per-service HTTP probe."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.simulator.helpers import deployment_manifest, eventually, rolled_out, service_manifest


def get(cluster, path: str, data: bytes | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(cluster.url + path, data=data, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def query(cluster, promql: str) -> list[dict]:
    code, body = get(
        cluster, "/prometheus/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    )
    assert code == 200, body
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    return body["data"]["result"]


def values(result: list[dict], label: str) -> dict:
    return {sample["metric"][label]: float(sample["value"][1]) for sample in result}


@pytest.fixture
def shop(cluster):
    """web runs a good image, api one whose tag contains `errors`."""
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(ns, deployment_manifest("web", replicas=2))
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest("api", replicas=2, image="registry.local/api:2.0-errors")
    )
    eventually(lambda: rolled_out(cluster, "web") and rolled_out(cluster, "api"))
    return cluster


def test_the_success_rate_is_high_for_good_images_and_half_for_errors(shop):
    ns = shop.namespace

    rates = values(query(shop, f'runway_request_success_rate{{namespace="{ns}"}}'), "deployment")
    (web,) = query(shop, f'runway_request_success_rate{{namespace="{ns}",deployment="web"}}')

    assert rates["web"] >= 0.99
    assert rates["api"] == 0.5
    assert web["metric"] == {
        "__name__": "runway_request_success_rate",
        "namespace": ns,
        "deployment": "web",
    }
    assert isinstance(web["value"][0], float)
    errors = values(query(shop, f'runway_request_error_rate{{namespace="{ns}"}}'), "deployment")
    assert errors["api"] == 0.5
    ready = values(
        query(shop, f'runway_ready_pods{{namespace="{ns}",deployment=~"w.*"}}'), "deployment"
    )
    assert ready == {"web": 2.0}
    traffic = values(query(shop, 'runway_requests_per_second{deployment!="api"}'), "deployment")
    assert traffic == {"web": 20.0}


def test_a_service_counts_every_pod_it_selects(shop):
    ns = shop.namespace
    canary = deployment_manifest("web-canary", replicas=1, image="registry.local/web:2.0-errors")
    canary["spec"]["selector"]["matchLabels"] = {"app": "web", "track": "canary"}
    canary["spec"]["template"]["metadata"]["labels"] = {"app": "web", "track": "canary"}
    shop.apps.create_namespaced_deployment(ns, canary)
    shop.core.create_namespaced_service(ns, service_manifest("web"))
    eventually(lambda: rolled_out(shop, "web-canary"))

    (sample,) = query(
        shop, f'runway_service_request_success_rate{{namespace="{ns}",service="web"}}'
    )

    assert float(sample["value"][1]) == pytest.approx((2 * 0.995 + 0.5) / 3)
    assert sample["metric"]["service"] == "web"


def test_a_deployment_without_ready_pods_has_no_successful_requests(cluster):
    ns = cluster.namespace
    cluster.apps.create_namespaced_deployment(
        ns, deployment_manifest(replicas=1, image="registry.local/web:crashloop")
    )

    (sample,) = query(cluster, f'runway_request_success_rate{{namespace="{ns}"}}')

    assert float(sample["value"][1]) == 0.0


def test_an_unknown_metric_is_an_empty_vector_and_bad_syntax_is_400(cluster):
    assert query(cluster, "http_requests_total") == []

    code, body = get(cluster, "/prometheus/api/v1/query?query=" + urllib.parse.quote("rate(x[5m])"))

    assert code == 400
    assert body["status"] == "error"
    assert body["errorType"] == "bad_data"


def test_a_query_can_be_posted_as_a_form(shop):
    form = urllib.parse.urlencode({"query": f'runway_ready_pods{{namespace="{shop.namespace}"}}'})

    code, body = get(shop, "/prometheus/api/v1/query", data=form.encode())

    assert code == 200
    assert values(body["data"]["result"], "deployment") == {"api": 2.0, "web": 2.0}


def test_the_probe_answers_200_only_when_every_selected_pod_is_ready(shop):
    ns = shop.namespace
    shop.core.create_namespaced_service(ns, service_manifest("web"))
    shop.core.create_namespaced_service(ns, service_manifest("nothing", selector={"app": "none"}))
    shop.apps.create_namespaced_deployment(
        ns, deployment_manifest("broken", replicas=1, image="registry.local/broken:crashloop")
    )
    shop.core.create_namespaced_service(ns, service_manifest("broken"))

    assert get(shop, f"/probe/{ns}/web") == (
        200,
        {"namespace": ns, "service": "web", "pods": 2, "ready": 2, "status": "ok"},
    )
    assert get(shop, f"/probe/{ns}/nothing")[0] == 503
    assert get(shop, f"/probe/{ns}/broken")[0] == 503
    assert get(shop, f"/probe/{ns}/missing")[0] == 404
