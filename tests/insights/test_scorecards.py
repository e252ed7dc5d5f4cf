"""Scorecards: each rule on hand-built data, levels, refreshing many services in a fixed number of
queries, weekly snapshots, the selectors and changing a rule. Dates: see scorecard_data."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import TeamMembership
from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, EnvironmentKind, Strategy, Tier
from apps.core.models import OutboxMessage
from apps.insights import tasks
from apps.insights.models import Level, ScorecardRule, ScorecardSnapshot, ServiceScore
from apps.insights.scorecards import selectors, services
from apps.insights.scorecards.evaluation import (
    RuleSetting,
    evaluate_services,
    level_for,
    rule_settings,
)
from apps.insights.scorecards.rules import RULES, RULES_BY_KEY
from apps.releases.models import ChangeType, ReleaseState
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.insights.scorecard_data import (
    NOW,
    TODAY,
    emergency_awaiting_review,
    environments,
    exemplary_service,
    failing,
    production_policy,
    production_release,
    results_for,
    rollup,
    template,
)

ALL_KEYS = {rule.key for rule in RULES}


@pytest.fixture
def policy(db):
    return production_policy()


@pytest.fixture
def ledger(developer, payments, policy):
    """A payments service that passes every rule (dana is in payments)."""
    return exemplary_service("ledger", payments)


# --- The rules, one at a time -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_exemplary_service_passes_every_rule(ledger):
    assert results_for(ledger) == dict.fromkeys(ALL_KEYS, True)


@pytest.mark.django_db
def test_the_migration_set_up_every_rule_at_its_default_level():
    levels = dict(ScorecardRule.objects.values_list("key", "level"))
    assert set(levels) == ALL_KEYS
    assert levels["has_owner"] == Level.BRONZE
    assert levels["latest_template"] == Level.SILVER
    assert levels["change_failure_rate"] == Level.GOLD
    assert ScorecardRule.objects.filter(is_enabled=False).count() == 0


@pytest.mark.django_db
def test_a_team_nobody_belongs_to_is_no_owner(ledger, developer):
    TeamMembership.objects.filter(team=ledger.owner).delete()
    assert failing(ledger) == {"has_owner"}


@pytest.mark.django_db
def test_a_team_of_deactivated_people_is_no_owner(ledger, developer):
    developer.is_active = False
    developer.save()
    assert failing(ledger) == {"has_owner"}


@pytest.mark.django_db
def test_a_missing_runbook_fails(ledger):
    ledger.runbook_url = ""
    ledger.save()
    assert failing(ledger) == {"has_runbook"}


@pytest.mark.django_db
def test_a_missing_on_call_fails(ledger):
    ledger.on_call = "  "
    ledger.save()
    assert failing(ledger) == {"has_on_call"}


@pytest.mark.django_db
def test_no_production_environment_fails_the_policy_rule(payments, developer, policy):
    service = ServiceFactory(name="tool", owner=payments)
    environments(service, EnvironmentKind.DEVELOPMENT, EnvironmentKind.STAGING)
    assert results_for(service)["production_policy"] is False


@pytest.mark.django_db
def test_no_active_policy_fails_the_policy_rule(ledger, policy):
    policy.is_active = False
    policy.save()
    assert failing(ledger) == {"production_policy"}


@pytest.mark.django_db
def test_a_policy_is_matched_as_a_release_would_be(ledger, policy):
    # Narrowed to another tier, or to emergencies only: normal changes to ledger are not gated.
    policy.tier = Tier.CRITICAL
    policy.save()
    assert failing(ledger) == {"production_policy"}
    policy.tier = None
    policy.change_type = ChangeType.EMERGENCY
    policy.save()
    assert failing(ledger) == {"production_policy"}
    # A policy on the service's own production environment (no kind) covers it.
    policy.change_type = ""
    policy.environment_kind = ""
    policy.environment = ledger.environments.get(kind=EnvironmentKind.PRODUCTION)
    policy.save()
    assert failing(ledger) == set()


@pytest.mark.django_db
def test_every_production_environment_needs_a_policy(ledger, policy):
    first = ledger.environments.get(kind=EnvironmentKind.PRODUCTION)
    Environment.objects.create(
        service=ledger, name="prod-eu", kind=EnvironmentKind.PRODUCTION, order=3, namespace="eu"
    )
    policy.environment_kind, policy.environment = "", first
    policy.save()
    assert failing(ledger) == {"production_policy"}


@pytest.mark.django_db
def test_an_older_template_version_fails(ledger):
    template(version=4)
    assert failing(ledger) == {"latest_template"}


@pytest.mark.django_db
def test_another_templates_newer_version_does_not_matter(ledger):
    template(name="go-service", version=9)
    assert failing(ledger) == set()


@pytest.mark.django_db
def test_a_service_made_from_no_template_fails(ledger):
    ledger.template = None
    ledger.save()
    assert failing(ledger) == {"latest_template"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("strategy", "params", "verified"),
    [
        (Strategy.CANARY, {"steps": [{"set_weight": 50}, {"pause": {"seconds": 60}}]}, False),
        (Strategy.CANARY, {"steps": [{"analysis": {"template": "errors"}}]}, True),
        (Strategy.BLUE_GREEN, {}, False),
        (Strategy.BLUE_GREEN, {"pre_promotion_analysis": "smoke"}, True),
        (Strategy.BLUE_GREEN, {"post_promotion_analysis": "errors"}, True),
        (Strategy.ROLLING, {}, False),
        (Strategy.ROLLING, {"post_deploy_analysis": "errors"}, True),
        (Strategy.CANARY, {"steps": [{"set_weight": 5, "pause": {}}]}, False),  # unplannable
    ],
)
def test_the_verification_gate_reads_the_delivery_plan(ledger, strategy, params, verified):
    ledger.strategy, ledger.strategy_params = strategy, params
    ledger.save()
    assert results_for(ledger)["verification_gate"] is verified


@pytest.mark.django_db
def test_an_emergency_awaiting_its_review_fails(ledger, developer):
    release = emergency_awaiting_review(ledger, developer)
    assert failing(ledger) == {"no_open_emergency"}
    release.retrospective_done_at = NOW
    release.save()
    assert failing(ledger) == set()


@pytest.mark.django_db
def test_a_cancelled_emergency_needs_no_review(ledger, developer):
    emergency_awaiting_review(ledger, developer, state=ReleaseState.CANCELLED)
    assert failing(ledger) == set()


@pytest.mark.django_db
def test_a_rolling_update_is_not_progressive_delivery(ledger):
    ledger.strategy, ledger.strategy_params = Strategy.ROLLING, {"post_deploy_analysis": "errors"}
    ledger.save()
    assert failing(ledger) == {"progressive_delivery"}


@pytest.mark.django_db
def test_blue_green_is_progressive_delivery(ledger):
    ledger.strategy, ledger.strategy_params = Strategy.BLUE_GREEN, {"pre_promotion_analysis": "x"}
    ledger.save()
    assert failing(ledger) == set()


@pytest.mark.django_db
def test_a_week_without_a_production_deployment_fails(ledger):
    # The period 7-13 March (two weeks ago) loses its deployment.
    ledger.deployment_rollups.filter(day=TODAY - timedelta(days=16)).delete()
    assert failing(ledger) == {"deploys_weekly"}


@pytest.mark.django_db
def test_deployments_outside_production_or_the_four_weeks_do_not_count(payments, developer, policy):
    service = exemplary_service("quiet", payments)
    service.deployment_rollups.all().delete()
    for weeks_ago in range(3):
        rollup(service, TODAY - timedelta(days=7 * weeks_ago))
    rollup(service, TODAY - timedelta(days=21), production=False)  # staging
    rollup(service, TODAY - timedelta(days=28))  # 28 days ago: before the four periods
    assert failing(service) == {"deploys_weekly"}
    rollup(service, TODAY - timedelta(days=27))  # the first day of the oldest period
    assert failing(service) == set()


@pytest.mark.django_db
def test_a_change_failure_rate_of_15_percent_fails(ledger):
    # 4 deployments so far, none failed; 20 more with 3 failures (and 2 more long ago): 3 / 24.
    rollup(ledger, TODAY - timedelta(days=40), deployments=20, failures=3)
    rollup(ledger, TODAY - timedelta(days=95), deployments=2, failures=2)
    assert failing(ledger) == set()  # 12.5 %
    rollup(ledger, TODAY - timedelta(days=89), deployments=4, failures=2)
    assert failing(ledger) == {"change_failure_rate"}  # 5 / 28 = 17.9 %


@pytest.mark.django_db
def test_exactly_15_percent_fails_and_no_deployments_pass(ledger):
    rollup(ledger, TODAY - timedelta(days=40), deployments=16, failures=3)  # 3 / 20
    assert failing(ledger) == {"change_failure_rate"}
    ledger.deployment_rollups.all().delete()
    assert failing(ledger) == {"deploys_weekly"}


@pytest.mark.django_db
def test_the_latest_production_release_verified_passes_signed_with_provenance(ledger):
    # Its latest production release (a day ago) was verified; an older one was not, and one
    # that starts after the moment evaluated does not count yet.
    production_release(ledger, verified=False, started=NOW - timedelta(days=5))
    production_release(ledger, verified=False, started=NOW + timedelta(hours=1))
    assert failing(ledger) == set()
    assert failing(ledger, now=NOW + timedelta(hours=2)) == {"signed_with_provenance"}


@pytest.mark.django_db
def test_a_latest_production_release_not_verified_fails_signed_with_provenance(ledger):
    production_release(ledger, verified=False, started=NOW - timedelta(hours=2))
    assert failing(ledger) == {"signed_with_provenance"}
    # A release to staging after it, or one that has not started, changes nothing.
    staging = production_release(ledger, verified=True, started=NOW - timedelta(hours=1))
    staging.environment = ledger.environments.get(kind=EnvironmentKind.STAGING)
    staging.save()
    unstarted = production_release(ledger, verified=True, started=NOW - timedelta(minutes=30))
    unstarted.started_at = None
    unstarted.save()
    assert failing(ledger) == {"signed_with_provenance"}


@pytest.mark.django_db
def test_no_production_release_fails_signed_with_provenance(payments, developer, policy):
    service = exemplary_service("fresh", payments)
    service.releases.all().delete()
    assert failing(service) == {"signed_with_provenance"}


# --- Levels -----------------------------------------------------------------------------------


def settings(*rules):
    return [RuleSetting(RULES_BY_KEY[key], level, enabled) for key, level, enabled in rules]


DEFAULTS = settings(
    ("has_owner", 1, True),
    ("has_runbook", 1, True),
    ("latest_template", 2, True),
    ("progressive_delivery", 3, True),
)


def test_the_level_is_the_highest_whose_rules_and_all_below_pass():
    everything = dict.fromkeys(ALL_KEYS, True)
    assert level_for(everything, DEFAULTS) == Level.GOLD
    assert level_for({**everything, "progressive_delivery": False}, DEFAULTS) == Level.SILVER
    assert level_for({**everything, "latest_template": False}, DEFAULTS) == Level.BRONZE
    assert level_for({**everything, "has_runbook": False}, DEFAULTS) == Level.NONE
    # Passing Gold's rules does not make up for failing Bronze's.
    assert level_for({**everything, "has_owner": False}, DEFAULTS) == Level.NONE


def test_disabled_rules_do_not_count():
    rules = settings(("has_owner", 1, False), ("latest_template", 2, True))
    assert level_for({"has_owner": False, "latest_template": True}, rules) == Level.GOLD


def test_a_level_without_rules_is_passed_only_below_a_failing_level():
    rules = settings(("has_owner", 1, True), ("progressive_delivery", 3, True))
    # No Silver rules: passing Bronze reaches Silver, not Gold.
    assert level_for({"has_owner": True, "progressive_delivery": False}, rules) == Level.SILVER
    assert level_for({"has_owner": False, "progressive_delivery": True}, rules) == Level.NONE


def test_with_no_rule_enabled_every_service_is_gold():
    assert level_for({}, settings(("has_owner", 1, False))) == Level.GOLD
    assert level_for({}, []) == Level.GOLD


@pytest.mark.django_db
def test_passed_and_total_count_enabled_rules_but_results_hold_all(ledger):
    ledger.runbook_url = ""
    ledger.save()
    ScorecardRule.objects.filter(key__in=["has_runbook", "deploys_weekly"]).update(is_enabled=False)
    (evaluation,) = evaluate_services(service_ids=[ledger.pk], now=NOW)
    assert evaluation.results["has_runbook"] is False
    assert set(evaluation.results) == ALL_KEYS
    assert (evaluation.level, evaluation.passed, evaluation.total) == (Level.GOLD, 9, 9)


@pytest.mark.django_db
def test_moving_a_rule_changes_the_level(ledger):
    ledger.strategy, ledger.strategy_params = Strategy.ROLLING, {"post_deploy_analysis": "errors"}
    ledger.save()
    (evaluation,) = evaluate_services(service_ids=[ledger.pk], now=NOW)
    assert evaluation.level == Level.SILVER
    ScorecardRule.objects.filter(key="progressive_delivery").update(level=Level.BRONZE)
    (evaluation,) = evaluate_services(service_ids=[ledger.pk], now=NOW)
    assert evaluation.level == Level.NONE


@pytest.mark.django_db
def test_rule_settings_follow_level_then_the_order_of_the_code():
    keys = [setting.key for setting in rule_settings()]
    assert keys[:4] == ["has_owner", "has_runbook", "has_on_call", "production_policy"]
    assert keys[-4:] == [
        "progressive_delivery",
        "deploys_weekly",
        "change_failure_rate",
        "signed_with_provenance",
    ]


# --- Refreshing -------------------------------------------------------------------------------


def varied_services(count: int, start: int, owner, developer):
    """Services that exercise every query: environments, roll-ups, templates, emergencies."""
    made = []
    for index in range(start, start + count):
        service = exemplary_service(f"svc-{index:03d}", owner)
        if index % 3 == 0:
            emergency_awaiting_review(service, developer)
        made.append(service)
    return made


def refresh_queries(**kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.scorecards_refresh(now=NOW, **kwargs)
    return len(queries)


@pytest.mark.django_db
def test_refresh_stores_a_score_per_service(ledger, payments, developer):
    lonely = ServiceFactory(name="lonely", owner=TeamFactory(slug="empty"))
    assert services.scorecards_refresh(now=NOW) == 2
    score = ServiceScore.objects.get(service=ledger)
    assert (score.level, score.passed, score.total, score.evaluated_at) == (3, 11, 11, NOW)
    assert score.results == dict.fromkeys(ALL_KEYS, True)
    lonely_score = ServiceScore.objects.get(service=lonely)
    assert lonely_score.level == Level.NONE
    assert lonely_score.results["change_failure_rate"] is True


@pytest.mark.django_db
def test_refresh_updates_scores_in_place(ledger):
    services.scorecards_refresh(now=NOW)
    ledger.on_call = ""
    ledger.save()
    later = NOW + timedelta(hours=1)
    assert services.scorecards_refresh(now=later) == 1
    score = ServiceScore.objects.get(service=ledger)
    assert (score.level, score.passed, score.evaluated_at) == (Level.NONE, 10, later)
    assert ServiceScore.objects.count() == 1


@pytest.mark.django_db
def test_refresh_of_some_services_leaves_the_others(ledger, payments, developer):
    other = exemplary_service("other", payments)
    assert services.scorecards_refresh(service_ids=[other.pk], now=NOW) == 1
    assert list(ServiceScore.objects.values_list("service__name", flat=True)) == ["other"]
    assert services.scorecards_refresh(service_ids=[], now=NOW) == 0


@pytest.mark.django_db
def test_refresh_takes_the_same_queries_for_30_or_60_services(payments, developer, policy):
    varied_services(30, 0, payments, developer)
    for_30 = refresh_queries()
    varied_services(30, 30, payments, developer)
    for_60 = refresh_queries()
    assert ServiceScore.objects.count() == 60
    assert for_30 == for_60
    # 7 to evaluate (settings, services, production environments, policies and their rules,
    # latest templates, roll-ups), the upsert and the transaction's savepoint.
    assert for_60 <= 10


@pytest.mark.django_db
def test_refresh_of_chosen_services_takes_a_fixed_number_of_queries(payments, developer, policy):
    made = varied_services(20, 0, payments, developer)
    few = refresh_queries(service_ids=[service.pk for service in made[:5]])
    many = refresh_queries(service_ids=[service.pk for service in made])
    assert few == many


# --- Snapshots --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_snapshot_is_taken_for_this_weeks_monday_with_the_owner_team(ledger, payments):
    assert services.scorecard_snapshots_take(now=NOW) == 1
    snapshot = ScorecardSnapshot.objects.get()
    assert (snapshot.service, snapshot.team, snapshot.week) == (ledger, payments, date(2025, 3, 24))
    assert (snapshot.level, snapshot.passed, snapshot.total) == (Level.GOLD, 11, 11)
    assert snapshot.results == dict.fromkeys(ALL_KEYS, True)
    assert ServiceScore.objects.get(service=ledger).evaluated_at == NOW  # refreshed first


@pytest.mark.django_db
def test_taking_the_snapshot_twice_a_week_replaces_it(ledger, search):
    services.scorecard_snapshots_take(now=NOW)
    ledger.runbook_url = ""
    ledger.owner = search
    ledger.save()
    later = NOW + timedelta(days=2)  # Saturday, same week
    assert services.scorecard_snapshots_take(now=later) == 1
    snapshot = ScorecardSnapshot.objects.get()
    assert (snapshot.level, snapshot.team, snapshot.taken_at) == (Level.NONE, search, later)


@pytest.mark.django_db
def test_next_week_gets_its_own_snapshot(ledger):
    services.scorecard_snapshots_take(now=NOW)
    services.scorecard_snapshots_take(now=NOW + timedelta(days=7))
    assert list(ScorecardSnapshot.objects.values_list("week", flat=True)) == [
        date(2025, 3, 31),
        date(2025, 3, 24),
    ]


@pytest.mark.django_db
def test_a_snapshot_week_must_be_a_monday(ledger):
    with pytest.raises(ValidationError) as raised:
        services.scorecard_snapshots_take(week=date(2025, 3, 25), now=NOW)
    assert "week" in raised.value.message_dict
    assert not ScorecardSnapshot.objects.exists()


@pytest.mark.django_db
def test_the_tasks_refresh_and_snapshot(ledger):
    assert tasks.scorecards_refresh_task.apply().get() == 1
    assert ServiceScore.objects.count() == 1
    assert tasks.scorecards_snapshot_task.apply().get() == 1
    assert tasks.scorecards_snapshot_task.apply().get() == 1
    assert ScorecardSnapshot.objects.count() == 1


# --- Selectors --------------------------------------------------------------------------------


def snap(service, week: date, level: int, team=None):
    return ScorecardSnapshot.objects.create(
        service=service,
        team=team or service.owner,
        week=week,
        level=level,
        results={},
        taken_at=NOW,
    )


@pytest.mark.django_db
def test_the_scorecard_names_the_rules_missing_for_the_next_level(ledger):
    ledger.template = None
    ledger.strategy = Strategy.ROLLING
    ledger.save()
    services.scorecards_refresh(now=NOW)
    card = selectors.service_scorecard(ledger)
    assert (card["level"], card["level_label"]) == (Level.BRONZE, "Bronze")
    assert (card["next_level"], card["next_level_label"]) == (Level.SILVER, "Silver")
    assert [rule["key"] for rule in card["missing"]] == ["latest_template", "verification_gate"]
    assert (card["passed"], card["total"], card["evaluated_at"]) == (8, 11, NOW)
    assert card["live"] is False
    rows = {rule["key"]: rule for rule in card["rules"]}
    assert rows["progressive_delivery"]["passed"] is False
    assert rows["has_owner"]["how_to_pass"] == RULES_BY_KEY["has_owner"].how_to_pass


@pytest.mark.django_db
def test_a_service_never_scored_is_evaluated_live(ledger):
    card = selectors.service_scorecard(ledger, now=NOW)
    assert (card["level"], card["next_level"], card["missing"], card["live"]) == (3, None, [], True)
    assert card["evaluated_at"] == NOW
    assert not ServiceScore.objects.exists()


@pytest.mark.django_db
def test_the_card_reads_stored_results_against_the_current_rules(ledger, django_assert_num_queries):
    ledger.on_call = ""
    ledger.save()
    services.scorecards_refresh(now=NOW)
    ScorecardRule.objects.filter(key="has_on_call").update(is_enabled=False)
    with django_assert_num_queries(2):
        card = selectors.service_scorecard(ledger)
    assert (card["level"], card["passed"], card["total"]) == (Level.GOLD, 10, 10)


@pytest.mark.django_db
def test_service_scores_by_team(ledger, finder, payments):
    services.scorecards_refresh(now=NOW)
    assert [s.service.name for s in selectors.service_scores()] == ["ledger", "finder"]
    assert [s.service.name for s in selectors.service_scores(team_slug="search")] == ["finder"]


@pytest.mark.django_db
def test_level_distribution_counts_by_team_in_one_query(
    ledger, finder, payments, django_assert_num_queries
):
    ServiceFactory(name="unscored", owner=payments)
    services.scorecards_refresh(service_ids=[ledger.pk, finder.pk], now=NOW)
    with django_assert_num_queries(1):
        distribution = selectors.level_distribution()
    assert distribution == [
        {
            "team": "payments",
            "team_name": "Payments",
            "services": 2,
            "levels": {0: 1, 1: 0, 2: 0, 3: 1},
        },
        {
            "team": "search",
            "team_name": "Search",
            "services": 1,
            "levels": {0: 1, 1: 0, 2: 0, 3: 0},
        },
    ]
    assert [row["team"] for row in selectors.level_distribution(team_slug="search")] == ["search"]


@pytest.mark.django_db
def test_level_trend_counts_snapshots_per_week_by_the_team_of_the_time(ledger, finder, search):
    march_3, march_10 = date(2025, 3, 3), date(2025, 3, 10)
    snap(ledger, march_3, Level.SILVER, team=search)  # ledger was search's then
    snap(finder, march_3, Level.BRONZE)
    snap(ledger, march_10, Level.GOLD)
    snap(finder, march_10, Level.BRONZE)
    snap(finder, date(2025, 2, 24), Level.NONE)  # before the window
    trend = selectors.level_trend(start=date(2025, 3, 5), end=date(2025, 3, 16))
    assert trend == [
        {"week": march_3, "levels": {0: 0, 1: 1, 2: 1, 3: 0}},
        {"week": march_10, "levels": {0: 0, 1: 1, 2: 0, 3: 1}},
    ]
    assert selectors.level_trend(team_slug="search", start=march_3, end=march_10) == [
        {"week": march_3, "levels": {0: 0, 1: 1, 2: 1, 3: 0}},
        {"week": march_10, "levels": {0: 0, 1: 1, 2: 0, 3: 0}},
    ]
    by_service = selectors.level_trend(service_name="ledger", start=march_3, end=march_10)
    assert [week["levels"][3] for week in by_service] == [0, 1]


@pytest.mark.django_db
def test_changes_since_last_month(ledger, finder, payments):
    steady = ServiceFactory(name="steady", owner=payments)
    newcomer = ServiceFactory(name="newcomer", owner=payments)
    feb, mar = date(2025, 2, 24), date(2025, 3, 24)
    snap(ledger, feb, Level.BRONZE)
    snap(ledger, date(2025, 3, 17), Level.NONE)  # between the two: not compared
    snap(ledger, mar, Level.GOLD)
    snap(finder, feb, Level.SILVER)
    snap(finder, mar, Level.BRONZE)
    snap(steady, feb, Level.SILVER)
    snap(steady, mar, Level.SILVER)
    snap(newcomer, mar, Level.NONE)
    snap(steady, date(2025, 3, 31), Level.GOLD)  # after "today"
    changes = selectors.changes_since(today=TODAY)
    assert changes == [
        {"service": "ledger", "team": "payments", "before": 1, "after": 3},
        {"service": "newcomer", "team": "payments", "before": None, "after": 0},
        {"service": "finder", "team": "search", "before": 2, "after": 1},
    ]
    assert selectors.changes_since(team_slug="search", today=TODAY) == changes[2:]
    assert selectors.changes_since(weeks=1, today=TODAY)[0] == {
        "service": "ledger",
        "team": "payments",
        "before": 0,
        "after": 3,
    }


@pytest.mark.django_db
def test_no_snapshots_no_changes():
    assert selectors.changes_since(today=TODAY) == []


# --- Changing a rule --------------------------------------------------------------------------


@pytest.fixture
def queued():
    """How many scorecard refreshes have been queued: rows in the outbox."""
    return OutboxMessage.objects.filter(task_name="insights.refresh_scorecards").count


@pytest.mark.django_db
def test_a_platform_admin_moves_a_rule_audited_and_scores_refresh_after_commit(
    platform_admin, queued
):
    rule = ScorecardRule.objects.get(key="deploys_weekly")
    updated = services.scorecard_rule_update(
        actor=platform_admin, key=rule.key, level=Level.SILVER, is_enabled=False
    )
    assert (updated.level, updated.is_enabled) == (Level.SILVER, False)
    rule.refresh_from_db()
    assert (rule.level, rule.is_enabled) == (Level.SILVER, False)
    event = AuditEvent.objects.get(action="scorecard_rule.update")
    assert (event.actor, event.target_id) == (platform_admin, str(rule.pk))
    assert event.before == {"level": 3, "is_enabled": True}
    assert event.after == {"level": 2, "is_enabled": False}
    assert queued() == 1


@pytest.mark.django_db
def test_saving_a_rule_unchanged_writes_nothing(platform_admin, queued):
    rule = ScorecardRule.objects.get(key="has_owner")
    services.scorecard_rule_update(actor=platform_admin, key=rule.key, level=1, is_enabled=True)
    assert not AuditEvent.objects.filter(action="scorecard_rule.update").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "leadership", "release_manager", "outsider"])
def test_only_platform_admins_change_rules(request, persona, queued):
    actor = request.getfixturevalue(persona)
    rule = ScorecardRule.objects.get(key="has_owner")
    with pytest.raises(PermissionDenied):
        services.scorecard_rule_update(actor=actor, key=rule.key, level=3, is_enabled=False)
    rule.refresh_from_db()
    assert (rule.level, rule.is_enabled) == (1, True)
    assert not AuditEvent.objects.filter(action="scorecard_rule.update").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("level", [0, 4])
def test_a_rule_needs_bronze_silver_or_gold(platform_admin, queued, level):
    rule = ScorecardRule.objects.get(key="has_owner")
    with pytest.raises(ValidationError) as raised:
        services.scorecard_rule_update(
            actor=platform_admin, key=rule.key, level=level, is_enabled=True
        )
    assert "level" in raised.value.message_dict
    rule.refresh_from_db()
    assert rule.level == 1


@pytest.mark.django_db
def test_a_superuser_without_the_role_may_change_rules(queued):
    root = UserFactory(username="root", is_superuser=True)
    rule = ScorecardRule.objects.get(key="has_owner")
    services.scorecard_rule_update(actor=root, key=rule.key, level=2, is_enabled=True)
    assert AuditEvent.objects.filter(action="scorecard_rule.update").count() == 1


@pytest.mark.django_db(transaction=True)
def test_every_rule_in_code_has_its_row_even_after_the_database_is_emptied():
    from django.core.management import call_command

    from apps.insights.models import ScorecardRule
    from apps.insights.scorecards.rules import RULES

    call_command("flush", "--noinput")  # as a transactional test's teardown does
    levels = dict(ScorecardRule.objects.values_list("key", "level"))
    assert levels == {rule.key: rule.default_level for rule in RULES}
