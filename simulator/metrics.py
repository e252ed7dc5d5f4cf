"""Traffic numbers made up from the cluster's state, for analysis checks.

A ready pod answers 99.5 % of requests successfully, or 50 % when its image tag contains
`errors`; pods that are not ready get no traffic. The numbers are exact and steady, so a test
can rely on them. See the package docstring for the query names.
"""

import re
import time

from simulator import label_selectors
from simulator.defaults import image_tag
from simulator.kubelet import is_ready
from simulator.resources import DEPLOYMENTS, PODS, SERVICES
from simulator.store import Store

GOOD_SUCCESS_RATE = 0.995
ERRORS_SUCCESS_RATE = 0.5
REQUESTS_PER_POD = 10.0


class QueryError(ValueError):
    pass


def _pod_success_rate(pod: dict) -> float:
    images = [c.get("image", "") for c in pod["spec"].get("containers") or []]
    if any("errors" in image_tag(image) for image in images):
        return ERRORS_SUCCESS_RATE
    return GOOD_SUCCESS_RATE


def success_rate(pods: list[dict]) -> float:
    """Requests spread evenly over ready pods; none ready means every request fails."""
    ready = [pod for pod in pods if is_ready(pod)]
    if not ready:
        return 0.0
    return sum(_pod_success_rate(pod) for pod in ready) / len(ready)


def _ready(pods: list[dict]) -> float:
    return float(sum(is_ready(pod) for pod in pods))


_VALUES = {
    "request_success_rate": success_rate,
    "request_error_rate": lambda pods: 1.0 - success_rate(pods),
    "requests_per_second": lambda pods: REQUESTS_PER_POD * _ready(pods),
    "ready_pods": _ready,
}
# metric name -> (label naming the object, what is measured)
FAMILIES = {
    **{f"runway_{name}": ("deployment", value) for name, value in _VALUES.items()},
    **{f"runway_service_{name}": ("service", value) for name, value in _VALUES.items()},
}

_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$", re.DOTALL)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse(query: str) -> tuple[str, list[tuple[str, str, str]]]:
    match = _SELECTOR.match(query or "")
    if match is None:
        raise QueryError(f'parse error: unsupported query {query!r}: use name{{label="value"}}')
    name, body = match.group(1), (match.group(2) or "").strip()
    matchers, position = [], 0
    while position < len(body):
        found = _MATCHER.match(body, position)
        if found is None:
            raise QueryError(f"parse error: unexpected {body[position:]!r} in label matchers")
        label, op, value, _ = found.groups()
        matchers.append((label, op, value.replace('\\"', '"').replace("\\\\", "\\")))
        position = found.end()
    return name, matchers


def _matches(labels: dict, matchers: list[tuple[str, str, str]]) -> bool:
    for label, op, value in matchers:
        actual = labels.get(label, "")
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        try:
            if op == "=~" and not re.fullmatch(value, actual):
                return False
            if op == "!~" and re.fullmatch(value, actual):
                return False
        except re.error as exc:
            raise QueryError(f"invalid regular expression {value!r}: {exc}") from exc
    return True


def _selected(pods: list[dict], namespace: str, selector: list) -> list[dict]:
    return [
        pod
        for pod in pods
        if pod["metadata"]["namespace"] == namespace
        and label_selectors.matches_all(selector, pod["metadata"].get("labels"))
    ]


def _format(value: float) -> str:
    text = repr(round(value, 6))
    return text[:-2] if text.endswith(".0") else text


def query(store: Store, text: str, at: float | None = None) -> list[dict]:
    """An instant vector, as the Prometheus HTTP API's `data.result`."""
    name, matchers = parse(text)
    family = FAMILIES.get(name)
    if family is None:
        return []  # an unknown series is simply absent, as in Prometheus
    label, measure = family
    at = time.time() if at is None else at
    with store.lock:
        pods, _ = store.list(PODS)
        if label == "deployment":
            owners = [
                (d, label_selectors.from_label_selector(d["spec"].get("selector")))
                for d in store.list(DEPLOYMENTS)[0]
            ]
        else:
            owners = [
                (s, label_selectors.from_label_selector({"matchLabels": s["spec"]["selector"]}))
                for s in store.list(SERVICES)[0]
                if s["spec"].get("selector")
            ]
    result = []
    for owner, selector in owners:
        namespace = owner["metadata"]["namespace"]
        labels = {"__name__": name, "namespace": namespace, label: owner["metadata"]["name"]}
        if not _matches(labels, matchers):
            continue
        value = measure(_selected(pods, namespace, selector))
        result.append({"metric": labels, "value": [round(at, 3), _format(value)]})
    return result


def probe(store: Store, namespace: str, name: str) -> tuple[int, dict]:
    """200 when the Service selects pods and all of them are ready, 503 otherwise."""
    with store.lock:
        service = store.find(SERVICES, namespace, name)
        pods, _ = store.list(PODS, namespace)
    if service is None:
        return 404, {"namespace": namespace, "service": name, "status": "not found"}
    selector = service["spec"].get("selector") or {}
    chosen = _selected(
        pods, namespace, label_selectors.from_label_selector({"matchLabels": selector})
    )
    chosen = chosen if selector else []
    ready = sum(is_ready(pod) for pod in chosen)
    healthy = bool(chosen) and ready == len(chosen)
    body = {
        "namespace": namespace,
        "service": name,
        "pods": len(chosen),
        "ready": ready,
        "status": "ok" if healthy else "unavailable",
    }
    return (200 if healthy else 503), body
