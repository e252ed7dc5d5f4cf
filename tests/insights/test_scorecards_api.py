"""The scorecards API: scores by team, service and level, and the rules; the figures are the
selectors' own."""

import pytest

from apps.insights.models import ServiceScore
from apps.insights.scorecards import selectors, services
from apps.insights.scorecards.rules import RULES
from tests.factories import ServiceFactory
from tests.insights.scorecard_data import NOW, exemplary_service, production_policy

SCORECARDS = "/api/v1/scorecards/"
RULES_URL = "/api/v1/scorecards/rules/"


@pytest.fixture
def scored(developer, payments, search):
    """payments: ledger (Gold), abacus (Bronze); search: finder (no level: nobody in search)."""
    production_policy()
    exemplary_service("ledger", payments)
    exemplary_service("abacus", payments, template=None)
    exemplary_service("finder", search)
    services.scorecards_refresh(now=NOW)


@pytest.mark.django_db
def test_scorecards_of_a_team(api_as, developer, scored):
    body = api_as(developer).get(SCORECARDS, {"team": "payments"}).json()
    assert body["count"] == 2
    abacus, ledger = body["results"]
    assert (abacus["service"], abacus["team"], abacus["level"], abacus["level_label"]) == (
        "abacus",
        "payments",
        1,
        "Bronze",
    )
    assert (abacus["passed"], abacus["total"]) == (10, 11)
    assert abacus["results"]["latest_template"] is False
    assert set(abacus["results"]) == {rule.key for rule in RULES}
    assert abacus["evaluated_at"] == "2025-03-27T12:00:00Z"
    assert (ledger["service"], ledger["level"], ledger["level_label"]) == ("ledger", 3, "Gold")


@pytest.mark.django_db
def test_scorecards_by_service_and_level(api_as, outsider, scored):
    client = api_as(outsider)  # everybody signed in reads the reports
    by_service = client.get(SCORECARDS, {"service": "finder"}).json()["results"]
    assert [(s["service"], s["team"], s["level"]) for s in by_service] == [("finder", "search", 0)]
    gold = client.get(SCORECARDS, {"level": 3}).json()["results"]
    assert [s["service"] for s in gold] == ["ledger"]
    assert client.get(SCORECARDS, {"team": "nobody"}).json()["count"] == 0


@pytest.mark.django_db
def test_a_bad_level_is_a_400_naming_it(api_as, developer, scored):
    response = api_as(developer).get(SCORECARDS, {"level": "platinum"})
    assert response.status_code == 400
    assert "level" in response.json()


@pytest.mark.django_db
def test_the_api_figures_are_the_selectors(api_as, developer, scored):
    rows = api_as(developer).get(SCORECARDS).json()["results"]
    expected = [
        (score.service.name, score.service.owner.slug, score.level, score.results)
        for score in selectors.service_scores()
    ]
    assert [(s["service"], s["team"], s["level"], s["results"]) for s in rows] == expected
    per_team = {}
    for row in rows:
        levels = per_team.setdefault(row["team"], {0: 0, 1: 0, 2: 0, 3: 0})
        levels[row["level"]] += 1
    assert per_team == {row["team"]: row["levels"] for row in selectors.level_distribution()}


@pytest.mark.django_db
def test_the_list_is_paginated_and_keeps_a_query_budget(
    api_as, developer, payments, django_assert_max_num_queries
):
    for index in range(60):
        ServiceFactory(name=f"svc-{index:02d}", owner=payments)
    services.scorecards_refresh(now=NOW)
    client = api_as(developer)
    with django_assert_max_num_queries(4):
        body = client.get(SCORECARDS, {"page_size": 25}).json()
    assert body["count"] == 60 and len(body["results"]) == 25 and body["next"]


@pytest.mark.django_db
def test_the_rules_with_how_many_services_pass_them(api_as, leadership, scored):
    body = api_as(leadership).get(RULES_URL).json()
    assert body["count"] == len(RULES)
    rows = {row["key"]: row for row in body["results"]}
    assert rows["has_owner"] == {
        "key": "has_owner",
        "title": RULES[0].title,
        "how_to_pass": RULES[0].how_to_pass,
        "level": 1,
        "level_label": "Bronze",
        "enabled": True,
        "services_passing": 2,  # finder's team has nobody
        "services_scored": 3,
    }
    assert rows["latest_template"]["services_passing"] == 2
    assert [row["key"] for row in body["results"]][:2] == ["has_owner", "has_runbook"]
    expected = ServiceScore.objects.filter(results__latest_template=True).count()
    assert rows["latest_template"]["services_passing"] == expected


@pytest.mark.django_db
@pytest.mark.parametrize("url", [SCORECARDS, RULES_URL])
def test_signing_in_is_needed(api_client, url):
    assert api_client.get(url).status_code in (401, 403)


@pytest.mark.django_db
def test_the_rules_cannot_be_changed_through_the_api(api_as, platform_admin):
    assert api_as(platform_admin).post(RULES_URL, {"key": "has_owner"}).status_code == 405
