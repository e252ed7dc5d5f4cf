"""The organisation the demo and the benchmark are built on, as plain data: teams, people,
golden-path templates, systems, services with their dependencies and environments.

One builder for both. `organisation()` is the demo's: three teams, a person per role, seven
services. At a scale above 0 (the benchmark's `--scale`) a generated organisation grows around
it, to Size.at(scale) in all (scale 1: 500 teams, ~3,000 people, 1,000 systems, 10,000
services, 50,000 dependencies), drawn from the seeded random.Random it is given, so the same
seed and scale give the same organisation. Teams and services are drawn with Zipf weights mixed
with a uniform share (apps.demo.skew): a few teams own many services, and a few services are
busy and depended on by many.

The demo writes the organisation through Runway's services, with their audit rows
(apps.demo.organisation); the benchmark copies it in bulk (benchmarks/catalog_data.py)."""

import random
from bisect import bisect_left
from dataclasses import dataclass, field

from apps.accounts.models import Role
from apps.catalog.models import EnvironmentKind, Lifecycle, ServiceType, Strategy
from apps.catalog.services import DEFAULT_ENVIRONMENTS
from apps.demo.skew import DOMAINS, LANGUAGES, ROLES, TAGS, WORDS, cumulative, zipf

DEMO_PASSWORD = "runway-demo"
# The demo's CI: a service account that reports checks for every demo team. It has no token;
# `manage.py service_account_create` makes one for a real CI (see README).
CI_ACCOUNT = "ci"


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class PersonSpec:
    username: str
    full_name: str = ""
    roles: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()  # slugs
    is_service_account: bool = False
    reports_checks_for: tuple[str, ...] = ()  # a service account's teams (slugs)

    @property
    def email(self) -> str:
        return "" if self.is_service_account else f"{self.username}@runway.example"

    @property
    def first_and_last_name(self) -> tuple[str, str]:
        first, _, last = self.full_name.partition(" ")
        return first, last


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    version: int
    title: str
    language: str
    container_port: int
    strategy: str
    required_gates: tuple[str, ...] = ()
    strategy_params: dict = field(default_factory=dict)
    is_default: bool = False
    description: str = ""


@dataclass(frozen=True)
class SystemSpec:
    name: str
    title: str
    owner: str  # a team's slug
    domain: str = ""


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str
    kind: str
    replicas: int | None  # None: the service's
    namespace: str = ""  # blank: the catalog's default, "<team>-<environment>"
    cluster: str = ""  # a cluster's name; blank: none


# The catalog's default environments, as service_create makes them.
STANDARD_ENVIRONMENTS = tuple(
    EnvironmentSpec(name, kind, None if kind == EnvironmentKind.PRODUCTION else 1)
    for name, kind in DEFAULT_ENVIRONMENTS
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    owner: str  # a team's slug
    system: str | None
    tier: int
    lifecycle: str
    template: tuple[str, int] | None  # (name, version)
    strategy: str
    strategy_params: dict = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()  # service names
    type: str = ServiceType.SERVICE
    description: str = ""
    language: str = ""  # blank: the template's
    tags: tuple[str, ...] = ()
    image: str = ""
    repository_url: str = ""
    runbook_url: str = ""
    on_call: str = ""
    autoscale_max: int | None = None
    pdb_min_available: int | None = None
    environments: tuple[EnvironmentSpec, ...] = STANDARD_ENVIRONMENTS


@dataclass(frozen=True)
class Organisation:
    teams: list[TeamSpec]
    people: list[PersonSpec]
    templates: list[TemplateSpec]
    systems: list[SystemSpec]
    services: list[ServiceSpec]  # the demo's first
    resources: list[tuple[str, str]]  # (name, type)
    clusters: list[str]
    busyness: dict[str, float]  # service name → its share of the deployments; empty: even


# --- The demo's organisation --------------------------------------------------------------------

TEAMS = [
    TeamSpec("payments", "Payments", "Checkout, billing and refunds."),
    TeamSpec("search", "Search", "Search and recommendations."),
    TeamSpec("platform", "Platform", "The paved road: clusters, pipelines and Runway itself."),
]

PEOPLE = [
    PersonSpec("dev", "Dana Developer", (Role.DEVELOPER,), ("payments", "search")),
    PersonSpec("dev2", "Devon Second", (Role.DEVELOPER,), ("payments",)),
    PersonSpec("rm", "Riley Release-Manager", (Role.RELEASE_MANAGER,), ("platform",)),
    PersonSpec("rm2", "Robin Approver", (Role.RELEASE_MANAGER,)),
    PersonSpec("lead", "Lee Leadership", (Role.LEADERSHIP,)),
    PersonSpec("admin", "Ada Admin", (Role.PLATFORM_ADMIN, Role.DEVELOPER), ("platform",)),
    PersonSpec(
        CI_ACCOUNT,
        is_service_account=True,
        reports_checks_for=tuple(team.slug for team in TEAMS),
    ),
]

# Verification gates, with the analysis templates apps.demo.rollouts_to_dev creates (they ask
# the cluster simulator); the other services verify nothing after deploying.
VERIFIED_CANARY = {
    "steps": [
        {"set_weight": 20},
        {"analysis": {"template": "success-rate"}},
        {"set_weight": 50},
        {"pause": {"seconds": 60}},
        {"set_weight": 100},
    ]
}

TEMPLATES = [
    TemplateSpec("python-web", 1, "Python web service", "python", 8000, "rolling"),
    TemplateSpec("python-web", 2, "Python web service", "python", 8000, "rolling", ("tests",)),
    # The golden path, the wizard's default: a canary verified by an analysis. Its services
    # pass the scorecard's Silver rules given a runbook and an on-call, which the wizard asks for.
    TemplateSpec(
        "python-web", 3, "Python web service", "python", 8080, "canary",
        ("tests", "security-scan"), VERIFIED_CANARY, is_default=True,
        description="Canary in steps of 20% and 50%, verified by the success-rate analysis.",
    ),
    TemplateSpec("go-grpc", 1, "Go gRPC service", "go", 9090, "blue-green", ("tests",)),
]  # fmt: skip

SYSTEMS = [
    SystemSpec("checkout", "Checkout", "payments"),
    SystemSpec("discovery", "Search and discovery", "search"),
]

# name, title, team, system, tier, lifecycle, template (name, version), strategy, depends on
SERVICES = [
    ("payments-api", "Payments API", "payments", "checkout", 1, "production", ("python-web", 3),
     "canary", ["ledger", "fraud-check"]),
    ("ledger", "Ledger", "payments", "checkout", 1, "production", ("go-grpc", 1), "blue-green", []),
    ("fraud-check", "Fraud check", "payments", "checkout", 2, "production", ("python-web", 2),
     "rolling", ["ledger"]),
    ("checkout-web", "Checkout website", "payments", "checkout", 2, "production",
     ("python-web", 3), "canary", ["payments-api", "search-api"]),
    ("search-api", "Search API", "search", "discovery", 2, "production", ("go-grpc", 1),
     "blue-green", ["search-indexer"]),
    ("search-indexer", "Search indexer", "search", "discovery", 3, "production",
     ("python-web", 1), "rolling", []),
    ("recommendations", "Recommendations", "search", "discovery", 3, "experimental",
     ("python-web", 3), "rolling", ["search-api"]),
]  # fmt: skip

STRATEGY_PARAMS: dict[str, dict] = {
    "payments-api": VERIFIED_CANARY,
    "checkout-web": VERIFIED_CANARY,
    "ledger": {"pre_promotion_analysis": "http-smoke"},
    "search-api": {"post_promotion_analysis": "success-rate"},
}

RESOURCES = [("payments-db", "database")]


def _demo_service(name, title, team, system, tier, lifecycle, template, strategy, depends_on):
    return ServiceSpec(
        name=name,
        title=title,
        owner=team,
        system=system,
        tier=tier,
        lifecycle=lifecycle,
        template=template,
        strategy=strategy,
        strategy_params=STRATEGY_PARAMS.get(name, {}),
        depends_on=tuple(depends_on),
        tags=(team, template[0].split("-")[0]),
        image=f"registry.example.com/{team}/{name}:1.0.0",
        repository_url=f"https://git.example.com/{team}/{name}",
        runbook_url=f"https://runbooks.example.com/{name}" if tier <= 2 else "",
        on_call=f"#{team}-oncall",
        autoscale_max=6 if tier == 1 else None,
        pdb_min_available=1 if tier == 1 else None,
    )


def organisation(*, scale: float = 0.0, rng: random.Random | None = None) -> Organisation:
    """The demo's organisation, and around it at a scale above 0 a generated one drawn from
    `rng`."""
    services = [_demo_service(*spec) for spec in SERVICES]
    demo = Organisation(
        teams=list(TEAMS),
        people=list(PEOPLE),
        templates=list(TEMPLATES),
        systems=list(SYSTEMS),
        services=services,
        resources=list(RESOURCES),
        clusters=[],
        busyness={},
    )
    if scale <= 0:
        return demo
    if rng is None:
        raise ValueError("a generated organisation needs a seeded random.Random")
    return _grown(demo, rng, Size.at(scale))


# --- The generated organisation around it -------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """The whole organisation's size, the demo's part included."""

    teams: int
    systems: int
    services: int
    dependencies: int
    people_per_team: int = 6
    release_managers: int = 40

    @classmethod
    def at(cls, scale: float) -> "Size":
        def n(value: int, minimum: int) -> int:
            return max(minimum, round(value * scale))

        return cls(
            teams=n(500, 8),
            systems=n(1_000, 10),
            services=n(10_000, 60),
            dependencies=n(50_000, 200),
        )


# (name, kind, cluster) of every generated service; a namespace of its own in each cluster.
CLUSTER_ENVIRONMENTS = [(name, kind, f"{name}-eu") for name, kind in DEFAULT_ENVIRONMENTS]


def _grown(demo: Organisation, r: random.Random, size: Size) -> Organisation:
    team_count = size.teams - len(demo.teams)
    teams = [TeamSpec(f"team-{i}", f"Team {i}") for i in range(team_count)]
    team_cum = cumulative(zipf(team_count, 0.9, 0.35))

    def weighted_team() -> str:
        return teams[bisect_left(team_cum, r.random() * team_cum[-1])].slug

    people = _people(r, teams, size)
    systems = [
        SystemSpec(f"system-{n}", f"System {n}", weighted_team(), r.choice(DOMAINS))
        for n in range(1, size.systems - len(demo.systems) + 1)
    ]
    drawn = []  # (name, title, role, owner, domain)
    for index in range(size.services - len(demo.services)):
        word, role = WORDS[index % len(WORDS)], ROLES[(index // len(WORDS)) % len(ROLES)]
        title = f"{word.title()} {role.replace('-', ' ')} {index}"
        drawn.append((f"{word}-{role}-{index}", title, role, weighted_team(), r.choice(DOMAINS)))
    depends_on = _dependencies(r, demo, [name for name, *_ in drawn], size.dependencies)
    templates = [None, *((t.name, t.version) for t in demo.templates)]
    generated = [
        _service(r, name, title, role, owner, domain, systems, templates, depends_on.get(name, []))
        for name, title, role, owner, domain in drawn
    ]
    services = demo.services + generated
    weights = zipf(len(services), 1.05, 0.3)
    ranks = list(range(len(services)))
    r.shuffle(ranks)  # busyness is not alphabetical
    return Organisation(
        teams=demo.teams + teams,
        people=demo.people + people,
        templates=demo.templates,
        systems=demo.systems + systems,
        services=services,
        resources=demo.resources,
        clusters=sorted({cluster for *_, cluster in CLUSTER_ENVIRONMENTS}),
        busyness={s.name: weights[rank] for s, rank in zip(services, ranks, strict=True)},
    )


def _people(r: random.Random, teams: list[TeamSpec], size: Size) -> list[PersonSpec]:
    """A few developers in every team, some of them release managers too."""
    memberships = [
        team.slug for team in teams for _ in range(max(2, round(r.gauss(size.people_per_team, 2))))
    ]
    usernames = [f"user{n}" for n in range(1, len(memberships) + 1)]
    managers = set(r.sample(usernames, min(size.release_managers, len(usernames))))
    return [
        PersonSpec(
            username,
            roles=(Role.DEVELOPER, Role.RELEASE_MANAGER)
            if username in managers
            else (Role.DEVELOPER,),
            teams=(slug,),
        )
        for username, slug in zip(usernames, memberships, strict=True)
    ]


def _dependencies(
    r: random.Random, demo: Organisation, names: list[str], total: int
) -> dict[str, list[str]]:
    """What each generated service depends on: popular services, by many. As in a real
    catalog, a service depends only on services more widely used than itself (those earlier in
    popularity), so the graph has no cycle and a train of any of them has an order. The demo's
    services keep their own dependencies, which count towards the total."""
    everyone = [s.name for s in demo.services] + names
    rank = {name: index for index, name in enumerate(everyone)}
    target_cum = cumulative(zipf(len(everyone), 1.0, 0.2))
    edges = {(s.name, d) for s in demo.services for d in s.depends_on}
    depends_on: dict[str, list[str]] = {}
    while len(edges) < total:
        source = r.choice(names)
        target = everyone[bisect_left(target_cum, r.random() * target_cum[-1])]
        if rank[target] < rank[source] and (source, target) not in edges:
            edges.add((source, target))
            depends_on.setdefault(source, []).append(target)
    return depends_on


def _service(r, name, title, role, owner, domain, systems, templates, depends_on) -> ServiceSpec:
    return ServiceSpec(
        name=name,
        title=title,
        description=f"The {role} of the {domain} domain: {r.choice(WORDS)} and "
        f"{r.choice(WORDS)} for {r.choice(DOMAINS)}.",
        owner=owner,
        system=r.choice(systems).name if r.random() < 0.85 else None,
        tier=r.choices([1, 2, 3], [0.15, 0.35, 0.5])[0],
        lifecycle=r.choices(
            [Lifecycle.PRODUCTION, Lifecycle.EXPERIMENTAL, Lifecycle.DEPRECATED], [0.65, 0.25, 0.1]
        )[0],
        type=r.choices(
            [
                ServiceType.SERVICE,
                ServiceType.WEBSITE,
                ServiceType.WORKER,
                ServiceType.CRONJOB,
                ServiceType.LIBRARY,
            ],
            [0.6, 0.12, 0.15, 0.08, 0.05],
        )[0],
        strategy=r.choices(
            [Strategy.ROLLING, Strategy.CANARY, Strategy.BLUE_GREEN], [0.7, 0.2, 0.1]
        )[0],
        depends_on=tuple(depends_on),
        language=r.choice(LANGUAGES),
        tags=tuple(r.sample(TAGS, r.choice([0, 1, 1, 2, 2, 3]))),
        template=r.choice(templates),
        repository_url=f"https://git.example.com/{domain}/{name}",
        runbook_url=f"https://runbooks.example.com/{name}" if r.random() < 0.6 else "",
        on_call=f"#oncall-{domain}" if r.random() < 0.7 else "",
        environments=tuple(
            EnvironmentSpec(
                env,
                kind,
                r.choice([2, 3, 4]) if kind == EnvironmentKind.PRODUCTION else 1,
                namespace=name,
                cluster=cluster,
            )
            for env, kind, cluster in CLUSTER_ENVIRONMENTS
        ),
    )
