"""Import Backstage catalog descriptors into the catalog.

    report = catalog_import(actor=user, sources=[("catalog-info.yaml", text)])
    report = catalog_import(actor=None, sources=collect_from_paths(["./catalog"]), as_system=True)

Component -> Service, Group -> Team, System -> System, Resource -> Resource, API -> Api; every
other kind (Domain, User, Location, Template...) is kept verbatim as an ImportedEntity.

The import is planned in memory, then written in one transaction with a fixed number of bulk
statements however many entities there are: rows are upserted by name, relations are resolved
against what then exists (so forward references work) and replaced for the imported services.
One audit event records the whole import.

An entity that cannot be imported is reported with its source, its document (1-based: the first
document of a file is 1) and the Backstage field at fault; the others still import. A source
that is not YAML at all (too big, unparseable, a YAML bomb) refuses the whole import before
anything is written: loader.SourceError.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.audit.services import audit_record
from apps.catalog.backstage.exporter import RUNWAY_ANNOTATIONS
from apps.catalog.backstage.loader import (
    Issue,
    LoadedDocument,
    SourceList,
    collect_from_paths,
    load_documents,
)
from apps.catalog.backstage.refs import (
    DEFAULT_NAMESPACE,
    EntityRef,
    RefError,
    dns_label_problem,
    parse_ref,
    runway_name,
)
from apps.catalog.models import (
    Api,
    ApiRelation,
    Dependency,
    ImportedEntity,
    Lifecycle,
    Resource,
    Service,
    ServiceType,
    Strategy,
    System,
    Tag,
    Tier,
)

__all__ = ["ImportReport", "Issue", "SourceList", "catalog_import", "collect_from_paths"]

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
UPDATE_FIELDS = {
    "system": ["title", "description", "owner", "domain", "extra"],
    "resource": ["type", "title", "description", "owner", "system", "extra"],
    "api": ["type", "title", "description", "lifecycle", "owner", "system", "definition", "extra"],
    "component": [
        "title", "description", "owner", "system", "type", "lifecycle", "links", "annotations",
        "extra", "tier", "strategy", "language", "on_call", "runbook_url", "repository_url",
        "updated_at",
    ],
}  # fmt: skip
# What an existing service keeps unless a runway.dev/* annotation says otherwise.
KEPT_UNLESS_ANNOTATED = ("tier", "strategy", "language", "on_call", "runbook_url", "repository_url")
NAMES_IN_AUDIT = 200
BATCH = 1000
_http_url = URLValidator(schemes=["http", "https"])


@dataclass
class ImportReport:
    import_id: str = ""
    sources: list[str] = field(default_factory=list)
    created: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    updated: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    relations: dict[str, int] = field(default_factory=dict)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    skipped_documents: int = 0  # empty documents

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {
            kind: {
                "created": len(self.created.get(kind, ())),
                "updated": len(self.updated.get(kind, ())),
            }
            for kind in sorted(set(self.created) | set(self.updated))
        }

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "import_id": self.import_id,
            "ok": self.ok,
            "document_numbering": "1-based",
            "sources": list(self.sources),
            "counts": self.counts,
            "created": {kind: list(names) for kind, names in sorted(self.created.items())},
            "updated": {kind: list(names) for kind, names in sorted(self.updated.items())},
            "relations": dict(self.relations),
            "errors": [issue._asdict() for issue in self.errors],
            "warnings": [issue._asdict() for issue in self.warnings],
            "skipped_documents": self.skipped_documents,
        }


@dataclass(eq=False)
class _Entity:
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


def catalog_import(
    *, actor, sources: list[tuple[str, str]], as_system: bool = False
) -> ImportReport:
    """Import Backstage YAML sources, (label, text) pairs; see the module docstring.

    Platform admins import anything. Developers import Components, Resources and APIs owned by
    teams they act for; everything else is reported per entity. Others may not import at all
    (PermissionDenied). `as_system=True` is Runway itself: the import_backstage command.
    """
    if not as_system:
        permissions.require(
            permissions.can_create_services(actor),
            "Only developers in a team and platform admins import catalog files.",
        )
    report = ImportReport(import_id=uuid.uuid4().hex[:12], sources=[label for label, _ in sources])
    report.warnings.extend(getattr(sources, "warnings", ()))
    documents = [doc for label, text in sources for doc in load_documents(label, text)]
    admin = as_system or permissions.is_platform_admin(actor)
    with transaction.atomic():
        _Import(actor=actor, admin=admin, report=report).execute(documents)
        audit_record(
            actor=actor,
            action="catalog.import",
            target_type="catalog.import",
            target_id=report.import_id,
            target_label=", ".join(report.sources)[:255],
            after={
                "sources": report.sources[:NAMES_IN_AUDIT],
                "counts": report.counts,
                "created": {k: v[:NAMES_IN_AUDIT] for k, v in sorted(report.created.items())},
                "updated": {k: v[:NAMES_IN_AUDIT] for k, v in sorted(report.updated.items())},
                "relations": report.relations,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
            },
        )
    order = {label: position for position, label in enumerate(report.sources)}
    for issues in (report.errors, report.warnings):
        issues.sort(key=lambda issue: (order.get(issue.source, -1), issue.document or 0))
    return report


class _Import:
    def __init__(self, *, actor, admin: bool, report: ImportReport):
        self.actor = actor
        self.admin = admin
        self.report = report

    def error(self, entity: _Entity, where: str, message: str) -> None:
        entity.failed = True
        self.report.errors.append(Issue(entity.doc.source, entity.doc.index, where, message))

    def warn(self, entity: _Entity, where: str, message: str) -> None:
        self.report.warnings.append(Issue(entity.doc.source, entity.doc.index, where, message))

    def execute(self, documents: list[LoadedDocument]) -> None:
        entities = self._classify(documents)
        planners = {
            "component": self._plan_component,
            "group": self._plan_group,
            "system": self._plan_system,
            "resource": self._plan_resource,
            "api": self._plan_api,
        }
        for entity in entities:
            planners.get(entity.kind, self._plan_other)(entity)

        def live(kind=None):
            return [e for e in entities if not e.failed and (kind is None or e.kind == kind)]

        teams = self._write_teams(live())
        systems = self._write_systems(live(), teams)
        self._write_owned(live("resource"), Resource, teams, systems)
        self._write_owned(live("api"), Api, teams, systems)
        pending = self._write_services(live("component"), teams, systems)
        self._write_relations(live("component"), pending)
        self._write_others(live(OTHER))

    # --- Reading documents --------------------------------------------------------------------

    def _classify(self, documents: list[LoadedDocument]) -> list[_Entity]:
        entities: list[_Entity] = []
        seen: dict[tuple, _Entity] = {}
        for doc in documents:
            entity = self._entity(doc)
            if entity is None or entity.failed:
                continue
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

    def _entity(self, doc: LoadedDocument) -> _Entity | None:
        data, entity = doc.data, _Entity(doc)
        if data is None:
            self.report.skipped_documents += 1
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
        problems = [
            ("kind", not isinstance(kind, str) or not kind.strip(), "Every entity needs a kind."),
            ("apiVersion", not isinstance(api_version, str), "Every entity needs an apiVersion."),
            ("metadata", not isinstance(metadata, dict), "Every entity needs metadata."),
            ("metadata.name", not isinstance(name, str) or not name.strip(), "A name is needed."),
            ("metadata.namespace", not isinstance(namespace, str), "Namespaces are text."),
            ("spec", spec is not None and not isinstance(spec, dict), "A spec is a mapping."),
        ]
        for where, failed, message in problems:
            if failed:
                return self.error(entity, where, message)
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

    # --- Planning: what each document becomes, before any write ---------------------------------

    def _common(self, entity: _Entity) -> None:
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

    def _ref(self, entity: _Entity, where: str, value, field_name: str) -> EntityRef | None:
        if value is None or value == "":
            return None
        try:
            return parse_ref(value, field=field_name)
        except RefError as exc:
            self.error(entity, where, str(exc))
            return None

    def _plan_component(self, entity: _Entity) -> None:
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

    def _choice(self, entity: _Entity, key: str, choices, fallback) -> str:
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

    def _tags(self, entity: _Entity, tags) -> list[str]:
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

    def _links(self, entity: _Entity, links) -> list[dict]:
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

    def _annotations(self, entity: _Entity, annotations) -> dict:
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

    def _plan_group(self, entity: _Entity) -> None:
        self._common(entity)
        profile = entity.spec.get("profile")
        display = profile.get("displayName") if isinstance(profile, dict) else None
        entity.row = {
            "slug": entity.runway,
            "name": str(display or entity.row["title"] or entity.name).strip(),
            "description": entity.row["description"],
        }

    def _plan_system(self, entity: _Entity) -> None:
        self._common(entity)
        domain = self._ref(entity, "spec.domain", entity.spec.get("domain"), "domain")
        entity.row["domain"] = domain.name if domain else ""
        if domain and domain.namespace != DEFAULT_NAMESPACE:
            entity.extra["domain"] = str(domain)

    def _plan_resource(self, entity: _Entity) -> None:
        self._common(entity)
        entity.row["type"] = str(entity.spec.get("type") or "")

    def _plan_api(self, entity: _Entity) -> None:
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

    def _plan_other(self, entity: _Entity) -> None:
        entity.row = {
            "kind": entity.label,
            "namespace": entity.namespace,
            "name": entity.name,
            "source": entity.doc.source[:500],
            "document": entity.doc.data,
        }

    # --- Owners and systems: who may write what -------------------------------------------------

    def _owner_slug(self, entity: _Entity, teams: dict, declared: set[str], new: dict[str, str]):
        """The owning team's slug, checked against the actor; new teams are collected in `new`."""
        ref = entity.owner
        if ref is None:
            if entity.kind == "component":
                self.error(entity, "spec.owner", "A component needs an owner: the team running it.")
            elif not self.admin:
                self.error(entity, "spec.owner", "Name a team you act for as the owner.")
            return None
        if ref.kind != "group":
            message = f"Runway owners are teams: {ref} is not a group."
            if entity.kind == "component" or not self.admin:
                self.error(entity, "spec.owner", message)
            else:
                self.warn(entity, "spec.owner", f"{message} Imported without an owner.")
                entity.unresolved["owner"].append(str(ref))
            return None
        problem = dns_label_problem(ref.name)
        if problem:
            self.error(entity, "spec.owner", f"{ref}: {problem}")
            return None
        slug = runway_name(ref.name)
        if not self.admin and not (
            slug in teams and permissions.can_act_for_team(self.actor, teams[slug]["id"])
        ):
            self.error(entity, "spec.owner", f"You are not a member of team {slug}.")
            return None
        if slug not in teams and slug not in declared and slug not in new:
            new[slug] = ref.name
            self.warn(entity, "spec.owner", f"Created team {slug} from owner reference {ref}.")
        return slug

    def _may_change(self, entity: _Entity, existing: dict | None) -> bool:
        """A developer may update an existing row only if its current team is theirs too."""
        if existing is None or self.admin:
            return True
        if permissions.can_act_for_team(self.actor, existing["owner_id"]):
            return True
        team = existing["owner__slug"] or "(none)"
        self.error(
            entity,
            "spec.owner",
            f"{entity.label} {entity.runway} already exists and belongs to team {team}; "
            f"you are not a member of team {team}.",
        )
        return False

    def _system_name(self, entity: _Entity, known: set[str], new: dict[str, EntityRef]):
        ref = entity.system
        if ref is None:
            return None
        name, problem = runway_name(ref.name), dns_label_problem(ref.name)
        if problem:
            self.warn(entity, "spec.system", f"{ref}: {problem} Not linked.")
        elif name in known or name in new:
            return name
        elif self.admin:
            new[name] = ref
            self.warn(entity, "spec.system", f"Created system {name} from system reference {ref}.")
            return name
        else:
            self.warn(
                entity,
                "spec.system",
                f"System {name} does not exist and only platform admins create systems; "
                "not linked, kept in extra.",
            )
        entity.unresolved["system"].append(str(ref))
        return None

    # --- Writing ------------------------------------------------------------------------------

    def _record(self, label: str, name: str, existed: bool) -> None:
        (self.report.updated if existed else self.report.created)[label].append(name)

    def _clean(self, entity: _Entity, instance, *, exclude: list[str]) -> bool:
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.error(entity, _backstage_field(entity.kind, name), " ".join(messages))
        return not entity.failed

    def _write_teams(self, entities: list[_Entity]) -> dict[str, dict]:
        groups = [entity for entity in entities if entity.kind == "group"]
        owned = [entity for entity in entities if "owner" in KNOWN_SPEC.get(entity.kind, ())]
        slugs = {entity.runway for entity in groups}
        slugs |= {runway_name(e.owner.name) for e in owned if e.owner and e.owner.kind == "group"}
        teams = _lookup(Team.objects, "slug", slugs, "id")
        rows = []
        for entity in groups:
            team = Team(**entity.row)
            if self._clean(entity, team, exclude=[]):
                rows.append(team)
                self._record("Group", team.slug, team.slug in teams)
        declared, new = {team.slug for team in rows}, {}
        for entity in owned:
            entity.row["owner"] = self._owner_slug(entity, teams, declared, new)
        created = [Team(slug=slug, name=name) for slug, name in new.items()]
        for team in created:
            self._record("Group", team.slug, False)
        if rows:
            Team.objects.bulk_create(
                rows,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["slug"],
                update_fields=["name", "description"],
            )
        if created:
            Team.objects.bulk_create(created, batch_size=BATCH, ignore_conflicts=True)
        return _lookup(Team.objects, "slug", slugs, "id") if rows or created else teams

    def _write_systems(self, entities: list[_Entity], teams: dict) -> dict[str, int]:
        declared = [entity for entity in entities if entity.kind == "system"]
        linked = [entity for entity in entities if entity.system is not None]
        names = {entity.runway for entity in declared}
        names |= {runway_name(entity.system.name) for entity in linked}
        existing = _lookup(System.objects, "name", names, "id", "extra")
        rows = []
        for entity in declared:
            previous = existing.get(entity.runway)
            values = dict(entity.row)
            values["owner_id"] = _id(teams, values.pop("owner", None))
            system = System(name=entity.runway, extra=_merge_extra(previous, entity), **values)
            if self._clean(entity, system, exclude=["owner"]):
                rows.append(system)
                self._record("System", system.name, previous is not None)
        known, new = existing.keys() | {system.name for system in rows}, {}
        for entity in linked:
            entity.row["system"] = self._system_name(entity, known, new)
        created = [
            System(name=name, extra={"backstage": {"name": ref.name, "namespace": ref.namespace}})
            for name, ref in new.items()
        ]
        for system in created:
            self._record("System", system.name, False)
        if rows:
            System.objects.bulk_create(
                rows,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["name"],
                update_fields=UPDATE_FIELDS["system"],
            )
        if created:
            System.objects.bulk_create(created, batch_size=BATCH, ignore_conflicts=True)
        if rows or created:
            existing = _lookup(System.objects, "name", names, "id")
        return {name: values["id"] for name, values in existing.items()}

    def _row_values(self, entity: _Entity, teams: dict, systems: dict) -> dict:
        values = dict(entity.row)
        values["owner_id"] = _id(teams, values.pop("owner", None))
        values["system_id"] = systems.get(values.pop("system", None) or "")
        return values

    def _write_owned(self, entities: list[_Entity], model, teams: dict, systems: dict) -> None:
        """Resources and APIs: upserted by name with their owner and system."""
        if not entities:
            return
        names = {entity.runway for entity in entities}
        existing = _lookup(model.objects, "name", names, "id", "owner_id", "owner__slug", "extra")
        rows = []
        for entity in entities:
            previous = existing.get(entity.runway)
            if not self._may_change(entity, previous):
                continue
            values = self._row_values(entity, teams, systems)
            row = model(name=entity.runway, extra=_merge_extra(previous, entity), **values)
            if self._clean(entity, row, exclude=["owner", "system"]):
                rows.append(row)
                self._record(entity.label, row.name, previous is not None)
        if rows:
            model.objects.bulk_create(
                rows,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["name"],
                update_fields=UPDATE_FIELDS[entities[0].kind],
            )

    def _write_services(self, entities: list[_Entity], teams: dict, systems: dict) -> list:
        """Upsert the services; returns their resolved relations as (source, relation, kind,
        target) names, to be turned into rows once every service has an id."""
        if not entities:
            return []
        targets: dict[str, set[str]] = defaultdict(set)
        for entity in entities:
            for refs in entity.relations.values():
                for ref in refs:
                    targets[ref.kind].add(runway_name(ref.name))
        names = {entity.runway for entity in entities}
        existing = _lookup(
            Service.objects, "name", names | targets["component"],
            "id", "owner_id", "owner__slug", "extra", *KEPT_UNLESS_ANNOTATED,
        )  # fmt: skip
        rows = {}
        for entity in entities:
            previous = existing.get(entity.runway)
            if not self._may_change(entity, previous):
                continue
            values = {k: previous[k] for k in KEPT_UNLESS_ANNOTATED} if previous else {}
            values.update(self._row_values(entity, teams, systems))
            service = Service(name=entity.runway, **values)
            if self._clean(entity, service, exclude=["owner", "system", "template"]):
                rows[entity.runway] = (entity, service, previous)

        # Which targets exist: in the database, or written by this import.
        owners = {name: values["owner_id"] for name, values in existing.items()}
        owners |= {name: service.owner_id for name, (_, service, _) in rows.items()}
        found = {
            "component": owners,
            "resource": _lookup(Resource.objects, "name", targets["resource"], "id"),
            "api": _lookup(Api.objects, "name", targets["api"], "id"),
        }
        pending = []
        for entity, service, previous in rows.values():
            for relation, refs in entity.relations.items():
                for ref in refs:
                    target = runway_name(ref.name)
                    if self._relation_ok(entity, relation, ref, target, found):
                        pending.append((entity.runway, relation, ref.kind, target))
            service.extra = _merge_extra(previous, entity)
            self._record("Component", service.name, previous is not None)
        if rows:
            Service.objects.bulk_create(
                [service for _, service, _ in rows.values()],
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["name"],
                update_fields=UPDATE_FIELDS["component"],
            )
        return pending

    def _relation_ok(self, entity: _Entity, relation: str, ref, target: str, found) -> bool:
        where = f"spec.{relation}"
        if target not in found[ref.kind]:
            message = f"{ref} does not exist in Runway or in this import; kept in extra."
        elif ref.kind == "component" and target == entity.runway:
            self.warn(entity, where, "A component does not depend on itself; skipped.")
            return False
        elif relation == "dependencyOf" and not (
            self.admin or permissions.can_act_for_team(self.actor, found["component"][target])
        ):
            message = (
                f"{ref} belongs to another team, which records its own dependencies; kept in extra."
            )
        else:
            return True
        self.warn(entity, where, message)
        entity.unresolved[relation].append(str(ref))
        return False

    def _write_relations(self, entities: list[_Entity], pending: list) -> None:
        """Tags, dependencies and API relations of the imported services: made exactly what the
        files declare, writing only the difference."""
        if not entities:
            return
        names = {entity.runway for entity in entities}
        wanted = defaultdict(set)
        for _source, _relation, kind, target in pending:
            wanted[kind].add(target)
        services = _lookup(Service.objects, "name", names | wanted["component"], "id")
        resources = _lookup(Resource.objects, "name", wanted["resource"], "id")
        apis = _lookup(Api.objects, "name", wanted["api"], "id")
        tables = {"component": services, "resource": resources, "api": apis}
        ids = [services[name]["id"] for name in sorted(names)]

        dependencies, api_relations = set(), set()
        counts = dict.fromkeys(RELATION_FIELDS, 0)
        for source, relation, kind, target in pending:
            me, other = services[source]["id"], tables[kind][target]["id"]
            if relation == "dependsOn":
                dependencies.add((me, other, None) if kind == "component" else (me, None, other))
            elif relation == "dependencyOf":
                dependencies.add((other, me, None))
            else:
                api_kind = "provides" if relation == "providesApis" else "consumes"
                api_relations.add((me, other, api_kind))
            counts[relation] += 1
        self.report.relations = counts

        tag_names = sorted({tag for entity in entities for tag in entity.tags})
        if tag_names:
            Tag.objects.bulk_create([Tag(name=name) for name in tag_names], ignore_conflicts=True)
        tags = _lookup(Tag.objects, "name", tag_names, "id")
        tagged = {
            (services[entity.runway]["id"], tags[tag]["id"])
            for entity in entities
            for tag in entity.tags
        }
        through = Service.tags.through
        _replace(through, ids, "service_id", ("service_id", "tag_id"), tagged)
        # A dependencyOf row belongs to the other service: added if missing, never removed here.
        imported = set(ids)
        ours = {row for row in dependencies if row[0] in imported}
        columns = ("source_id", "target_service_id", "target_resource_id")
        _replace(Dependency, ids, "source_id", columns, ours, also_add=dependencies - ours)
        _replace(ApiRelation, ids, "service_id", ("service_id", "api_id", "kind"), api_relations)

    def _write_others(self, entities: list[_Entity]) -> None:
        if not entities:
            return
        rows = [ImportedEntity(**entity.row) for entity in entities]
        existing = set(
            ImportedEntity.objects.filter(
                kind__in={row.kind for row in rows}, name__in={row.name for row in rows}
            ).values_list("kind", "namespace", "name")
        )
        for row in rows:
            key = (row.kind, row.namespace, row.name)
            self._record(row.kind, f"{row.namespace}/{row.name}", key in existing)
        ImportedEntity.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["kind", "namespace", "name"],
            update_fields=["source", "document", "imported_at"],
        )


def _lookup(manager, key: str, values: Iterable[str], *fields: str) -> dict[str, dict]:
    """Rows whose `key` is among `values`, by that key; in chunks so SQLite copes too."""
    values = sorted(set(values))
    found: dict[str, dict] = {}
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        for row in manager.filter(**{f"{key}__in": chunk}).values(key, *fields):
            found[row[key]] = row
    return found


def _replace(model, owners: list[int], owner_field: str, columns, wanted: set, also_add=()):
    """Make `model`'s rows of `owners` exactly `wanted` (tuples of `columns`): delete the rows
    no longer wanted, insert the missing ones (and `also_add`, which may exist already)."""
    existing: dict[tuple, int] = {}
    for start in range(0, len(owners), 5000):
        rows = model.objects.filter(**{f"{owner_field}__in": owners[start : start + 5000]})
        for pk, *values in rows.values_list("pk", *columns):
            existing[tuple(values)] = pk
    stale = [pk for values, pk in existing.items() if values not in wanted]
    for start in range(0, len(stale), 5000):
        model.objects.filter(pk__in=stale[start : start + 5000]).delete()
    missing = sorted((wanted - existing.keys()) | set(also_add), key=str)
    if missing:
        model.objects.bulk_create(
            [model(**dict(zip(columns, values, strict=True))) for values in missing],
            batch_size=BATCH,
            ignore_conflicts=True,
        )


def _id(rows: dict[str, dict], key: str | None) -> int | None:
    return rows[key]["id"] if key in rows else None


def _merge_extra(previous: dict | None, entity: _Entity) -> dict:
    """The row's extra with this import's extra["backstage"]; other keys are left alone."""
    extra = dict((previous or {}).get("extra") or {})
    backstage = dict(entity.extra)
    unresolved = {key: sorted(set(refs)) for key, refs in sorted(entity.unresolved.items()) if refs}
    if unresolved:
        backstage["unresolved"] = unresolved
    extra["backstage"] = backstage
    return extra


_FIELD_PATHS = {
    "name": "metadata.name",
    "slug": "metadata.name",
    "title": "metadata.title",
    "description": "metadata.description",
    "links": "metadata.links",
    "annotations": "metadata.annotations",
    "type": "spec.type",
    "lifecycle": "spec.lifecycle",
    "domain": "spec.domain",
    "definition": "spec.definition",
}


def _backstage_field(kind: str, model_field: str) -> str:
    if kind == "group" and model_field == "name":
        return "spec.profile.displayName"
    for annotation, name in RUNWAY_ANNOTATIONS.items():
        if name == model_field:
            return f"metadata.annotations[{annotation}]"
    return _FIELD_PATHS.get(model_field, model_field)
