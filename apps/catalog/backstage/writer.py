"""Write a planned Backstage import: resolve each entity's references against what exists, check
who may change what, and write every kind with a fixed number of bulk statements however many
entities there are. Rows are upserted by name; relations are resolved against what then exists
(so forward references work) and replaced for the imported services.

A service comes in as the catalog's services make one: with its generated manifests
(manifests.checked_manifests) and, when it has none yet, the default environments
(services.environment_rows), built in memory and written in bulk.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError

from apps.accounts import permissions
from apps.accounts.models import Team, User
from apps.catalog.backstage.exporter import RUNWAY_ANNOTATIONS
from apps.catalog.backstage.planner import KNOWN_SPEC, OTHER, RELATION_FIELDS, Plan, PlannedEntity
from apps.catalog.backstage.refs import EntityRef, dns_label_problem, runway_name
from apps.catalog.backstage.report import ImportReport
from apps.catalog.manifests import checked_manifests
from apps.catalog.models import (
    Api,
    ApiRelation,
    Dependency,
    Environment,
    ImportedEntity,
    Resource,
    Service,
    System,
    Tag,
)
from apps.catalog.services import environment_rows

UPDATE_FIELDS = {
    "system": ["title", "description", "owner", "domain", "extra"],
    "resource": ["type", "title", "description", "owner", "system", "extra"],
    "api": ["type", "title", "description", "lifecycle", "owner", "system", "definition", "extra"],
    "component": [
        "title", "description", "owner", "system", "type", "lifecycle", "links", "annotations",
        "extra", "tier", "strategy", "language", "on_call", "runbook_url", "repository_url",
        "manifests", "updated_at",
    ],
}  # fmt: skip
# An existing service keeps its other fields (runtime, delivery, Runway's own) as they are; its
# manifests are made again from the whole row, as service_update makes them.
SERVICE_COLUMNS = tuple(
    field.attname
    for field in Service._meta.concrete_fields
    if field.name not in ("id", "manifests", "created_at", "updated_at")
)
BATCH = 1000


def write_import(plan: Plan, *, actor: User | None, admin: bool, report: ImportReport) -> None:
    """Write what `plan` says into the catalog, recording what was created and updated, and the
    issues found on the way, in `report`. The caller holds the transaction."""
    _Writer(actor=actor, admin=admin, report=report).write(plan)


class _Writer:
    def __init__(self, *, actor: User | None, admin: bool, report: ImportReport):
        self.actor = actor
        self.admin = admin
        self.report = report

    def error(self, entity: PlannedEntity, where: str, message: str) -> None:
        self.report.error(entity, where, message)

    def warn(self, entity: PlannedEntity, where: str, message: str) -> None:
        self.report.warn(entity, where, message)

    def write(self, plan: Plan) -> None:
        teams = self._write_teams(plan.live())
        systems = self._write_systems(plan.live(), teams)
        self._write_owned(plan.live("resource"), Resource, teams, systems)
        self._write_owned(plan.live("api"), Api, teams, systems)
        services, pending = self._write_services(plan.live("component"), teams, systems)
        self._write_environments(services)
        self._write_relations(plan.live("component"), pending)
        self._write_others(plan.live(OTHER))

    # --- Owners and systems: who may write what -------------------------------------------------

    def _owner_slug(
        self, entity: PlannedEntity, teams: dict, declared: set[str], new: dict[str, str]
    ):
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

    def _may_change(self, entity: PlannedEntity, existing: dict | None) -> bool:
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

    def _system_name(self, entity: PlannedEntity, known: set[str], new: dict[str, EntityRef]):
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

    def _clean(self, entity: PlannedEntity, instance, *, exclude: list[str]) -> bool:
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.error(entity, _backstage_field(entity.kind, name), " ".join(messages))
        return not entity.failed

    def _write_teams(self, entities: list[PlannedEntity]) -> dict[str, dict]:
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
                self.report.record("Group", team.slug, team.slug in teams)
        declared, new = {team.slug for team in rows}, dict[str, str]()
        for entity in owned:
            entity.row["owner"] = self._owner_slug(entity, teams, declared, new)
        created = [Team(slug=slug, name=name) for slug, name in new.items()]
        for team in created:
            self.report.record("Group", team.slug, False)
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

    def _write_systems(self, entities: list[PlannedEntity], teams: dict) -> dict[str, int]:
        declared = [entity for entity in entities if entity.kind == "system"]
        linked = [entity for entity in entities if entity.system is not None]
        names = {entity.runway for entity in declared}
        names |= {runway_name(e.system.name) for e in entities if e.system is not None}
        existing = _lookup(System.objects, "name", names, "id", "extra")
        rows = []
        for entity in declared:
            previous = existing.get(entity.runway)
            values = dict(entity.row)
            values["owner_id"] = _id(teams, values.pop("owner", None))
            system = System(name=entity.runway, extra=_merge_extra(previous, entity), **values)
            if self._clean(entity, system, exclude=["owner"]):
                rows.append(system)
                self.report.record("System", system.name, previous is not None)
        known, new = existing.keys() | {system.name for system in rows}, dict[str, EntityRef]()
        for entity in linked:
            entity.row["system"] = self._system_name(entity, known, new)
        created = [
            System(name=name, extra={"backstage": {"name": ref.name, "namespace": ref.namespace}})
            for name, ref in new.items()
        ]
        for system in created:
            self.report.record("System", system.name, False)
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

    def _row_values(self, entity: PlannedEntity, teams: dict, systems: dict) -> dict:
        values = dict(entity.row)
        values["owner_id"] = _id(teams, values.pop("owner", None))
        values["system_id"] = systems.get(values.pop("system", None) or "")
        return values

    def _write_owned(
        self, entities: list[PlannedEntity], model, teams: dict, systems: dict
    ) -> None:
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
                self.report.record(entity.label, row.name, previous is not None)
        if rows:
            model.objects.bulk_create(
                rows,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["name"],
                update_fields=UPDATE_FIELDS[entities[0].kind],
            )

    def _write_services(
        self, entities: list[PlannedEntity], teams: dict, systems: dict
    ) -> tuple[list[Service], list]:
        """Upsert the services with their manifests; returns the services written, with their
        ids, and their resolved relations as (source, relation, kind, target) names, to be
        turned into rows once every service has an id."""
        if not entities:
            return [], []
        targets: dict[str, set[str]] = defaultdict(set)
        for entity in entities:
            for refs in entity.relations.values():
                for ref in refs:
                    targets[ref.kind].add(runway_name(ref.name))
        names = {entity.runway for entity in entities}
        existing = _lookup(Service.objects, "name", names, "id", "owner__slug", *SERVICE_COLUMNS)
        others = _lookup(Service.objects, "name", targets["component"] - names, "id", "owner_id")
        # The manifests name the team and the system: in memory, so rendering asks nothing.
        team_of = {row["id"]: Team(pk=row["id"], slug=slug) for slug, row in teams.items()}
        system_of = {pk: System(pk=pk, name=name) for name, pk in systems.items()}
        rows = {}
        for entity in entities:
            previous = existing.get(entity.runway)
            if not self._may_change(entity, previous):
                continue
            values = {k: previous[k] for k in SERVICE_COLUMNS} if previous else {}
            values.update(self._row_values(entity, teams, systems))
            values["name"] = entity.runway
            service = Service(**values)
            owner = team_of.get(service.owner_id)
            if owner is not None:
                service.owner = owner
            service.system = system_of.get(service.system_id)
            if self._clean(
                entity, service, exclude=["owner", "system", "template"]
            ) and self._generate_manifests(entity, service):
                rows[entity.runway] = (entity, service, previous)

        # Which targets exist: in the database, or written by this import.
        owners = {name: values["owner_id"] for name, values in (existing | others).items()}
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
            self.report.record("Component", service.name, previous is not None)
        services = [service for _, service, _ in rows.values()]
        if services:
            # PostgreSQL and SQLite return the ids, of the updated rows too.
            Service.objects.bulk_create(
                services,
                batch_size=BATCH,
                update_conflicts=True,
                unique_fields=["name"],
                update_fields=UPDATE_FIELDS["component"],
            )
        return services, pending

    def _generate_manifests(self, entity: PlannedEntity, service: Service) -> bool:
        service.manifests, problems = checked_manifests(service)
        for problem in problems:
            self.error(entity, "", f"Its Kubernetes manifests would be invalid: {problem}")
        return not problems

    def _write_environments(self, services: list[Service]) -> None:
        """The default environments for each imported service that has none: every new one,
        and any imported before imports made them."""
        ids = [service.pk for service in services]
        equipped: set[int] = set()
        for start in range(0, len(ids), 5000):
            rows = Environment.objects.filter(service_id__in=ids[start : start + 5000])
            equipped.update(rows.values_list("service_id", flat=True).distinct())
        missing = [service for service in services if service.pk not in equipped]
        Environment.objects.bulk_create(
            [row for service in missing for row in environment_rows(service)], batch_size=BATCH
        )

    def _relation_ok(self, entity: PlannedEntity, relation: str, ref, target: str, found) -> bool:
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

    def _write_relations(self, entities: list[PlannedEntity], pending: list) -> None:
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

    def _write_others(self, entities: list[PlannedEntity]) -> None:
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
            self.report.record(row.kind, f"{row.namespace}/{row.name}", key in existing)
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


def _merge_extra(previous: dict | None, entity: PlannedEntity) -> dict:
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
