"""The people and the catalog of the benchmark's organisation: apps.demo.world's organisation at
the run's scale (the demo's, with a generated one around it), copied in bulk with ids of their
own; API tokens for the demo's sign-ins; and the audit chain of the services' creation."""

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import Model

    from benchmarks.config import Config
    from benchmarks.load import World

DAY = timedelta(days=1)

# The demo's people the benchmark signs in as, each with an API token.
PERSONAS = ("admin", "rm", "dev", "lead")


class CatalogData:
    """The people and catalog part of benchmarks.load.Loader, which provides these:"""

    cfg: "Config"
    random: random.Random
    now: datetime
    world: "World"

    if TYPE_CHECKING:

        def copy(self, model: type[Model], fields: list[str], rows: Iterable) -> int: ...

    # --- Accounts --------------------------------------------------------------------------

    def load_accounts(self) -> None:
        from apps.accounts.models import ApiToken, Role, RoleGrant, Team, TeamMembership, User
        from apps.demo.world import organisation

        w = self.world
        org = w.organisation = organisation(scale=self.cfg.scale, rng=self.random)
        w.teams = [{"id": n, "slug": team.slug} for n, team in enumerate(org.teams, start=1)]
        team_ids = {team["slug"]: team["id"] for team in w.teams}
        self.copy(
            Team,
            ["id", "slug", "name", "description", "created_at"],
            (
                (team_ids[t.slug], t.slug, t.name, t.description, self.now - 400 * DAY)
                for t in org.teams
            ),
        )
        users, memberships, grants, reports = [], [], [], []
        for uid, person in enumerate(org.people, start=1):
            first, last = person.first_and_last_name
            admin = Role.PLATFORM_ADMIN in person.roles
            users.append(
                (
                    uid,
                    person.username,
                    person.email,
                    "!bench-unusable",
                    first,
                    last,
                    admin,
                    admin,
                    person.is_service_account,
                    self.now - 400 * DAY,
                )
            )
            grants += [(uid, role) for role in person.roles]
            for slug in person.teams:
                memberships.append((team_ids[slug], uid))
                w.team_members[team_ids[slug]].append(uid)
            reports += [(uid, team_ids[slug]) for slug in person.reports_checks_for]
            if Role.RELEASE_MANAGER in person.roles:
                w.release_managers.append(uid)
        w.users = [{"id": row[0], "username": row[1], "email": row[2]} for row in users]
        w.personas = {u["username"]: u["id"] for u in w.users if u["username"] in PERSONAS}
        self.copy(
            User,
            [
                "id",
                "username",
                "email",
                "password",
                "first_name",
                "last_name",
                "is_staff",
                "is_superuser",
                "is_service_account",
                "date_joined",
            ],
            users,
        )
        self.copy(
            TeamMembership,
            ["team", "user", "joined_at"],
            ((t, u, self.now - 300 * DAY) for t, u in memberships),
        )
        self.copy(RoleGrant, ["user", "role", "granted_at"], ((u, g, self.now) for u, g in grants))
        self.copy(User.reports_checks_for.through, ["user", "team"], reports)
        tokens = []
        for name, uid in w.personas.items():
            key = f"{ApiToken.PREFIX}bench-{name}-{self.cfg.seed}"
            w.tokens[name] = key
            tokens.append((uid, "benchmark", ApiToken.hash_key(key), key[:12], self.now))
        self.copy(ApiToken, ["user", "name", "key_hash", "key_hint", "created_at"], tokens)

    # --- Catalog ---------------------------------------------------------------------------

    def load_catalog(self) -> None:
        from apps.accounts.models import Team
        from apps.catalog.manifests import render_manifests
        from apps.catalog.models import (
            Cluster,
            Dependency,
            Environment,
            GoldenPathTemplate,
            Resource,
            Service,
            System,
            Tag,
        )
        from apps.catalog.services import default_namespace

        r, w, org = self.random, self.world, self.world.organisation
        team_ids = {team["slug"]: team["id"] for team in w.teams}
        w.clusters = {name: n for n, name in enumerate(org.clusters, start=1)}
        self.copy(
            Cluster,
            ["id", "name", "description"],
            ((n, name, "") for name, n in w.clusters.items()),
        )
        templates = {(t.name, t.version): (n, t) for n, t in enumerate(org.templates, start=1)}
        self.copy(
            GoldenPathTemplate,
            [
                "id",
                "name",
                "version",
                "title",
                "language",
                "container_port",
                "strategy",
                "strategy_params",
                "is_default",
                "required_gates",
                "created_at",
            ],
            [
                (
                    n,
                    t.name,
                    t.version,
                    t.title,
                    t.language,
                    t.container_port,
                    t.strategy,
                    json.dumps(t.strategy_params),
                    t.is_default,
                    json.dumps(list(t.required_gates)),
                    self.now - 300 * DAY,
                )
                for n, t in templates.values()
            ],
        )
        system_ids = {system.name: n for n, system in enumerate(org.systems, start=1)}
        self.copy(
            System,
            ["id", "name", "title", "description", "owner", "domain"],
            (
                (system_ids[s.name], s.name, s.title, "", team_ids[s.owner], s.domain)
                for s in org.systems
            ),
        )
        self.copy(Resource, ["name", "type"], org.resources)
        tag_ids = {
            name: n
            for n, name in enumerate(sorted({tag for s in org.services for tag in s.tags}), 1)
        }
        self.copy(Tag, ["id", "name"], ((n, name) for name, n in tag_ids.items()))

        service_ids = {spec.name: n for n, spec in enumerate(org.services, start=1)}
        even = 1 / len(org.services)
        w.service_weights = [org.busyness.get(spec.name, even) for spec in org.services]
        w.services = [
            {"id": service_ids[s.name], "name": s.name, "owner": team_ids[s.owner], "tier": s.tier}
            for s in org.services
        ]
        team_objects = {t["id"]: Team(id=t["id"], slug=t["slug"]) for t in w.teams}

        def manifests(spec) -> str:
            model = Service(
                name=spec.name,
                owner=team_objects[team_ids[spec.owner]],
                system=System(name=spec.system) if spec.system else None,
                strategy=spec.strategy,
                strategy_params=spec.strategy_params,
                image=spec.image,
            )
            return json.dumps(render_manifests(model))

        def row(spec) -> tuple:
            template_id, template = templates[spec.template] if spec.template else (None, None)
            updated = self.now - timedelta(minutes=r.randrange(0, 400 * 24 * 60))
            return (
                service_ids[spec.name],
                spec.name,
                spec.title,
                spec.description,
                team_ids[spec.owner],
                system_ids[spec.system] if spec.system else None,
                spec.type,
                spec.lifecycle,
                spec.tier,
                spec.language or (template.language if template else ""),
                spec.repository_url,
                spec.runbook_url,
                spec.on_call,
                spec.image,
                spec.autoscale_max,
                spec.pdb_min_available,
                spec.strategy,
                json.dumps(spec.strategy_params),
                template_id,
                manifests(spec),
                "[]",
                "{}",
                "{}",
                updated - 200 * DAY,
                updated,
            )

        self.copy(
            Service,
            [
                "id",
                "name",
                "title",
                "description",
                "owner",
                "system",
                "type",
                "lifecycle",
                "tier",
                "language",
                "repository_url",
                "runbook_url",
                "on_call",
                "image",
                "autoscale_max",
                "pdb_min_available",
                "strategy",
                "strategy_params",
                "template",
                "manifests",
                "links",
                "annotations",
                "extra",
                "created_at",
                "updated_at",
            ],
            (row(spec) for spec in org.services),
        )
        self.copy(
            Service.tags.through,
            ["service", "tag"],
            ((service_ids[s.name], tag_ids[tag]) for s in org.services for tag in s.tags),
        )
        self.copy(
            Dependency,
            ["source", "target_service"],
            sorted(
                (service_ids[s.name], service_ids[target])
                for s in org.services
                for target in s.depends_on
            ),
        )

        default_replicas = Service._meta.get_field("replicas").default
        environments: list[tuple] = []
        for spec in org.services:
            ids = {}
            for order, env in enumerate(spec.environments, start=1):
                eid = len(environments) + 1
                environments.append(
                    (
                        eid,
                        service_ids[spec.name],
                        env.name,
                        env.kind,
                        order,
                        w.clusters[env.cluster] if env.cluster else None,
                        env.namespace or default_namespace(spec.owner, env.name),
                        env.replicas or default_replicas,
                    )
                )
                ids[env.name] = eid
            w.environments[service_ids[spec.name]] = ids
        self.copy(
            Environment,
            ["id", "service", "name", "kind", "order", "cluster", "namespace", "replicas"],
            environments,
        )

    # --- Audit -----------------------------------------------------------------------------

    def load_audit(self) -> None:
        """One sealed chain: every service's creation, by its team's first member."""
        from apps.audit.chain import GENESIS, seal_mac, signing_key_id
        from apps.audit.models import AuditEvent, AuditSeal

        w = self.world
        usernames = {u["id"]: u["username"] for u in w.users}
        slugs = {t["id"]: t["slug"] for t in w.teams}
        key_id, previous = signing_key_id(), GENESIS
        events, seals = [], []
        for n, sv in enumerate(w.services, start=1):
            actor = w.team_members[sv["owner"]][0]
            event = AuditEvent(
                occurred_at=self.now - 400 * DAY + timedelta(seconds=n),
                actor_id=actor,
                actor_label=usernames[actor],
                action="catalog.service.create",
                target_type="catalog.service",
                target_id=str(sv["id"]),
                target_label=sv["name"],
                before=None,
                after={"name": sv["name"], "owner": slugs[sv["owner"]]},
                request_id="",
                ip=None,
            )
            mac = seal_mac(event, seq=n, prev_mac=previous, key_id=key_id)
            events.append(
                (
                    n,
                    event.occurred_at,
                    actor,
                    event.actor_label,
                    event.action,
                    event.target_type,
                    event.target_id,
                    event.target_label,
                    None,
                    json.dumps(event.after),
                    "",
                    None,
                )
            )
            seals.append((n, n, key_id, previous, mac, event.occurred_at))
            previous = mac
        self.copy(
            AuditEvent,
            [
                "id",
                "occurred_at",
                "actor",
                "actor_label",
                "action",
                "target_type",
                "target_id",
                "target_label",
                "before",
                "after",
                "request_id",
                "ip",
            ],
            events,
        )
        self.copy(AuditSeal, ["seq", "event", "key_id", "prev_mac", "mac", "sealed_at"], seals)
