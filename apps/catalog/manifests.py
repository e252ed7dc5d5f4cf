"""Kubernetes manifests generated from a service's catalog entry, and their validation against
the Kubernetes schemas (kubernetes-validate ships them; no cluster is needed)."""

import kubernetes_validate
import yaml

from apps.catalog.models import Service, Strategy

KUBERNETES_VERSION = "1.30"
DEFAULT_IMAGE = "registry.example.com/{name}:latest"


def _labels(service: Service) -> dict:
    return {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/part-of": service.system.name if service.system_id else service.name,
        "app.kubernetes.io/managed-by": "runway",
        "runway.dev/team": service.owner.slug,
    }


def _probe(service: Service) -> dict:
    return {"httpGet": {"path": service.health_path, "port": "http"}, "periodSeconds": 10}


def render_manifests(service: Service, *, replicas: int | None = None) -> list[dict]:
    """Deployment and Service always; an HPA and a PodDisruptionBudget where the service asks."""
    labels = _labels(service)
    selector = {"app.kubernetes.io/name": service.name}
    resources = {"cpu": service.cpu, "memory": service.memory}
    rolling = service.strategy_params if service.strategy == Strategy.ROLLING else {}
    manifests = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": service.name, "labels": labels},
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
                                "name": service.name,
                                "image": service.image or DEFAULT_IMAGE.format(name=service.name),
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
            "metadata": {"name": service.name, "labels": labels},
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
                "metadata": {"name": service.name, "labels": labels},
                "spec": {
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": service.name,
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
                "metadata": {"name": service.name, "labels": labels},
                "spec": {
                    "minAvailable": service.pdb_min_available,
                    "selector": {"matchLabels": selector},
                },
            }
        )
    return manifests


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


def manifests_yaml(manifests: list[dict]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False)
