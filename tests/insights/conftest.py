"""The reports app's fixtures: services of two teams with staging and production, webhook
sources of every kind (with their plain-text secrets), signing helpers, a quick way to record
deployments, and `march`: a hand-built month of them. Personas come from tests/conftest.py:
dana (payments developer), sam (search developer), ada (platform admin), olly (outsider)."""

import hashlib
import hmac
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from apps.catalog.models import Environment, EnvironmentKind
from apps.insights import services
from apps.insights.models import CommitFact, DeploymentFact, FactSource, IncidentFact, SourceKind
from tests.factories import ServiceFactory

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
DEPLOYMENTS_URL = "/api/v1/events/deployments"
INCIDENTS_URL = "/api/v1/events/incidents"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def with_environments(service, *names_and_kinds):
    for order, (name, kind) in enumerate(names_and_kinds, start=1):
        Environment.objects.create(
            service=service, name=name, kind=kind, order=order, namespace=f"{service.name}-{order}"
        )
    return service


STAGING_AND_PRODUCTION = (
    ("staging", EnvironmentKind.STAGING),
    ("production", EnvironmentKind.PRODUCTION),
)


@pytest.fixture
def checkout(payments):
    service = ServiceFactory(
        name="checkout", owner=payments, repository_url="https://github.com/acme/checkout"
    )
    return with_environments(service, *STAGING_AND_PRODUCTION)


@pytest.fixture
def payments_api(payments):
    service = ServiceFactory(name="payments-api", owner=payments)
    return with_environments(service, *STAGING_AND_PRODUCTION)


@pytest.fixture
def finder(search):
    service = ServiceFactory(name="finder", owner=search)
    return with_environments(service, *STAGING_AND_PRODUCTION)


@pytest.fixture
def hello_world(payments):
    """The catalog's entry for the repository of GitHub's sample payloads, spelled differently
    (case, .git) from how GitHub sends it."""
    service = ServiceFactory(
        name="hello-world",
        owner=payments,
        repository_url="https://github.com/codertocat/hello-world.git",
    )
    return with_environments(service, *STAGING_AND_PRODUCTION)


@pytest.fixture
def deploy():
    """Record a deployment fact with a running external id; times are UTC tuples or datetimes."""
    counter = iter(range(1, 10_000))

    def record(service, *, started, finished, result="succeeded", environment="production", **kw):
        kw.setdefault("external_id", f"test/{next(counter)}")
        kw.setdefault("source", FactSource.GENERIC)
        kw.setdefault("version", "1.0.0")
        fact, _ = services.deployment_fact_record(
            service=service,
            environment=environment,
            started_at=started if isinstance(started, datetime) else utc(*started),
            finished_at=finished if isinstance(finished, datetime) else utc(*finished),
            result=result,
            **kw,
        )
        return fact

    return record


def _source(platform_admin, kind, name, secret=None):
    return services.webhook_source_create(actor=platform_admin, name=name, kind=kind, secret=secret)


@pytest.fixture
def github_source(platform_admin):
    return _source(platform_admin, SourceKind.GITHUB, "GitHub acme")


@pytest.fixture
def gitlab_source(platform_admin):
    return _source(platform_admin, SourceKind.GITLAB, "GitLab on premises")


@pytest.fixture
def pagerduty_source(platform_admin):
    return _source(
        platform_admin, SourceKind.PAGERDUTY, "PagerDuty", secret="pd-signing-secret-0123456789"
    )


@pytest.fixture
def generic_source(platform_admin):
    return _source(platform_admin, SourceKind.GENERIC, "Deploy bot")


@pytest.fixture
def post_github(client, github_source):
    source, secret = github_source

    def post(event: str, body: bytes, *, delivery=None, signature=None, **headers):
        return client.post(
            f"{DEPLOYMENTS_URL}?source={source.slug}",
            data=body,
            content_type=headers.pop("content_type", "application/json"),
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                "X-Hub-Signature-256": signature or f"sha256={sign(secret, body)}",
                **headers,
            },
        )

    return post


@pytest.fixture
def post_gitlab(client, gitlab_source):
    source, secret = gitlab_source

    def post(event: str, body: bytes, *, token=None, **headers):
        return client.post(
            f"{DEPLOYMENTS_URL}?source={source.slug}",
            data=body,
            content_type="application/json",
            headers={"X-Gitlab-Event": event, "X-Gitlab-Token": token or secret, **headers},
        )

    return post


@pytest.fixture
def post_pagerduty(client, pagerduty_source):
    source, secret = pagerduty_source

    def post(body: bytes, *, webhook_id=None, signature=None):
        return client.post(
            f"{INCIDENTS_URL}?source={source.slug}",
            data=body,
            content_type="application/json",
            headers={
                "X-Webhook-Id": webhook_id or str(uuid.uuid4()),
                "X-PagerDuty-Signature": signature or f"v1={sign(secret, body)}",
            },
        )

    return post


def commits(finished, *hours_before):
    return [
        {"sha": f"{finished}-{hours}", "committed_at": utc(*finished) - timedelta(hours=hours)}
        for hours in hours_before
    ]


@pytest.fixture
def march(checkout, finder, deploy):
    """checkout (payments) and finder (search) over March:

    week of 3 March:  checkout ships, its commits 1 h and 3 h old.
    week of 10 March: checkout v2 fails and is rolled back an hour after it started; finder ships
                      a 5 h old commit, then an incident (30 min) is blamed on it.
    week of 17 March: nothing.
    week of 24 March: checkout ships commits 1 h, 2 h and 4 h old, and again with no commits.
    Outside: a staging deployment, and a production one on 31 March (after the window)."""
    deploy(
        checkout,
        started=(2025, 3, 4, 9),
        finished=(2025, 3, 4, 10),
        commits=commits((2025, 3, 4, 10), 1, 3),
    )
    v2 = {"external_id": "v2", "version": "v2", "started": (2025, 3, 12, 10)}
    v2_commits = commits((2025, 3, 12, 10, 20), 2)
    deploy(checkout, **v2, finished=(2025, 3, 12, 10, 20), result="failed", commits=v2_commits)
    deploy(checkout, **v2, finished=(2025, 3, 12, 11), result="rolled_back", commits=v2_commits)
    deploy(
        finder,
        started=(2025, 3, 13, 9),
        finished=(2025, 3, 13, 10),
        commits=commits((2025, 3, 13, 10), 5),
    )
    services.incident_record(
        source="pagerduty",
        external_id="P1",
        service=finder,
        opened_at=utc(2025, 3, 13, 12),
        resolved_at=utc(2025, 3, 13, 12, 30),
    )
    deploy(
        checkout,
        started=(2025, 3, 25, 9),
        finished=(2025, 3, 25, 10),
        commits=commits((2025, 3, 25, 10), 1, 2, 4),
    )
    deploy(checkout, started=(2025, 3, 26, 9), finished=(2025, 3, 26, 10))
    deploy(checkout, environment="staging", started=(2025, 3, 5, 9), finished=(2025, 3, 5, 10))
    deploy(
        checkout,
        started=(2025, 3, 31, 9),
        finished=(2025, 3, 31, 10),
        commits=commits((2025, 3, 31, 10), 1),
    )
    return checkout, finder


def two_commits_each(facts) -> None:
    """Two commits per deployment fact, made 1 h and 2 h before it finished (bulk)."""
    CommitFact.objects.bulk_create(
        CommitFact(
            deployment=fact,
            sha=f"{fact.external_id}/{n}",
            committed_at=fact.finished_at - timedelta(hours=n + 1),
            lead_time_seconds=(n + 1) * 3600,
        )
        for fact in facts
        for n in range(2)
    )


def bulk_month(service, deployments: int) -> None:
    """`deployments` production deployments spread over March, every third failed and rolled
    back, each with two commits, an incident for every fifth: written in bulk, then rolled up."""
    facts = []
    for index in range(deployments):
        started = utc(2025, 3, 3, 8) + timedelta(minutes=index * 300)
        failed = index % 3 == 0
        facts.append(
            DeploymentFact(
                service=service,
                environment="production",
                is_production=True,
                version=f"v{index}",
                source="generic",
                external_id=f"bulk/{service.name}/{index}",
                started_at=started,
                finished_at=started + timedelta(minutes=10),
                result="rolled_back" if failed else "succeeded",
                is_failure=failed,
                rolled_back_at=started + timedelta(minutes=20) if failed else None,
                recovery_seconds=1200 if failed else None,
                commit_count=2,
            )
        )
    DeploymentFact.objects.bulk_create(facts)
    two_commits_each(facts)
    IncidentFact.objects.bulk_create(
        IncidentFact(
            service=service,
            source="generic",
            external_id=f"inc/{fact.external_id}",
            opened_at=fact.finished_at,
            resolved_at=fact.finished_at + timedelta(minutes=30),
            recovery_seconds=1800,
            deployment=fact,
            link="reported",
        )
        for fact in facts[::5]
    )
    services.rollup_refresh(start=date(2025, 3, 3), end=date(2025, 3, 30))
