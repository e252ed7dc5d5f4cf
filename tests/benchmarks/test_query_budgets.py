"""Every page and API the benchmark measures runs the same number of queries with a few rows
as with many: the counts are the budgets, the timings live in benchmarks/."""

from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog.models import Dependency, Environment, EnvironmentKind, Service, Tag
from apps.insights.models import CommitFact, DailyDeploymentRollup, DeploymentFact, IncidentFact
from apps.releases.models import Approval, Release, ReleaseCommit, ReleaseState
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

_numbers = count(1)


def queries(client, path: str, **headers) -> int:
    client.get(path, **headers)  # caches (content types, the session) settle first
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **headers)
    assert response.status_code == 200, response.content[:500]
    return len(captured)


def add_services(owner, n: int, *, around=None) -> list[Service]:
    """n production services of `owner` that the catalog search finds, each tagged, with three
    environments, depending on `around` and depended on by it."""
    tag, _ = Tag.objects.get_or_create(name="payments")
    services = Service.objects.bulk_create(
        Service(
            name=f"bulk-{next(_numbers)}",
            title="Bulk service",
            description="Part of payments",
            owner=owner,
            lifecycle="production",
            type="service",
        )
        for _ in range(n)
    )
    Service.tags.through.objects.bulk_create(
        Service.tags.through(service_id=s.pk, tag_id=tag.pk) for s in services
    )
    Environment.objects.bulk_create(
        Environment(service=s, name=name, kind=kind, order=order, namespace=s.name)
        for s in services
        for order, (name, kind) in enumerate(
            [("dev", "development"), ("staging", "staging"), ("prod", "production")], start=1
        )
    )
    if around is not None:
        Dependency.objects.bulk_create(
            [Dependency(source=around, target_service=s) for s in services]
            + [Dependency(source=s, target_service=around) for s in services]
        )
    return services


def add_releases(service, environment, requester, n: int, *, state, start) -> list[Release]:
    releases = Release.objects.bulk_create(
        Release(
            service=service,
            environment=environment,
            version=f"registry/{service.name}:{i}",
            title=f"Release {i}",
            planned_start=start + timedelta(minutes=30 * i),
            planned_end=start + timedelta(minutes=30 * i + 20),
            requester=requester,
            state=state,
            submitted_at=start - timedelta(days=1),
        )
        for i in range(n)
    )
    ReleaseCommit.objects.bulk_create(
        ReleaseCommit(
            release=r, sha=f"{r.pk:040x}", author="someone@example.com", committed_at=start
        )
        for r in releases
    )
    return releases


# --- Catalog --------------------------------------------------------------------------------

CATALOG_QUERY = "q=payments&lifecycle=production&type=service&ordering=-updated"


def test_the_catalog_page_keeps_its_budget(client_as, developer, payments, web):
    add_services(payments, 3, around=web)
    client = client_as(developer)
    few = queries(client, f"/catalog/?{CATALOG_QUERY}")
    add_services(payments, 120, around=web)
    assert queries(client, f"/catalog/?{CATALOG_QUERY}") == few


def test_the_catalog_api_and_its_facets_keep_their_budgets(api_client, developer, payments):
    add_services(payments, 3)
    api_client.force_login(developer)
    few_list = queries(api_client, f"/api/v1/services/?{CATALOG_QUERY}")
    few_facets = queries(api_client, f"/api/v1/services/facets/?{CATALOG_QUERY}")
    add_services(payments, 120)
    assert queries(api_client, f"/api/v1/services/?{CATALOG_QUERY}") == few_list
    assert queries(api_client, f"/api/v1/services/facets/?{CATALOG_QUERY}") == few_facets


def test_the_service_page_keeps_its_budget(client_as, developer, payments, web, prod):
    # The graph is walked level by level, three levels each way: a few rows already reach the
    # third level, so more rows make the levels wider, not the walk longer.
    level = [web]
    for _ in range(3):
        level = add_services(payments, 1, around=level[0])
    add_releases(web, prod, developer, 2, state=ReleaseState.SUCCEEDED, start=timezone.now())
    client = client_as(developer)
    few = queries(client, "/catalog/services/web/")
    neighbours = add_services(payments, 60, around=web)
    # and a second level: each neighbour depends on a few more
    for service in neighbours[:10]:
        add_services(payments, 3, around=service)
    add_releases(web, prod, developer, 40, state=ReleaseState.SUCCEEDED, start=timezone.now())
    assert queries(client, "/catalog/services/web/") == few


# --- Releases -------------------------------------------------------------------------------


def test_the_calendar_month_view_of_a_team_keeps_its_budget(client_as, developer, web, prod):
    start = timezone.now().replace(day=2, hour=9, minute=0, second=0, microsecond=0)
    add_releases(web, prod, developer, 2, state=ReleaseState.SCHEDULED, start=start)
    client = client_as(developer)
    path = "/releases/calendar/?view=month&team=payments"
    few = queries(client, path)
    add_releases(web, prod, developer, 80, state=ReleaseState.SCHEDULED, start=start)
    add_releases(web, prod, developer, 40, state=ReleaseState.SUCCEEDED, start=start)
    assert queries(client, path) == few


def test_the_approver_inbox_keeps_its_budget(
    client_as, developer, release_manager, payments, web, prod, prod_policy
):
    soon = timezone.now() + timedelta(hours=2)
    others = add_services(payments, 30, around=web)

    def pending(n):
        made = add_releases(
            web, prod, developer, n, state=ReleaseState.PENDING_APPROVAL, start=soon
        )
        for service in others[:n]:
            made += add_releases(
                service,
                service.environments.get(kind=EnvironmentKind.PRODUCTION),
                developer,
                1,
                state=ReleaseState.PENDING_APPROVAL,
                start=soon,
            )
        Approval.objects.bulk_create(
            Approval(release=r, approver=developer, decision="approve") for r in made[:n]
        )
        add_releases(
            web, prod, developer, n, state=ReleaseState.SUCCEEDED, start=soon - timedelta(days=3)
        )
        return made

    pending(2)
    client = client_as(release_manager)
    few = queries(client, "/releases/inbox/")
    pending(25)
    assert queries(client, "/releases/inbox/") == few


# --- DORA -----------------------------------------------------------------------------------


def add_facts(service, n: int) -> None:
    now = timezone.now()
    facts = DeploymentFact.objects.bulk_create(
        DeploymentFact(
            service=service,
            environment="prod",
            is_production=True,
            version=f"v{i}",
            source="generic",
            external_id=f"d-{next(_numbers)}",
            started_at=now - timedelta(hours=i + 1),
            finished_at=now - timedelta(hours=i),
            result="succeeded" if i % 5 else "rolled_back",
            rolled_back_at=None if i % 5 else now - timedelta(hours=i) + timedelta(minutes=10),
            recovery_seconds=None if i % 5 else 4200,
            is_failure=not i % 5,
        )
        for i in range(n)
    )
    CommitFact.objects.bulk_create(
        CommitFact(
            deployment=fact,
            sha=f"{fact.pk:040x}",
            committed_at=fact.finished_at - timedelta(hours=3),
            lead_time_seconds=3 * 3600,
        )
        for fact in facts
    )
    IncidentFact.objects.bulk_create(
        IncidentFact(
            service=service,
            source="generic",
            external_id=f"i-{next(_numbers)}",
            opened_at=now - timedelta(hours=i + 2),
            resolved_at=now - timedelta(hours=i + 1),
            recovery_seconds=3600,
        )
        for i in range(max(1, n // 10))
    )
    for fact in facts:
        DailyDeploymentRollup.objects.update_or_create(
            service=service,
            day=timezone.localdate(fact.finished_at),
            is_production=True,
            defaults={"deployments": 1},
        )


@pytest.mark.parametrize(
    "query", ["scope=org", "scope=team&name=payments", "scope=service&name=web"]
)
def test_the_dora_report_keeps_its_budget(api_client, leadership, web, query):
    add_facts(web, 3)
    api_client.force_login(leadership)
    path = f"/api/v1/reports/dora?{query}"
    few = queries(api_client, path)
    add_facts(web, 150)
    add_facts(ServiceFactory(name="other", owner=web.owner), 50)
    assert queries(api_client, path) == few
