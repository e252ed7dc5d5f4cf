"""The reports' tables, defined once for the page and for the CSV.

A table names the selector it comes from (its *source*), how to get rows out of the selector's
result, and its columns: a machine key (the CSV header and the `?sort=` value), a header for
people, the raw value, and its unit. The page and the CSV take their rows from the same loaded
source, so they show the same figures; only the formatting differs: the page reads "3 h 20 min"
and "12.5%", the CSV has seconds and a fraction from 0 to 1.

CSV URLs: `<page>/<table>.csv?from=YYYY-MM-DD&to=YYYY-MM-DD[&sort=column]` under each report
page, e.g. /reports/teams.csv, /reports/teams/payments/services.csv,
/reports/services/checkout/trends.csv. `TABLES` lists the names and which pages have them.
"""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from django.core.paginator import Page, Paginator

from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.insights import charts, dora, kpis, selectors, tables, trends
from apps.insights.models import Level
from apps.insights.scorecards import selectors as scorecards

ORG, TEAM, SERVICE = dora.ORG, dora.TEAM, dora.SERVICE

# Units of a column: how the page formats the raw value (the CSV writes it as it is).
TEXT, DATE, TIER, LEVEL, BOOLEAN = "text", "date", "tier", "level", "boolean"
COUNT, NUMBER, PERCENT, SECONDS = charts.COUNT, charts.NUMBER, charts.PERCENT, charts.SECONDS
TIER_RANK = {dora.ELITE: 0, dora.HIGH: 1, dora.MEDIUM: 2, dora.LOW: 3}


@dataclass(frozen=True)
class Scope:
    """What a report is about: the organisation, a team or a service, over start..end."""

    level: str
    start: date
    end: date
    team: Team | None = None
    service: Service | None = None

    @property
    def name(self) -> str:
        """The name dora_report and friends take: "" for the organisation."""
        if self.level == SERVICE and self.service is not None:
            return self.service.name
        if self.level == TEAM and self.team is not None:
            return self.team.slug
        return ""

    @property
    def team_slug(self) -> str | None:
        return self.team.slug if self.team is not None else None


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    value: Callable[[Any], Any]
    unit: str = TEXT
    # The report page a cell links to: a function of the row giving (url name, argument).
    link: Callable[[Any], tuple[str, str] | None] | None = None
    # The page shows a DORA tier badge beside the value (the CSV has the tier in its own column).
    tier: Callable[[Any], str | None] | None = None
    on_page: bool = True

    @property
    def numeric(self) -> bool:
        return self.unit in (COUNT, NUMBER, PERCENT, SECONDS)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    source: str
    columns: tuple[Column, ...]
    rows: Callable[[Any], Sequence] = list
    scopes: tuple[str, ...] = (ORG, TEAM, SERVICE)

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    @property
    def page_columns(self) -> list[Column]:
        return [column for column in self.columns if column.on_page]


# --- Sources: one selector call each, shared by every table and chart made from it ------------


def _dora(scope: Scope) -> dora.DoraReport:
    return selectors.dora_report(
        scope=scope.level, name=scope.name, start=scope.start, end=scope.end
    )


def _trends(scope: Scope) -> list[trends.DoraWeek]:
    return trends.dora_trends(scope=scope.level, name=scope.name, start=scope.start, end=scope.end)


def _levels(scope: Scope) -> list[dict]:
    return scorecards.level_distribution(team_slug=scope.team_slug)


def _level_trend(scope: Scope) -> list[dict]:
    return scorecards.level_trend(team_slug=scope.team_slug, start=scope.start, end=scope.end)


def _changes(scope: Scope) -> list[dict]:
    # "Since last month" as seen from the end of the window (today, by default).
    return scorecards.changes_since(team_slug=scope.team_slug, weeks=4, today=scope.end)


def _scorecard(scope: Scope) -> dict:
    if scope.service is None:
        raise ValueError("a scorecard is exported for one service")
    return scorecards.service_scorecard(scope.service)


def _kpis(scope: Scope) -> kpis.PlatformKpis:
    return kpis.platform_kpis(scope=scope.level, name=scope.name, start=scope.start, end=scope.end)


def _teams(scope: Scope) -> list[tables.TeamRow]:
    return tables.team_table(start=scope.start, end=scope.end)


def _services(scope: Scope) -> list[tables.ServiceRow]:
    return tables.service_table(team_slug=scope.team_slug, start=scope.start, end=scope.end)


def _attention(scope: Scope) -> list[tables.AttentionRow]:
    return tables.services_needing_attention(
        team_slug=scope.team_slug, start=scope.start, end=scope.end, limit=10
    )


SOURCES: dict[str, Callable[[Scope], Any]] = {
    "dora": _dora,
    "trends": _trends,
    "levels": _levels,
    "level_trend": _level_trend,
    "changes": _changes,
    "scorecard": _scorecard,
    "kpis": _kpis,
    "teams": _teams,
    "services": _services,
    "attention": _attention,
}


def load(names: Iterable[str], scope: Scope) -> dict[str, Any]:
    """Each named source once, in the order given."""
    return {name: load() for name, load in loaders(names, scope).items()}


def loaders(names: Iterable[str], scope: Scope) -> dict[str, Callable[[], Any]]:
    """What loads each named source, once each: to be run side by side (apps/core/parallel)."""
    return {name: partial(SOURCES[name], scope) for name in dict.fromkeys(names)}


# --- Tables -----------------------------------------------------------------------------------


def _key_rows(report: dora.DoraReport) -> list[dict]:
    """The four keys, one row each, as the DORA cards show them."""
    frequency, lead, failure, recovery = (
        report.deployment_frequency,
        report.lead_time,
        report.change_failure_rate,
        report.recovery,
    )
    return [
        {
            "metric": "deployment_frequency",
            "title": "Deployment frequency",
            "value": frequency.per_week,
            "unit": "deployments per week",
            "tier": frequency.tier,
            "basis": f"{frequency.deployments} deployments in {frequency.weeks} weeks"
            + (f"; {frequency.bucket}" if frequency.bucket else ""),
        },
        {
            "metric": "lead_time_for_changes",
            "title": "Lead time for changes",
            "value": lead.median_seconds,
            "unit": "seconds (median)",
            "tier": lead.tier,
            "basis": f"{lead.commits} commits",
        },
        {
            "metric": "change_failure_rate",
            "title": "Change failure rate",
            "value": failure.rate,
            "unit": "fraction of deployments",
            "tier": failure.tier,
            "basis": f"{failure.failures} of {failure.deployments} deployments failed",
        },
        {
            "metric": "failed_deployment_recovery_time",
            "title": "Failed deployment recovery time",
            "value": recovery.median_seconds,
            "unit": "seconds (median)",
            "tier": recovery.tier,
            "basis": f"{recovery.incidents} incidents, {recovery.rollbacks} rollbacks"
            + (
                f"; {recovery.incidents_unknown_start} incidents with no known start left out"
                if recovery.incidents_unknown_start
                else ""
            ),
        },
    ]


@dataclass(frozen=True)
class Kpi:
    """How the page and the CSV name and read one platform KPI (a field of kpis.PlatformKpis)."""

    key: str
    title: str
    unit: str
    basis: Callable[[Any], str]


def _of(noun: str, whole: str) -> Callable[[kpis.Ratio], str]:
    return lambda ratio: f"{ratio.numerator} of {ratio.denominator} {whole} {noun}".rstrip()


def _audit_basis(audit: kpis.AuditCompleteness) -> str:
    missing = [
        (audit.missing_requester, "requester"),
        (audit.missing_approval, "approval"),
        (audit.checks_not_passed, "passed checks"),
        (audit.missing_rollout, "Runway rollout"),
    ]
    why = ", ".join(f"{count} without {part}" for count, part in missing if count)
    return f"{audit.complete} of {audit.releases} production releases complete" + (
        f" ({why})" if why else ""
    )


def _pipeline_basis(adoption: kpis.PipelineAdoption) -> str:
    return (
        f"{adoption.latest} of {adoption.services} golden-path services report the newest "
        f"pipeline template ({adoption.outdated} an older one, {adoption.unreported} none yet)"
    )


KPIS = (
    Kpi(
        "rollback_success_rate",
        "Rollback success rate",
        PERCENT,
        _of("succeeded", "Runway rollbacks in production"),
    ),
    Kpi(
        "latest_template_share",
        "Services on the latest template",
        PERCENT,
        _of("", "scored services"),
    ),
    Kpi(
        "progressive_delivery_share",
        "Services delivering progressively",
        PERCENT,
        _of("", "scored services"),
    ),
    Kpi(
        "verification_gate_share",
        "Services with a verification gate",
        PERCENT,
        _of("", "scored services"),
    ),
    Kpi("audit_completeness", "Audit completeness", PERCENT, _audit_basis),
    Kpi(
        "failure_detection_seconds",
        "Failure detection time (median)",
        SECONDS,
        lambda m: f"over {m.count} failed rollouts",
    ),
    Kpi(
        "manual_interventions_per_release",
        "Manual interventions per release",
        NUMBER,
        lambda r: f"{r.numerator} interventions over {r.denominator} releases",
    ),
    Kpi(
        "artifact_integrity_coverage",
        "Artifact integrity coverage",
        PERCENT,
        _of("signed with provenance", "production releases started"),
    ),
    Kpi(
        "security_gate_pass_rate",
        "Security gate pass rate",
        PERCENT,
        _of("passed at the first attempt", "production releases under a trust policy"),
    ),
    Kpi(
        "standard_pipeline_share",
        "Services on the standard pipeline",
        PERCENT,
        _pipeline_basis,
    ),
    Kpi("ci_success_rate", "CI success rate", PERCENT, _of("succeeded", "pipeline runs")),
    Kpi(
        "ci_duration_p50_seconds",
        "CI duration (median)",
        SECONDS,
        lambda m: f"over {m.count} pipeline runs",
    ),
    Kpi(
        "ci_duration_p95_seconds",
        "CI duration (95th percentile)",
        SECONDS,
        lambda m: f"over {m.count} pipeline runs",
    ),
)
CSV_UNITS = {PERCENT: "fraction", SECONDS: "seconds", NUMBER: "number", COUNT: "count"}


def _kpi_rows(platform: kpis.PlatformKpis) -> list[dict]:
    """One row per KPI: its value, unit, basis and weekly trend (for the card's chart)."""
    rows = []
    for kpi in KPIS:
        figure = getattr(platform, kpi.key)
        rows.append(
            {
                "key": kpi.key,
                "title": kpi.title,
                "value": figure.value,
                "unit": kpi.unit,
                "csv_unit": CSV_UNITS[kpi.unit],
                "basis": kpi.basis(figure),
                "trend": figure.trend,
            }
        )
    return rows


def _kpi_trend_rows(platform: kpis.PlatformKpis) -> list[dict]:
    """One row per week, one column per KPI."""
    weeks: dict[date, dict] = {}
    for kpi in KPIS:
        for point in getattr(platform, kpi.key).trend:
            weeks.setdefault(point.week, {"week": point.week})[kpi.key] = point.value
    return list(weeks.values())


def _get(key: str) -> Callable[[Any], Any]:
    """A column value read from a dict row or an object row alike."""

    def value(row):
        return row[key] if isinstance(row, dict) else getattr(row, key)

    return value


def _get_if_any(key: str) -> Callable[[dict], Any]:
    """A column value read from a dict row that may not have it (None then)."""

    def value(row: dict) -> Any:
        return row.get(key)

    return value


def _level_count(level: Level) -> Callable[[dict], int]:
    return lambda row: row["levels"].get(level, 0)


def _level_counts(key: str) -> Callable[[Any], int]:
    """A team row's count of services at the level named `key` ("gold")."""
    level = next(level for level in Level if level.label.lower().replace(" ", "_") == key)
    return lambda row: row.level_counts.get(level, 0)


def _team_link(key: str) -> Callable[[Any], tuple[str, str] | None]:
    def link(row):
        slug = _get(key)(row)
        return ("insights:team", slug) if slug else None

    return link


def _service_link(key: str) -> Callable[[Any], tuple[str, str] | None]:
    return lambda row: ("insights:service", _get(key)(row))


def _four_keys() -> tuple[Column, ...]:
    """The DORA columns that team and service rows share (tables.TeamRow, tables.ServiceRow)."""
    return (
        Column("deployments", "Deployments", _get("deployments"), COUNT),
        Column(
            "deployments_per_week",
            "Per week",
            _get("deployments_per_week"),
            NUMBER,
            tier=_get("frequency_tier"),
        ),
        Column("frequency_bucket", "Frequency", _get("frequency_bucket"), on_page=False),
        Column("frequency_tier", "Frequency tier", _get("frequency_tier"), TIER, on_page=False),
        Column(
            "lead_time_median_seconds",
            "Lead time",
            _get("lead_time_median_seconds"),
            SECONDS,
            tier=_get("lead_time_tier"),
        ),
        Column("lead_time_commits", "Commits", _get("lead_time_commits"), COUNT, on_page=False),
        Column("lead_time_tier", "Lead time tier", _get("lead_time_tier"), TIER, on_page=False),
        Column(
            "change_failure_rate",
            "Change failure rate",
            _get("change_failure_rate"),
            PERCENT,
            tier=_get("change_failure_tier"),
        ),
        Column("failures", "Failures", _get("failures"), COUNT, on_page=False),
        Column(
            "change_failure_tier", "Failure tier", _get("change_failure_tier"), TIER, on_page=False
        ),
        Column(
            "recovery_median_seconds",
            "Recovery time",
            _get("recovery_median_seconds"),
            SECONDS,
            tier=_get("recovery_tier"),
        ),
        Column("recoveries", "Recoveries", _get("recoveries"), COUNT, on_page=False),
        Column("recovery_tier", "Recovery tier", _get("recovery_tier"), TIER, on_page=False),
    )


LEVEL_COLUMNS = tuple(
    Column(level.label.lower().replace(" ", "_"), level.label, _level_count(level), COUNT)
    for level in Level
)


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            name="keys",
            title="The four keys",
            source="dora",
            rows=_key_rows,
            columns=(
                Column("metric", "Metric", _get("metric")),
                Column("title", "Title", _get("title")),
                Column("value", "Value", _get("value"), NUMBER),
                Column("unit", "Unit", _get("unit")),
                Column("tier", "DORA tier", _get("tier"), TIER),
                Column("basis", "Based on", _get("basis")),
            ),
        ),
        Table(
            name="teams",
            title="Teams",
            source="teams",
            scopes=(ORG,),
            columns=(
                Column("team", "Team", _get("name"), link=_team_link("slug")),
                Column("team_slug", "Slug", _get("slug"), on_page=False),
                Column("services", "Services", _get("services"), COUNT),
                *_four_keys(),
                *(
                    Column(c.key, c.header, _level_counts(c.key), COUNT, on_page=False)
                    for c in LEVEL_COLUMNS
                ),
            ),
        ),
        Table(
            name="services",
            title="Services",
            source="services",
            scopes=(TEAM,),
            columns=(
                Column("service", "Service", _get("name"), link=_service_link("name")),
                Column("title", "Title", _get("title"), on_page=False),
                Column("team_slug", "Team", _get("team_slug"), on_page=False),
                Column("tier", "Catalog tier", _get("tier"), COUNT, on_page=False),
                Column("level", "Scorecard level", _get("level"), LEVEL),
                Column("rules_passed", "Rules passed", _get("rules_passed"), COUNT),
                Column("rules_total", "Rules", _get("rules_total"), COUNT),
                *_four_keys(),
            ),
        ),
        Table(
            name="attention",
            title="Services most in need of attention",
            source="attention",
            scopes=(ORG, TEAM),
            columns=(
                Column("service", "Service", _get("service"), link=_service_link("service")),
                Column("team", "Team", _get("team_name"), link=_team_link("team_slug")),
                Column("team_slug", "Team slug", _get("team_slug"), on_page=False),
                Column("level", "Scorecard level", _get("level"), LEVEL),
                Column(
                    "change_failure_rate",
                    "Change failure rate",
                    _get("change_failure_rate"),
                    PERCENT,
                ),
                Column("failing_rules", "Failing rules", _get("failing_rules"), COUNT),
                Column("open_emergencies", "Open emergencies", _get("open_emergencies"), COUNT),
                Column("deployments", "Deployments", _get("deployments"), COUNT),
                Column("reasons", "Why", lambda row: "; ".join(row.reasons)),
            ),
        ),
        Table(
            name="trends",
            title="The four keys by week",
            source="trends",
            columns=(
                Column("week", "Week of", _get("week"), DATE),
                Column("deployments", "Deployments", _get("deployments"), COUNT),
                Column("failures", "Failures", _get("failures"), COUNT),
                Column(
                    "change_failure_rate",
                    "Change failure rate",
                    _get("change_failure_rate"),
                    PERCENT,
                ),
                Column(
                    "lead_time_median_seconds",
                    "Lead time (median)",
                    _get("lead_time_median_seconds"),
                    SECONDS,
                ),
                Column("lead_time_commits", "Commits", _get("lead_time_commits"), COUNT),
                Column(
                    "recovery_median_seconds",
                    "Recovery time (median)",
                    _get("recovery_median_seconds"),
                    SECONDS,
                ),
                Column("recoveries", "Recoveries", _get("recoveries"), COUNT),
            ),
        ),
        Table(
            name="kpis",
            title="Platform KPIs",
            source="kpis",
            rows=_kpi_rows,
            columns=(
                Column("kpi", "KPI", _get("title")),
                Column("key", "Key", _get("key")),
                Column("value", "Value", _get("value"), NUMBER),
                Column("unit", "Unit", _get("csv_unit")),
                Column("basis", "Based on", _get("basis")),
            ),
        ),
        Table(
            name="kpi-trends",
            title="Platform KPIs by week",
            source="kpis",
            rows=_kpi_trend_rows,
            columns=(
                Column("week", "Week of", _get("week"), DATE),
                *(Column(k.key, k.title, _get_if_any(k.key), k.unit) for k in KPIS),
            ),
        ),
        Table(
            name="levels",
            title="Scorecard levels by team",
            source="levels",
            scopes=(ORG, TEAM),
            columns=(
                Column("team", "Team", _get("team_name"), link=_team_link("team")),
                Column("team_slug", "Slug", _get("team")),
                Column("services", "Services", _get("services"), COUNT),
                *LEVEL_COLUMNS,
            ),
        ),
        Table(
            name="level-trend",
            title="Services at each scorecard level, by week",
            source="level_trend",
            scopes=(ORG, TEAM),
            columns=(Column("week", "Week of", _get("week"), DATE), *LEVEL_COLUMNS),
        ),
        Table(
            name="changes",
            title="Scorecard level changes in the last 4 weeks",
            source="changes",
            scopes=(ORG, TEAM),
            columns=(
                Column("service", "Service", _get("service"), link=_service_link("service")),
                Column("team", "Team", _get("team"), link=_team_link("team")),
                Column("before", "Level before", _get("before"), LEVEL),
                Column("after", "Level now", _get("after"), LEVEL),
            ),
        ),
        Table(
            name="scorecard",
            title="Scorecard, rule by rule",
            source="scorecard",
            rows=lambda card: card["rules"],
            scopes=(SERVICE,),
            columns=(
                Column("rule", "Rule", _get("title")),
                Column("key", "Key", _get("key")),
                Column("level", "Level", _get("level"), LEVEL),
                Column("enabled", "Counts", _get("enabled"), BOOLEAN),
                Column("passed", "Passed", _get("passed"), BOOLEAN),
                Column("how_to_pass", "How to pass", _get("how_to_pass")),
            ),
        ),
    )
}


def tables_for(level: str) -> list[Table]:
    return [table for table in TABLES.values() if level in table.scopes]


# --- Sorting ----------------------------------------------------------------------------------


def sort_rows(table: Table, rows: Sequence, sort: str) -> tuple[list, str]:
    """Rows ordered by `sort` (a column key, "-key" for descending), empty values last either
    way; and the sort applied: "" (the selector's own order) for no or an unknown column."""
    column = table.column(sort.removeprefix("-"))
    if column is None:
        return list(rows), ""

    def key(row):
        value = column.value(row)
        if column.unit == TIER:
            return TIER_RANK[value]  # elite first, as the figures it stands for
        return value.casefold() if isinstance(value, str) else value

    present = [row for row in rows if column.value(row) is not None]
    missing = [row for row in rows if column.value(row) is None]
    return sorted(present, key=key, reverse=sort.startswith("-")) + missing, sort


# --- The teams table, a page at a time -------------------------------------------------------

TEAMS_PER_PAGE = 25
# The teams table's columns that the catalog alone answers (tables.TeamOutline's): a page in the
# default order (by name) or sorted by one of these reads the DORA figures of its own teams only;
# sorted by a DORA figure, every team's figures are read to rank them.
OUTLINE_COLUMNS = frozenset({"team", "team_slug", "services", *(c.key for c in LEVEL_COLUMNS)})


def team_page(scope: Scope, sort: str, number: Any) -> tuple[Page, str]:
    """One page of the teams table (TEAMS_PER_PAGE teams, Paginator.get_page's `number`) in the
    order the whole table has when sorted by `sort` (see sort_rows), and the sort applied: the
    same rows, in the same order, as the CSV's slice."""
    table = TABLES["teams"]
    column = table.column(sort.removeprefix("-"))
    if column is not None and column.key not in OUTLINE_COLUMNS:
        every = tables.team_table(start=scope.start, end=scope.end)
        rows, applied = sort_rows(table, every, sort)
        return Paginator(rows, TEAMS_PER_PAGE).get_page(number), applied
    outlines, applied = sort_rows(table, tables.team_outlines(), sort)
    page = Paginator(outlines, TEAMS_PER_PAGE).get_page(number)
    page.object_list = tables.team_table(
        start=scope.start, end=scope.end, teams=list(page.object_list)
    )
    return page, applied


# --- CSV --------------------------------------------------------------------------------------


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> Any:
    """Durations stay seconds, rates fractions; whole floats lose their ".0"; None is empty.
    Text that a spreadsheet would run as a formula (a team named "=HYPERLINK(...)") gets a
    leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 4)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_cell(column: Column, row: Any) -> Any:
    value = column.value(row)
    if column.unit == LEVEL and value is not None:
        return Level(value).label  # "Gold", not 3: the CSV is read by people too
    return csv_value(value)


def csv_text(table: Table, rows: Iterable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.key for column in table.columns])
    for row in rows:
        writer.writerow([csv_cell(column, row) for column in table.columns])
    return buffer.getvalue()


def csv_filename(table: Table, scope: Scope) -> str:
    subject = scope.name or "organisation"
    return f"runway-{subject}-{table.name}-{scope.start.isoformat()}-{scope.end.isoformat()}.csv"
