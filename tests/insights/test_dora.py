"""The DORA report on hand-built data sets, with the expected figures worked out in comments.

Unless a test says otherwise the window is 3-30 March 2025 (TIME_ZONE is UTC in tests): four
whole calendar weeks, starting Monday 3, 10, 17 and 24 March."""

from datetime import date, timedelta

import pytest
from django.db.models import F
from django.test import override_settings

from apps.insights import dora, services
from apps.insights.models import CommitFact, IncidentFact
from apps.insights.selectors import ScopeNotFound, dora_report
from tests.factories import ServiceFactory, TeamFactory
from tests.insights.conftest import STAGING_AND_PRODUCTION, bulk_month, utc, with_environments

START, END = date(2025, 3, 3), date(2025, 3, 30)
HOUR, DAY = 3600, 86400


def report(scope="org", name="", start=START, end=END):
    return dora_report(scope=scope, name=name, start=start, end=end)


@pytest.mark.django_db
def test_no_deployments_gives_no_figures_and_no_tiers(checkout):
    result = report()
    frequency = result.deployment_frequency
    assert (frequency.deployments, frequency.weeks, frequency.per_week) == (0, 4, None)
    assert (frequency.bucket, frequency.tier) == (None, None)
    assert [week.deployments for week in frequency.weekly] == [0, 0, 0, 0]
    assert (result.lead_time.median_seconds, result.lead_time.commits, result.lead_time.tier) == (
        None,
        0,
        None,
    )
    assert (result.change_failure_rate.rate, result.change_failure_rate.tier) == (None, None)
    assert (result.recovery.median_seconds, result.recovery.tier) == (None, None)


@pytest.mark.django_db
def test_one_deployment(checkout, deploy):
    deploy(
        checkout,
        started=(2025, 3, 12, 10),
        finished=(2025, 3, 12, 10, 30),
        commits=[
            {"sha": "c1", "committed_at": utc(2025, 3, 11, 10, 30)},  # 24 h before the finish
            {"sha": "c2", "committed_at": utc(2025, 3, 12, 8, 30)},  # 2 h before
        ],
    )
    result = report(scope="service", name="checkout")
    frequency = result.deployment_frequency
    # One deployment, in the week of 10 March: 1/4 weeks = 0.25 a week. Median days with a
    # deployment per week: [0, 1, 0, 0] → 0 (< 3, not daily); median deployed week: 0 (not
    # weekly); every week is in March, a month with one deployed week: [1, 1, 1, 1] → 1: monthly.
    assert [week.deployments for week in frequency.weekly] == [0, 1, 0, 0]
    assert frequency.weekly[1].week == date(2025, 3, 10)
    assert (frequency.deployments, frequency.per_week) == (1, 0.25)
    assert (frequency.bucket, frequency.tier) == ("monthly", "medium")
    # Lead times 86400 and 7200: median 46800 s (13 h) < 1 day: elite.
    assert (result.lead_time.median_seconds, result.lead_time.commits) == (46800, 2)
    assert result.lead_time.tier == "elite"
    # 0 failures of 1: 0% ≤ 5%: elite.
    assert (result.change_failure_rate.rate, result.change_failure_rate.tier) == (0.0, "elite")
    assert result.recovery.median_seconds is None and result.recovery.tier is None


@pytest.mark.django_db
def test_a_rollback_chain(checkout, deploy):
    # 10 March: v1 ships; its one commit was made an hour before it finished.
    deploy(
        checkout,
        version="v1",
        started=(2025, 3, 10, 9),
        finished=(2025, 3, 10, 9, 10),
        commits=[{"sha": "a", "committed_at": utc(2025, 3, 10, 8, 10)}],
    )
    # 12 March: v2 starts 10:00 and fails at 10:20; the same deployment is rolled back by 11:00.
    chain = {"external_id": "v2", "version": "v2", "started": (2025, 3, 12, 10)}
    v2_commits = [{"sha": "b", "committed_at": utc(2025, 3, 12, 9)}]
    deploy(checkout, **chain, finished=(2025, 3, 12, 10, 20), result="failed", commits=v2_commits)
    deploy(checkout, **chain, finished=(2025, 3, 12, 11), result="rolled_back", commits=v2_commits)

    result = report(scope="service", name="checkout")
    # Two deployments (the failure and its rollback are one deployment), one failed: 50%: low.
    cfr = result.change_failure_rate
    assert (cfr.deployments, cfr.failures, cfr.rate, cfr.tier) == (2, 1, 0.5, "low")
    # Recovery: rollback finished 11:00 - deployment started 10:00 = 3600 s: not < 1 hour, but
    # < 1 day: high. No incidents, so the rollback alone makes the median.
    recovery = result.recovery
    assert (recovery.rollbacks, recovery.rollback_median_seconds) == (1, 3600)
    assert (recovery.incidents, recovery.incident_median_seconds) == (0, None)
    assert (recovery.median_seconds, recovery.tier) == (3600, "high")
    # Lead time counts only changes that stayed in production: v1's commit (3600 s), not v2's.
    assert (result.lead_time.median_seconds, result.lead_time.commits) == (3600, 1)
    assert result.deployment_frequency.weekly[1].failures == 1


@pytest.mark.django_db
def test_commits_older_than_the_window_count_with_their_deployment(checkout, deploy):
    """The rule: a commit's lead time counts in the window its deployment finished in, however
    old the commit. A commit counts once, at its first production deployment that stayed."""
    # Deployed 27 February, before the window: not counted, however recent its commit.
    deploy(
        checkout,
        started=(2025, 2, 27, 11),
        finished=(2025, 2, 27, 12),
        commits=[{"sha": "x", "committed_at": utc(2025, 2, 26, 12)}],
    )
    # Deployed 4 March with a commit from 20 February: 12 days = 1036800 s, counted.
    # It also redeploys commit x, first shipped 27 February: x is not counted again.
    deploy(
        checkout,
        started=(2025, 3, 4, 11),
        finished=(2025, 3, 4, 12),
        commits=[
            {"sha": "old", "committed_at": utc(2025, 2, 20, 12)},
            {"sha": "x", "committed_at": utc(2025, 2, 26, 12)},
        ],
    )
    result = report(scope="service", name="checkout")
    assert (result.lead_time.commits, result.lead_time.median_seconds) == (1, 12 * DAY)
    # 12 days: more than a week, less than a month: medium.
    assert result.lead_time.tier == "medium"
    assert result.deployment_frequency.deployments == 1


@pytest.mark.django_db
def test_an_incident_with_no_named_cause_fails_the_latest_production_deployment(checkout, deploy):
    deploy(checkout, started=(2025, 3, 10, 9), finished=(2025, 3, 10, 9, 10))
    culprit = deploy(checkout, started=(2025, 3, 12, 14), finished=(2025, 3, 12, 14, 5))
    deploy(
        checkout, environment="staging", started=(2025, 3, 12, 15), finished=(2025, 3, 12, 15, 5)
    )
    deploy(checkout, started=(2025, 3, 13, 9), finished=(2025, 3, 13, 9, 5))
    services.incident_record(
        source="pagerduty",
        external_id="P1",
        service=checkout,
        opened_at=utc(2025, 3, 12, 15, 30),
        resolved_at=utc(2025, 3, 12, 16, 15),
    )
    assert IncidentFact.objects.get().deployment == culprit
    result = report(scope="service", name="checkout")
    # Three production deployments (staging does not count), one failed through the incident:
    # 1/3 = 33.33%: low.
    cfr = result.change_failure_rate
    assert (cfr.deployments, cfr.failures, cfr.rate, cfr.tier) == (3, 1, 0.3333, "low")
    # Opened 15:30, resolved 16:15: 2700 s < 1 hour: elite.
    assert (result.recovery.incidents, result.recovery.incident_median_seconds) == (1, 2700)
    assert (result.recovery.median_seconds, result.recovery.tier) == (2700, "elite")


@pytest.mark.django_db
@override_settings(TIME_ZONE="Europe/Berlin")
def test_a_deployment_across_a_dst_change(checkout, deploy):
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # Committed Saturday 29 March 12:00 CET (+01:00); deployed Sunday 30 March 12:00 CEST
    # (+02:00): the clocks went forward at 02:00, so that is 23 real hours (82800 s), not a day.
    deploy(
        checkout,
        started=utc(2025, 3, 30, 9, 50).astimezone(berlin),
        finished=utc(2025, 3, 30, 10).astimezone(berlin),
        commits=[{"sha": "d", "committed_at": utc(2025, 3, 29, 11).astimezone(berlin)}],
    )
    assert CommitFact.objects.get().lead_time_seconds == 23 * HOUR
    # Another deployment finished at 00:30 Berlin time on 30 March, which is still 29 March in
    # UTC (23:30Z): the site's days are Berlin days, so it belongs to 30 March.
    deploy(checkout, started=(2025, 3, 29, 23, 20), finished=(2025, 3, 29, 23, 30))
    on_the_30th = report(
        scope="service", name="checkout", start=date(2025, 3, 30), end=date(2025, 3, 30)
    )
    assert on_the_30th.deployment_frequency.deployments == 2
    # 82800 s is under a day: elite (a wall-clock 86400 would have been high).
    assert (on_the_30th.lead_time.median_seconds, on_the_30th.lead_time.tier) == (82800, "elite")
    on_the_29th = report(
        scope="service", name="checkout", start=date(2025, 3, 29), end=date(2025, 3, 29)
    )
    assert on_the_29th.deployment_frequency.deployments == 0


@pytest.fixture
def two_teams(checkout, payments_api, finder, deploy):
    """payments: checkout (one success with a 1 h commit, one failure) and payments-api (one
    success with a 3 h commit); search: finder (one success with a 5 h commit, and a staging
    deployment that never counts)."""

    def commit(sha, hours_before_finish, finished):
        return [{"sha": sha, "committed_at": utc(*finished) - timedelta(hours=hours_before_finish)}]

    deploy(
        checkout,
        started=(2025, 3, 4, 9),
        finished=(2025, 3, 4, 10),
        commits=commit("c", 1, (2025, 3, 4, 10)),
    )
    deploy(
        checkout,
        started=(2025, 3, 5, 9),
        finished=(2025, 3, 5, 10),
        result="failed",
        commits=commit("f", 9, (2025, 3, 5, 10)),
    )
    deploy(
        payments_api,
        started=(2025, 3, 6, 9),
        finished=(2025, 3, 6, 10),
        commits=commit("p", 3, (2025, 3, 6, 10)),
    )
    deploy(
        finder,
        started=(2025, 3, 7, 9),
        finished=(2025, 3, 7, 10),
        commits=commit("s", 5, (2025, 3, 7, 10)),
    )
    deploy(finder, environment="staging", started=(2025, 3, 7, 8), finished=(2025, 3, 7, 8, 30))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scope", "name", "deployments", "failures", "rate", "lead_median", "commits"),
    [
        # All four production deployments, one failed; lead times 1 h, 3 h, 5 h: median 3 h.
        ("org", "", 4, 1, 0.25, 3 * HOUR, 3),
        # checkout and payments-api: 3 deployments, 1 failed; 1 h and 3 h: median 2 h.
        ("team", "payments", 3, 1, 0.3333, 2 * HOUR, 2),
        # finder alone: its staging deployment does not count.
        ("team", "search", 1, 0, 0.0, 5 * HOUR, 1),
        # checkout alone: the failed deployment's commit does not count for lead time.
        ("service", "checkout", 2, 1, 0.5, 1 * HOUR, 1),
    ],
)
def test_org_team_and_service_scopes(
    two_teams, scope, name, deployments, failures, rate, lead_median, commits
):
    result = report(scope=scope, name=name)
    cfr = result.change_failure_rate
    assert (cfr.deployments, cfr.failures, cfr.rate) == (deployments, failures, rate)
    assert (result.lead_time.median_seconds, result.lead_time.commits) == (lead_median, commits)
    assert result.name == name


@pytest.mark.django_db
def test_unknown_teams_and_services_are_not_found(checkout):
    with pytest.raises(ScopeNotFound):
        report(scope="team", name="nobody")
    with pytest.raises(ScopeNotFound):
        report(scope="service", name="nothing")


@pytest.mark.django_db
def test_the_default_window_is_the_last_90_days(checkout):
    result = dora_report(scope="org")
    assert (result.end - result.start).days == 89
    assert result.deployment_frequency.weeks in (13, 14)


# --- Query counts -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("deployments", [3, 120])
def test_the_report_takes_a_fixed_number_of_queries(
    checkout, django_assert_num_queries, deployments
):
    bulk_month(checkout, deployments)
    # org: weekly roll-up, lead-time median, incident, rollback and combined recovery medians,
    # incidents with no known start.
    with django_assert_num_queries(6):
        org = report()
    # service (and team): the same, after looking the service (or team) up.
    with django_assert_num_queries(7):
        report(scope="service", name="checkout")
    with django_assert_num_queries(7):
        report(scope="team", name="payments")
    assert org.deployment_frequency.deployments == deployments
    failed = len(range(0, deployments, 3))  # every third, from the first
    assert org.lead_time.commits == 2 * (deployments - failed)  # commits of the ones that stayed


# --- Classification ---------------------------------------------------------------------------


def weeks(*days_with_deployments, first=date(2025, 1, 6)):
    return [
        dora.WeekCount(
            week=first + timedelta(weeks=index),
            deployments=days,
            failures=0,
            days_with_deployments=days,
        )
        for index, days in enumerate(days_with_deployments)
    ]


@pytest.mark.parametrize(
    ("series", "bucket"),
    [
        ((3, 4, 3, 5), "daily"),  # median 3.5 days a week
        ((3, 2, 3, 2), "weekly"),  # median 2.5 days: not daily; every week deployed
        ((1, 0, 1, 0, 1), "weekly"),  # 3 of 5 weeks deployed: median 1
        ((1, 0, 0, 0), "monthly"),  # one week in four, all in January: every week's month had one
        # 13 weeks from 6 January: 4 in January (one deployed), 4 in February, 5 in March. Weeks
        # whose month had a deployed week: 4 ones and 9 zeros, median 0: yearly.
        ((1, *[0] * 12), "yearly"),
        ((0, 0, 0), None),
    ],
)
def test_four_keys_frequency_buckets(series, bucket):
    assert dora.frequency_bucket(weeks(*series)) == bucket


@pytest.mark.parametrize(
    ("seconds", "tier"),
    [
        (DAY - 1, "elite"),
        (DAY, "high"),
        (7 * DAY, "high"),
        (7 * DAY + 1, "medium"),
        (30 * DAY, "medium"),
        (30 * DAY + 1, "low"),
        (None, None),
    ],
)
def test_lead_time_tiers(seconds, tier):
    assert dora.lead_time_tier(seconds) == tier


@pytest.mark.parametrize(
    ("seconds", "tier"),
    [
        (HOUR - 1, "elite"),
        (HOUR, "high"),
        (DAY - 1, "high"),
        (DAY, "medium"),
        (7 * DAY, "medium"),
        (7 * DAY + 1, "low"),
    ],
)
def test_recovery_tiers(seconds, tier):
    assert dora.recovery_tier(seconds) == tier


@pytest.mark.parametrize(
    ("failures", "deployments", "tier"),
    [(1, 20, "elite"), (2, 20, "high"), (3, 20, "medium"), (4, 20, "low"), (0, 0, None)],
)
def test_change_failure_tiers(failures, deployments, tier):
    # 3 of 20 is exactly 15%: medium, not low because of a float just above 0.15.
    assert dora.change_failure_tier(failures, deployments) == tier


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "median"),
    [([], None), ([7], 7), ([10, 1], 5.5), ([3, 1, 2], 2), ([4, 1, 3, 2], 2.5)],
)
def test_the_database_median(checkout, values, median):
    for index, value in enumerate(values):
        IncidentFact.objects.create(
            service=checkout,
            source="generic",
            external_id=str(index),
            opened_at=utc(2025, 3, 1),
            recovery_seconds=value,
        )
    found = dora.median_and_count(IncidentFact.objects.values(v=F("recovery_seconds")))
    assert found == (median, len(values))


@pytest.mark.django_db
def test_the_database_median_of_a_union(checkout):
    team = TeamFactory(slug="other")
    other = with_environments(ServiceFactory(name="other", owner=team), *STAGING_AND_PRODUCTION)
    for service, value in ((checkout, 10), (other, 20), (other, 40)):
        IncidentFact.objects.create(
            service=service,
            source="generic",
            external_id=f"{service.name}{value}",
            opened_at=utc(2025, 3, 1),
            recovery_seconds=value,
        )
    mine = IncidentFact.objects.filter(service=checkout).values(v=F("recovery_seconds"))
    theirs = IncidentFact.objects.filter(service=other).values(v=F("recovery_seconds"))
    assert dora.median_and_count(mine.union(theirs, all=True)) == (20, 3)
