"""Demo catalog: golden-path templates, systems and services with dependencies."""

from apps.accounts.models import Team, User
from apps.catalog import services
from apps.catalog.models import GoldenPathTemplate, Resource, Service, System

TEMPLATES = [
    ("python-web", 1, "Python web service", "python", 8000, "rolling", []),
    ("python-web", 2, "Python web service", "python", 8000, "rolling", ["tests"]),
    ("python-web", 3, "Python web service", "python", 8080, "canary", ["tests", "security-scan"]),
    ("go-grpc", 1, "Go gRPC service", "go", 9090, "blue-green", ["tests"]),
]

SYSTEMS = [
    ("checkout", "Checkout", "payments"),
    ("discovery", "Search and discovery", "search"),
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

# Verification gates, with the analysis templates the rollouts demo creates (they ask the
# cluster simulator); the other services verify nothing after deploying.
VERIFIED_CANARY = {
    "steps": [
        {"set_weight": 20},
        {"analysis": {"template": "success-rate"}},
        {"set_weight": 50},
        {"pause": {"seconds": 60}},
        {"set_weight": 100},
    ]
}
STRATEGY_PARAMS = {
    "payments-api": VERIFIED_CANARY,
    "checkout-web": VERIFIED_CANARY,
    "ledger": {"pre_promotion_analysis": "http-smoke"},
    "search-api": {"post_promotion_analysis": "success-rate"},
}


def load() -> list[str]:
    created: list[str] = []
    admin = User.objects.get(username="admin")
    for name, version, title, language, port, strategy, gates in TEMPLATES:
        _, was_created = GoldenPathTemplate.objects.get_or_create(
            name=name,
            version=version,
            defaults={
                "title": title,
                "language": language,
                "container_port": port,
                "strategy": strategy,
                "required_gates": gates,
            },
        )
        if was_created:
            created.append(f"template {name} v{version}")
    for name, title, team in SYSTEMS:
        if not System.objects.filter(name=name).exists():
            services.system_create(
                actor=admin, name=name, title=title, owner=Team.objects.get(slug=team)
            )
            created.append(f"system {name}")
    Resource.objects.get_or_create(name="payments-db", defaults={"type": "database"})
    # Services that others depend on first, so dependencies resolve.
    for spec in sorted(SERVICES, key=lambda spec: len(spec[8])):
        name, title, team, system, tier, lifecycle, (tpl, version), strategy, _ = spec
        if Service.objects.filter(name=name).exists():
            continue
        services.service_create(
            actor=admin,
            name=name,
            title=title,
            owner=Team.objects.get(slug=team),
            system=System.objects.get(name=system),
            tier=tier,
            lifecycle=lifecycle,
            template=GoldenPathTemplate.objects.get(name=tpl, version=version),
            strategy=strategy,
            strategy_params=STRATEGY_PARAMS.get(name, {}),
            image=f"registry.example.com/{team}/{name}:1.0.0",
            repository_url=f"https://git.example.com/{team}/{name}",
            runbook_url=f"https://runbooks.example.com/{name}" if tier <= 2 else "",
            on_call=f"#{team}-oncall",
            tags=[team, tpl.split("-")[0]],
            autoscale_max=6 if tier == 1 else None,
            pdb_min_available=1 if tier == 1 else None,
        )
        created.append(f"service {name}")
    for name, *_, depends_on in SERVICES:
        service = Service.objects.get(name=name)
        if depends_on and not service.dependencies.exists():
            services.service_dependencies_set(
                actor=admin,
                service=service,
                services=list(Service.objects.filter(name__in=depends_on)),
            )
    return created
