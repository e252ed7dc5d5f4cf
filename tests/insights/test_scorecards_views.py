"""Scorecards in the browser: the panel on the service page, the catalog's level filter (page
and API) and the rules page, where platform admins change rules and everyone else reads."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.catalog.models import Service
from apps.core.models import OutboxMessage
from apps.insights.models import Level, ScorecardRule
from apps.insights.scorecards import services
from apps.insights.scorecards.selectors import score_row_annotations, service_scorecard
from tests.factories import ServiceFactory
from tests.insights.scorecard_data import NOW, exemplary_service, production_policy

RULES_PAGE = "/reports/scorecards/rules/"


def rule_url(key: str) -> str:
    return f"{RULES_PAGE}{key}/"


@pytest.fixture
def levels(developer, payments):
    """ledger Gold, abacus Bronze (no template: fails Silver), tally no level (no runbook),
    and fresh, never scored."""
    production_policy()
    ledger = exemplary_service("ledger", payments)
    abacus = exemplary_service("abacus", payments, template=None)
    tally = exemplary_service("tally", payments, runbook_url="")
    services.scorecards_refresh(now=NOW)
    fresh = ServiceFactory(name="fresh", owner=payments)
    return {"ledger": ledger, "abacus": abacus, "tally": tally, "fresh": fresh}


@pytest.fixture
def queued():
    """How many scorecard refreshes have been queued: rows in the outbox."""
    return OutboxMessage.objects.filter(task_name="insights.refresh_scorecards").count


# --- The panel on the service page ------------------------------------------------------------


@pytest.mark.django_db
def test_the_service_page_shows_the_scorecard_panel(client_as, leadership, levels):
    body = client_as(leadership).get("/catalog/services/abacus/").content.decode()
    panel = body.split('data-panel="scorecard"')[1].split("</section>")[0]
    assert 'data-level="1"' in panel and "Bronze" in panel
    assert "10 of 11 rules pass" in panel
    assert "For Silver: On the latest golden path." in panel
    assert 'data-rule="latest_template"' in panel and "pill-bad" in panel
    assert "Build the service from the newest version" in panel  # how to pass
    assert f'href="{RULES_PAGE}"' in panel
    assert 'href="/reports/services/abacus/"' in panel  # the service's delivery report


@pytest.mark.django_db
def test_a_gold_service_has_no_next_level(client_as, developer, levels):
    body = client_as(developer).get("/catalog/services/ledger/").content.decode()
    assert "Gold: the highest level." in body
    assert body.count("pill-bad") == 0


@pytest.mark.django_db
def test_a_switched_off_rule_is_shown_as_not_counting(client_as, developer, levels):
    ScorecardRule.objects.filter(key="has_runbook").update(is_enabled=False)
    body = client_as(developer).get("/catalog/services/tally/").content.decode()
    assert "fails, off" in body
    assert 'data-level="3"' in body


@pytest.mark.django_db
def test_the_panels_share_of_the_page_is_two_queries(
    client_as, developer, levels, django_assert_num_queries
):
    body = client_as(developer).get("/catalog/services/ledger/").content.decode()
    assert 'data-panel="scorecard"' in body
    with django_assert_num_queries(2):  # the rule settings and the score
        service_scorecard(levels["ledger"])


@pytest.mark.django_db
def test_a_service_never_scored_is_evaluated_for_its_panel(client_as, developer, levels):
    body = client_as(developer).get("/catalog/services/fresh/").content.decode()
    panel = body.split('data-panel="scorecard"')[1].split("</section>")[0]
    assert 'data-level="0"' in panel and "evaluated just now" in panel


# --- The catalog filtered by level ------------------------------------------------------------


def names_on_page(client, **params) -> set[str]:
    return {service.name for service in client.get("/catalog/", params).context["page"]}


@pytest.mark.django_db
def test_the_catalog_page_filters_by_level(client_as, developer, levels):
    client = client_as(developer)
    assert names_on_page(client, level=3) == {"ledger"}
    assert names_on_page(client, level=1) == {"abacus"}
    assert names_on_page(client, level=2) == set()
    # "No level" also finds services never scored.
    assert names_on_page(client, level=0) == {"tally", "fresh"}
    assert names_on_page(client, level="") == {"ledger", "abacus", "tally", "fresh"}


@pytest.mark.django_db
def test_the_level_filter_is_in_the_catalog_form(client_as, developer, levels):
    body = client_as(developer).get("/catalog/", {"level": 1}).content.decode()
    assert '<select name="level" id="id_level">' in body
    assert '<option value="1" selected>Bronze</option>' in body
    # It comes before the sort order.
    assert body.index('name="level"') < body.index('name="ordering"')


@pytest.mark.django_db
def test_a_bad_level_is_reported_not_ignored(client_as, developer, levels):
    response = client_as(developer).get("/catalog/", {"level": 7})
    assert "level" in response.context["filter"].errors


@pytest.mark.django_db
def test_the_services_api_filters_by_level_too(api_as, developer, levels):
    client = api_as(developer)
    gold = client.get("/api/v1/services/", {"level": 3}).json()
    assert [s["name"] for s in gold["results"]] == ["ledger"]
    none = client.get("/api/v1/services/", {"level": 0, "ordering": "name"}).json()
    assert [s["name"] for s in none["results"]] == ["fresh", "tally"]
    assert client.get("/api/v1/services/", {"level": "gold"}).status_code == 400


@pytest.mark.django_db
def test_the_level_filter_combines_with_the_others(api_as, developer, levels, search):
    ServiceFactory(name="finder", owner=search)
    body = api_as(developer).get("/api/v1/services/", {"level": 0, "owner": "search"}).json()
    assert [s["name"] for s in body["results"]] == ["finder"]


# --- The rules page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_leadership_reads_the_rules_but_gets_no_forms(
    client_as, leadership, levels, django_assert_max_num_queries
):
    client = client_as(leadership)
    with django_assert_max_num_queries(8):
        response = client.get(RULES_PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("data-rule=") == 11
    assert '<form class="inline-form"' not in body
    assert "Platform admins change the rules." in body
    rows = {row["key"]: row for row in response.context["rules"]}
    # ledger, abacus and tally are scored; fresh is not. Only tally lacks a runbook.
    assert (rows["has_runbook"]["services_passing"], rows["has_runbook"]["services_scored"]) == (
        2,
        3,
    )
    assert rows["latest_template"]["services_passing"] == 2


@pytest.mark.django_db
def test_a_platform_admin_gets_a_form_per_rule(client_as, platform_admin, levels):
    body = client_as(platform_admin).get(RULES_PAGE).content.decode()
    assert body.count(f'hx-post="{RULES_PAGE}') == 11
    assert f'action="{rule_url("deploys_weekly")}"' in body


@pytest.mark.django_db
def test_signing_in_is_needed_to_read_the_rules(client, levels):
    response = client.get(RULES_PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "leadership", "release_manager", "outsider"])
def test_only_platform_admins_may_post_a_rule_change(request, client_as, persona, queued):
    client = client_as(request.getfixturevalue(persona))
    response = client.post(rule_url("has_owner"), {"level": 3})
    assert response.status_code == 403
    assert ScorecardRule.objects.get(key="has_owner").level == Level.BRONZE
    assert not AuditEvent.objects.filter(action="scorecard_rule.update").exists()


@pytest.mark.django_db
def test_a_platform_admin_changes_a_rule_with_htmx(client_as, platform_admin, levels, queued):
    client = client_as(platform_admin)
    response = client.post(rule_url("progressive_delivery"), {"level": 2}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<tr id="rule-progressive_delivery"')
    assert "Off" in body  # the checkbox was not sent: switched off
    assert "Rule saved" in body  # the toast, out of band
    rule = ScorecardRule.objects.get(key="progressive_delivery")
    assert (rule.level, rule.is_enabled) == (Level.SILVER, False)
    event = AuditEvent.objects.get(action="scorecard_rule.update")
    assert (event.actor, event.before, event.after) == (
        platform_admin,
        {"level": 3, "is_enabled": True},
        {"level": 2, "is_enabled": False},
    )
    assert queued() == 1


@pytest.mark.django_db
def test_without_htmx_the_change_returns_to_the_page(client_as, platform_admin, queued):
    response = client_as(platform_admin).post(
        rule_url("has_on_call"), {"level": 2, "is_enabled": "on"}
    )
    assert response.status_code == 302 and response["Location"] == RULES_PAGE
    rule = ScorecardRule.objects.get(key="has_on_call")
    assert (rule.level, rule.is_enabled) == (Level.SILVER, True)


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["0", "4", "gold", ""])
def test_a_bad_level_changes_nothing(client_as, platform_admin, queued, level):
    response = client_as(platform_admin).post(
        rule_url("has_owner"), {"level": level}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Choose Bronze, Silver or Gold." in response.content.decode()
    rule = ScorecardRule.objects.get(key="has_owner")
    assert (rule.level, rule.is_enabled) == (Level.BRONZE, True)
    assert not AuditEvent.objects.filter(action="scorecard_rule.update").exists()


@pytest.mark.django_db
def test_an_unknown_rule_is_a_404(client_as, platform_admin, queued):
    assert client_as(platform_admin).post(rule_url("nope"), {"level": 1}).status_code == 404


@pytest.mark.django_db
def test_the_rules_page_accepts_no_post_itself(client_as, platform_admin):
    assert client_as(platform_admin).post(RULES_PAGE, {"level": 1}).status_code == 405


@pytest.mark.django_db
def test_a_changed_level_shows_on_the_panel_at_once(client_as, platform_admin, levels, queued):
    # abacus fails latest_template (Silver); moved to Gold, abacus is Silver before any refresh.
    client = client_as(platform_admin)
    client.post(rule_url("latest_template"), {"level": 3, "is_enabled": "on"})
    body = client.get("/catalog/services/abacus/").content.decode()
    assert 'data-level="2"' in body and "For Gold: On the latest golden path." in body


@pytest.mark.django_db
def test_the_service_page_reads_the_stored_score_with_the_service(client_as, leadership, levels):
    client = client_as(leadership)
    with CaptureQueriesContext(connection) as page:
        body = client.get("/catalog/services/abacus/").content.decode()
    own_reads = [
        q for q in page.captured_queries if q["sql"].startswith('SELECT "insights_servicescore')
    ]
    assert own_reads == []
    assert "10 of 11 rules pass" in body


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["abacus", "fresh"])
def test_a_card_from_the_services_row_is_the_card_read_on_its_own(levels, name):
    with_row = Service.objects.annotate(**score_row_annotations()).get(name=name)
    alone = Service.objects.get(name=name)
    assert service_scorecard(with_row, now=NOW) == service_scorecard(alone, now=NOW)
