"""The demo's history (apps.demo.history, loaded by seed_demo): loaded once, nothing added the
second time, and every report has something to show. The demo is seeded once for the module
and rolled back at its end."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.demo import history
from apps.demo import rings as demo_rings
from apps.insights.models import (
    CommitFact,
    DailyDeploymentRollup,
    DeploymentFact,
    FactSource,
    IncidentFact,
    PipelineRun,
    RecordedReleaseTransition,
    ScorecardRule,
    ScorecardSnapshot,
)
from apps.insights.selectors import dora_report, local_day
from apps.insights.services import release_transitions_record_all
from apps.releases.models import Approval, Release, ReleaseCheck, ReleaseState, ReleaseTransition
from apps.rollouts.models import Rollout, RolloutState
from apps.rollouts.rings import environment_rings

HISTORY_MODELS = (
    DeploymentFact,
    CommitFact,
    IncidentFact,
    PipelineRun,
    DailyDeploymentRollup,
    ScorecardSnapshot,
    Release,
    Approval,
    ReleaseCheck,
    Rollout,
    RecordedReleaseTransition,
)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


def tiers(report) -> tuple:
    return (
        report.deployment_frequency.tier,
        report.lead_time.tier,
        report.change_failure_rate.tier,
        report.recovery.tier,
    )


@pytest.mark.django_db
def test_seeding_twice_adds_nothing_the_second_time(seeded):
    before = {model: model.objects.count() for model in HISTORY_MODELS}
    out = io.StringIO()

    call_command("seed_demo", stdout=out)

    assert {model: model.objects.count() for model in HISTORY_MODELS} == before
    assert "(0 new records)" in out.getvalue()
    assert history.load() == []


@pytest.mark.django_db
def test_the_last_90_days_have_every_figure_for_the_organisation(seeded):
    report = dora_report(scope="org")

    frequency = report.deployment_frequency
    assert frequency.deployments > 100
    # Anchored on today: every week of the window has deployments (this one may not yet).
    assert all(week.deployments for week in frequency.weekly[:-1])
    assert report.lead_time.median_seconds > 0
    assert 0 < report.change_failure_rate.rate < 0.5
    assert report.recovery.median_seconds > 0
    assert report.recovery.incidents and report.recovery.rollbacks
    assert None not in tiers(report)


@pytest.mark.django_db
def test_teams_land_in_different_tiers(seeded):
    payments = dora_report(scope="team", name="payments")
    search = dora_report(scope="team", name="search")

    assert tiers(payments) != tiers(search)
    assert payments.change_failure_rate.rate < search.change_failure_rate.rate
    assert payments.lead_time.median_seconds < search.lead_time.median_seconds
    assert payments.deployment_frequency.per_week > search.deployment_frequency.per_week


@pytest.mark.django_db
def test_the_improving_service_gets_better_over_the_months(seeded):
    today = local_day(timezone.now())
    recent = dora_report(scope="service", name="fraud-check")
    earlier = dora_report(
        scope="service",
        name="fraud-check",
        start=today - timedelta(days=209),
        end=today - timedelta(days=120),
    )

    assert recent.deployment_frequency.deployments > earlier.deployment_frequency.deployments
    assert recent.change_failure_rate.rate < earlier.change_failure_rate.rate
    assert recent.lead_time.median_seconds < earlier.lead_time.median_seconds


@pytest.mark.django_db
def test_the_rollup_agrees_with_the_facts(seeded):
    for service in Service.objects.all():
        rollup = DailyDeploymentRollup.objects.filter(service=service).aggregate(
            deployments=Sum("deployments", default=0),
            failures=Sum("failures", default=0),
            rollbacks=Sum("rollbacks", default=0),
        )
        facts = DeploymentFact.objects.filter(service=service).aggregate(
            deployments=Count("id"),
            failures=Count("id", filter=Q(is_failure=True)),
            rollbacks=Count("id", filter=Q(rolled_back_at__isnull=False)),
        )
        assert rollup == facts, service.name


@pytest.mark.django_db
def test_every_finished_runway_release_is_recorded_once(seeded):
    finishes = [ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK]
    finished = Release.objects.filter(state__in=finishes)

    assert release_transitions_record_all() == 0
    assert RecordedReleaseTransition.objects.count() == (
        ReleaseTransition.objects.filter(to_state__in=finishes).count()
    )
    assert DeploymentFact.objects.filter(source=FactSource.RUNWAY).count() == finished.count()
    assert set(
        DeploymentFact.objects.filter(source=FactSource.RUNWAY).values_list(
            "external_id", flat=True
        )
    ) == {f"release/{pk}" for pk in finished.values_list("pk", flat=True)}


@pytest.mark.django_db
def test_runway_history_has_rollbacks_interventions_and_evidence_gaps(seeded):
    rollbacks = Rollout.objects.filter(is_rollback=True)
    assert rollbacks.filter(state=RolloutState.SUCCEEDED).count() >= 2
    assert rollbacks.filter(state=RolloutState.FAILED).count() == 1
    rolled_back = Rollout.objects.filter(state=RolloutState.ROLLED_BACK)
    assert rolled_back.exists()
    assert not rolled_back.filter(failure_detected_at__isnull=True).exists()
    assert Rollout.objects.filter(manual_interventions__gt=0, is_rollback=False).exists()

    production = Release.objects.filter(
        environment__kind="production", state=ReleaseState.SUCCEEDED, change_type="normal"
    )
    approved = production.annotate(approvals_count=Count("approvals")).filter(
        approvals_count__gte=2
    )
    assert approved.count() == production.count() > 10
    assert production.filter(checks__name="tests", checks__status="passed").exists()
    assert production.exclude(checks__name="tests").exists()  # evidence missing
    # Checks are CI's word: every one comes from the demo's service account, none from a person.
    reporters = set(ReleaseCheck.objects.values_list("reported_by__username", flat=True))
    assert reporters == {"ci"}
    # Written directly, they still satisfy the models' own validation.
    for release in Release.objects.filter(rollouts__isnull=False).distinct():
        release.full_clean()
    for rollout in Rollout.objects.all():
        rollout.full_clean()


@pytest.mark.django_db
def test_every_service_has_26_weekly_snapshots_with_consistent_levels(seeded):
    levels = dict(ScorecardRule.objects.values_list("key", "level"))
    this_monday = local_day(timezone.now()) - timedelta(days=local_day(timezone.now()).weekday())
    mondays = [this_monday - timedelta(weeks=n) for n in range(25, -1, -1)]

    for service in Service.objects.all():
        snapshots = list(ScorecardSnapshot.objects.filter(service=service).order_by("week"))
        assert [s.week for s in snapshots] == mondays, service.name
        for snapshot in snapshots:
            assert snapshot.team_id == service.owner_id
            assert set(snapshot.results) == set(levels)
            assert snapshot.passed == sum(snapshot.results.values())
            failing = [levels[key] for key, passed in snapshot.results.items() if not passed]
            assert snapshot.level == min(failing, default=4) - 1, (service.name, snapshot.week)


@pytest.mark.django_db
def test_scorecards_change_over_the_months(seeded):
    # checkout-web took up canary eight weeks ago: Gold only since. Which week an emergency
    # change is still open in (a Silver rule) moves with the hour the demo is seeded at.
    snapshots = list(
        ScorecardSnapshot.objects.filter(service__name="checkout-web").order_by("week")
    )
    canary = [s.results["progressive_delivery"] for s in snapshots]
    assert canary[-10] is False and all(canary[-9:])  # weeks_ago 8 is the 9th from the end
    assert max(s.level for s in snapshots[:-9]) < 3
    assert 3 in [s.level for s in snapshots[-9:]]
    assert len(set(ScorecardSnapshot.objects.values_list("level", flat=True))) == 4


@pytest.mark.django_db
def test_the_demo_schedules_its_dev_releases_for_the_minutes_after_loading_it(seeded):
    loaded = Release.objects.filter(environment__name="dev", state=ReleaseState.SCHEDULED)
    scheduled = list(loaded.order_by("planned_start").select_related("service"))
    first = scheduled[0].planned_start
    assert [
        (r.service.name, r.version.rsplit(":", 1)[1], round((r.planned_start - first).seconds / 60))
        for r in scheduled
    ] == [
        ("payments-api", "1.0.0", 0),
        ("ledger", "2.4.0", 1),
        ("payments-api", "1.1.0", 2),
        ("ledger", "2.5.0", 4),
        ("fraud-check", "1.9.1", 29),
    ]
    assert 0 < (first - timezone.now()).total_seconds() <= 60
    assert all(r.requester.username == "dev" for r in scheduled)


@pytest.mark.django_db
def test_the_demos_golden_path_is_python_web_v3_a_verified_canary(seeded):
    from apps.catalog.models import GoldenPathTemplate

    golden = GoldenPathTemplate.objects.get(is_default=True)
    assert (golden.name, golden.version, golden.strategy) == ("python-web", 3, "canary")
    assert {"analysis": {"template": "success-rate"}} in golden.strategy_params["steps"]


@pytest.mark.django_db
def test_search_apis_production_rolls_out_in_two_rings_shown_on_its_pending_release(seeded, client):
    prod = Service.objects.get(name="search-api").environments.get(name="prod")
    rings = environment_rings(prod)
    assert [(r.position, r.cluster.name, r.soak_seconds) for r in rings] == [
        (0, "sim-eu-1", 300),
        (1, "sim-eu-2", 0),
    ]
    # Ring 0 on Runway's default kubeconfig (the first simulator `make run` starts), ring 1 on
    # the kubeconfig the Procfile's second simulator writes beside it.
    second = Path(settings.KUBECONFIG).resolve().with_name("kubeconfig-simulator-eu-2.yaml")
    assert [(r.cluster.kubeconfig_path, r.cluster.in_cluster) for r in rings] == [
        ("", False),
        (str(second), False),
    ]
    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    assert f"--kubeconfig-out var/{second.name}" in procfile
    client.force_login(User.objects.get(username="dev"))
    release = Release.objects.get(title="Search relevance tuning")
    section = client.get(f"/releases/{release.pk}/").content.decode().split('data-section="rings"')
    assert 'data-ring="1"' in section[1] and "sim-eu-2" in section[1]
    assert demo_rings.load() == []
