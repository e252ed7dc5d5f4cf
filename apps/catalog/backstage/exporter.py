"""A service as a Backstage Component descriptor: the catalog-info.yaml Backstage reads.

What an import kept in `extra["backstage"]` (the original name and namespace, unknown keys, the
original type or lifecycle where Runway had to map it, references it could not resolve) goes
back out, so importing an export changes nothing. Runway's own fields that Backstage has no
place for travel as `runway.dev/*` annotations, which the importer reads back.
"""

import yaml
from django.db.models import Prefetch, QuerySet

from apps.catalog.backstage.refs import DEFAULT_NAMESPACE, runway_name
from apps.catalog.models import ApiRelation, Dependency, Lifecycle, Service, ServiceType

API_VERSION = "backstage.io/v1alpha1"

# runway.dev/* annotation -> Service field. The importer reads the same table.
RUNWAY_ANNOTATIONS = {
    "runway.dev/tier": "tier",
    "runway.dev/strategy": "strategy",
    "runway.dev/language": "language",
    "runway.dev/on-call": "on_call",
    "runway.dev/runbook-url": "runbook_url",
    "runway.dev/repository-url": "repository_url",
}
ALWAYS_EXPORTED = ("tier", "strategy")


def export_queryset() -> QuerySet[Service]:
    """Services with everything service_catalog_info reads, in a fixed number of queries."""
    return Service.objects.select_related("owner", "system").prefetch_related(
        "tags",
        Prefetch(
            "dependencies",
            queryset=Dependency.objects.select_related("target_service", "target_resource"),
        ),
        Prefetch("api_relations", queryset=ApiRelation.objects.select_related("api")),
    )


def _backstage(row) -> dict:
    extra = getattr(row, "extra", None) or {}
    backstage = extra.get("backstage") if isinstance(extra, dict) else None
    return backstage if isinstance(backstage, dict) else {}


def _name_and_namespace(row) -> tuple[str, str]:
    """The Backstage name a row came with, while it still maps to the row's name."""
    backstage = _backstage(row)
    original = backstage.get("name")
    name = original if isinstance(original, str) and runway_name(original) == row.name else row.name
    namespace = backstage.get("namespace")
    return name, namespace if isinstance(namespace, str) and namespace else DEFAULT_NAMESPACE


def _ref(kind: str, row) -> str:
    name, namespace = _name_and_namespace(row)
    return f"{kind}:{namespace}/{name}"


def service_catalog_info(service: Service) -> dict:
    backstage = _backstage(service)
    unresolved = backstage.get("unresolved") or {}
    name, namespace = _name_and_namespace(service)

    metadata: dict = {"name": name}
    if namespace != DEFAULT_NAMESPACE:
        metadata["namespace"] = namespace
    if service.title:
        metadata["title"] = service.title
    if service.description:
        metadata["description"] = service.description
    tags = sorted(tag.name for tag in service.tags.all()) if service.pk else []
    if tags:
        metadata["tags"] = tags
    if service.links:
        metadata["links"] = [
            {"url": link["url"], "title": link.get("title") or link["url"]}
            | {k: v for k, v in link.items() if k not in ("url", "title")}
            for link in service.links
            if isinstance(link, dict) and link.get("url")
        ]
    annotations = {str(k): str(v) for k, v in (service.annotations or {}).items()}
    for annotation, field_name in RUNWAY_ANNOTATIONS.items():
        value = getattr(service, field_name)
        if value not in ("", None) or field_name in ALWAYS_EXPORTED:
            annotations[annotation] = str(value)
    metadata["annotations"] = annotations
    for key, value in (backstage.get("metadata") or {}).items():
        metadata.setdefault(key, value)

    spec: dict = {
        "type": _original(backstage, "type", service.type, ServiceType.SERVICE),
        "lifecycle": _original(backstage, "lifecycle", service.lifecycle, Lifecycle.EXPERIMENTAL),
        "owner": f"group:{DEFAULT_NAMESPACE}/{service.owner.slug}",
    }
    if service.system_id:
        spec["system"] = _ref("system", service.system)
    elif unresolved.get("system"):
        spec["system"] = unresolved["system"][0]

    relations: dict[str, list[str]] = {
        "dependsOn": [],
        "dependencyOf": [],
        "providesApis": [],
        "consumesApis": [],
    }
    if service.pk:
        for dependency in service.dependencies.all():
            if dependency.target_service_id:
                relations["dependsOn"].append(_ref("component", dependency.target_service))
            else:
                relations["dependsOn"].append(_ref("resource", dependency.target_resource))
        for relation in service.api_relations.all():
            key = "providesApis" if relation.kind == ApiRelation.Kind.PROVIDES else "consumesApis"
            relations[key].append(_ref("api", relation.api))
    for key, refs in relations.items():
        refs.extend(ref for ref in unresolved.get(key) or [] if ref not in refs)
        if refs:
            spec[key] = sorted(refs)
    for key, value in (backstage.get("spec") or {}).items():
        spec.setdefault(key, value)

    api_version = backstage.get("apiVersion")
    if not (isinstance(api_version, str) and api_version.startswith("backstage.io/")):
        api_version = API_VERSION
    return {"apiVersion": api_version, "kind": "Component", "metadata": metadata, "spec": spec}


def _original(backstage: dict, key: str, value: str, fallback: str) -> str:
    """The Backstage value an import had to map to `fallback`, while the field still is that."""
    original = backstage.get(key)
    if value == fallback and isinstance(original, str) and original:
        return original
    return value


class _Dumper(yaml.SafeDumper):
    """Block style, text with line breaks as literal blocks: YAML people would write."""


def _represent_str(dumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_multi_representer(str, _represent_str)  # str subclasses too, e.g. DRF's ErrorDetail


def to_yaml(document: dict) -> str:
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def service_catalog_info_yaml(service: Service) -> str:
    return to_yaml(service_catalog_info(service))
