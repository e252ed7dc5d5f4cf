"""The four keys week by week, on a hand-built month whose answers are worked out in comments.

The window is 3-30 March 2025 (TIME_ZONE is UTC unless a test says otherwise): the weeks of
Monday 3, 10, 17 and 24 March."""

from datetime import date

import pytest
from django.db.models import F
from django.db.models.functions import TruncWeek
from django.test import override_settings
from django.utils import timezone

from apps.insights import dora
from apps.insights.selectors import ScopeNotFound, counted_commits, day_bounds, dora_report
from apps.insights.trends import DoraWeek, dora_trends
from tests.insights.conftest import bulk_month, commits

START, END = date(2025, 3, 3), date(2025, 3, 30)
MONDAYS = [date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 17), date(2025, 3, 24)]
HOUR = 3600


def trends(scope="org", name="", start=START, end=END):
    return dora_trends(scope=scope, name=name, start=start, end=end)


@pytest.mark.django_db
def test_every_week_of_the_organisation(march):
    assert trends() == [
        # One deployment, no failure: 0%. Lead times 1 h and 3 h: median 2 h.
        DoraWeek(MONDAYS[0], 1, 0, 0.0, 2 * HOUR, 2, None, 0),
        # checkout v2 (failed, then rolled back: one deployment) and finder (failed through the
        # incident): 2 of 2. Lead time: only finder's 5 h commit (v2's did not stay). Recovery:
        # the rollback, 11:00 - 10:00 = 3600 s, and the incident, 1800 s: median 2700 s.
        DoraWeek(MONDAYS[1], 2, 2, 1.0, 5 * HOUR, 1, 2700, 2),
        # Nothing happened: present, with zeros and None.
        DoraWeek(MONDAYS[2], 0, 0, None, None, 0, None, 0),
        # Two deployments, no failure. Lead times 1 h, 2 h, 4 h: median 2 h.
        DoraWeek(MONDAYS[3], 2, 0, 0.0, 2 * HOUR, 3, None, 0),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scope", "name", "expected"),
    [
        # payments is checkout alone: week 2 is v2 only (1 failed of 1), recovered by its rollback.
        (
            "team",
            "payments",
            [
                (1, 0, 0.0, 2 * HOUR, None),
                (1, 1, 1.0, None, 3600),
                (0, 0, None, None, None),
                (2, 0, 0.0, 2 * HOUR, None),
            ],
        ),
        # finder: its one deployment failed through the incident, which took 1800 s to resolve.
        (
            "service",
            "finder",
            [
                (0, 0, None, None, None),
                (1, 1, 1.0, 5 * HOUR, 1800),
                (0, 0, None, None, None),
                (0, 0, None, None, None),
            ],
        ),
    ],
)
def test_a_team_and_a_service(march, scope, name, expected):
    found = [
        (
            week.deployments,
            week.failures,
            week.change_failure_rate,
            week.lead_time_median_seconds,
            week.recovery_median_seconds,
        )
        for week in trends(scope, name)
    ]
    assert found == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scope", "name"), [("org", ""), ("team", "payments"), ("service", "finder")]
)
def test_the_weeks_add_up_to_the_report(march, scope, name):
    weeks = trends(scope, name)
    report = dora_report(scope=scope, name=name, start=START, end=END)
    assert sum(week.deployments for week in weeks) == report.deployment_frequency.deployments
    assert sum(week.failures for week in weeks) == report.change_failure_rate.failures
    assert sum(week.lead_time_commits for week in weeks) == report.lead_time.commits
    assert sum(week.recoveries for week in weeks) == (
        report.recovery.incidents + report.recovery.rollbacks
    )
    assert [week.deployments for week in weeks] == [
        week.deployments for week in report.deployment_frequency.weekly
    ]


@pytest.mark.django_db
def test_a_window_cut_mid_week_keeps_its_partial_weeks(march):
    # Wednesday 5 to Tuesday 25 March: the week of 3 March keeps 5-9 March (not checkout's
    # deployment of the 4th), the week of 24 March keeps the 24th and 25th (not the 26th).
    weeks = trends(start=date(2025, 3, 5), end=date(2025, 3, 25))
    assert [week.week for week in weeks] == MONDAYS
    assert [week.deployments for week in weeks] == [0, 2, 0, 1]
    assert (
        sum(week.deployments for week in weeks)
        == (
            dora_report(scope="org", start=date(2025, 3, 5), end=date(2025, 3, 25))
        ).deployment_frequency.deployments
    )


@pytest.mark.django_db
def test_no_deployments_gives_empty_weeks(checkout):
    assert trends() == [DoraWeek(monday, 0, 0, None, None, 0, None, 0) for monday in MONDAYS]


@pytest.mark.django_db
@override_settings(TIME_ZONE="Europe/Berlin")
def test_weeks_are_the_sites_weeks(checkout, deploy):
    # Sunday 9 March 23:30 UTC is Monday 10 March 00:30 in Berlin: the week of 10 March, for the
    # count (the roll-up's day) and for the lead time (the deployment's finish) alike.
    deploy(
        checkout,
        started=(2025, 3, 9, 23, 20),
        finished=(2025, 3, 9, 23, 30),
        commits=commits((2025, 3, 9, 23, 30), 1),
    )
    weeks = trends()
    assert [week.deployments for week in weeks] == [0, 1, 0, 0]
    assert [week.lead_time_median_seconds for week in weeks] == [None, HOUR, None, None]


@pytest.mark.django_db
def test_unknown_scopes_are_refused(checkout):
    with pytest.raises(ScopeNotFound):
        trends("team", "nobody")


@pytest.mark.django_db
@pytest.mark.parametrize("deployments", [3, 120])
def test_a_fixed_number_of_queries(checkout, django_assert_num_queries, deployments):
    bulk_month(checkout, deployments)
    # The weekly roll-up, the weekly lead-time medians, the weekly recovery medians.
    with django_assert_num_queries(3):
        weeks = trends()
    # A team or a service: its lookup first.
    with django_assert_num_queries(4):
        trends("team", "payments")
    with django_assert_num_queries(4):
        trends("service", "checkout")
    assert sum(week.deployments for week in weeks) == deployments
    report = dora_report(scope="org", start=START, end=END)
    assert sum(week.lead_time_commits for week in weeks) == report.lead_time.commits


@pytest.mark.django_db
@override_settings(TIME_ZONE="Europe/Berlin")
def test_the_weekly_lead_times_are_the_medians_of_each_weeks_counted_commits(checkout):
    # The medians are taken week by week over each week's own range of deployment times; the
    # same figures as grouping all the window's counted commits by their (site's) week, here
    # over a window cut mid-week at both ends.
    bulk_month(checkout, 120)
    start, end = date(2025, 3, 5), date(2025, 3, 25)
    lower, upper = day_bounds(start, end)
    by_week = dora.grouped_percentiles_and_counts(
        counted_commits()
        .filter(deployment__finished_at__gte=lower, deployment__finished_at__lt=upper)
        .values(
            g=TruncWeek("deployment__finished_at", tzinfo=timezone.get_default_timezone()),
            v=F("lead_time_seconds"),
        ),
        (0.5,),
    )
    expected = {dora.as_week(week): found for week, found in by_week.items()}
    weeks = trends(start=start, end=end)
    assert sum(week.lead_time_commits for week in weeks) > 0
    assert [(w.lead_time_median_seconds, w.lead_time_commits) for w in weeks] == [
        ((expected[w.week][0][0], expected[w.week][1]) if w.week in expected else (None, 0))
        for w in weeks
    ]
