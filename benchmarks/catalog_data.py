"""The people and the catalog of the benchmark's organisation: teams, users and roles, systems,
10,000 services (busyness drawn with Zipf weights), 50,000 dependencies (popular services are
depended on by many), three environments each, and the audit chain of their creation."""

import json
from bisect import bisect_left
from datetime import timedelta

from benchmarks.skew import DAY, DOMAINS, LANGUAGES, ROLES, TAGS, WORDS, cumulative, zipf


class CatalogData:
    # --- Accounts --------------------------------------------------------------------------

    def load_accounts(self) -> None:
        from apps.accounts.models import ApiToken, Role, RoleGrant, Team, TeamMembership, User

        r, w, s = self.random, self.world, self.sizes
        team_weights = zipf(s.teams, 0.9, 0.35)
        w.teams = [
            {"id": i + 1, "slug": f"team-{i}", "weight": team_weights[i]} for i in range(s.teams)
        ]
        self.copy(
            Team,
            ["id", "slug", "name", "description", "created_at"],
            (
                (t["id"], t["slug"], f"Team {t['slug'][5:]}", "", self.now - 400 * DAY)
                for t in w.teams
            ),
        )
        users, memberships, grants = [], [], []
        personas = {
            "bench-admin": Role.PLATFORM_ADMIN,
            "bench-rm": Role.RELEASE_MANAGER,
            "bench-dev": Role.DEVELOPER,
            "bench-lead": Role.LEADERSHIP,
        }
        for name, role in personas.items():
            uid = len(users) + 1
            users.append((uid, name, f"{name}@bench.example.com"))
            w.personas[name] = uid
            grants.append((uid, role))
        for team in w.teams:
            for _ in range(max(2, round(r.gauss(s.users_per_team, 2)))):
                uid = len(users) + 1
                users.append((uid, f"user{uid}", f"user{uid}@bench.example.com"))
                memberships.append((team["id"], uid))
                w.team_members[team["id"]].append(uid)
                grants.append((uid, Role.DEVELOPER))
        busiest = w.teams[0]["id"]
        memberships.append((busiest, w.personas["bench-dev"]))
        w.team_members[busiest].append(w.personas["bench-dev"])
        w.release_managers = [w.personas["bench-rm"]]
        for uid, *_ in r.sample(users[4:], s.release_managers):
            grants.append((uid, Role.RELEASE_MANAGER))
            w.release_managers.append(uid)
        self.copy(
            User,
            ["id", "username", "email", "password", "first_name", "last_name", "date_joined"],
            (
                (uid, name, email, "!bench-unusable", "", "", self.now - 400 * DAY)
                for uid, name, email in users
            ),
        )
        w.users = [{"id": uid, "username": name, "email": email} for uid, name, email in users]
        self.copy(
            TeamMembership,
            ["team", "user", "joined_at"],
            ((t, u, self.now - 300 * DAY) for t, u in memberships),
        )
        self.copy(RoleGrant, ["user", "role", "granted_at"], ((u, g, self.now) for u, g in grants))
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
            Service,
            System,
            Tag,
        )

        r, w, s = self.random, self.world, self.sizes
        clusters = ["dev-eu", "staging-eu", "prod-eu"]
        w.clusters = {name: i + 1 for i, name in enumerate(clusters)}
        self.copy(
            Cluster,
            ["id", "name", "description"],
            ((i, name, "") for name, i in w.clusters.items()),
        )
        self.copy(
            GoldenPathTemplate,
            ["id", "name", "version", "title", "language", "created_at"],
            [
                (i * 3 + v + 1, name, v + 1, f"{name} v{v + 1}", lang, self.now - 300 * DAY)
                for i, (name, lang) in enumerate(
                    [("python-web", "python"), ("go-service", "go"), ("java-spring", "java")]
                )
                for v in range(3)
            ],
        )
        team_cum = cumulative([t["weight"] for t in w.teams])
        w.systems = list(range(1, s.systems + 1))
        system_owner = {
            sid: w.teams[bisect_left(team_cum, r.random() * team_cum[-1])]["id"]
            for sid in w.systems
        }
        self.copy(
            System,
            ["id", "name", "title", "description", "owner", "domain"],
            (
                (sid, f"system-{sid}", f"System {sid}", "", system_owner[sid], r.choice(DOMAINS))
                for sid in w.systems
            ),
        )
        self.copy(Tag, ["id", "name"], ((i + 1, name) for i, name in enumerate(TAGS)))

        weights = zipf(s.services, 1.05, 0.3)
        order = list(range(s.services))
        r.shuffle(order)  # busyness is not alphabetical
        w.service_weights = [0.0] * s.services
        services, tags = [], []
        team_objects = {t["id"]: Team(id=t["id"], slug=t["slug"]) for t in w.teams}
        for index in range(s.services):
            sid = index + 1
            word, role = WORDS[index % len(WORDS)], ROLES[(index // len(WORDS)) % len(ROLES)]
            owner = w.teams[bisect_left(team_cum, r.random() * team_cum[-1])]["id"]
            domain = r.choice(DOMAINS)
            service = {
                "id": sid,
                "name": f"{word}-{role}-{index}",
                "owner": owner,
                "system": r.choice(w.systems) if r.random() < 0.85 else None,
                "tier": r.choices([1, 2, 3], [0.15, 0.35, 0.5])[0],
                "lifecycle": r.choices(
                    ["production", "experimental", "deprecated"], [0.65, 0.25, 0.1]
                )[0],
                "type": r.choices(
                    ["service", "website", "worker", "cronjob", "library"],
                    [0.6, 0.12, 0.15, 0.08, 0.05],
                )[0],
                "strategy": r.choices(["rolling", "canary", "blue-green"], [0.7, 0.2, 0.1])[0],
                "domain": domain,
                "updated": self.now - timedelta(minutes=r.randrange(0, 400 * 24 * 60)),
            }
            service["title"] = f"{word.title()} {role.replace('-', ' ')} {index}"
            service["description"] = (
                f"The {role} of the {domain} domain: {r.choice(WORDS)} and "
                f"{r.choice(WORDS)} for {r.choice(DOMAINS)}."
            )
            w.service_weights[sid - 1] = weights[order[index]]
            services.append(service)
            for tag in r.sample(range(1, len(TAGS) + 1), r.choice([0, 1, 1, 2, 2, 3])):
                tags.append((sid, tag))
        w.services = services

        def manifests(service: dict) -> str:
            model = Service(
                name=service["name"],
                owner=team_objects[service["owner"]],
                system=System(name=f"system-{service['system']}") if service["system"] else None,
                strategy=service["strategy"],
            )
            return json.dumps(render_manifests(model))

        system_ids = set(w.systems)
        assert all(sv["system"] in system_ids for sv in services if sv["system"])
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
            (
                (
                    sv["id"],
                    sv["name"],
                    sv["title"],
                    sv["description"],
                    sv["owner"],
                    sv["system"],
                    sv["type"],
                    sv["lifecycle"],
                    sv["tier"],
                    r.choice(LANGUAGES),
                    f"https://git.bench.example.com/{sv['domain']}/{sv['name']}",
                    f"https://runbooks.bench.example.com/{sv['name']}" if r.random() < 0.6 else "",
                    f"#oncall-{sv['domain']}" if r.random() < 0.7 else "",
                    sv["strategy"],
                    "{}",
                    r.choice([None, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
                    manifests(sv),
                    "[]",
                    "{}",
                    "{}",
                    sv["updated"] - 200 * DAY,
                    sv["updated"],
                )
                for sv in services
            ),
        )
        self.copy(Service.tags.through, ["service", "tag"], tags)

        # Dependencies: any service may depend on others; popular ones are depended on by many.
        cum = cumulative(zipf(s.services, 1.0, 0.2))
        edges: set[tuple[int, int]] = set()
        while len(edges) < s.dependencies:
            source = r.randrange(1, s.services + 1)
            target = bisect_left(cum, r.random() * cum[-1]) + 1
            if source != target:
                edges.add((source, target))
        self.copy(Dependency, ["source", "target_service"], sorted(edges))

        environments = []
        for sv in services:
            ids = {}
            for order_, (name, kind, cluster) in enumerate(
                (
                    ("dev", "development", "dev-eu"),
                    ("staging", "staging", "staging-eu"),
                    ("production", "production", "prod-eu"),
                ),
                start=1,
            ):
                eid = len(environments) + 1
                replicas = 1 if kind != "production" else r.choice([2, 3, 4])
                environments.append(
                    (eid, sv["id"], name, kind, order_, w.clusters[cluster], sv["name"], replicas)
                )
                ids[name] = eid
            w.environments[sv["id"]] = ids
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
                after={"name": sv["name"], "owner": f"team-{sv['owner'] - 1}"},
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
