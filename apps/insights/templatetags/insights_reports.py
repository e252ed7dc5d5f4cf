"""Formatting and charts for the report pages: `{% load insights_reports %}`."""

from functools import lru_cache

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from apps.core.urls import row_path
from apps.insights import charts, exports
from apps.insights.models import Level

register = template.Library()

TIER_LABELS = {"elite": "Elite", "high": "High", "medium": "Medium", "low": "Low"}

# Scorecard level colours: the chart's presentation attributes; the stylesheet may override.
LEVEL_SEGMENTS = (
    charts.Segment(Level.NONE, "No level", "#8a8fa3", "level-none"),
    charts.Segment(Level.BRONZE, "Bronze", "#a8642a", "level-bronze"),
    charts.Segment(Level.SILVER, "Silver", "#7d8a99", "level-silver"),
    charts.Segment(Level.GOLD, "Gold", "#c99a06", "level-gold"),
)


def report_path(url_name: str, argument: str) -> str:
    """reverse(url_name, args=[argument]) for a report page, whose one argument is a team's
    slug or a service's name: reversed once for the hundreds of rows a report links."""
    return row_path(url_name, argument)


@register.filter
def duration(seconds) -> str:
    return charts.format_duration(seconds)


@register.filter
def percent(rate) -> str:
    return charts.format_percent(rate)


@register.filter
def number(value) -> str:
    return charts.format_number(value)


@register.filter
def tier_label(tier) -> str:
    return TIER_LABELS.get(tier, "No data")


@register.filter
def level_label(level) -> str:
    try:
        return Level(level).label
    except ValueError:
        return "—"


def format_cell(value, unit: str) -> str:
    if unit in charts.UNITS:
        return charts.format_value(value, unit)
    if value is None or value == "":
        return "—"
    if unit == exports.TIER:
        return TIER_LABELS.get(value, str(value))
    if unit == exports.LEVEL:
        return level_label(value)
    if unit == exports.DATE:
        return value.isoformat()
    if unit == exports.BOOLEAN:
        return "Yes" if value else "No"
    return str(value)


@register.simple_tag
def cell(row, column: exports.Column, window) -> SafeString:
    """One table cell: the value formatted for people, a link to its report where it has one,
    a tier or level as a badge, and the DORA tier beside a figure that has one. Thousands a
    page: each part is escaped once and joined, rather than through format_html."""
    value = column.value(row)
    text = escape(format_cell(value, column.unit))
    if column.unit == exports.TIER:
        return tier_badge(value) if value else text
    if column.unit == exports.LEVEL and value is not None:
        return mark_safe(f'<span class="pill level level-{escape(value)}">{text}</span>')  # noqa: S308
    target = column.link(row) if column.link else None
    if target:
        url_name, argument = target
        href = escape(f"{report_path(url_name, argument)}?{window.query}")
        return mark_safe(f'<a href="{href}">{text}</a>')  # noqa: S308
    tier = column.tier(row) if column.tier else None
    if tier:
        return mark_safe(f"{text} {tier_badge(tier)}")  # noqa: S308
    return text


@register.simple_tag
@lru_cache(maxsize=16)
def tier_badge(tier) -> SafeString:
    """A DORA tier's badge (a handful of tiers: each made once)."""
    return format_html(
        '<span class="pill dora-tier dora-tier-{}">{}</span>', tier or "none", tier_label(tier)
    )


@register.simple_tag
def sort_url(window, current: str, key: str) -> str:
    """The page sorted by `key`: ascending first, descending when it already is ascending."""
    target = f"-{key}" if current == key else key
    return f"?{window.query}&{urlencode({'sort': target})}"


@register.filter
def sort_state(current: str, key: str) -> str:
    """aria-sort for a column header."""
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"


@register.simple_tag
def csv_url(scope, table_name: str, window, sort: str = "") -> str:
    if scope.level == exports.SERVICE:
        url = reverse("insights:service-csv", args=[scope.service.name, table_name])
    elif scope.level == exports.TEAM:
        url = reverse("insights:team-csv", args=[scope.team.slug, table_name])
    else:
        url = reverse("insights:dashboard-csv", args=[table_name])
    query = window.query + (f"&{urlencode({'sort': sort})}" if sort else "")
    return f"{url}?{query}"


@register.simple_tag
def report_url(window, url_name: str, argument: str = "") -> str:
    url = reverse(url_name, args=[argument] if argument else [])
    return f"{url}?{window.query}"


@register.simple_tag
def trend_chart(
    points, fields: str, title: str, unit: str, labels: str = "", size: str = ""
) -> SafeString:
    """A line chart of weekly points (anything with `.week` or ["week"]): one series per field
    of the comma-separated `fields`, named by the "|"-separated `labels` (default: the title).
    `size="small"` for the KPI cards."""
    names = labels.split("|") if labels else [title]
    series = [
        charts.Series(name=name, points=[(_get(p, "week"), _get(p, field)) for p in points])
        for field, name in zip(fields.split(","), names, strict=True)
    ]
    dimensions = {"width": 300, "height": 140} if size == "small" else {}
    return charts.line_chart(series, title=title, unit=unit, **dimensions)


@register.simple_tag
def level_bars(distribution, window) -> SafeString:
    """Services per scorecard level, one bar per team, each linking to the team's report."""
    bars = [
        charts.Bar(
            label=row["team_name"],
            values=row["levels"],
            href=f"{report_path('insights:team', row['team'])}?{window.query}",
        )
        for row in distribution
    ]
    return charts.stacked_bars(
        bars,
        LEVEL_SEGMENTS,
        title="Services at each scorecard level",
        unit_label="services",
        row_label="Team",
    )


@register.simple_tag
def level_trend_chart(weeks) -> SafeString:
    """Services at each level, week by week (from the weekly scorecard snapshots)."""
    series = [
        charts.Series(
            name=segment.label,
            points=[(w["week"], w["levels"].get(segment.key, 0)) for w in weeks],
            colour=segment.colour,
        )
        for segment in LEVEL_SEGMENTS
    ]
    return charts.line_chart(series, title="Services at each level by week", unit=charts.COUNT)


def _get(point, key):
    return point[key] if isinstance(point, dict) else getattr(point, key)
