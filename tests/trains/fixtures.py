"""Trains of payments' services to production: each service with a prod environment, and the
catalog's dependencies as the test draws them; and trains that succeeded in staging, to be
promoted to production."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import Role
from apps.catalog.models import Dependency, Environment, EnvironmentKind, Service
from apps.releases.models import ApprovalPolicy, ApprovalRule, Release, ReleaseState
from apps.trains import services
from apps.trains.models import Train, TrainState
from tests.factories import ServiceFactory, TeamFactory, UserFactory


@pytest.fixture
def prod_services(payments):
    """make(names, depends={"a": "bc"}): services of payments, each with prod, and the
    dependencies drawn."""

    def make(names, depends=None, *, owner=None) -> list[Service]:
        made = []
        for name in names:
            service = ServiceFactory(name=name, owner=owner or payments, tier=2)
            Environment.objects.get_or_create(
                service=service,
                name="prod",
                defaults={"kind": EnvironmentKind.PRODUCTION, "order": 1, "namespace": name},
            )
            made.append(service)
        for source, targets in (depends or {}).items():
            for target in targets:
                Dependency.objects.get_or_create(
                    source=Service.objects.get(name=source),
                    target_service=Service.objects.get(name=target),
                )
        return made

    return make


@pytest.fixture
def diamond(prod_services):
    """a depends on b and c, b and c on d; e stands alone."""
    return prod_services("abcde", {"a": "bc", "b": "d", "c": "d"})


def members_of(names, **extra) -> list[dict]:
    return [{"service": name, "version": f"registry/{name}:2.0.0", **extra} for name in names]


@pytest.fixture
def make_train(developer):
    def make(names="abcde", *, actor=None, submit=False, members=None, **fields):
        # Tomorrow morning, whatever the hour now: two hours from late evening would run into
        # the day after, and a calendar shows such a train on both days.
        start = (timezone.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0)
        return services.train_request(
            actor=actor or developer,
            submit=submit,
            name=fields.pop("name", "December train"),
            environment_name=fields.pop("environment_name", "prod"),
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            members=members if members is not None else members_of(names),
            **fields,
        )

    return make


@pytest.fixture
def security(db):
    return TeamFactory(slug="security", name="Security")


@pytest.fixture
def security_reviewer(security):
    return UserFactory(username="sasha", roles=[Role.DEVELOPER], teams=[security])


@pytest.fixture
def union_policies(security, diamond):
    """Production asks 2 release managers of every service; tier-2 asks 1 from security."""
    production = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=production, name="Release managers", role=Role.RELEASE_MANAGER, required_count=2
    )
    tier_two = ApprovalPolicy.objects.create(name="Tier 2", environment_kind="production", tier=2)
    ApprovalRule.objects.create(policy=tier_two, name="Security", team=security, required_count=1)
    return production, tier_two


PROMOTED_COMMITS = [
    {
        "sha": "9f2c1e7aa",
        "author": "dana@example.com",
        "message": "Cache the basket",
        "committed_at": "2026-11-28T10:15:00Z",
    }
]


@pytest.fixture
def staged(payments):
    """make(names, soak_seconds=...): services of payments with staging (order 1, the soak
    asked there) and prod (order 2)."""

    def make(names="ab", *, soak_seconds=0):
        for name in names:
            service = ServiceFactory(name=name, owner=payments, tier=2)
            Environment.objects.create(
                service=service,
                name="staging",
                kind=EnvironmentKind.STAGING,
                order=1,
                namespace=name,
                soak_seconds=soak_seconds,
            )
            Environment.objects.create(
                service=service,
                name="prod",
                kind=EnvironmentKind.PRODUCTION,
                order=2,
                namespace=name,
            )

    return make


@pytest.fixture
def succeeded_train(make_train):
    """make(names, finished_ago=...): a train of `names` to staging that succeeded."""

    def make(names="ab", *, finished_ago=timedelta(hours=1), environment_name="staging"):
        members = [
            {"service": n, "version": f"registry/{n}@sha256:{n * 8}", "commits": PROMOTED_COMMITS}
            for n in names
        ]
        train = make_train(names, submit=True, members=members, environment_name=environment_name)
        finished = timezone.now() - finished_ago
        Release.objects.filter(train_membership__train=train).update(
            state=ReleaseState.SUCCEEDED, finished_at=finished
        )
        Train.objects.filter(pk=train.pk).update(state=TrainState.SUCCEEDED, finished_at=finished)
        train.refresh_from_db()
        return train

    return make
