"""The leadership tables on a hand-built month, with the expected figures worked out in comments.

The window is 3-30 March 2025 (TIME_ZONE is UTC in tests): 28 days, the weeks of Monday 3, 10,
17 and 24 March."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from apps.catalog.models import EnvironmentKind, Service
from apps.insights import services
from apps.insights.models import DailyDeploymentRollup, DeploymentFact, Level, ServiceScore
from apps.insights.selectors import ScopeNotFound, dora_report
from apps.insights.tables import (
    AttentionRow,
    ServiceRow,
    TeamRow,
    service_table,
    services_needing_attention,
    team_outlines,
    team_table,
)
from apps.releases.models import ChangeType, Release, ReleaseState
from tests.factories import ServiceFactory, TeamFactory
from tests.insights.conftest import (
    STAGING_AND_PRODUCTION,
    two_commits_each,
    utc,
    with_environments,
)

START, END = date(2025, 3, 3), date(2025, 3, 30)
HOUR = 3600
WINDOW = {"start": START, "end": END}


def commit(sha, finished, hours_before):
    return [{"sha": sha, "committed_at": utc(*finished) - timedelta(hours=hours_before)}]


def score(service, level, passed, total=10):
    return ServiceScore.objects.create(
        service=service,
        level=level,
        passed=passed,
        total=total,
        results={},
        evaluated_at=timezone.now(),
    )


@pytest.fixture
def idle(db):
    return TeamFactory(slug="idle", name="Idle")


@pytest.fixture
def indexer(search):
    return with_environments(ServiceFactory(name="indexer", owner=search), *STAGING_AND_PRODUCTION)


@pytest.fixture
def month(checkout, payments_api, finder, indexer, idle, deploy):
    """payments: checkout and payments-api; search: finder and indexer; idle: no services.

    checkout:     4 March ships a 1 h old commit; 5 March fails; 12 March v2 fails and is
                  rolled back an hour after it started. 3 deployments, 2 failed. Silver, 6/10.
    payments-api: 6 and 20 March ship commits 3 h and 7 h old. No level, 3/10.
    finder:       7 March ships a 5 h old commit, then an incident (2 h) is blamed on it. Gold.
    indexer:      nothing, and no scorecard evaluation."""
    deploy(
        checkout,
        started=(2025, 3, 4, 9),
        finished=(2025, 3, 4, 10),
        commits=commit("c1", (2025, 3, 4, 10), 1),
    )
    deploy(
        checkout,
        started=(2025, 3, 5, 9),
        finished=(2025, 3, 5, 10),
        result="failed",
        commits=commit("c2", (2025, 3, 5, 10), 9),
    )
    v2 = {"external_id": "v2", "version": "v2", "started": (2025, 3, 12, 10)}
    deploy(checkout, **v2, finished=(2025, 3, 12, 10, 20), result="failed")
    deploy(checkout, **v2, finished=(2025, 3, 12, 11), result="rolled_back")
    deploy(
        payments_api,
        started=(2025, 3, 6, 9),
        finished=(2025, 3, 6, 10),
        commits=commit("p1", (2025, 3, 6, 10), 3),
    )
    deploy(
        payments_api,
        started=(2025, 3, 20, 9),
        finished=(2025, 3, 20, 10),
        commits=commit("p2", (2025, 3, 20, 10), 7),
    )
    deploy(
        finder,
        started=(2025, 3, 7, 9),
        finished=(2025, 3, 7, 10),
        commits=commit("f1", (2025, 3, 7, 10), 5),
    )
    deploy(finder, environment="staging", started=(2025, 3, 7, 8), finished=(2025, 3, 7, 8, 30))
    services.incident_record(
        source="pagerduty",
        external_id="P1",
        service=finder,
        opened_at=utc(2025, 3, 7, 12),
        resolved_at=utc(2025, 3, 7, 14),
    )
    score(checkout, Level.SILVER, 6)
    score(payments_api, Level.NONE, 3)
    score(finder, Level.GOLD, 10)


@pytest.mark.django_db
def test_the_team_table(month):
    idle, payments, search = team_table(**WINDOW)  # by name
    assert idle == TeamRow(
        slug="idle",
        name="Idle",
        services=0,
        deployments=0,
        deployments_per_week=None,
        frequency_bucket=None,
        frequency_tier=None,
        failures=0,
        change_failure_rate=None,
        change_failure_tier=None,
        lead_time_median_seconds=None,
        lead_time_commits=0,
        lead_time_tier=None,
        recovery_median_seconds=None,
        recoveries=0,
        recovery_tier=None,
        level_counts={0: 0, 1: 0, 2: 0, 3: 0},
    )
    # payments: 3 + 2 = 5 deployments, 2 failed: 40%, low. Weeks: 3 deployments on 3 days
    # (4, 5, 6 March), then 1, 1, 0: median days 1 (< 3), every week but one deployed (median
    # 1): weekly, high; 5 / 4 weeks = 1.25 a week. Lead times 1 h, 3 h, 7 h (the failed
    # deployment's commit does not count): median 3 h, elite. Recovery: the rollback, 3600 s:
    # not under an hour: high. One silver and one service without a level.
    assert payments == TeamRow(
        slug="payments",
        name="Payments",
        services=2,
        deployments=5,
        deployments_per_week=1.25,
        frequency_bucket="weekly",
        frequency_tier="high",
        failures=2,
        change_failure_rate=0.4,
        change_failure_tier="low",
        lead_time_median_seconds=3 * HOUR,
        lead_time_commits=3,
        lead_time_tier="elite",
        recovery_median_seconds=3600,
        recoveries=1,
        recovery_tier="high",
        level_counts={0: 1, 1: 0, 2: 1, 3: 0},
    )
    # search: finder's one deployment (staging does not count), failed through the incident:
    # 100%. One week of four deployed, all weeks in March: monthly, medium. Lead time 5 h;
    # recovery 2 h: under a day, high. finder is gold; indexer has no score: level 0.
    assert (search.slug, search.services, search.deployments, search.failures) == (
        "search",
        2,
        1,
        1,
    )
    assert (search.change_failure_rate, search.change_failure_tier) == (1.0, "low")
    assert (search.frequency_bucket, search.deployments_per_week) == ("monthly", 0.25)
    assert (search.lead_time_median_seconds, search.lead_time_tier) == (5 * HOUR, "elite")
    assert (search.recovery_median_seconds, search.recovery_tier) == (2 * HOUR, "high")
    assert search.level_counts == {0: 1, 1: 0, 2: 0, 3: 1}


def assert_agrees_with_the_report(row, report):
    frequency, cfr = report.deployment_frequency, report.change_failure_rate
    assert (row.deployments, row.deployments_per_week) == (
        frequency.deployments,
        frequency.per_week,
    )
    assert (row.frequency_bucket, row.frequency_tier) == (frequency.bucket, frequency.tier)
    assert (row.failures, row.change_failure_rate, row.change_failure_tier) == (
        cfr.failures,
        cfr.rate,
        cfr.tier,
    )
    assert (row.lead_time_median_seconds, row.lead_time_commits, row.lead_time_tier) == (
        report.lead_time.median_seconds,
        report.lead_time.commits,
        report.lead_time.tier,
    )
    recovery = report.recovery
    assert (row.recovery_median_seconds, row.recovery_tier) == (
        recovery.median_seconds,
        recovery.tier,
    )
    assert row.recoveries == recovery.incidents + recovery.rollbacks


@pytest.mark.django_db
@pytest.mark.parametrize("window", [WINDOW, {"start": date(2025, 3, 6), "end": date(2025, 3, 12)}])
def test_every_row_agrees_with_the_dora_report(month, window):
    for row in team_table(**window):
        assert_agrees_with_the_report(row, dora_report(scope="team", name=row.slug, **window))
    for row in service_table(**window):
        assert_agrees_with_the_report(row, dora_report(scope="service", name=row.name, **window))


@pytest.mark.django_db
@pytest.mark.parametrize("window", [WINDOW, {"start": date(2025, 3, 6), "end": date(2025, 3, 12)}])
def test_the_rows_of_some_teams_are_their_rows_of_the_whole_table(
    month, window, django_assert_num_queries
):
    every = {row.slug: row for row in team_table(**window)}
    outlines = team_outlines()
    assert [(o.slug, o.name, o.services, o.level_counts) for o in outlines] == [
        (row.slug, row.name, row.services, row.level_counts) for row in every.values()
    ]
    # Some teams, in the order given: their figures alone are read, in three queries (the
    # grouped roll-up, lead times and recoveries), and they are those of the whole table.
    some = [o for o in outlines if o.slug in ("search", "idle")][::-1]
    with django_assert_num_queries(3):
        rows = team_table(teams=some, **window)
    assert [row.slug for row in rows] == ["search", "idle"]
    assert rows == [every["search"], every["idle"]]
    payments = next(o for o in outlines if o.slug == "payments")
    (row,) = team_table(teams=[payments], **window)
    assert row == every["payments"] and row.deployments > 0
    with django_assert_num_queries(0):
        assert team_table(teams=[], **window) == []


@pytest.mark.django_db
def test_the_service_table(month):
    rows = service_table(**WINDOW)
    assert [row.name for row in rows] == ["checkout", "finder", "indexer", "payments-api"]
    checkout = rows[0]
    # 3 deployments, 2 failed: 66.67%. Weeks: 2 deployments (2 days), 1, 0, 0: median days
    # 0.5, median deployed 0.5: not weekly; monthly. Lead time: the one 1 h commit that stayed.
    assert checkout == ServiceRow(
        name="checkout",
        title="Checkout",
        team_slug="payments",
        team_name="Payments",
        tier=checkout.tier,
        level=2,
        level_label="Silver",
        scored=True,
        rules_passed=6,
        rules_total=10,
        deployments=3,
        deployments_per_week=0.75,
        frequency_bucket="monthly",
        frequency_tier="medium",
        failures=2,
        change_failure_rate=0.6667,
        change_failure_tier="low",
        lead_time_median_seconds=HOUR,
        lead_time_commits=1,
        lead_time_tier="elite",
        recovery_median_seconds=3600,
        recoveries=1,
        recovery_tier="high",
    )
    indexer = rows[2]
    assert (indexer.level, indexer.level_label, indexer.scored) == (0, "No level", False)
    assert (indexer.rules_passed, indexer.rules_total) == (0, 0)
    assert (indexer.deployments, indexer.change_failure_rate, indexer.lead_time_median_seconds) == (
        0,
        None,
        None,
    )
    # payments-api: 2 deployments, lead times 3 h and 7 h: median 5 h.
    assert (rows[3].deployments, rows[3].lead_time_median_seconds) == (2, 5 * HOUR)


@pytest.mark.django_db
def test_the_service_table_of_a_team(month):
    assert [row.name for row in service_table(team_slug="search", **WINDOW)] == [
        "finder",
        "indexer",
    ]
    assert service_table(team_slug="idle", **WINDOW) == []
    with pytest.raises(ScopeNotFound):
        service_table(team_slug="nobody", **WINDOW)


def emergency(service, requester, *, state=ReleaseState.SUCCEEDED, reviewed=False):
    start = utc(2025, 3, 10, 9)
    return Release.objects.create(
        service=service,
        environment=service.environments.get(kind=EnvironmentKind.PRODUCTION),
        version="hotfix",
        title="Hotfix",
        change_type=ChangeType.EMERGENCY,
        justification="Checkout is down",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        requester=requester,
        state=state,
        retrospective_due_at=start + timedelta(days=2),
        retrospective_done_at=start + timedelta(days=1) if reviewed else None,
    )


@pytest.mark.django_db
def test_services_needing_attention(month, checkout, developer):
    emergency(checkout, developer)
    emergency(checkout, developer, reviewed=True)  # reviewed: no longer open
    emergency(checkout, developer, state=ReleaseState.CANCELLED)  # never ran
    rows = services_needing_attention(**WINDOW)
    # Lowest level first: payments-api and indexer (level 0); payments-api first for its 7
    # failing rules (both have a failure rate of 0 or none). Then checkout (silver), then finder
    # (gold, but 100% of its deployments failed).
    assert rows == [
        AttentionRow(
            service="payments-api",
            title="Payments Api",
            team_slug="payments",
            team_name="Payments",
            level=0,
            level_label="No level",
            change_failure_rate=0.0,
            failing_rules=7,
            open_emergencies=0,
            deployments=2,
            reasons=("No level", "7 failing rules"),
        ),
        AttentionRow(
            service="indexer",
            title="Indexer",
            team_slug="search",
            team_name="Search",
            level=0,
            level_label="No level",
            change_failure_rate=None,
            failing_rules=0,
            open_emergencies=0,
            deployments=0,
            reasons=("Not scored yet", "No production deployment in 28 days"),
        ),
        AttentionRow(
            service="checkout",
            title="Checkout",
            team_slug="payments",
            team_name="Payments",
            level=2,
            level_label="Silver",
            change_failure_rate=0.6667,
            failing_rules=4,
            open_emergencies=1,
            deployments=3,
            reasons=(
                "Change failure rate 67%",
                "4 failing rules",
                "Open emergency change without retrospective",
            ),
        ),
        AttentionRow(
            service="finder",
            title="Finder",
            team_slug="search",
            team_name="Search",
            level=3,
            level_label="Gold",
            change_failure_rate=1.0,
            failing_rules=0,
            open_emergencies=0,
            deployments=1,
            reasons=("Change failure rate 100%",),
        ),
    ]
    assert [row.service for row in services_needing_attention(limit=2, **WINDOW)] == [
        "payments-api",
        "indexer",
    ]
    assert [row.service for row in services_needing_attention(team_slug="payments", **WINDOW)] == [
        "payments-api",
        "checkout",
    ]


@pytest.mark.django_db
def test_a_healthy_service_needs_no_attention(finder, deploy, other_developer):
    deploy(finder, started=(2025, 3, 7, 9), finished=(2025, 3, 7, 10))
    score(finder, Level.GOLD, 10)
    assert services_needing_attention(**WINDOW) == []
    emergency(finder, other_developer)
    emergency(finder, other_developer)
    [row] = services_needing_attention(**WINDOW)
    assert row.reasons == ("2 open emergency changes without retrospective",)


@pytest.mark.django_db
def test_empty_catalog(db):
    assert team_table(**WINDOW) == []
    assert service_table(**WINDOW) == []
    assert services_needing_attention(**WINDOW) == []


def rolled_up(service, *days):
    """Production roll-up rows: (day of March 2025, deployments, failures) each."""
    for day, deployments, failures in days:
        DailyDeploymentRollup.objects.create(
            service=service,
            day=date(2025, 3, day),
            is_production=True,
            deployments=deployments,
            failures=failures,
        )


def ranked(rows) -> list[tuple]:
    """The attention rows as attention_by_reference gives them."""
    return [
        (
            r.service,
            r.level,
            r.change_failure_rate,
            r.failing_rules,
            r.open_emergencies,
            r.deployments,
        )
        for r in rows
    ]


def attention_by_reference(window: dict, emergencies: dict[str, int]) -> list[tuple]:
    """The ranking worked out in Python from every service's full row (service_table), as the
    page once did it: (name, level, rate, failing rules, emergencies, deployments)."""
    rows = [
        (
            r.name,
            r.level,
            r.change_failure_rate,
            r.rules_total - r.rules_passed,
            emergencies.get(r.name, 0),
            r.deployments,
        )
        for r in service_table(**window)
        if r.level == Level.NONE
        or r.change_failure_tier == "low"
        or r.rules_total > r.rules_passed
        or emergencies.get(r.name)
        or not r.deployments
    ]
    return sorted(rows, key=lambda r: (r[1], -(r[2] or 0), -r[3], -r[4], r[0]))


@pytest.mark.django_db
def test_the_attention_ranking_on_known_figures(payments, search, developer):
    def service(name, team=payments):
        return with_environments(ServiceFactory(name=name, owner=team), *STAGING_AND_PRODUCTION)

    # Bronze, 1 in 4 failed (25%), 2 failing rules.
    ledger = service("ledger")
    rolled_up(ledger, (4, 2, 1), (11, 2, 0))
    score(ledger, Level.BRONZE, 8)
    # Bronze, 2 in 8 failed (25% too): more failing rules (5), so before the ledger.
    refunds = service("refunds")
    rolled_up(refunds, (5, 8, 2))
    score(refunds, Level.BRONZE, 5)
    # Bronze, 1 in 2 failed: the highest rate of the bronze services.
    fraud = service("fraud")
    rolled_up(fraud, (6, 2, 1))
    score(fraud, Level.BRONZE, 10)
    # Not scored, never deployed: the lowest level, so first.
    service("idle", search)
    # Bronze, 1 in 10 failed (high tier, not low), nothing failing but an open emergency.
    wallet = service("wallet")
    rolled_up(wallet, (7, 10, 1))
    score(wallet, Level.BRONZE, 10)
    emergency(wallet, developer)
    # Bronze, 1 in 10, all rules pass, no emergency: healthy, not listed. A failed deployment
    # before the window and a failing one outside production do not count.
    healthy = service("healthy")
    rolled_up(healthy, (7, 10, 1))
    DailyDeploymentRollup.objects.create(
        service=healthy, day=date(2025, 3, 2), is_production=True, deployments=1, failures=1
    )
    DailyDeploymentRollup.objects.create(
        service=healthy, day=date(2025, 3, 8), is_production=False, deployments=3, failures=3
    )
    score(healthy, Level.BRONZE, 10)
    # Gold, 1 in 5 failed (20%, low tier), equal in all else: by name, by code point
    # ("a-z" before "ab", where a dictionary order would put "ab" first).
    for name in ("ab", "a-z"):
        rolled_up(service(name, search), (10, 5, 1))
    for name in ("ab", "a-z"):
        score(Service.objects.get(name=name), Level.GOLD, 10)

    rows = services_needing_attention(**WINDOW)

    assert ranked(rows) == [
        ("idle", 0, None, 0, 0, 0),
        ("fraud", 1, 0.5, 0, 0, 2),
        ("refunds", 1, 0.25, 5, 0, 8),
        ("ledger", 1, 0.25, 2, 0, 4),
        ("wallet", 1, 0.1, 0, 1, 10),
        ("a-z", 3, 0.2, 0, 0, 5),
        ("ab", 3, 0.2, 0, 0, 5),
    ]
    assert rows[0].reasons == ("Not scored yet", "No production deployment in 28 days")
    assert (rows[0].team_slug, rows[0].team_name, rows[0].level_label) == (
        "search",
        "Search",
        "No level",
    )
    assert rows[1].reasons == ("Change failure rate 50%",)
    assert rows[2].reasons == ("Change failure rate 25%", "5 failing rules")
    assert rows[4].reasons == ("Open emergency change without retrospective",)
    assert rows[5].reasons == ("Change failure rate 20%",)
    # The same services in the same order as ranking every service's full row in Python.
    assert ranked(rows) == attention_by_reference(WINDOW, {"wallet": 1})
    # The limit cuts the ranking; a team's list is the same ranking, of its services only.
    assert [r.service for r in services_needing_attention(limit=3, **WINDOW)] == [
        "idle",
        "fraud",
        "refunds",
    ]
    assert [r.service for r in services_needing_attention(team_slug="search", **WINDOW)] == [
        "idle",
        "a-z",
        "ab",
    ]
    with pytest.raises(ScopeNotFound):
        services_needing_attention(team_slug="nobody", **WINDOW)


@pytest.mark.django_db
def test_an_attention_rate_reads_as_in_every_other_table(payments):
    # 1 in 32 is 0.03125 exactly: the database would round it up, Python's round() down.
    ledger = ServiceFactory(name="ledger", owner=payments)
    rolled_up(ledger, (4, 32, 1))
    score(ledger, Level.BRONZE, 9)
    [row] = services_needing_attention(**WINDOW)
    [table_row] = service_table(**WINDOW)
    assert row.change_failure_rate == table_row.change_failure_rate == 0.0312


# --- Query counts -----------------------------------------------------------------------------


def bulk_catalog(teams: int) -> None:
    """`teams` teams of two services each; each service with 6 production deployments over
    March, every third failed and rolled back, each with two commits; half of them scored."""
    facts = []
    for number in range(teams):
        team = TeamFactory(slug=f"team-{number}")
        for index in range(2):
            service = ServiceFactory(name=f"svc-{number}-{index}", owner=team)
            if index:
                score(service, Level.BRONZE, 5)
            for deployment in range(6):
                started = utc(2025, 3, 3, 8) + timedelta(days=deployment * 4, hours=number)
                failed = deployment % 3 == 0
                facts.append(
                    DeploymentFact(
                        service=service,
                        environment="production",
                        is_production=True,
                        version=f"v{deployment}",
                        source="generic",
                        external_id=f"bulk/{service.name}/{deployment}",
                        started_at=started,
                        finished_at=started + timedelta(minutes=10),
                        result="rolled_back" if failed else "succeeded",
                        is_failure=failed,
                        rolled_back_at=started + timedelta(minutes=30) if failed else None,
                        recovery_seconds=1800 if failed else None,
                    )
                )
    DeploymentFact.objects.bulk_create(facts)
    two_commits_each(facts)
    services.rollup_refresh(start=START, end=END)


@pytest.mark.django_db
@pytest.mark.parametrize("teams", [1, 8])
def test_a_fixed_number_of_queries(django_assert_num_queries, teams):
    bulk_catalog(teams)
    # Teams; their services' levels; the grouped roll-up, lead times and recoveries.
    with django_assert_num_queries(5):
        rows = team_table(**WINDOW)
    # Teams and their services' levels, without a figure.
    with django_assert_num_queries(2):
        team_outlines()
    # Services (with their scores); the grouped roll-up, lead times and recoveries.
    with django_assert_num_queries(4):
        service_rows = service_table(**WINDOW)
    # The same after looking the team up.
    with django_assert_num_queries(5):
        service_table(team_slug="team-0", **WINDOW)
    # One query, ranked and cut in the database; a team's adds its lookup.
    with django_assert_num_queries(1):
        services_needing_attention(**WINDOW)
    with django_assert_num_queries(2):
        services_needing_attention(team_slug="team-0", **WINDOW)
    assert len(rows) == teams and len(service_rows) == 2 * teams
    # 6 deployments per service, two of them (the 1st and 4th) failed.
    assert {(row.deployments, row.failures) for row in rows} == {(12, 4)}
    assert {tuple(row.level_counts.values()) for row in rows} == {(1, 1, 0, 0)}
