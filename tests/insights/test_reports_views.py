"""The leadership report pages and their CSV: who may read them, the window, the figures (the
same as the selectors', the API's and the CSV's), sorting, drill-down links and query budgets.

The window is 3-30 March 2025 (the weeks of Monday 3, 10, 17 and 24 March). checkout (payments)
deploys four times, one of them a failure rolled back; finder (search) deploys once and an
incident is blamed on it."""

import csv
import io
import re
import threading
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from apps.insights import exports, kpis, selectors, services, tables, trends
from apps.insights.charts import HEIGHT, WIDTH, format_duration, format_percent
from apps.insights.models import Level, PipelineRun, PipelineStatus, ScorecardSnapshot
from apps.insights.scorecards import selectors as scorecards
from apps.insights.templatetags.insights_reports import report_path
from tests.factories import ServiceFactory, TeamFactory
from tests.insights.conftest import STAGING_AND_PRODUCTION, commits, utc, with_environments

START, END = date(2025, 3, 3), date(2025, 3, 30)
WINDOW = "from=2025-03-03&to=2025-03-30"
DASHBOARD = f"/reports/?{WINDOW}"
PAYMENTS = f"/reports/teams/payments/?{WINDOW}"
CHECKOUT = f"/reports/services/checkout/?{WINDOW}"


def snapshot(service, week: date, level: Level):
    return ScorecardSnapshot.objects.create(
        service=service,
        team=service.owner,
        week=week,
        level=level,
        taken_at=utc(week.year, week.month, week.day, 1),
    )


def pipeline(service, n: int, *, day: int, minutes: int, status=PipelineStatus.SUCCEEDED):
    finished = utc(2025, 3, day, 12)
    return PipelineRun.objects.create(
        service=service,
        source="github",
        external_id=f"{service.name}-run-{n}",
        status=status,
        started_at=finished - timedelta(minutes=minutes),
        finished_at=finished,
        duration_seconds=minutes * 60,
    )


@pytest.fixture
def march(march):
    """The month of tests/insights/conftest.py, with scorecard history and CI runs."""
    checkout, finder = march
    # Scorecard history: checkout went from bronze to silver within the last four weeks.
    snapshot(checkout, date(2025, 2, 24), Level.BRONZE)
    snapshot(checkout, date(2025, 3, 24), Level.SILVER)
    snapshot(finder, date(2025, 3, 24), Level.NONE)
    pipeline(checkout, 1, day=5, minutes=6)
    pipeline(checkout, 2, day=6, minutes=10, status=PipelineStatus.FAILED)
    return checkout, finder


def body(response) -> str:
    return response.content.decode()


def data_values(html: str, attribute: str) -> dict[str, str]:
    return dict(re.findall(rf'{attribute}="([\w-]+)" data-value="([^"]*)"', html))


def as_float(text: str) -> float | None:
    return float(text) if text else None


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def number(text: str) -> float | None:
    return float(text) if text != "" else None


# --- Who may read -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [DASHBOARD, PAYMENTS, CHECKOUT, f"/reports/teams.csv?{WINDOW}"])
def test_leadership_reads_every_report(client_as, leadership, march, url):
    assert client_as(leadership).get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", [DASHBOARD, PAYMENTS, CHECKOUT])
def test_a_developer_and_someone_without_a_role_read_them_too(
    client_as, developer, outsider, march, url
):
    assert client_as(developer).get(url).status_code == 200
    assert client_as(outsider).get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", [DASHBOARD, PAYMENTS, CHECKOUT, "/reports/teams.csv"])
def test_anonymous_visitors_are_sent_to_sign_in(client, march, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [DASHBOARD, PAYMENTS, CHECKOUT, "/reports/teams.csv", "/reports/teams/payments/services.csv"],
)
def test_the_reports_change_nothing_so_they_refuse_posts(client_as, leadership, march, url):
    assert client_as(leadership).post(url).status_code == 405


@pytest.mark.django_db
def test_the_reports_answer_head_requests(client_as, leadership, march):
    assert client_as(leadership).head(DASHBOARD).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/reports/teams/nobody/",
        "/reports/services/nothing/",
        "/reports/teams/nobody/services.csv",
        "/reports/services/nothing/scorecard.csv",
        "/reports/bogus.csv",
        "/reports/services.csv",  # a team's table, not the organisation's
        "/reports/services/checkout/teams.csv",
    ],
)
def test_unknown_teams_services_and_tables_are_not_found(client_as, leadership, march, url):
    assert client_as(leadership).get(url).status_code == 404


# --- The window -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-04-01&to=2025-03-01", "From: The window must start on or before its end."),
        ("from=2025-02-30", "From: Enter a valid date."),
        ("to=yesterday", "To: Enter a valid date."),
        ("from=2015-01-01&to=2025-03-30", "From: Ask for at most 1098 days at a time."),
        ("days=7", "Select a valid choice. 7 is not one of the available choices."),
    ],
)
def test_a_bad_window_is_answered_400_naming_the_field(
    client_as, leadership, march, query, message
):
    client = client_as(leadership)
    response = client.get(f"/reports/?{query}")
    assert response.status_code == 400
    assert message in body(response)
    assert 'data-testid="table-teams"' not in body(response)  # no report for a window it refused
    for url in ("/reports/teams/payments/", "/reports/services/checkout/"):
        assert client.get(f"{url}?{query}").status_code == 400
    csv_response = client.get(f"/reports/teams.csv?{query}")
    assert csv_response.status_code == 400
    assert message in csv_response.content.decode()


@pytest.mark.django_db
def test_the_default_window_is_the_last_90_days(client_as, leadership, march):
    response = client_as(leadership).get("/reports/")
    window = response.context["window"]
    today = timezone.localdate()
    assert (window.start, window.end) == (today - timedelta(days=89), today)
    assert re.search(r'href="\?days=90" class="pill" aria-current="true"', body(response))


@pytest.mark.django_db
def test_a_preset_asks_for_the_last_days(client_as, leadership, march):
    response = client_as(leadership).get("/reports/?days=30")
    window = response.context["window"]
    assert window.end - window.start == timedelta(days=29)
    assert f"{window.start:%-d %b %Y} – {window.end:%-d %b %Y} (30 days)" in body(response)
    assert 'href="?days=30" class="pill" aria-current="true"' in body(response)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/reports/", "/reports/teams/search/"])
def test_without_any_delivery_data_the_pages_say_no_data(client_as, leadership, search, url):
    response = client_as(leadership).get(url)
    assert response.status_code == 200
    html = body(response)
    assert html.count('aria-label="Median lead time per week: no data"') == 1
    assert "No data</span>" in html  # the tiers


def test_sorting_puts_tiers_in_rank_order_and_empty_values_last():
    table = exports.TABLES["teams"]
    rows = [
        SimpleNamespace(name=name, change_failure_tier=tier)
        for name, tier in [("a", "low"), ("b", None), ("c", "elite"), ("d", "medium")]
    ]
    ordered, applied = exports.sort_rows(table, rows, "change_failure_tier")
    assert [row.name for row in ordered] == ["c", "d", "a", "b"]
    assert applied == "change_failure_tier"
    ordered, _ = exports.sort_rows(table, rows, "-change_failure_tier")
    assert [row.name for row in ordered] == ["a", "d", "c", "b"]
    assert exports.sort_rows(table, rows, "-nonsense") == (rows, "")


@pytest.mark.django_db
def test_the_page_heads_with_its_window_and_when_it_was_made(client_as, leadership, march):
    html = body(client_as(leadership).get(DASHBOARD))
    assert "3 Mar 2025 – 30 Mar 2025 (28 days)" in html
    assert "generated <time datetime=" in html


# --- The figures: page, selectors, API and CSV agree ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "scope", "name"),
    [(DASHBOARD, "org", ""), (PAYMENTS, "team", "payments"), (CHECKOUT, "service", "checkout")],
)
def test_the_four_keys_on_the_page_are_the_reports_and_the_apis(
    client_as, leadership, march, url, scope, name
):
    client = client_as(leadership)
    html = body(client.get(url))
    report = selectors.dora_report(scope=scope, name=name, start=START, end=END)
    shown = data_values(html, "data-metric")
    assert as_float(shown["deployment_frequency"]) == report.deployment_frequency.per_week
    assert as_float(shown["lead_time"]) == report.lead_time.median_seconds
    assert as_float(shown["change_failure_rate"]) == report.change_failure_rate.rate
    assert as_float(shown["recovery"]) == report.recovery.median_seconds
    assert format_duration(report.lead_time.median_seconds) in html
    assert format_percent(report.change_failure_rate.rate) in html

    api = client.get(f"/api/v1/reports/dora?scope={scope}&name={name}&{WINDOW}").json()
    assert api["lead_time"]["median_seconds"] == report.lead_time.median_seconds
    assert api["change_failure_rate"]["rate"] == report.change_failure_rate.rate
    assert api["deployment_frequency"]["per_week"] == report.deployment_frequency.per_week
    assert api["recovery"]["median_seconds"] == report.recovery.median_seconds

    keys = {row["metric"]: row for row in csv_rows(client.get(_csv_url(url, "keys")))}
    assert number(keys["lead_time_for_changes"]["value"]) == report.lead_time.median_seconds
    assert number(keys["change_failure_rate"]["value"]) == report.change_failure_rate.rate
    assert keys["change_failure_rate"]["tier"] == report.change_failure_rate.tier


def _csv_url(page: str, table: str) -> str:
    path, query = page.split("?")
    return f"{path}{table}.csv?{query}"


@pytest.mark.django_db
def test_the_march_figures_as_worked_out(client_as, leadership, march):
    html = body(client_as(leadership).get(DASHBOARD))
    # 5 production deployments (v2's failure and its rollback are one) over 4 weeks; failed:
    # v2, and finder's deployment that the incident is blamed on: 2 of 5 = 40%.
    assert data_values(html, "data-metric")["deployment_frequency"] == "1.25"
    assert '<p class="dora-value">40%</p>' in html
    assert "2 of 5 deployments failed" in html


@pytest.mark.django_db
def test_the_trend_charts_plot_the_weekly_trends(client_as, leadership, march):
    client = client_as(leadership)
    html = body(client.get(DASHBOARD))
    weeks = trends.dora_trends(scope="org", start=START, end=END)
    # Deployments, lead time, change failure rate, recovery.
    assert html.count(f'<svg viewBox="0 0 {WIDTH} {HEIGHT}"') >= 4
    for week in weeks:
        deployments = re.search(
            rf'data-series="Deployments">.*?data-week="{week.week}" data-value="(\d+)"', html, re.S
        )
        assert int(deployments.group(1)) == week.deployments
    rows = csv_rows(client.get(f"/reports/trends.csv?{WINDOW}"))
    assert [row["week"] for row in rows] == [w.week.isoformat() for w in weeks]
    for row, week in zip(rows, weeks, strict=True):
        assert int(row["deployments"]) == week.deployments
        assert int(row["failures"]) == week.failures
        assert number(row["change_failure_rate"]) == week.change_failure_rate
        assert number(row["lead_time_median_seconds"]) == week.lead_time_median_seconds
        assert number(row["recovery_median_seconds"]) == week.recovery_median_seconds


@pytest.mark.django_db
def test_the_teams_table_is_team_table_and_so_is_its_csv(client_as, leadership, march):
    client = client_as(leadership)
    response = client.get(DASHBOARD)
    expected = tables.team_table(start=START, end=END)
    assert response.context["tables"]["teams"]["rows"] == expected
    html = body(response)
    assert f'<a href="/reports/teams/payments/?{WINDOW.replace("&", "&amp;")}">Payments</a>' in html

    rows = csv_rows(client.get(f"/reports/teams.csv?{WINDOW}"))
    assert [row["team_slug"] for row in rows] == [team.slug for team in expected]
    for row, team in zip(rows, expected, strict=True):
        assert row["team"] == team.name
        assert int(row["deployments"]) == team.deployments
        assert number(row["deployments_per_week"]) == team.deployments_per_week
        assert number(row["change_failure_rate"]) == team.change_failure_rate
        assert number(row["lead_time_median_seconds"]) == team.lead_time_median_seconds
        assert number(row["recovery_median_seconds"]) == team.recovery_median_seconds
        assert row["lead_time_tier"] == (team.lead_time_tier or "")
        assert int(row["no_level"]) == team.level_counts[Level.NONE]
        # The page shows the same figures, for people.
        assert format_duration(team.lead_time_median_seconds) in html


@pytest.mark.django_db
def test_durations_are_seconds_in_the_csv_and_words_on_the_page(client_as, leadership, march):
    client = client_as(leadership)
    payments = tables.team_table(start=START, end=END)[0]
    assert payments.lead_time_median_seconds == 2 * 3600  # checkout's 1, 3, 1, 2, 4 h commits
    row = csv_rows(client.get(f"/reports/teams.csv?{WINDOW}"))[0]
    assert row["lead_time_median_seconds"] == "7200"
    assert "2 h <span" in body(client.get(DASHBOARD))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "first", "state"),
    [
        ("", "Payments", None),
        ("deployments", "Search", "ascending"),
        ("-deployments", "Payments", "descending"),
        ("-team", "Search", "descending"),
        ("change_failure_rate", "Payments", "ascending"),
        ("nonsense", "Payments", None),
    ],
)
def test_the_teams_table_sorts_on_the_server_by_any_column(
    client_as, leadership, march, sort, first, state
):
    client = client_as(leadership)
    response = client.get(f"{DASHBOARD}&sort={sort}")
    assert response.context["tables"]["teams"]["rows"][0].name == first
    if state:
        column = sort.lstrip("-")
        assert re.search(
            rf'aria-sort="{state}"><a href="\?{WINDOW.replace("&", "&amp;")}&amp;sort=-?{column}"',
            body(response),
        )
    # The CSV link carries the order, and the CSV follows it.
    rows = csv_rows(client.get(f"/reports/teams.csv?{WINDOW}&sort={sort}"))
    assert rows[0]["team"] == first


@pytest.mark.django_db
def test_the_services_needing_attention_link_to_their_reports(client_as, leadership, march):
    client = client_as(leadership)
    response = client.get(DASHBOARD)
    expected = tables.services_needing_attention(start=START, end=END)
    assert expected
    assert response.context["tables"]["attention"]["rows"] == expected
    html = body(response)
    for row in expected:
        assert f'href="/reports/services/{row.service}/?{WINDOW.replace("&", "&amp;")}"' in html
    rows = csv_rows(client.get(f"/reports/attention.csv?{WINDOW}"))
    assert [(r["service"], r["reasons"]) for r in rows] == [
        (row.service, "; ".join(row.reasons)) for row in expected
    ]


@pytest.mark.django_db
def test_the_level_distribution_is_drawn_as_stacked_bars_and_exported(client_as, leadership, march):
    client = client_as(leadership)
    html = body(client.get(DASHBOARD))
    distribution = scorecards.level_distribution()
    bars = re.search(r'data-testid="level-bars".*?</figure>', html, re.S).group(0)
    assert 'role="group" aria-label="Services at each scorecard level: ' in bars  # of team links
    assert "<title>Payments · No level: 1 of 1 services</title>" in bars
    assert f'href="/reports/teams/payments/?{WINDOW.replace("&", "&amp;")}"' in bars
    rows = csv_rows(client.get(f"/reports/levels.csv?{WINDOW}"))
    assert [
        (r["team_slug"], int(r["services"]), int(r["no_level"]), int(r["silver"])) for r in rows
    ] == [
        (d["team"], d["services"], d["levels"][Level.NONE], d["levels"][Level.SILVER])
        for d in distribution
    ]


@pytest.mark.django_db
def test_what_changed_since_last_month_lists_level_changes(client_as, leadership, march):
    client = client_as(leadership)
    html = body(client.get(DASHBOARD))
    changes = re.search(r'id="changes-h".*?</table>', html, re.S).group(0)
    assert "checkout" in changes and "Bronze" in changes and "Silver" in changes
    assert "finder" in changes  # new: no snapshot four weeks before
    rows = csv_rows(client.get(f"/reports/changes.csv?{WINDOW}"))
    assert {r["service"]: (r["before"], r["after"]) for r in rows} == {
        "checkout": ("Bronze", "Silver"),
        "finder": ("", "No level"),
    }


@pytest.mark.django_db
def test_the_platform_kpis_are_platform_kpis(client_as, leadership, march):
    client = client_as(leadership)
    html = body(client.get(DASHBOARD))
    expected = kpis.platform_kpis(scope="org", start=START, end=END)
    shown = data_values(html, "data-kpi")
    assert as_float(shown["ci_success_rate"]) == expected.ci_success_rate.value == 0.5
    assert as_float(shown["ci_duration_p50_seconds"]) == expected.ci_duration_p50_seconds.value
    assert "1 of 2 pipeline runs succeeded" in html
    assert format_duration(expected.ci_duration_p50_seconds.value) == "8 min"
    rows = {r["key"]: r for r in csv_rows(client.get(f"/reports/kpis.csv?{WINDOW}"))}
    assert number(rows["ci_success_rate"]["value"]) == 0.5
    assert rows["ci_duration_p50_seconds"] == {
        "kpi": "CI duration (median)",
        "key": "ci_duration_p50_seconds",
        "value": "480",
        "unit": "seconds",
        "basis": "over 2 pipeline runs",
    }
    weekly = csv_rows(client.get(f"/reports/kpi-trends.csv?{WINDOW}"))
    assert [r["week"] for r in weekly] == [
        p.week.isoformat() for p in expected.ci_success_rate.trend
    ]
    assert [number(r["ci_success_rate"]) for r in weekly] == [
        p.value for p in expected.ci_success_rate.trend
    ]


# --- Drill-down -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_team_page_lists_its_services_and_leads_back(client_as, leadership, march):
    client = client_as(leadership)
    response = client.get(PAYMENTS)
    html = body(response)
    expected = tables.service_table(team_slug="payments", start=START, end=END)
    assert [row.name for row in expected] == ["checkout"]
    assert response.context["tables"]["services"]["rows"] == expected
    window = WINDOW.replace("&", "&amp;")
    assert f'<a href="/reports/services/checkout/?{window}">checkout</a>' in html
    assert (
        f'<a href="/reports/?{window}">Organisation</a> / <span aria-current="page">Payments'
        in html
    )
    assert "finder" not in re.search(r'data-testid="table-services".*?</table>', html, re.S).group(
        0
    )
    rows = csv_rows(client.get(f"/reports/teams/payments/services.csv?{WINDOW}"))
    assert [(r["service"], int(r["deployments"])) for r in rows] == [("checkout", 4)]


@pytest.mark.django_db
def test_the_service_page_shows_its_scorecard_rule_by_rule(client_as, leadership, march):
    client = client_as(leadership)
    html = body(client.get(CHECKOUT))
    window = WINDOW.replace("&", "&amp;")
    assert (
        f'<a href="/reports/?{window}">Organisation</a> / '
        f'<a href="/reports/teams/payments/?{window}">Payments</a> / '
        '<span aria-current="page">checkout</span>'
    ) in html
    assert 'href="/catalog/services/checkout/"' in html
    card = scorecards.service_scorecard(march[0])
    assert card["rules"]
    for rule in card["rules"]:
        assert rule["title"] in html
    rows = csv_rows(client.get(f"/reports/services/checkout/scorecard.csv?{WINDOW}"))
    assert [r["key"] for r in rows] == [rule["key"] for rule in card["rules"]]
    assert [r["passed"] for r in rows] == [
        "" if rule["passed"] is None else str(rule["passed"]).lower() for rule in card["rules"]
    ]


@pytest.mark.django_db
def test_the_csv_is_a_download_named_after_its_subject_and_window(client_as, leadership, march):
    response = client_as(leadership).get(f"/reports/teams/payments/services.csv?{WINDOW}")
    assert response["Content-Disposition"] == (
        'attachment; filename="runway-payments-services-2025-03-03-2025-03-30.csv"'
    )


@pytest.mark.django_db
def test_every_table_on_a_page_has_a_csv_link_that_keeps_the_window(client_as, leadership, march):
    client = client_as(leadership)
    for page in (DASHBOARD, PAYMENTS, CHECKOUT):
        html = body(client.get(page))
        links = re.findall(r'class="csv-link no-print" href="([^"]+)"', html)
        assert links
        for link in links:
            link = link.replace("&amp;", "&")
            assert WINDOW in link
            assert client.get(link).status_code == 200, link


# --- Safety -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_names_are_escaped_in_pages_charts_and_defused_in_csv(client_as, leadership, march):
    TeamFactory(slug="evil", name='<script>alert("x")</script>')
    TeamFactory(slug="formula", name='=HYPERLINK("http://x")')
    client = client_as(leadership)
    html = body(client.get(DASHBOARD))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    rows = csv_rows(client.get(f"/reports/teams.csv?{WINDOW}"))
    assert '\'=HYPERLINK("http://x")' in [row["team"] for row in rows]


# --- The teams table, a page at a time --------------------------------------------------------


@pytest.fixture
def many_teams(march):
    """28 teams without services beside payments and search: by name, "Alpha 00" to "Alpha 27"
    fill the first page and start the second, where payments and search end it."""
    for n in range(28):
        TeamFactory(slug=f"alpha-{n:02}", name=f"Alpha {n:02}")
    return march


def level_bars(html: str) -> str:
    return re.search(r'data-testid="level-bars".*?</figure>', html, re.S).group(0)


@pytest.mark.django_db
def test_the_teams_table_shows_a_page_of_the_whole_tables_rows(client_as, leadership, many_teams):
    client = client_as(leadership)
    every = tables.team_table(start=START, end=END)
    assert len(every) == 30 > exports.TEAMS_PER_PAGE == 25
    first = client.get(DASHBOARD)
    assert first.context["tables"]["teams"]["rows"] == every[:25]
    second = client.get(f"{DASHBOARD}&page=2")
    assert second.context["tables"]["teams"]["rows"] == every[25:]
    assert second.context["tables"]["teams"]["rows"][-2].name == "Payments"
    # A page past the end is the last one.
    assert client.get(f"{DASHBOARD}&page=9").context["tables"]["teams"]["rows"] == every[25:]
    html = body(first)
    assert "Page 1 of 2 · 30 teams" in html
    assert f'href="?{WINDOW.replace("&", "&amp;")}&page=2">Next' in html
    # The level chart draws the teams of the page, as the table shows them.
    assert "Payments · No level" not in level_bars(html)
    assert "(1–25 of 30, as in the Teams table)" in html
    bars = level_bars(body(second))
    assert "<title>Payments · No level: 1 of 1 services</title>" in bars
    assert "Alpha 00" not in bars
    # The CSV has every team.
    rows = csv_rows(client.get(f"/reports/teams.csv?{WINDOW}"))
    assert [row["team_slug"] for row in rows] == [row.slug for row in every]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort", ["-deployments", "lead_time_median_seconds", "-services", "-team", "-no_level"]
)
def test_a_sorted_page_is_that_slice_of_the_whole_sorted_table(
    client_as, leadership, many_teams, sort
):
    client = client_as(leadership)
    table = exports.TABLES["teams"]
    ordered, _ = exports.sort_rows(table, tables.team_table(start=START, end=END), sort)
    for page, rows in ((1, ordered[:25]), (2, ordered[25:])):
        response = client.get(f"{DASHBOARD}&sort={sort}&page={page}")
        assert response.context["tables"]["teams"]["rows"] == rows
        assert response.context["tables"]["teams"]["sort"] == sort
    # The pager keeps the order; the CSV follows it too, whole.
    html = body(client.get(f"{DASHBOARD}&sort={sort}"))
    assert f'{WINDOW.replace("&", "&amp;")}&amp;sort={sort}&page=2">Next' in html
    rows = csv_rows(client.get(f"/reports/teams.csv?{WINDOW}&sort={sort}"))
    assert [row["team_slug"] for row in rows] == [row.slug for row in ordered]


@pytest.mark.django_db
def test_sorted_by_a_figure_the_busiest_teams_come_first(client_as, leadership, many_teams):
    response = client_as(leadership).get(f"{DASHBOARD}&sort=-deployments")
    names = [row.name for row in response.context["tables"]["teams"]["rows"]]
    assert names[:3] == ["Payments", "Search", "Alpha 00"]


# --- Query budgets ----------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _grow(deploy, teams: int, services_per_team: int):
    """More teams, services, deployments, commits, incidents, snapshots and pipeline runs."""
    for t in range(teams):
        team = TeamFactory(slug=f"grown-{t}", name=f"Grown {t}")
        for s in range(services_per_team):
            service = with_environments(
                ServiceFactory(name=f"grown-{t}-{s}", owner=team), *STAGING_AND_PRODUCTION
            )
            for day in (4, 11, 18, 25):
                finished = (2025, 3, day, 10)
                deploy(
                    service,
                    started=(2025, 3, day, 9),
                    finished=finished,
                    commits=commits(finished, 1, 5),
                )
            services.incident_record(
                source="pagerduty",
                external_id=f"{service.name}-incident",
                service=service,
                opened_at=utc(2025, 3, 18, 12),
                resolved_at=utc(2025, 3, 18, 13),
            )
            snapshot(service, date(2025, 3, 24), Level.GOLD)
            pipeline(service, 1, day=7, minutes=4)


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_read_side_by_side_shows_what_it_shows_read_one_after_another(
    client_as, leadership, march, settings, monkeypatch
):
    """Outside a transaction the page reads its sources on threads of their own
    (apps/core/parallel.py); the figures are the same as read in order."""
    threads = set()
    dora_report = exports.SOURCES["dora"]

    def spied(scope):
        threads.add(threading.current_thread().name)
        return dora_report(scope)

    monkeypatch.setitem(exports.SOURCES, "dora", spied)
    client = client_as(leadership)
    settings.PARALLEL_READS = 3
    apart = client.get(DASHBOARD)
    assert threads and threading.current_thread().name not in threads
    settings.PARALLEL_READS = 1
    in_order = client.get(DASHBOARD)
    assert threading.current_thread().name in threads

    def figures(response):
        tables = response.context["tables"]
        return response.context["report"], {name: shown["rows"] for name, shown in tables.items()}

    assert figures(apart) == figures(in_order)
    assert figures(apart)[0].deployment_frequency.deployments == 5


@pytest.mark.django_db
@pytest.mark.parametrize("url", [DASHBOARD, PAYMENTS])
def test_the_dashboard_and_team_page_cost_the_same_queries_however_much_data(
    client_as, leadership, march, deploy, url, django_assert_max_num_queries
):
    client = client_as(leadership)
    client.get(url)  # warm: the session, the user and their roles
    few = _queries(client, url)
    _grow(deploy, teams=4, services_per_team=3)
    for s in range(5):  # and many more services of payments, for the team page
        service = with_environments(
            ServiceFactory(name=f"payments-{s}", owner=march[0].owner), *STAGING_AND_PRODUCTION
        )
        deploy(service, started=(2025, 3, 20, 9), finished=(2025, 3, 20, 10))
    many = _queries(client, url)
    assert few == many
    with django_assert_max_num_queries(QUERY_BUDGET[url]):
        client.get(url)


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["", "-lead_time_median_seconds"])
def test_a_page_of_teams_costs_the_same_queries_however_many_teams(
    client_as, leadership, many_teams, deploy, sort, django_assert_max_num_queries
):
    client = client_as(leadership)
    url = f"{DASHBOARD}&sort={sort}&page=2"
    client.get(url)
    few = _queries(client, url)
    _grow(deploy, teams=30, services_per_team=1)
    assert _queries(client, url) == few
    with django_assert_max_num_queries(QUERY_BUDGET[DASHBOARD]):
        response = client.get(url)
    assert len(response.context["tables"]["teams"]["rows"]) == 25


# Each page is the sum of its selectors' fixed counts, plus 3 for the session, the user and the
# roles. Organisation: dora_report 5, dora_trends 3, platform_kpis 13, a page of the teams table
# 5 (team_outlines 2 and team_table of the page's teams 3, or team_table of them all 5 when
# sorted by a figure), services_needing_attention 1, level_trend 1, changes_since 2. A team page
# looks the team up, adds one lookup to each of dora_report, dora_trends, platform_kpis and
# services_needing_attention, lists its services (service_table, 5) instead of the teams, and
# reads its level distribution (level_distribution 1).
QUERY_BUDGET = {DASHBOARD: 34, PAYMENTS: 40}


@pytest.mark.parametrize(
    ("url_name", "argument"),
    [
        ("insights:team", "payments"),
        ("insights:team", "team-0_b"),
        ("insights:service", "checkout"),
        ("insights:service", "search.v2"),
        ("insights:service", "a b;c=d&e"),
        ("insights:service", "zürich-%2F"),
    ],
)
def test_a_rows_link_is_the_path_reverse_gives(url_name, argument):
    # The tables link hundreds of rows: the page's path is reversed once and each argument
    # quoted into it, as reverse() itself would (under a script prefix too).
    assert report_path(url_name, argument) == reverse(url_name, args=[argument])
    set_script_prefix("/runway/")
    try:
        assert report_path(url_name, argument) == reverse(url_name, args=[argument])
        assert report_path(url_name, argument).startswith("/runway/reports/")
    finally:
        set_script_prefix("/")
