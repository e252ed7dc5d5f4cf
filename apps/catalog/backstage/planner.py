"""Plan a Backstage import: parsed documents become planned rows and the issues found, with no
database access at all, so every mapping rule is tested without one.

Each document becomes a PlannedEntity: its kind, its Runway name, the model field values it
sets (`row`), its references (owner, system, relations) still unresolved, and what Runway keeps
of the rest in extra["backstage"]. What depends on the database (which teams, systems and
targets exist, whether the actor may change an existing row) is the writer's: writer.py.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from apps.catalog.backstage.exporter import RUNWAY_ANNOTATIONS
from apps.catalog.backstage.loader import LoadedDocument
from apps.catalog.backstage.refs import (
    DEFAULT_NAMESPACE,
    EntityRef,
    RefError,
    dns_label_problem,
    parse_ref,
    runway_name,
)
from apps.catalog.backstage.report import Issues
from apps.catalog.models import Lifecycle, ServiceType, Strategy, Tier

OTHER = "other"  # any kind Runway keeps verbatim
KIND_LABELS = {
    "component": "Component",
    "group": "Group",
    "system": "System",
    "resource": "Resource",
    "api": "API",
}
RELATION_FIELDS = ("dependsOn", "dependencyOf", "providesApis", "consumesApis")
RELATION_TARGET_KINDS = {
    "dependsOn": ("component", "resource"),
    "dependencyOf": ("component",),
    "providesApis": ("api",),
    "consumesApis": ("api",),
}
_COMMON_METADATA = {"name", "namespace", "title", "description"}
KNOWN_METADATA = {
    "component": _COMMON_METADATA | {"tags", "links", "annotations"},
    "group": _COMMON_METADATA,
    "system": _COMMON_METADATA,
    "resource": _COMMON_METADATA,
    "api": _COMMON_METADATA,
}
KNOWN_SPEC = {
    "component": {"type", "lifecycle", "owner", "system", *RELATION_FIELDS},
    "group": {"profile"},
    "system": {"owner", "domain"},
    "resource": {"type", "owner", "system"},
    "api": {"type", "lifecycle", "owner", "system", "definition"},
}
_http_url = URLValidator(schemes=["http", "https"])


@dataclass(eq=False)
class PlannedEntity:
    """One document: what it is, and the row it becomes once its references are resolved."""

    doc: LoadedDocument
    kind: str = OTHER  # component, group, system, resource, api, or OTHER
    label: str = ""  # the kind as reported: "Component", "API", "Location"...
    name: str = ""  # metadata.name as written
    namespace: str = DEFAULT_NAMESPACE
    runway: str = ""  # the Runway name
    metadata: dict = field(default_factory=dict)
    spec: dict = field(default_factory=dict)
    api_version: str = ""
    failed: bool = False
    row: dict = field(default_factory=dict)  # model field values
    owner: EntityRef | None = None
    system: EntityRef | None = None
    tags: list[str] = field(default_factory=list)
    relations: dict[str, list[EntityRef]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # becomes extra["backstage"]
    unresolved: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class Plan(Issues):
    entities: list[PlannedEntity] = field(default_factory=list)
    skipped_documents: int = 0  # empty documents

    def live(self, kind: str | None = None) -> list[PlannedEntity]:
        """The entities still to be written (of one kind): those no issue has failed."""
        return [e for e in self.entities if not e.failed and (kind is None or e.kind == kind)]


def plan_import(documents: list[LoadedDocument], *, admin: bool) -> Plan:
    """What each document becomes. `admin`: the actor imports every kind (platform admins and
    Runway itself); others import Components, Resources and APIs only."""
    return _Planner(admin=admin).plan_documents(documents)


class _Planner:
    def __init__(self, *, admin: bool):
        self.admin = admin
        self.plan = Plan()

    def error(self, entity: PlannedEntity, where: str, message: str) -> None:
        self.plan.error(entity, where, message)

    def refused(self, entity: PlannedEntity, where: str, message: str) -> PlannedEntity | None:
        """An entity that cannot be planned at all: its error, and nothing to plan."""
        self.error(entity, where, message)
        return None

    def warn(self, entity: PlannedEntity, where: str, message: str) -> None:
        self.plan.warn(entity, where, message)

    def plan_documents(self, documents: list[LoadedDocument]) -> Plan:
        entities = self._classify(documents)
        planners: dict[str, Callable[[PlannedEntity], None]] = {
            "component": self._plan_component,
            "group": self._plan_group,
            "system": self._plan_system,
            "resource": self._plan_resource,
            "api": self._plan_api,
        }
        for entity in entities:
            planners.get(entity.kind, self._plan_other)(entity)
        self.plan.entities = entities
        return self.plan

    def _classify(self, documents: list[LoadedDocument]) -> list[PlannedEntity]:
        entities: list[PlannedEntity] = []
        seen: dict[tuple[str, ...], PlannedEntity] = {}
        for doc in documents:
            entity = self._entity(doc)
            if entity is None or entity.failed:
                continue
            key: tuple[str, ...]
            if entity.kind == OTHER:
                key = (OTHER, entity.label.lower(), entity.namespace.lower(), entity.name.lower())
            else:
                key = (entity.kind, entity.runway)
            first = seen.setdefault(key, entity)
            if first is not entity:
                self.error(
                    entity,
                    "metadata.name",
                    f"{entity.label} {entity.runway} is already defined in {first.doc.source} "
                    f"document {first.doc.index} (Runway names are not namespaced).",
                )
                continue
            entities.append(entity)
        return entities

    def _entity(self, doc: LoadedDocument) -> PlannedEntity | None:
        data, entity = doc.data, PlannedEntity(doc)
        if data is None:
            self.plan.skipped_documents += 1
            return None
        if not isinstance(data, dict):
            self.warn(entity, "", f"A {type(data).__name__}, not an entity; skipped.")
            return None
        if "kind" not in data and "apiVersion" not in data:
            self.warn(entity, "", "Not a Backstage entity (no apiVersion, no kind); skipped.")
            return None
        kind, api_version = data.get("kind"), data.get("apiVersion")
        metadata, spec = data.get("metadata"), data.get("spec")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        namespace = (
            metadata.get("namespace", DEFAULT_NAMESPACE) if isinstance(metadata, dict) else None
        )
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(kind, str) or not kind.strip():
            return self.refused(entity, "kind", "Every entity needs a kind.")
        if not isinstance(api_version, str):
            return self.refused(entity, "apiVersion", "Every entity needs an apiVersion.")
        if not isinstance(metadata, dict):
            return self.refused(entity, "metadata", "Every entity needs metadata.")
        if not isinstance(name, str) or not name.strip():
            return self.refused(entity, "metadata.name", "A name is needed.")
        if not isinstance(namespace, str):
            return self.refused(entity, "metadata.namespace", "Namespaces are text.")
        if spec is not None and not isinstance(spec, dict):
            return self.refused(entity, "spec", "A spec is a mapping.")
        entity.label, entity.api_version = kind.strip(), api_version.strip()
        entity.name, entity.namespace = name.strip(), namespace.strip() or DEFAULT_NAMESPACE
        entity.metadata, entity.spec = metadata, spec or {}
        entity.runway = runway_name(entity.name)
        key = entity.label.lower()
        if key in KIND_LABELS and entity.api_version.startswith("backstage.io/"):
            entity.kind, entity.label = key, KIND_LABELS[key]
        if entity.kind in ("component", "system", "group"):
            problem = dns_label_problem(entity.name)
            if problem:
                self.error(entity, "metadata.name", problem)
        elif len(entity.name) > 253:
            self.error(entity, "metadata.name", "A name has at most 253 characters.")
        elif entity.kind == OTHER and (len(entity.label) > 63 or len(entity.namespace) > 253):
            self.error(entity, "kind", "The kind or namespace is too long.")
        if (
            not entity.failed
            and not self.admin
            and entity.kind not in ("component", "resource", "api")
        ):
            self.error(entity, "kind", f"Only platform admins import {entity.label} entities.")
        return entity

    # --- What each kind of document becomes ---------------------------------------------------

    def _common(self, entity: PlannedEntity) -> None:
        metadata, spec = entity.metadata, entity.spec
        for key in ("title", "description"):
            value = metadata.get(key)
            if value is not None and (
                not isinstance(value, str | int | float) or isinstance(value, bool)
            ):
                self.error(entity, f"metadata.{key}", f"The {key} must be text.")
            entity.row[key] = "" if value is None else str(value).strip()
        entity.extra = {"name": entity.name, "namespace": entity.namespace}
        if entity.api_version != "backstage.io/v1alpha1":
            entity.extra["apiVersion"] = entity.api_version
        unknown_metadata = {
            k: v for k, v in metadata.items() if k not in KNOWN_METADATA[entity.kind]
        }
        unknown_spec = {k: v for k, v in spec.items() if k not in KNOWN_SPEC[entity.kind]}
        if unknown_metadata:
            entity.extra["metadata"] = unknown_metadata
        if unknown_spec:
            entity.extra["spec"] = unknown_spec
        if "owner" in KNOWN_SPEC[entity.kind]:
            entity.owner = self._ref(entity, "spec.owner", spec.get("owner"), "owner")
        if "system" in KNOWN_SPEC[entity.kind]:
            entity.system = self._ref(entity, "spec.system", spec.get("system"), "system")
            if entity.system and entity.system.kind != "system":
                self.warn(entity, "spec.system", f"{entity.system} is not a system; not linked.")
                entity.unresolved["system"].append(str(entity.system))
                entity.system = None

    def _ref(self, entity: PlannedEntity, where: str, value, field_name: str) -> EntityRef | None:
        if value is None or value == "":
            return None
        try:
            return parse_ref(value, field=field_name)
        except RefError as exc:
            self.error(entity, where, str(exc))
            return None

    def _plan_component(self, entity: PlannedEntity) -> None:
        self._common(entity)
        metadata, spec = entity.metadata, entity.spec
        entity.row["type"] = self._choice(entity, "type", ServiceType, ServiceType.SERVICE)
        entity.row["lifecycle"] = self._choice(
            entity, "lifecycle", Lifecycle, Lifecycle.EXPERIMENTAL
        )
        entity.tags = self._tags(entity, metadata.get("tags"))
        entity.row["links"] = self._links(entity, metadata.get("links"))
        entity.row["annotations"] = self._annotations(entity, metadata.get("annotations"))
        for name in RELATION_FIELDS:
            values = spec.get(name) or []
            if not isinstance(values, list):
                self.error(entity, f"spec.{name}", "Expected a list of entity references.")
                continue
            refs = entity.relations.setdefault(name, [])
            for position, value in enumerate(values):
                ref = self._ref(entity, f"spec.{name}[{position}]", value, name)
                if ref is None:
                    continue
                if ref.kind not in RELATION_TARGET_KINDS[name]:
                    kinds = " and ".join(RELATION_TARGET_KINDS[name])
                    self.warn(
                        entity,
                        f"spec.{name}[{position}]",
                        f"Runway records {name} on {kinds} entities only; {ref} is kept in extra.",
                    )
                    entity.unresolved[name].append(str(ref))
                elif ref.key not in {known.key for known in refs}:
                    refs.append(ref)

    def _choice(self, entity: PlannedEntity, key: str, choices, fallback) -> str:
        value = entity.spec.get(key)
        text = str(value).strip().lower() if value is not None else ""
        if text in choices.values:
            return text
        if value is None:
            self.warn(entity, f"spec.{key}", f"No {key} given; imported as {fallback.value!r}.")
            return fallback.value
        self.warn(
            entity,
            f"spec.{key}",
            f"{value!r} is not a Runway {key} ({', '.join(choices.values)}); imported as "
            f"{fallback.value!r}, the original is kept in extra.",
        )
        entity.extra[key] = value
        return fallback.value

    def _tags(self, entity: PlannedEntity, tags) -> list[str]:
        if tags is None:
            return []
        if not isinstance(tags, list):
            self.error(entity, "metadata.tags", "Tags must be a list.")
            return []
        clean = []
        for position, tag in enumerate(tags):
            text = str(tag).strip().lower() if isinstance(tag, str | int | float) else ""
            if not text or len(text) > 63:
                self.warn(entity, f"metadata.tags[{position}]", f"{tag!r} is not a tag; skipped.")
            elif text not in clean:
                clean.append(text)
        return clean

    def _links(self, entity: PlannedEntity, links) -> list[dict]:
        if links is None:
            return []
        if not isinstance(links, list):
            self.error(entity, "metadata.links", "Links must be a list of {url, title}.")
            return []
        clean = []
        for position, link in enumerate(links):
            url = link.get("url") if isinstance(link, dict) else None
            try:
                _http_url(url if isinstance(url, str) else "")
            except ValidationError:
                where = f"metadata.links[{position}]"
                self.warn(entity, where, f"{url!r} is not an http(s) URL; skipped.")
                continue
            title = link.get("title")
            title = str(title).strip() if title not in (None, "") else url  # Backstage allows none
            clean.append({**link, "title": title, "url": url})
        return clean

    def _annotations(self, entity: PlannedEntity, annotations) -> dict:
        if annotations is None:
            return {}
        if not isinstance(annotations, dict):
            self.error(entity, "metadata.annotations", "Annotations must be a mapping.")
            return {}
        clean = {}
        for key, value in annotations.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            clean[key] = "" if value is None else value if isinstance(value, str) else str(value)
        for key, field_name in RUNWAY_ANNOTATIONS.items():
            if key not in clean:
                continue
            value, where = clean.pop(key).strip(), f"metadata.annotations[{key}]"
            if field_name == "tier":
                if value not in {str(choice) for choice in Tier.values}:
                    self.warn(entity, where, f"{value!r} is not a tier (1, 2, 3); ignored.")
                    continue
                value = int(value)
            elif field_name == "strategy" and value not in Strategy.values:
                self.warn(entity, where, f"{value!r} is not a strategy; ignored.")
                continue
            entity.row[field_name] = value
        return clean

    def _plan_group(self, entity: PlannedEntity) -> None:
        self._common(entity)
        profile = entity.spec.get("profile")
        display = profile.get("displayName") if isinstance(profile, dict) else None
        entity.row = {
            "slug": entity.runway,
            "name": str(display or entity.row["title"] or entity.name).strip(),
            "description": entity.row["description"],
        }

    def _plan_system(self, entity: PlannedEntity) -> None:
        self._common(entity)
        domain = self._ref(entity, "spec.domain", entity.spec.get("domain"), "domain")
        entity.row["domain"] = domain.name if domain else ""
        if domain and domain.namespace != DEFAULT_NAMESPACE:
            entity.extra["domain"] = str(domain)

    def _plan_resource(self, entity: PlannedEntity) -> None:
        self._common(entity)
        entity.row["type"] = str(entity.spec.get("type") or "")

    def _plan_api(self, entity: PlannedEntity) -> None:
        self._common(entity)
        entity.row["type"] = str(entity.spec.get("type") or "")
        entity.row["lifecycle"] = str(entity.spec.get("lifecycle") or "")
        definition = entity.spec.get("definition") or ""
        if isinstance(definition, dict) and any(str(key).startswith("$") for key in definition):
            self.warn(
                entity,
                "spec.definition",
                "Placeholders such as $text are not followed; the definition is kept in extra.",
            )
            entity.extra["definition"] = definition
            definition = ""
        elif not isinstance(definition, str):
            definition = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)
        entity.row["definition"] = definition

    def _plan_other(self, entity: PlannedEntity) -> None:
        entity.row = {
            "kind": entity.label,
            "namespace": entity.namespace,
            "name": entity.name,
            "source": entity.doc.source[:500],
            "document": entity.doc.data,
        }
