"""Hand-built data for the scorecard tests: a service that passes every rule, and the pieces
(roll-up days, emergency releases, policies, templates) to make it fail one rule at a time.

NOW is Thursday 27 March 2025, noon UTC (TIME_ZONE is UTC in tests): the last four 7-day
periods end on 27, 20, 13 and 6 March; the 90 days start on 28 December 2024."""

from datetime import UTC, date, datetime, timedelta

from apps.catalog.models import Environment, EnvironmentKind, GoldenPathTemplate, Strategy
from apps.insights.models import DailyDeploymentRollup
from apps.insights.scorecards.evaluation import evaluate_services
from apps.releases.models import ApprovalPolicy, ChangeType, Release, ReleaseState
from tests.factories import ServiceFactory, UserFactory

NOW = datetime(2025, 3, 27, 12, tzinfo=UTC)
TODAY = date(2025, 3, 27)
CANARY_WITH_ANALYSIS = {
    "steps": [{"set_weight": 20}, {"analysis": {"template": "success-rate"}}, {"set_weight": 100}]
}


def template(name: str = "python-web", version: int = 3) -> GoldenPathTemplate:
    found, _ = GoldenPathTemplate.objects.get_or_create(
        name=name, version=version, defaults={"title": f"{name} v{version}"}
    )
    return found


def production_policy(**fields) -> ApprovalPolicy:
    fields.setdefault("name", "Production")
    fields.setdefault("environment_kind", EnvironmentKind.PRODUCTION)
    return ApprovalPolicy.objects.create(**fields)


def environments(service, *kinds):
    for order, kind in enumerate(kinds, start=1):
        Environment.objects.create(
            service=service,
            name=f"{kind[:4]}-{order}",
            kind=kind,
            order=order,
            namespace=f"{service.name}-{order}",
        )
    return service


def rollup(service, day: date, deployments: int = 1, failures: int = 0, production: bool = True):
    return DailyDeploymentRollup.objects.create(
        service=service,
        day=day,
        is_production=production,
        deployments=deployments,
        failures=failures,
    )


def deploys_every_week(service, failures: int = 0):
    """One production deployment in each of the last four 7-day periods."""
    for weeks_ago in range(4):
        rollup(service, TODAY - timedelta(days=7 * weeks_ago + 2), failures=failures)


def exemplary_service(name: str, owner, **fields):
    """Passes every rule once an active production policy exists and the owner has members."""
    fields.setdefault("runbook_url", f"https://wiki.example.com/{name}")
    fields.setdefault("on_call", "#oncall")
    fields.setdefault("strategy", Strategy.CANARY)
    fields.setdefault("strategy_params", CANARY_WITH_ANALYSIS)
    fields.setdefault("template", template())
    service = ServiceFactory(name=name, owner=owner, **fields)
    environments(service, EnvironmentKind.STAGING, EnvironmentKind.PRODUCTION)
    deploys_every_week(service)
    production_release(service, verified=True)
    return service


def production_release(service, *, verified: bool, started: datetime | None = None) -> Release:
    """A production release that started (by default a day before NOW), its artifact verified
    at the start or not."""
    started = started or NOW - timedelta(days=1)
    return Release.objects.create(
        service=service,
        environment=service.environments.get(kind=EnvironmentKind.PRODUCTION),
        version=f"registry/{service.name}:{started:%Y%m%d%H%M}",
        title="A change",
        planned_start=started,
        planned_end=started + timedelta(hours=1),
        state=ReleaseState.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(minutes=30),
        artifact_verified=verified,
        requester=UserFactory(username="releaser"),
    )


def emergency_awaiting_review(service, requester, **fields) -> Release:
    environment = service.environments.get(kind=EnvironmentKind.PRODUCTION)
    fields.setdefault("state", ReleaseState.SUCCEEDED)
    fields.setdefault("retrospective_due_at", NOW + timedelta(days=2))
    return Release.objects.create(
        service=service,
        environment=environment,
        version="registry/app:hotfix",
        title="Hotfix",
        change_type=ChangeType.EMERGENCY,
        justification="Checkout is down.",
        planned_start=NOW - timedelta(hours=2),
        planned_end=NOW - timedelta(hours=1),
        requester=requester,
        **fields,
    )


def results_for(service, now: datetime = NOW) -> dict[str, bool]:
    (evaluation,) = evaluate_services(service_ids=[service.pk], now=now)
    return evaluation.results


def failing(service, now: datetime = NOW) -> set[str]:
    return {key for key, passed in results_for(service, now).items() if not passed}
