"""Demo rollouts: analysis templates that ask the cluster simulator, and releases to dev that
start by themselves in the minutes after the demo is loaded (DEV_RELEASES; the README's "Demo
rollouts that start by themselves" says what each does), and one due later that its team may
start by hand sooner.

The simulator keeps nothing between runs, so each service's first rollout is a first
deployment (nothing to compare with: straight to the new version, its pauses and analyses
skipped); the second release of payments-api and of ledger shows the verification steps."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.releases import services as release_services
from apps.rollouts.models import AnalysisTemplate

SIMULATOR = f"http://127.0.0.1:{settings.SIMULATOR_PORT}"
# (service, version, minutes after loading it is due): Runway starts each when due.
DEV_RELEASES = (
    ("payments-api", "1.0.0", 1),  # first deployment of a canary: straight to stable
    ("ledger", "2.4.0", 2),  # first deployment of a blue/green: the preview is made active
    ("payments-api", "1.1.0", 3),  # 20%, success-rate analysis, 50%, a 60 s pause, 100%
    ("ledger", "2.5.0", 5),  # preview, http-smoke analysis, then waits for a person to promote
    ("fraud-check", "1.9.1", 30),  # a rolling update; "Start rollout now" starts it sooner
)

# The standard pipeline (apps/catalog/pipelines.py) each service's CI runs, which it reports with
# its releases: fraud-check's is still python-web's v2, one version behind its newest.
PIPELINE_TEMPLATES = {
    "payments-api": "python-web@3",
    "ledger": "go-grpc@1",
    "fraud-check": "python-web@2",
}


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
    for name, version, minutes in DEV_RELEASES:
        service = Service.objects.get(name=name)
        start = now + timedelta(minutes=minutes)
        release = release_services.release_create(
            actor=dev,
            service=service,
            environment=service.environments.get(name="dev"),
            version=f"registry.example.com/{service.owner.slug}/{name}:{version}",
            title=f"{name} {version} to dev",
            planned_start=start,
            planned_end=start + timedelta(minutes=2),  # a service's next one starts after
            pipeline_template=PIPELINE_TEMPLATES[name],
        )
        release_services.release_submit(actor=dev, release=release)
        created.append(f"release #{release.pk} to dev")
    return created
