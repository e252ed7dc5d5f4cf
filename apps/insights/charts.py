"""Charts for the reports, drawn on the server as inline SVG: no script, no web font, no
network, so they work offline and print as they look. Results are Django SafeStrings (the
project has no markupsafe): templates insert them as they are.

Two shapes: `line_chart` (weekly series; a missing value leaves a gap) and `stacked_bars`
(one horizontal bar per row, made of named segments, e.g. services per scorecard level).
Each returns a <figure> holding the SVG (role="img" with an aria-label) and the same figures
as a visually hidden table for screen readers. All text is escaped; colours are presentation
attributes that the stylesheet may override (dark mode, print).

A chart is drawn at most at its own size and at least so large that its labels stay
SMALLEST_LABEL pixels tall; in a narrower space (a phone) it scrolls sideways in its figure.

The value formatters below are also the page's: a duration reads "3 h 20 min" in a chart's
tooltip and in the table beside it.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from apps.core.durations import format_duration

COUNT, NUMBER, PERCENT, SECONDS = "count", "number", "percent", "seconds"
UNITS = (COUNT, NUMBER, PERCENT, SECONDS)

# Colour-blind-safe (Okabe-Ito) for series; levels have their own colours, given by the caller.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")
MUTED = "#6b7080"
GRID = "#d8dae3"

# Two charts side by side fit a laptop's report at their size (.chart-grid in runway.css).
WIDTH, HEIGHT = 560, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 14, 30
MAX_X_LABELS = 7
X_LABEL_SPACING = 56  # a week's label ("28 Sep") and room around it
FONT_SIZE, SMALLEST_LABEL = 11, 10
FONT = f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}"'


# --- Formatting -------------------------------------------------------------------------------


def format_percent(rate: float | None) -> str:
    """A rate from 0 to 1 as a percentage, with a decimal only where it says something."""
    if rate is None:
        return "—"
    value = round(rate * 100, 1)
    return f"{value:g}%"


def format_number(value: float | None) -> str:
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


FORMATTERS: dict[str, Callable[[float | None], str]] = {
    COUNT: format_number,
    NUMBER: format_number,
    PERCENT: format_percent,
    SECONDS: format_duration,
}


def format_value(value: float | None, unit: str) -> str:
    return FORMATTERS[unit](value)


def week_label(week: date) -> str:
    return f"{week.day} {week:%b}"


def long_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


# --- Scales -----------------------------------------------------------------------------------

_DURATION_STEPS = (
    *(1, 2, 5, 10, 15, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 30)),
    *(3600 * h for h in (1, 2, 3, 6, 12)),
    *(86400 * d for d in (1, 2, 7, 14, 30, 60, 90, 180, 365)),
)


def nice_step(largest: float, unit: str, ticks: int = 4) -> float:
    """The smallest round step that covers `largest` in about `ticks` steps: 1, 2, 2.5 or 5
    times a power of ten; a round duration for seconds; a whole number for counts."""
    if largest <= 0:
        return {COUNT: 1, NUMBER: 1, PERCENT: 0.05, SECONDS: 3600}[unit]
    rough = largest / ticks
    if unit == SECONDS:
        return next((step for step in _DURATION_STEPS if step >= rough), _DURATION_STEPS[-1])
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    if unit == COUNT:
        step = max(1, math.ceil(step))
    return step


def nice_ticks(largest: float, unit: str, ticks: int = 4) -> list[float]:
    """Ticks from 0 to the first multiple of the step at or above `largest`."""
    step = nice_step(largest, unit, ticks)
    count = max(1, math.ceil(largest / step - 1e-9))
    return [round(step * i, 10) for i in range(count + 1)]


# --- Line chart -------------------------------------------------------------------------------

Point = tuple[date, float | None]


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]
    colour: str = ""  # default: the palette's, in order


def _as_series(series) -> list[Series]:
    if isinstance(series, Mapping):
        series = series.items()
    return [s if isinstance(s, Series) else Series(name=s[0], points=list(s[1])) for s in series]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, role: str, label: str) -> str:
    """The opening tag: scaled to its figure between SMALLEST_LABEL-pixel labels and its size."""
    smallest = math.ceil(width * SMALLEST_LABEL / FONT_SIZE)
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'style="min-width: {smallest}px; max-width: {width}px" role="{role}" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" {FONT}>'
    )


def _no_data(title: str, width: int, height: int, css_class: str) -> SafeString:
    return _safe(
        f'<figure class="chart {escape(css_class)} chart-empty">'
        f"{_svg(width, height, 'img', f'{title}: no data')}"
        f"<title>{escape(title)}</title>"
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="none" '
        f'stroke="{GRID}" stroke-dasharray="4 4" class="chart-frame"/>'
        f'<text x="{width / 2:g}" y="{height / 2:g}" text-anchor="middle" '
        f'dominant-baseline="middle" fill="{MUTED}" class="chart-note">No data</text>'
        "</svg></figure>"
    )


def line_chart(
    series: Sequence[Series] | Sequence[tuple[str, Sequence[Point]]] | Mapping[str, Sequence],
    *,
    title: str,
    unit: str = NUMBER,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Weekly lines, one per named series of (week, value or None) points. None breaks the line
    (a week without a figure is not a zero). The y axis starts at 0 and ends at a round value
    above the largest; the x axis labels at most seven weeks. Every point has a tooltip."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    all_series = _as_series(series)
    weeks = sorted({week for s in all_series for week, _ in s.points})
    values = [v for s in all_series for _, v in s.points if v is not None]
    if not weeks or not values:
        return _no_data(title, width, height, "chart-line")

    fmt = FORMATTERS[unit]
    ticks = nice_ticks(max(values), unit)
    top = ticks[-1]
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    x_of = {
        week: MARGIN_LEFT + (plot_w * i / (len(weeks) - 1) if len(weeks) > 1 else plot_w / 2)
        for i, week in enumerate(weeks)
    }

    def y_of(value: float) -> float:
        return MARGIN_TOP + plot_h * (1 - value / top)

    parts = [
        _svg(width, height, "img", _line_summary(title, all_series, fmt)),
        f"<title>{escape(title)}</title>",
        '<g class="chart-axis">',
    ]
    for tick in ticks:
        y = _num(y_of(tick))
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{width - MARGIN_RIGHT}" y1="{y}" y2="{y}" '
            f'stroke="{GRID}" class="chart-gridline"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'fill="{MUTED}">{escape(fmt(tick) if tick else "0")}</text>'
        )
    most = max(2, min(MAX_X_LABELS, plot_w // X_LABEL_SPACING))
    every = max(1, math.ceil(len(weeks) / most))
    for week in weeks[::every]:
        parts.append(
            f'<text x="{_num(x_of[week])}" y="{height - 10}" text-anchor="middle" '
            f'fill="{MUTED}">{escape(week_label(week))}</text>'
        )
    parts.append("</g>")

    colours = [escape(s.colour or PALETTE[i % len(PALETTE)]) for i, s in enumerate(all_series)]
    for index, (one, colour) in enumerate(zip(all_series, colours, strict=True)):
        segments: list[list[tuple[float, float]]] = []
        current: list[tuple[float, float]] = []
        for week, value in sorted(one.points, key=lambda point: point[0]):
            if value is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append((x_of[week], y_of(value)))
        if current:
            segments.append(current)
        path = " ".join(
            "M" + " L".join(f"{_num(x)},{_num(y)}" for x, y in segment) for segment in segments
        )
        parts.append(
            f'<g class="chart-series series-{index}" data-series="{escape(one.name)}">'
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-linejoin="round" stroke-linecap="round"/>'
        )
        for week, value in one.points:
            if value is None:
                continue
            label = f"Week of {long_date(week)}: {one.name} {fmt(value)}"
            parts.append(
                f'<circle cx="{_num(x_of[week])}" cy="{_num(y_of(value))}" r="3" '
                f'fill="{colour}" data-week="{week.isoformat()}" data-value="{value}">'
                f"<title>{escape(label)}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")

    legend = _legend([(s.name, colour) for s, colour in zip(all_series, colours, strict=True)])
    by_week = [dict(s.points) for s in all_series]
    table = _hidden_table(
        title,
        ["Week", *(s.name for s in all_series)],
        [[week.isoformat(), *(fmt(values.get(week)) for values in by_week)] for week in weeks],
    )
    return _safe(
        f'<figure class="chart chart-line">{"".join(parts)}'
        f"{legend if len(all_series) > 1 else ''}{table}</figure>"
    )


def _line_summary(title: str, all_series: list[Series], fmt) -> str:
    """What a reader sees at a glance: the latest value of each series."""
    latest = []
    for one in all_series:
        known = [(week, v) for week, v in one.points if v is not None]
        if known:
            week, value = max(known, key=lambda point: point[0])
            latest.append(f"{one.name} {fmt(value)} in the week of {long_date(week)}")
    return f"{title}, weekly: " + "; ".join(latest) + "."


# --- Stacked bars -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    key: object
    label: str
    colour: str
    css_class: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    values: Mapping = field(default_factory=dict)  # segment key → count
    href: str = ""


BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, LEGEND_HEIGHT = 22, 8, 150, 26


def _truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def stacked_bars(
    rows: Sequence[Bar] | Sequence[tuple[str, Mapping]],
    segments: Sequence[Segment],
    *,
    title: str,
    unit_label: str = "",
    row_label: str = "Row",
    width: int = WIDTH,
) -> SafeString:
    """One horizontal bar per row, its segments in the order of `segments`, all bars on one
    scale (the largest total spans the width). A row's label links to `href` when it has one:
    the chart is then a group of those links (an image may hold no control), and the drawing
    around them is hidden from screen readers, which read the figures in the table instead.
    `row_label` heads the table's column of row names."""
    bars = [row if isinstance(row, Bar) else Bar(label=row[0], values=row[1]) for row in rows]
    totals = [sum(bar.values.get(s.key, 0) or 0 for s in segments) for bar in bars]
    if not bars or not any(totals):
        return _no_data(title, width, 120, "chart-bars")

    height = LEGEND_HEIGHT + len(bars) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    area = width - LABEL_WIDTH - 48
    largest = max(totals)
    noun = f" {unit_label}" if unit_label else ""
    linked = any(bar.href for bar in bars)
    drawing = ' aria-hidden="true"' if linked else ""
    parts = [
        _svg(width, height, "group" if linked else "img", f"{title}: {len(bars)} rows"),
        f"<title>{escape(title)}</title>",
        f'<g class="chart-legend"{drawing}>',
    ]
    x: float = LABEL_WIDTH
    for segment in segments:
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="12" rx="2" fill="{escape(segment.colour)}" '
            f'class="{escape(segment.css_class)}"/>'
            f'<text x="{x + 16}" y="12" dominant-baseline="middle" fill="{MUTED}">'
            f"{escape(segment.label)}</text>"
        )
        x += 24 + 7 * len(segment.label)
    parts.append("</g>")

    for index, (bar, total) in enumerate(zip(bars, totals, strict=True)):
        y = LEGEND_HEIGHT + BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        middle = _num(y + BAR_HEIGHT / 2)
        label = (
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle" class="chart-label">{escape(_truncate(bar.label, 22))}'
            f"<title>{escape(bar.label)}</title></text>"
        )
        if bar.href:
            label = f'<a href="{escape(bar.href)}">{label}</a>'
        elif linked:
            label = f"<g{drawing}>{label}</g>"
        parts.append(f'<g class="chart-bar" data-row="{escape(bar.label)}">{label}<g{drawing}>')
        x = float(LABEL_WIDTH)
        for segment in segments:
            value = bar.values.get(segment.key, 0) or 0
            if not value:
                continue
            w = area * value / largest
            tip = f"{bar.label} · {segment.label}: {format_number(value)} of {total}{noun}"
            parts.append(
                f'<rect x="{_num(x)}" y="{y}" width="{_num(w)}" height="{BAR_HEIGHT}" '
                f'fill="{escape(segment.colour)}" class="{escape(segment.css_class)}" '
                f'data-segment="{escape(segment.label)}" data-value="{value}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if w >= 18:
                parts.append(
                    f'<text x="{_num(x + w / 2)}" y="{middle}" text-anchor="middle" '
                    f'dominant-baseline="middle" fill="#fff" class="chart-count">'
                    f"{format_number(value)}</text>"
                )
            x += w
        parts.append(
            f'<text x="{_num(x + 6)}" y="{middle}" dominant-baseline="middle" fill="{MUTED}">'
            f"{format_number(total)}</text></g></g>"
        )
    parts.append("</svg>")

    table = _hidden_table(
        title,
        [row_label, *(s.label for s in segments), "Total"],
        [
            [bar.label, *(format_number(bar.values.get(s.key, 0) or 0) for s in segments), total]
            for bar, total in zip(bars, totals, strict=True)
        ],
    )
    return _safe(f'<figure class="chart chart-bars">{"".join(parts)}{table}</figure>')


# --- Shared pieces ----------------------------------------------------------------------------


def _safe(html: str) -> SafeString:
    # Every caller-supplied text went through escape() on its way into `html`; the rest is
    # this module's own markup and numbers.
    return mark_safe(html)  # noqa: S308


def _legend(entries: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<li><span class="chart-swatch" style="background:{colour}"></span>{escape(name)}</li>'
        for name, colour in entries
    )
    return f'<ul class="chart-legend" aria-hidden="true">{items}</ul>'


def _hidden_table(caption: str, headers: list[str], rows: list[list]) -> str:
    """The chart's figures for screen readers: each row headed by its first cell."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        f'<tr><th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    # Hidden in a box of its own: a table is never narrower than its cells.
    return (
        f'<div class="visually-hidden"><table><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )
