"""The SVG charts are pure functions: known input, known geometry."""

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.utils.safestring import SafeString

from apps.insights import charts
from apps.insights.charts import Bar, Segment, Series

SVG = "{http://www.w3.org/2000/svg}"
MONDAY = date(2025, 1, 6)


def weeks(*values):
    return [(MONDAY + timedelta(weeks=i), v) for i, v in enumerate(values)]


def parse(markup: SafeString) -> ET.Element:
    """The figure as XML: the chart must be well-formed (it is inline SVG in an HTML page)."""
    return ET.fromstring(str(markup))


def svg_of(markup: SafeString) -> ET.Element:
    return parse(markup).find(f"{SVG}svg")


def circles(markup: SafeString) -> list[ET.Element]:
    return list(svg_of(markup).iter(f"{SVG}circle"))


def series_paths(markup: SafeString) -> list[str]:
    svg = svg_of(markup)
    return [g.find(f"{SVG}path").get("d") for g in svg.iter(f"{SVG}g") if g.get("data-series")]


# --- Formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0 s"),
        (42, "42 s"),
        (60, "1 min"),
        (12 * 60 + 10, "12 min"),
        (3600, "1 h"),
        (3 * 3600 + 20 * 60, "3 h 20 min"),
        (2 * 86400 + 4 * 3600 + 59, "2 d 4 h"),
        (7 * 86400, "7 d"),
    ],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert charts.format_duration(seconds) == text


def test_rates_read_as_percentages():
    assert charts.format_percent(0.125) == "12.5%"
    assert charts.format_percent(0.1) == "10%"
    assert charts.format_percent(None) == "—"


@pytest.mark.parametrize(
    ("largest", "unit", "ticks"),
    [
        (7, charts.COUNT, [0, 2, 4, 6, 8]),
        (3, charts.COUNT, [0, 1, 2, 3]),
        (0, charts.COUNT, [0, 1]),
        (0.23, charts.PERCENT, [0, 0.1, 0.2, 0.3]),
        (5 * 3600, charts.SECONDS, [0, 7200, 14400, 21600]),
        (95, charts.NUMBER, [0, 25, 50, 75, 100]),
    ],
)
def test_axes_have_a_few_round_ticks(largest, unit, ticks):
    assert charts.nice_ticks(largest, unit) == ticks


# --- Line chart -------------------------------------------------------------------------------


def test_points_land_where_the_scale_puts_them():
    chart = charts.line_chart(
        [Series("Deployments", weeks(0, 4, 8))], title="Deployments", unit=charts.COUNT
    )
    left = charts.MARGIN_LEFT
    right = charts.WIDTH - charts.MARGIN_RIGHT
    top = charts.MARGIN_TOP
    bottom = charts.HEIGHT - charts.MARGIN_BOTTOM
    points = [(float(c.get("cx")), float(c.get("cy"))) for c in circles(chart)]
    # Ticks 0..8: the first week sits on the floor at the left, the last at the top right.
    assert points[0] == (left, bottom)
    assert points[1] == ((left + right) / 2, (top + bottom) / 2)
    assert points[2] == (right, top)
    assert series_paths(chart) == [
        f"M{left},{bottom} L{(left + right) / 2:g},{(top + bottom) / 2:g} L{right},{top}"
    ]


def test_a_missing_week_breaks_the_line_instead_of_dropping_to_zero():
    chart = charts.line_chart(
        [Series("Lead time", weeks(3600, 7200, None, 3600, 1800))],
        title="Lead time",
        unit=charts.SECONDS,
    )
    (path,) = series_paths(chart)
    assert path.count("M") == 2  # two pieces: before and after the gap
    assert len(circles(chart)) == 4
    assert "2025-01-20" not in {c.get("data-week") for c in circles(chart)}
    assert "<td>—</td>" in str(chart)  # the hidden table says there was no figure


def test_every_point_has_a_tooltip_with_its_week_and_value():
    chart = charts.line_chart(
        [Series("Recovery", weeks(3 * 3600 + 20 * 60))], title="Recovery", unit=charts.SECONDS
    )
    (circle,) = circles(chart)
    assert circle.find(f"{SVG}title").text == "Week of 6 Jan 2025: Recovery 3 h 20 min"


def test_the_chart_is_an_image_with_a_name_and_its_figures_as_a_table():
    chart = charts.line_chart(
        {"Change failure rate": weeks(0.1, 0.25)}, title="Change failure rate", unit="percent"
    )
    svg = svg_of(chart)
    assert svg.get("role") == "img"
    assert svg.get("aria-label").startswith("Change failure rate, weekly: ")
    assert "25% in the week of 13 Jan 2025" in svg.get("aria-label")
    hidden = parse(chart).find("div")
    assert hidden.get("class") == "visually-hidden"
    table = hidden.find("table")
    assert [th.text for th in table.iter("th")] == [
        "Week",
        "Change failure rate",
        "2025-01-06",
        "2025-01-13",
    ]
    assert [td.text for td in table.iter("td")] == ["10%", "25%"]


def test_several_series_get_their_own_colours_and_a_legend():
    chart = charts.line_chart(
        [Series("Gold", weeks(1, 2)), Series("Silver", weeks(3, 1))], title="Levels", unit="count"
    )
    strokes = [
        g.find(f"{SVG}path").get("stroke")
        for g in svg_of(chart).iter(f"{SVG}g")
        if g.get("data-series")
    ]
    assert len(set(strokes)) == 2
    assert ["".join(li.itertext()) for li in parse(chart).iter("li")] == ["Gold", "Silver"]


def test_week_labels_are_thinned_to_a_few():
    chart = charts.line_chart([Series("Deployments", weeks(*range(26)))], title="D", unit="count")
    labels = [t.text for t in week_labels(chart)]
    assert 2 <= len(labels) <= charts.MAX_X_LABELS
    assert labels[0] == "6 Jan"


def week_labels(chart: SafeString) -> list[ET.Element]:
    return [t for t in svg_of(chart).iter(f"{SVG}text") if re.fullmatch(r"\d+ \w{3}", t.text or "")]


def test_a_narrow_chart_labels_fewer_weeks_and_keeps_them_apart():
    data = [Series("Deployments", weeks(*range(26)))]
    wide = charts.line_chart(data, title="D", unit="count")
    narrow = charts.line_chart(data, title="D", unit="count", width=300, height=140)
    assert 2 <= len(week_labels(narrow)) < len(week_labels(wide))
    xs = [float(label.get("x")) for label in week_labels(narrow)]
    assert min(b - a for a, b in pairwise(xs)) >= charts.X_LABEL_SPACING


@pytest.mark.parametrize("width", [charts.WIDTH, 300])
def test_a_chart_is_never_drawn_so_small_that_its_labels_fall_under_ten_pixels(width):
    for chart in (
        charts.line_chart({"D": weeks(1, 2)}, title="D", unit="count", width=width),
        charts.line_chart([], title="D", unit="count", width=width),
        charts.stacked_bars([Bar("Payments", {1: 2})], LEVELS, title="Levels", width=width),
    ):
        style = svg_of(chart).get("style")
        smallest = int(re.search(r"min-width: (\d+)px", style).group(1))
        assert smallest * charts.FONT_SIZE / width >= charts.SMALLEST_LABEL == 10
        assert smallest < width
        assert f"max-width: {width}px" in style  # and never larger than drawn for


@pytest.mark.parametrize(
    "data", [[], [Series("Deployments", [])], [Series("D", weeks(None, None))]]
)
def test_without_data_the_chart_says_so(data):
    chart = charts.line_chart(data, title="Deployments per week", unit="count")
    svg = svg_of(chart)
    assert svg.get("aria-label") == "Deployments per week: no data"
    assert "No data" in [t.text for t in svg.iter(f"{SVG}text")]


def test_text_in_a_line_chart_is_escaped():
    chart = charts.line_chart(
        [Series('<script>alert("x")</script>', weeks(1))], title="A & <b>B</b>", unit="count"
    )
    assert "<script>" not in str(chart) and "<b>" not in str(chart)
    assert isinstance(chart, SafeString)
    parse(chart)  # still well-formed


def test_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        charts.line_chart([], title="x", unit="parsecs")


# --- Stacked bars -----------------------------------------------------------------------------

LEVELS = [
    Segment(0, "None", "#999"),
    Segment(1, "Bronze", "#a60"),
    Segment(2, "Silver", "#aaa"),
    Segment(3, "Gold", "#da0"),
]


def rects(markup: SafeString) -> list[ET.Element]:
    return [r for r in svg_of(markup).iter(f"{SVG}rect") if r.get("data-segment")]


def test_bars_stack_their_segments_in_order_on_one_scale():
    chart = charts.stacked_bars(
        [
            Bar("Payments", {0: 1, 1: 2, 3: 1}, href="/reports/teams/payments/"),
            Bar("Search", {2: 2}),
        ],
        LEVELS,
        title="Scorecard levels",
        unit_label="services",
    )
    payments = [r for r in rects(chart) if "Payments" in r.find(f"{SVG}title").text]
    assert [r.get("data-segment") for r in payments] == ["None", "Bronze", "Gold"]
    widths = [float(r.get("width")) for r in payments]
    area = charts.WIDTH - charts.LABEL_WIDTH - 48
    assert sum(widths) == pytest.approx(area)  # the largest total spans the width
    assert widths[1] == pytest.approx(area / 2)
    xs = [float(r.get("x")) for r in payments]
    assert xs[0] == charts.LABEL_WIDTH and xs[1] == pytest.approx(xs[0] + widths[0])
    (search,) = [r for r in rects(chart) if "Search" in r.find(f"{SVG}title").text]
    assert float(search.get("width")) == pytest.approx(area / 2)
    assert search.find(f"{SVG}title").text == "Search · Silver: 2 of 2 services"


def test_bars_have_a_legend_links_and_a_table():
    chart = charts.stacked_bars(
        [Bar("Payments", {1: 2}, href="/reports/teams/payments/")],
        LEVELS,
        title="Levels",
        row_label="Team",
    )
    svg = svg_of(chart)
    assert [t.text for t in svg.find(f"{SVG}g").iter(f"{SVG}text")] == [
        "None",
        "Bronze",
        "Silver",
        "Gold",
    ]
    assert svg.find(f".//{SVG}a").get("href") == "/reports/teams/payments/"
    table = parse(chart).find(".//table")
    assert [th.text for th in table.iter("th")] == [
        "Team",
        "None",
        "Bronze",
        "Silver",
        "Gold",
        "Total",
        "Payments",
    ]
    assert [td.text for td in table.iter("td")] == ["0", "2", "0", "0", "2"]


def test_bars_with_links_are_a_group_of_links_whose_drawing_screen_readers_skip():
    linked = svg_of(
        charts.stacked_bars(
            [Bar("Payments", {1: 2}, href="/reports/teams/payments/"), Bar("Search", {2: 1})],
            LEVELS,
            title="Levels",
        )
    )
    # An image may hold no link: a reader could never reach it.
    assert linked.get("role") == "group"
    assert linked.get("aria-label") == "Levels: 2 rows"
    links = list(linked.iter(f"{SVG}a"))
    assert [a.find(f"{SVG}text").text for a in links] == ["Payments"]
    hidden = {
        id(e) for g in linked.iter(f"{SVG}g") if g.get("aria-hidden") == "true" for e in g.iter()
    }
    in_links = {id(e) for a in links for e in a.iter()}
    drawn = [e for e in linked.iter() if e.tag in (f"{SVG}rect", f"{SVG}text")]
    assert all(id(e) in hidden or id(e) in in_links for e in drawn)
    assert not hidden & in_links

    unlinked = svg_of(charts.stacked_bars([Bar("Search", {2: 1})], LEVELS, title="Levels"))
    assert unlinked.get("role") == "img"
    assert not [g for g in unlinked.iter(f"{SVG}g") if g.get("aria-hidden")]


def test_bars_without_data_say_so():
    for rows in ([], [Bar("Payments", {0: 0})]):
        chart = charts.stacked_bars(rows, LEVELS, title="Levels")
        assert svg_of(chart).get("aria-label") == "Levels: no data"


def test_text_in_bars_is_escaped():
    chart = charts.stacked_bars(
        [Bar("<img src=x onerror=alert(1)>", {1: 1}, href='/x" onclick="evil')],
        [Segment(1, "<b>Bronze</b>", "#a60")],
        title="<Levels>",
    )
    text = str(chart)
    assert "<img" not in text and "<b>" not in text and 'onclick="evil' not in text
    parse(chart)
