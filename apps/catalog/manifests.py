"""Kubernetes manifests generated from a service's catalog entry, and their validation against
the Kubernetes schemas (kubernetes-validate ships them; no cluster is needed)."""

import json
from dataclasses import dataclass
from functools import lru_cache

import kubernetes_validate
import yaml

from apps.catalog.models import Service, Strategy

KUBERNETES_VERSION = "1.30"
DEFAULT_IMAGE = "registry.example.com/{name}:latest"


@dataclass(frozen=True)
class _Names:
    """The names a service's manifests carry: its own, its team's and its system's."""

    name: str
    team: str
    part_of: str

    @classmethod
    def of(cls, service: Service) -> "_Names":
        part_of = service.system.name if service.system is not None else service.name
        return cls(name=service.name, team=service.owner.slug, part_of=part_of)


# Stand-in names for checking manifests: the Kubernetes schemas take any string where a
# service's, team's or system's name appears, so manifests that differ only in those names pass
# or fail the schemas alike, and one check serves them all.
_STAND_IN = _Names(name="service", team="team", part_of="system")


def _labels(names: _Names) -> dict:
    return {
        "app.kubernetes.io/name": names.name,
        "app.kubernetes.io/part-of": names.part_of,
        "app.kubernetes.io/managed-by": "runway",
        "runway.dev/team": names.team,
    }


def _probe(service: Service) -> dict:
    return {"httpGet": {"path": service.health_path, "port": "http"}, "periodSeconds": 10}


def render_manifests(service: Service, *, replicas: int | None = None) -> list[dict]:
    """Deployment and Service always; an HPA and a PodDisruptionBudget where the service asks."""
    return _render(service, _Names.of(service), replicas=replicas)


def _render(service: Service, names: _Names, *, replicas: int | None = None) -> list[dict]:
    labels = _labels(names)
    selector = {"app.kubernetes.io/name": names.name}
    resources = {"cpu": service.cpu, "memory": service.memory}
    rolling = service.strategy_params if service.strategy == Strategy.ROLLING else {}
    manifests = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": names.name, "labels": labels},
            "spec": {
                "replicas": replicas or service.replicas,
                "selector": {"matchLabels": selector},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {
                        "maxSurge": rolling.get("max_surge", "25%"),
                        "maxUnavailable": rolling.get("max_unavailable", "25%"),
                    },
                },
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": {**labels, **selector}},
                    "spec": {
                        "containers": [
                            {
                                "name": names.name,
                                "image": service.image or DEFAULT_IMAGE.format(name=names.name),
                                "ports": [
                                    {"name": "http", "containerPort": service.container_port}
                                ],
                                "resources": {
                                    "requests": dict(resources),
                                    "limits": dict(resources),
                                },
                                "readinessProbe": _probe(service),
                                "livenessProbe": _probe(service),
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": names.name, "labels": labels},
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    ]
    if service.autoscale_max:
        manifests.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": names.name, "labels": labels},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": names.name,
                    },
                    "minReplicas": replicas or service.replicas,
                    "maxReplicas": service.autoscale_max,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": 75},
                            },
                        }
                    ],
                },
            }
        )
    if service.pdb_min_available:
        manifests.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": names.name, "labels": labels},
                "spec": {
                    "minAvailable": service.pdb_min_available,
                    "selector": {"matchLabels": selector},
                },
            }
        )
    return manifests


def checked_manifests(service: Service) -> tuple[list[dict], list[str]]:
    """The service's manifests, and what the Kubernetes schemas find wrong with them (nothing
    when they are valid). Every service, created one by one or imported by the thousand, gets
    its manifests here. A schema check takes tens of milliseconds, so each layout (the manifests
    with stand-in names) is checked once per process."""
    manifests = render_manifests(service)
    layout = json.dumps(_render(service, _STAND_IN))  # rendered in one order: a fair key
    if _layout_is_valid(layout):
        return manifests, []
    return manifests, manifest_errors(manifests)  # the messages name the service's own values


@lru_cache(maxsize=1024)
def _layout_is_valid(layout: str) -> bool:
    return not manifest_errors(json.loads(layout))


def manifest_errors(manifests: list[dict]) -> list[str]:
    """Each manifest checked against the Kubernetes OpenAPI schema; an empty list means valid."""
    errors = []
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            errors.append(f"{manifest['kind']} {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{manifest['kind']}: no schema for Kubernetes {KUBERNETES_VERSION}")
    return errors


# libyaml's emitter where PyYAML was built with it: the same text, five times as fast.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def manifests_yaml(manifests: list[dict]) -> str:
    return yaml.dump_all(manifests, Dumper=_DUMPER, sort_keys=False)
