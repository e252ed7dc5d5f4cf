"""Platform KPIs on a hand-built month, with the expected figures worked out in comments.

The window is 3-30 March 2025 (TIME_ZONE is UTC in tests): the weeks of Monday 3, 10, 17 and
24 March. Releases and rollouts are written straight to the database, as tests/rollouts'
builders do: these are reads of what the services record."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from apps.catalog.models import EnvironmentKind, GoldenPathTemplate, Strategy
from apps.insights.kpis import (
    SCORECARD_SHARES,
    AuditCompleteness,
    Measure,
    PipelineAdoption,
    Ratio,
    TrendPoint,
    platform_kpis,
)
from apps.insights.models import (
    Level,
    PipelineRun,
    PipelineStatus,
    ScorecardSnapshot,
    ServiceScore,
)
from apps.insights.selectors import ScopeNotFound
from apps.releases.audit_facts import audit_facts_record
from apps.releases.models import (
    Approval,
    ChangeType,
    Release,
    ReleaseCheck,
    ReleaseState,
    StandardChangeTemplate,
)
from apps.rollouts.models import Rollout, RolloutState
from tests.factories import ServiceFactory, TeamFactory
from tests.insights.conftest import STAGING_AND_PRODUCTION, utc, with_environments

START, END = date(2025, 3, 3), date(2025, 3, 30)
W1, W2, W3, W4 = date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 17), date(2025, 3, 24)
WINDOW = {"start": START, "end": END}
PRODUCTION, STAGING = EnvironmentKind.PRODUCTION, EnvironmentKind.STAGING


def kpis(scope="org", name=""):
    return platform_kpis(scope=scope, name=name, **WINDOW)


def trend(*values):
    return [TrendPoint(week, value) for week, value in zip((W1, W2, W3, W4), values, strict=True)]


def release(
    service, requester, *, kind=PRODUCTION, finished=None, state=ReleaseState.SUCCEEDED, **fields
):
    """A release into the service's environment of `kind`, finished at `finished` (a UTC tuple)."""
    finished_at = utc(*finished) if finished else None
    planned = finished_at or utc(2025, 3, 1)
    return Release.objects.create(
        service=service,
        environment=service.environments.get(kind=kind),
        version=fields.pop("version", "v1"),
        title="A change",
        planned_start=planned - timedelta(hours=2),
        planned_end=planned,
        requester=requester,
        state=state,
        started_at=planned - timedelta(hours=1) if finished else None,
        finished_at=finished_at,
        **fields,
    )


def rollout(of, *, state, started, finished=None, detected=None, **fields):
    """A rollout of release `of`; times are UTC tuples."""
    return Rollout.objects.create(
        release=of,
        service=of.service,
        environment=of.environment,
        namespace=of.environment.namespace,
        strategy=Strategy.ROLLING,
        image=of.version,
        state=state,
        started_at=utc(*started),
        finished_at=utc(*finished) if finished else None,
        failure_detected_at=utc(*detected) if detected else None,
        **fields,
    )


def approve(of, approver, **fields):
    return Approval.objects.create(
        release=of, approver=approver, decision=Approval.Decision.APPROVE, **fields
    )


def pipeline(service, number, status, finished, seconds):
    finished_at = utc(*finished)
    return PipelineRun.objects.create(
        service=service,
        source="github",
        external_id=f"{service.name}/{number}",
        status=status,
        started_at=finished_at - timedelta(seconds=seconds),
        finished_at=finished_at,
        duration_seconds=seconds,
    )


def results(latest_template=False, progressive_delivery=False, verification_gate=False):
    return {
        "has_owner": True,  # the other rules are there too, and do not matter here
        "latest_template": latest_template,
        "progressive_delivery": progressive_delivery,
        "verification_gate": verification_gate,
    }


def snapshot(service, team, week, **passing):
    return ScorecardSnapshot.objects.create(
        service=service,
        team=team,
        week=week,
        level=Level.NONE,
        results=results(**passing),
        taken_at=timezone.now(),
    )


@pytest.fixture
def month(checkout, finder, payments_api, payments, search, developer, release_manager):
    """checkout (payments) and finder (search), with releases A-J and rollouts R1-R9:

    A  checkout prod, approved (a live approval), check passed. R1 succeeds 4 March (1 manual
       intervention); R4, a rollback of R1, succeeds 11 March (1): A ends rolled back, 11 March.
    B  checkout prod, approved but its approval was invalidated. R2 rolled back 12 March:
       started 10:00, failure detected 10:02 (120 s).
    C  checkout staging. R3 failed 13 March: started 10:00, detected 10:05 (300 s); 2
       interventions.
    D  finder prod, a standard change (pre-approved), a failed security check. R5 rolled back
       25 March: started 10:00, detected 10:10 (600 s); 2 interventions.
    E  finder prod, an emergency approved in its retrospective review. R6a succeeds 18 March;
       R6b, its rollback, fails 19 March (1 intervention).
    F  checkout prod, approved, 20 March, but never rolled out by Runway.
    G  checkout prod, an emergency waiting for review, a pending check, no rollout, 21 March.
    J  finder prod, approved with nobody's approval (no policy applied). R8 succeeds 26 March.
    Not counted: H (cancelled), I and R7 (31 March, after the window), R9 (still running)."""
    a = release(
        checkout,
        developer,
        finished=(2025, 3, 11, 10, 10),
        state=ReleaseState.ROLLED_BACK,
        approved_at=utc(2025, 3, 3),
    )
    approve(a, release_manager)
    ReleaseCheck.objects.create(release=a, name="tests", status=ReleaseCheck.Status.PASSED)
    r1 = rollout(
        a,
        state=RolloutState.SUCCEEDED,
        started=(2025, 3, 4, 9),
        finished=(2025, 3, 4, 9, 30),
        manual_interventions=1,
    )
    rollout(
        a,
        state=RolloutState.SUCCEEDED,
        started=(2025, 3, 11, 10),
        finished=(2025, 3, 11, 10, 10),
        is_rollback=True,
        rolls_back=r1,
        manual_interventions=1,
    )

    b = release(
        checkout,
        developer,
        finished=(2025, 3, 12, 10, 10),
        state=ReleaseState.ROLLED_BACK,
        approved_at=utc(2025, 3, 11),
    )
    approve(
        b,
        release_manager,
        invalidated_at=utc(2025, 3, 11, 12),
        invalidated_reason="What ships changed",
    )
    rollout(
        b,
        state=RolloutState.ROLLED_BACK,
        started=(2025, 3, 12, 10),
        detected=(2025, 3, 12, 10, 2),
        finished=(2025, 3, 12, 10, 10),
    )

    c = release(
        checkout, developer, kind=STAGING, finished=(2025, 3, 13, 10, 20), state=ReleaseState.FAILED
    )
    rollout(
        c,
        state=RolloutState.FAILED,
        started=(2025, 3, 13, 10),
        detected=(2025, 3, 13, 10, 5),
        finished=(2025, 3, 13, 10, 20),
        manual_interventions=2,
    )

    template = StandardChangeTemplate.objects.create(name="Configuration bump")
    d = release(
        finder,
        developer,
        finished=(2025, 3, 25, 10, 30),
        state=ReleaseState.ROLLED_BACK,
        change_type=ChangeType.STANDARD,
        standard_template=template,
    )
    ReleaseCheck.objects.create(release=d, name="security", status=ReleaseCheck.Status.FAILED)
    ReleaseCheck.objects.create(release=d, name="tests", status=ReleaseCheck.Status.PASSED)
    rollout(
        d,
        state=RolloutState.ROLLED_BACK,
        started=(2025, 3, 25, 10),
        detected=(2025, 3, 25, 10, 10),
        finished=(2025, 3, 25, 10, 30),
        manual_interventions=2,
    )

    e = release(
        finder,
        developer,
        finished=(2025, 3, 18, 10, 30),
        change_type=ChangeType.EMERGENCY,
        justification="Search is down",
        retrospective_due_at=utc(2025, 3, 20),
        retrospective_done_at=utc(2025, 3, 19),
    )
    approve(e, release_manager, is_retrospective=True)
    r6a = rollout(
        e, state=RolloutState.SUCCEEDED, started=(2025, 3, 18, 10), finished=(2025, 3, 18, 10, 30)
    )
    rollout(
        e,
        state=RolloutState.FAILED,
        started=(2025, 3, 19, 9),
        finished=(2025, 3, 19, 9, 20),
        is_rollback=True,
        rolls_back=r6a,
        manual_interventions=1,
    )

    f = release(checkout, developer, finished=(2025, 3, 20, 10), approved_at=utc(2025, 3, 19))
    approve(f, release_manager)

    g = release(
        checkout,
        developer,
        finished=(2025, 3, 21, 10),
        change_type=ChangeType.EMERGENCY,
        justification="Hotfix",
        retrospective_due_at=utc(2025, 3, 23),
    )
    ReleaseCheck.objects.create(release=g, name="tests", status=ReleaseCheck.Status.PENDING)

    j = release(finder, developer, finished=(2025, 3, 26, 10), approved_at=utc(2025, 3, 25))
    rollout(
        j, state=RolloutState.SUCCEEDED, started=(2025, 3, 26, 9, 30), finished=(2025, 3, 26, 10)
    )

    release(checkout, developer, state=ReleaseState.CANCELLED)  # H
    i = release(checkout, developer, finished=(2025, 3, 31, 10), approved_at=utc(2025, 3, 30))
    approve(i, release_manager)
    rollout(
        i,
        state=RolloutState.SUCCEEDED,
        started=(2025, 3, 31, 9),
        finished=(2025, 3, 31, 10),
        manual_interventions=5,
    )
    running = release(checkout, developer, kind=STAGING, state=ReleaseState.IN_PROGRESS)
    rollout(running, state=RolloutState.RUNNING, started=(2025, 3, 30, 9), manual_interventions=3)

    # Scorecards: payments-api has never been evaluated.
    ServiceScore.objects.create(
        service=checkout,
        level=Level.SILVER,
        results=results(True, False, True),
        evaluated_at=timezone.now(),
    )
    ServiceScore.objects.create(
        service=finder,
        level=Level.BRONZE,
        results=results(False, False, True),
        evaluated_at=timezone.now(),
    )
    snapshot(checkout, payments, date(2025, 2, 24), latest_template=True)  # before the window
    snapshot(checkout, payments, W1)
    snapshot(finder, search, W1, verification_gate=True)
    snapshot(checkout, payments, W2, latest_template=True, verification_gate=True)
    snapshot(finder, search, W2, verification_gate=True)
    # Nothing in the week of 17 March. On 24 March finder still belonged to payments.
    snapshot(
        checkout,
        payments,
        W4,
        latest_template=True,
        progressive_delivery=True,
        verification_gate=True,
    )
    snapshot(finder, payments, W4)

    # CI: checkout succeeds in 100 s and fails in 40 s (and one run is cancelled) in week 1,
    # succeeds in 200 s and 300 s in week 2 and in 1000 s in week 4; finder fails in 60 s in
    # week 2 and succeeds after the window.
    pipeline(checkout, 1, PipelineStatus.SUCCEEDED, (2025, 3, 4, 10), 100)
    pipeline(checkout, 2, PipelineStatus.FAILED, (2025, 3, 5, 10), 40)
    pipeline(checkout, 3, PipelineStatus.CANCELLED, (2025, 3, 5, 11), 10)
    pipeline(checkout, 4, PipelineStatus.SUCCEEDED, (2025, 3, 11, 10), 200)
    pipeline(checkout, 5, PipelineStatus.SUCCEEDED, (2025, 3, 12, 10), 300)
    pipeline(checkout, 6, PipelineStatus.SUCCEEDED, (2025, 3, 25, 10), 1000)
    pipeline(finder, 1, PipelineStatus.FAILED, (2025, 3, 12, 10), 60)
    pipeline(finder, 2, PipelineStatus.SUCCEEDED, (2025, 3, 31, 10), 5000)


@pytest.mark.django_db
def test_rollback_success_rate(month):
    # Rollbacks finished in the window: R4 succeeded (week 2), R6b failed (week 3): 1 of 2.
    assert kpis().rollback_success_rate == Ratio(0.5, 1, 2, trend(None, 1.0, 0.0, None))
    # payments (checkout) has only R4; search (finder) only R6b.
    assert kpis("team", "payments").rollback_success_rate == Ratio(
        1.0, 1, 1, trend(None, 1.0, None, None)
    )
    assert kpis("service", "finder").rollback_success_rate.value == 0.0


@pytest.mark.django_db
def test_a_rollback_outside_production_is_not_one_of_the_reports_rollbacks(
    month, checkout, developer
):
    staging = release(checkout, developer, kind=STAGING)
    first = rollout(staging, state=RolloutState.SUCCEEDED, started=(2025, 3, 5, 9))
    rollout(
        staging,
        state=RolloutState.FAILED,
        started=(2025, 3, 6, 9),
        finished=(2025, 3, 6, 9, 10),
        is_rollback=True,
        rolls_back=first,
    )
    # Still R4 and R6b only: the staging rollback counts for neither the KPI nor recovery.
    assert kpis().rollback_success_rate == Ratio(0.5, 1, 2, trend(None, 1.0, 0.0, None))


@pytest.mark.django_db
def test_scorecard_shares(month):
    found = kpis()
    # Now: checkout and finder are evaluated (payments-api is not, and is not counted).
    # latest template: checkout: 1 of 2. Snapshots: week 1 0 of 2, week 2 1 of 2, week 3 no
    # snapshot, week 4 checkout yes, finder no: 1 of 2.
    assert found.latest_template_share == Ratio(0.5, 1, 2, trend(0.0, 0.5, None, 0.5))
    # progressive delivery: nobody now; only checkout's snapshot of week 4.
    assert found.progressive_delivery_share == Ratio(0.0, 0, 2, trend(0.0, 0.0, None, 0.5))
    # verification gate: both now; week 1 finder only, week 2 both, week 4 checkout only.
    assert found.verification_gate_share == Ratio(1.0, 2, 2, trend(0.5, 1.0, None, 0.5))


@pytest.mark.django_db
def test_the_weekly_shares_are_the_snapshots_results(month, checkout, finder, payments):
    # The weekly counts read partial indexes of the snapshots that passed each rule: they
    # follow an edit of the results, a missing key and a non-true value, and give the shares
    # counted from the results themselves.
    week_one = ScorecardSnapshot.objects.get(service=checkout, week=W1)
    week_one.results = results(latest_template=True, progressive_delivery=True)
    week_one.save()
    ScorecardSnapshot.objects.filter(service=finder, week=W1).update(
        results={"verification_gate": "true"}
    )
    ScorecardSnapshot.objects.filter(service=checkout, week=W2).update(results={})
    found = kpis()
    for key in SCORECARD_SHARES:
        from_results = []
        for week in trend(*([None] * 4)):
            taken = ScorecardSnapshot.objects.filter(week=week.week)
            passed = sum(1 for row in taken if row.results.get(key) is True)
            from_results.append(round(passed / len(taken), 4) if taken else None)
        assert [point.value for point in getattr(found, f"{key}_share").trend] == from_results
    assert found.latest_template_share.trend == trend(0.5, 0.0, None, 0.5)


@pytest.mark.django_db
def test_a_teams_scorecard_trend_follows_the_team_of_the_snapshot(month):
    # payments now: checkout alone (payments-api has no evaluation): 1 of 1. In week 4 finder's
    # snapshot was taken while it belonged to payments: 1 of 2 that week.
    payments = kpis("team", "payments").latest_template_share
    assert payments == Ratio(1.0, 1, 1, trend(0.0, 1.0, None, 0.5))
    # search: finder, now and in weeks 1 and 2; its week-4 snapshot is payments'.
    search = kpis("team", "search").latest_template_share
    assert search == Ratio(0.0, 0, 1, trend(0.0, 0.0, None, None))


@pytest.mark.django_db
def test_audit_completeness(month):
    # Production releases finished in the window: A, B (week 2), E, F, G (week 3), D, J
    # (week 4). Complete: A and E. Missing approval: B (invalidated), G (waiting for review),
    # J (nobody approved). Checks not passed: D (failed), G (pending). No rollout: F, G.
    assert kpis().audit_completeness == AuditCompleteness(
        value=0.2857,  # 2 / 7
        complete=2,
        releases=7,
        missing_requester=0,
        missing_approval=3,
        checks_not_passed=2,
        missing_rollout=2,
        trend=trend(None, 0.5, 0.3333, 0.0),
    )
    # payments: A, B, F, G: only A is complete.
    payments = kpis("team", "payments").audit_completeness
    assert (payments.value, payments.complete, payments.releases) == (0.25, 1, 4)
    assert (payments.missing_approval, payments.checks_not_passed, payments.missing_rollout) == (
        2,
        1,
        2,
    )
    # finder: D, E, J: only E.
    finder = kpis("service", "finder").audit_completeness
    assert (finder.value, finder.complete, finder.releases) == (0.3333, 1, 3)


@pytest.mark.django_db
def test_audit_completeness_reads_the_facts_finished_releases_keep(month):
    """The month's releases are written directly, keeping no facts: the KPI works them out.
    Kept (as each release keeps them when it finishes), they give the same figures, and it is
    them the KPI reads."""
    scopes = [("org", ""), ("team", "payments"), ("service", "finder")]
    worked_out = [kpis(*scope).audit_completeness for scope in scopes]
    assert not Release.objects.filter(approval_on_record__isnull=False).exists()

    # A-G, I and J, staging or production; not H (cancelled) nor the one in progress.
    assert audit_facts_record(Release.objects.all()) == 9

    assert [kpis(*scope).audit_completeness for scope in scopes] == worked_out
    # G's check is still pending: were it kept as passed, the KPI would count it so.
    Release.objects.filter(checks__status=ReleaseCheck.Status.PENDING).update(checks_passed=True)
    assert kpis().audit_completeness.checks_not_passed == worked_out[0].checks_not_passed - 1


@pytest.mark.django_db
def test_failure_detection(month):
    # R2 120 s (week 2), R3 300 s (week 2, staging counts too), R5 600 s (week 4); the failed
    # rollback R6b is not a failed deployment. Median of 120, 300, 600: 300.
    assert kpis().failure_detection_seconds == Measure(300.0, 3, trend(None, 210.0, None, 600.0))
    assert kpis("team", "payments").failure_detection_seconds.value == 210.0  # (120 + 300) / 2


@pytest.mark.django_db
def test_manual_interventions_per_release(month):
    # Rollouts finished in the window: R1 1, R4 1, R2 0, R3 2, R6a 0, R6b 1, R5 2, R8 0: 7
    # interventions, for releases A, B, C, E, D, J: 7 / 6 = 1.17. Weeks: R1 (A) 1/1; R4, R2, R3
    # (A, B, C) 3/3; R6a, R6b (E) 1/1; R5, R8 (D, J) 2/2. A counts in weeks 1 and 2, once overall.
    assert kpis().manual_interventions_per_release == Ratio(1.17, 7, 6, trend(1.0, 1.0, 1.0, 1.0))
    # payments: R1, R4, R2, R3: 4 interventions for A, B, C: 1.33.
    assert kpis("team", "payments").manual_interventions_per_release.value == 1.33


@pytest.mark.django_db
def test_ci(month):
    found = kpis()
    # Runs in the window, the cancelled one left out: 100, 40, 200, 300, 1000 (checkout) and
    # 60 (finder): 4 of 6 succeeded. Week 1: 1 of 2; week 2: 2 of 3; week 4: 1 of 1.
    assert found.ci_success_rate == Ratio(0.6667, 4, 6, trend(0.5, 0.6667, None, 1.0))
    # Sorted: 40, 60, 100, 200, 300, 1000. p50 at position 5 x 0.5 = 2.5: 100 + 0.5 x 100 = 150.
    # p95 at 5 x 0.95 = 4.75: 300 + 0.75 x 700 = 825.
    # Week 1 (40, 100): p50 70, p95 40 + 0.95 x 60 = 97. Week 2 (60, 200, 300): p50 200,
    # p95 at 1.9: 200 + 0.9 x 100 = 290. Week 4: 1000.
    p50, p95 = found.ci_duration_p50_seconds, found.ci_duration_p95_seconds
    assert (p50.value, p50.count) == (150.0, 6)
    assert [point.value for point in p50.trend] == [70.0, 200.0, None, 1000.0]
    assert p95.value == pytest.approx(825.0) and p95.count == 6
    assert [point.value for point in p95.trend] == pytest.approx([97.0, 290.0, None, 1000.0])
    # finder alone: its one run in the window failed.
    finder = kpis("service", "finder")
    assert finder.ci_success_rate == Ratio(0.0, 0, 1, trend(None, 0.0, None, None))
    assert finder.ci_duration_p95_seconds.value == 60.0


@pytest.mark.django_db
def test_no_data_gives_no_figures(checkout):
    found = kpis()
    empty = trend(None, None, None, None)
    assert (found.scope, found.name, found.start, found.end) == ("org", "", START, END)
    for ratio in (
        found.rollback_success_rate,
        found.latest_template_share,
        found.progressive_delivery_share,
        found.verification_gate_share,
        found.manual_interventions_per_release,
        found.ci_success_rate,
    ):
        assert ratio == Ratio(None, 0, 0, empty)
    for measure in (
        found.failure_detection_seconds,
        found.ci_duration_p50_seconds,
        found.ci_duration_p95_seconds,
    ):
        assert measure == Measure(None, 0, empty)
    assert found.audit_completeness == AuditCompleteness(None, 0, 0, 0, 0, 0, 0, empty)
    assert found.standard_pipeline_share == PipelineAdoption(None, 0, 0, 0, 0, empty)


@pytest.mark.django_db
def test_unknown_scopes_are_refused(checkout):
    with pytest.raises(ScopeNotFound):
        kpis("service", "nothing")


@pytest.mark.django_db
def test_the_default_window_is_the_last_90_days(checkout):
    found = platform_kpis(scope="org")
    assert (found.end - found.start).days == 89
    assert len(found.ci_success_rate.trend) in (13, 14)


# --- Query counts -----------------------------------------------------------------------------


def bulk_services(count: int, requester, approver) -> None:
    """`count` services of one team, each with: an approved production release rolled out and
    then rolled back, a second one that failed, three CI runs, a score and two snapshots."""
    team = TeamFactory(slug="bulk")
    for number in range(count):
        service = with_environments(
            ServiceFactory(name=f"bulk-{number}", owner=team), *STAGING_AND_PRODUCTION
        )
        day = 4 + number % 20
        shipped = release(
            service, requester, finished=(2025, 3, day, 12), approved_at=utc(2025, 3, 1)
        )
        approve(shipped, approver)
        ReleaseCheck.objects.create(
            release=shipped, name="tests", status=ReleaseCheck.Status.PASSED
        )
        first = rollout(
            shipped,
            state=RolloutState.SUCCEEDED,
            started=(2025, 3, day, 9),
            finished=(2025, 3, day, 10),
            manual_interventions=1,
        )
        rollout(
            shipped,
            state=RolloutState.SUCCEEDED,
            started=(2025, 3, day, 11),
            finished=(2025, 3, day, 12),
            is_rollback=True,
            rolls_back=first,
        )
        failed = release(service, requester, finished=(2025, 3, day, 16), state=ReleaseState.FAILED)
        rollout(
            failed,
            state=RolloutState.FAILED,
            started=(2025, 3, day, 15),
            detected=(2025, 3, day, 15, 5),
            finished=(2025, 3, day, 16),
        )
        for run, status in enumerate(
            [PipelineStatus.SUCCEEDED, PipelineStatus.FAILED, PipelineStatus.CANCELLED]
        ):
            pipeline(service, run, status, (2025, 3, day, 8 + run), 60 * (run + 1))
        ServiceScore.objects.create(
            service=service, results=results(True), evaluated_at=timezone.now()
        )
        snapshot(service, team, W1, latest_template=True)
        snapshot(service, team, W2)


@pytest.mark.django_db
@pytest.mark.parametrize("services", [1, 12])
def test_a_fixed_number_of_queries(django_assert_num_queries, developer, release_manager, services):
    bulk_services(services, developer, release_manager)
    # Rollouts by week, rollouts overall, detection median, detection by week; scores,
    # snapshots; releases by week (audit), production starts by week (artifact integrity),
    # first supply-chain outcomes by week (security gates); CI by week, CI percentiles, CI
    # percentiles by week; golden-path services by their pipeline reports.
    with django_assert_num_queries(13):
        found = kpis()
    # A team or a service: its lookup first.
    with django_assert_num_queries(14):
        kpis("team", "bulk")
    with django_assert_num_queries(14):
        kpis("service", "bulk-0")
    assert found.rollback_success_rate == Ratio(
        1.0, services, services, found.rollback_success_rate.trend
    )
    assert (found.audit_completeness.complete, found.audit_completeness.releases) == (
        services,
        2 * services,
    )
    assert found.manual_interventions_per_release.value == 0.5  # 1 intervention, 2 releases each
    assert (found.ci_success_rate.numerator, found.ci_success_rate.denominator) == (
        services,
        2 * services,
    )
    assert found.latest_template_share.value == 1.0
    assert found.failure_detection_seconds.value == 300.0


@pytest.mark.django_db
def test_artifact_integrity_coverage(checkout, developer):
    # Started in production in the window: W1 verified, W1 not, W3 verified; one verified in
    # staging and one verified before the window do not count.
    def started(at, *, verified, kind=PRODUCTION):
        made = release(checkout, developer, kind=kind, finished=at, artifact_verified=verified)
        return made

    started((2025, 3, 4, 12), verified=True)
    started((2025, 3, 5, 12), verified=False)
    started((2025, 3, 19, 12), verified=True)
    started((2025, 3, 19, 12), verified=True, kind=STAGING)
    started((2025, 2, 20, 12), verified=True)
    assert kpis().artifact_integrity_coverage == Ratio(
        round(2 / 3, 4), 2, 3, trend(0.5, None, 1.0, None)
    )


@pytest.mark.django_db
def test_security_gate_pass_rate(checkout, finder, developer, other_developer):
    # First evaluated in production in the window, checkout (payments): W1 passed, W1 failed,
    # W2 failed (then started: the first attempt counts), W4 passed, W4 passed; finder
    # (search): W3 failed. Not counted: one in staging, one before the window, one no trust
    # policy covered (no first outcome).
    def gated(day, *, passed, kind=PRODUCTION, service=checkout, requester=developer):
        return release(
            service,
            requester,
            kind=kind,
            supply_chain_first_passed=passed,
            supply_chain_first_at=None if passed is None else utc(*day),
        )

    gated((2025, 3, 4, 12), passed=True)
    gated((2025, 3, 5, 12), passed=False)
    later_started = gated((2025, 3, 12, 12), passed=False)
    Release.objects.filter(pk=later_started.pk).update(
        state=ReleaseState.IN_PROGRESS, started_at=utc(2025, 3, 13), artifact_verified=True
    )
    gated((2025, 3, 25, 12), passed=True)
    gated((2025, 3, 26, 12), passed=True)
    gated((2025, 3, 18, 12), passed=False, service=finder, requester=other_developer)
    gated((2025, 3, 20, 12), passed=False, kind=STAGING)
    gated((2025, 2, 20, 12), passed=False)
    gated((2025, 3, 20, 12), passed=None)
    assert kpis().security_gate_pass_rate == Ratio(0.5, 3, 6, trend(0.5, 0.0, 0.0, 1.0))
    assert kpis("team", "payments").security_gate_pass_rate == Ratio(
        0.6, 3, 5, trend(0.5, 0.0, None, 1.0)
    )
    assert kpis("service", "finder").security_gate_pass_rate == Ratio(
        0.0, 0, 1, trend(None, None, 0.0, None)
    )


@pytest.mark.django_db
def test_standard_pipeline_share_counts_latest_outdated_and_unreported(payments, search):
    python_v1, python_v2 = (
        GoldenPathTemplate.objects.create(name="python-web", version=v, title="Py") for v in (1, 2)
    )
    go = GoldenPathTemplate.objects.create(name="go-grpc", version=1, title="Go")

    def service(name, team, template, reported=("", None)):
        return ServiceFactory(
            name=name,
            owner=team,
            template=template,
            pipeline_template=reported[0],
            pipeline_template_version=reported[1],
        )

    # Made from v1, its CI took up v2's pipeline: on the newest.
    service("ledger", payments, python_v1, ("python-web", 2))
    service("cart", payments, python_v2, ("python-web", 1))  # an older version: outdated
    service("router", search, go, ("python-web", 2))  # another template's pipeline: outdated
    service("indexer", search, go)  # nothing reported yet
    service("legacy", search, None, ("python-web", 2))  # no golden path: not counted

    empty = trend(None, None, None, None)
    assert kpis().standard_pipeline_share == PipelineAdoption(0.25, 1, 2, 1, 4, empty)
    assert kpis("team", "payments").standard_pipeline_share == PipelineAdoption(
        0.5, 1, 1, 0, 2, empty
    )
    assert kpis("service", "indexer").standard_pipeline_share == PipelineAdoption(
        0.0, 0, 0, 1, 1, empty
    )
    # A new version makes yesterday's newest outdated.
    GoldenPathTemplate.objects.create(name="python-web", version=3, title="Py")
    assert kpis().standard_pipeline_share.latest == 0
    # The state now: in the default window (ending today), the last week carries it.
    now = platform_kpis(scope="org").standard_pipeline_share
    assert now.trend[-1].value == 0.0 and {p.value for p in now.trend[:-1]} == {None}
