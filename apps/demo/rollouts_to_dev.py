"""Demo rollouts: analysis templates that ask the cluster simulator, and releases to dev that
start by themselves a minute after `make run` (and one to start by hand)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.releases import services as release_services
from apps.rollouts.models import AnalysisTemplate

SIMULATOR = f"http://127.0.0.1:{settings.SIMULATOR_PORT}"


def load() -> list[str]:
    if AnalysisTemplate.objects.exists():
        return []
    AnalysisTemplate.objects.create(
        name="http-smoke",
        kind="http",
        url=SIMULATOR + "/probe/{namespace}/{service}",
        interval_seconds=2,
        count=3,
        failure_limit=0,
        inconclusive_limit=1,
    )
    AnalysisTemplate.objects.create(
        name="success-rate",
        kind="prometheus",
        url=SIMULATOR + "/prometheus",
        query='runway_request_success_rate{namespace="{namespace}",deployment="{deployment}"}',
        success_condition="result >= 0.95",
        interval_seconds=2,
        count=3,
        failure_limit=0,
        inconclusive_limit=1,
    )
    dev = User.objects.get(username="dev")
    now = timezone.now()
    created = []
    for name, version, minutes in (
        ("payments-api", "1.1.0", 1),
        ("ledger", "2.4.0", 2),
        ("fraud-check", "1.9.1", 30),
    ):
        service = Service.objects.get(name=name)
        start = now + timedelta(minutes=minutes)
        release = release_services.release_create(
            actor=dev,
            service=service,
            environment=service.environments.get(name="dev"),
            version=f"registry.example.com/{service.owner.slug}/{name}:{version}",
            title=f"{name} {version} to dev",
            planned_start=start,
            planned_end=start + timedelta(hours=1),
        )
        release_services.release_submit(actor=dev, release=release)
        created.append(f"release #{release.pk} to dev")
    return created
