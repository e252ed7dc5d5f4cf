"""Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for."""

from typing import Any

from simulator import label_selectors
from simulator.resources import Resource
from simulator.store import parse_timestamp


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery's duration.HumanDuration."""
    seconds = int(max(seconds, 0))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


NAME, AGE = _column("Name", fmt="name"), _column("Age")


def _containers(template_spec: dict) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _deployment(obj: dict) -> list:
    spec, status = obj["spec"], obj["status"]
    names, images = _containers(spec["template"]["spec"])
    return [
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        names,
        images,
        label_selectors.selector_string(spec.get("selector")),
    ]


def _replicaset(obj: dict) -> list:
    spec, status = obj["spec"], obj["status"]
    names, images = _containers(spec["template"]["spec"])
    return [
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        names,
        images,
        label_selectors.selector_string(spec.get("selector")),
    ]


def _pod_reason(obj: dict) -> str:
    status = obj["status"]
    for container in status.get("containerStatuses") or []:
        waiting = container.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            return waiting["reason"]
    return status.get("phase", "Unknown")


def _pod(obj: dict) -> list:
    statuses = obj["status"].get("containerStatuses") or []
    total = len(obj["spec"].get("containers") or [])
    ready = sum(bool(s.get("ready")) for s in statuses)
    return [
        f"{ready}/{total}",
        _pod_reason(obj),
        sum(s.get("restartCount", 0) for s in statuses),
        obj["status"].get("podIP", "<none>"),
        obj["spec"].get("nodeName", "<none>"),
        "<none>",
        "<none>",
    ]


def _service(obj: dict) -> list:
    spec = obj["spec"]
    ports = []
    for port in spec.get("ports") or []:
        text = f"{port.get('port')}/{port.get('protocol', 'TCP')}"
        if port.get("nodePort"):
            text = f"{port['port']}:{port['nodePort']}/{port.get('protocol', 'TCP')}"
        ports.append(text)
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "None",
        "<none>" if spec.get("type") != "LoadBalancer" else "<pending>",
        ",".join(ports) or "<none>",
        selector or "<none>",
    ]


def _namespace(obj: dict) -> list:
    return [obj["status"].get("phase", "Active")]


# kind -> (columns after Name, the cells function, where Age goes among the columns)
_PRINTERS = {
    "deployments": (
        [
            _column("Ready"),
            _column("Up-to-date", "integer"),
            _column("Available", "integer"),
            _column("Containers", priority=1),
            _column("Images", priority=1),
            _column("Selector", priority=1),
        ],
        _deployment,
        3,
    ),
    "replicasets": (
        [
            _column("Desired", "integer"),
            _column("Current", "integer"),
            _column("Ready", "integer"),
            _column("Containers", priority=1),
            _column("Images", priority=1),
            _column("Selector", priority=1),
        ],
        _replicaset,
        3,
    ),
    "pods": (
        [
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "integer"),
            _column("IP", priority=1),
            _column("Node", priority=1),
            _column("Nominated Node", priority=1),
            _column("Readiness Gates", priority=1),
        ],
        _pod,
        3,
    ),
    "services": (
        [
            _column("Type"),
            _column("Cluster-IP"),
            _column("External-IP"),
            _column("Port(s)"),
            _column("Selector", priority=1),
        ],
        _service,
        4,
    ),
    "namespaces": ([_column("Status")], _namespace, 1),
}


def wants_table(accept: str) -> bool:
    return any("as=Table" in part for part in (accept or "").split(","))


def table(
    resource: Resource, items: list[dict], resource_version: str, now: float, include: str
) -> dict:
    columns, cells, age_at = _PRINTERS[resource.plural]
    rows = []
    for obj in items:
        values = cells(obj)
        age = human_duration(now - parse_timestamp(obj["metadata"]["creationTimestamp"]))
        values = [obj["metadata"]["name"], *values[:age_at], age, *values[age_at:]]
        if include == "None":
            embedded = None
        elif include == "Object":
            embedded = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
        else:
            embedded = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        row: dict[str, Any] = {"cells": values}
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [NAME, *columns[:age_at], AGE, *columns[age_at:]],
        "rows": rows,
    }
