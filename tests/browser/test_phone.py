"""Runway on a phone (390 px wide): every main page, as its persona sees it, fits the screen
without sideways scrolling, folds its navigation into a Menu button, draws chart labels large
enough to read and passes axe-core (tests/browser/axe.py) at that size too, targets a thumb can
hit and tables that scroll sideways reachable by keyboard among its checks; the month calendar
turns into a list. tests/browser/test_accessibility.py sweeps the same pages on a laptop."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import axe
from tests.browser.conftest import persona_pages
from tests.browser.layout import page_width
from tests.browser.main_pages import DEVELOPER, MAIN_PAGES

PHONE = {"width": 390, "height": 844}
SMALLEST_CHART_LABEL = 10  # px, as drawn
CALENDAR_MONTH = next(page for page in MAIN_PAGES if page.name == "calendar-month")
HOME = next(page for page in MAIN_PAGES if page.name == "home")

pytestmark = [
    pytest.mark.django_db,  # on the demo data that `demo_site` loads once, which tests only read
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture(scope="module")
def phone(browser, demo_site):
    options = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    with persona_pages(browser, demo_site, **options) as pages:
        yield pages


def small_chart_labels(page) -> list[str]:
    """Text in the page's drawings smaller than SMALLEST_CHART_LABEL as it is drawn: an SVG's
    font size is in its own units, scaled with the drawing."""
    return page.evaluate(
        """(smallest) => Array.from(document.querySelectorAll("svg text"))
            .filter((text) => text.getClientRects().length && text.textContent.trim())
            .map((text) => {
                const svg = text.ownerSVGElement, box = svg.viewBox.baseVal;
                const drawn = svg.getBoundingClientRect();
                const scale = box && box.width
                    ? Math.min(drawn.width / box.width, drawn.height / box.height) : 1;
                const size = parseFloat(getComputedStyle(text).fontSize) * scale;
                return {label: text.textContent.trim().slice(0, 30), size};
            })
            .filter((label) => label.size < smallest - 0.01)
            .map((label) => `chart label "${label.label}" drawn at ${label.size.toFixed(1)} px`)""",
        SMALLEST_CHART_LABEL,
    )


def menu_problems(page, main_page) -> list[str]:
    menu = page.get_by_role("button", name="Menu")
    if not main_page.persona:
        return [] if menu.count() == 0 else ["a Menu button for someone not signed in"]
    if not menu.is_visible():
        return ["no Menu button"]
    problems = []
    if menu.get_attribute("aria-expanded") != "false":
        problems.append("the menu is not collapsed at first")
    if page.get_by_role("navigation", name="Main").is_visible():
        problems.append("the main navigation shows beside a collapsed menu")
    return problems


@pytest.mark.parametrize("main_page", MAIN_PAGES, ids=str)
def test_a_main_page_fits_a_phone_folds_its_menu_and_passes_axe_there(
    phone, axe_source, main_page, record_property
):
    with phone.open(main_page) as page:
        width = page_width(page)
        menu = menu_problems(page, main_page)
        problems = [
            *(
                [f"scrolls sideways: {width['scroll']} px in {width['view']}: {width['wide']}"]
                if width["scroll"] > width["view"]
                else []
            ),
            *menu,
            *small_chart_labels(page)[:5],
        ]
        if main_page.persona and not menu:  # axe looks at the open menu too
            page.get_by_role("button", name="Menu").click()
        # Among them target-size: a target smaller than 24 px needs room around it.
        serious = axe.blocking(axe.violations(page, axe_source))
    record_property("phone_scroll_width", width["scroll"])
    problems += [axe.described(serious)] if serious else []
    assert not problems, f"{main_page.name} at {PHONE['width']} px:\n" + "\n".join(problems)


def test_the_phone_menu_opens_and_closes_by_keyboard_and_by_touch(phone):
    with phone.open(HOME) as page:
        menu = page.get_by_role("button", name="Menu")
        navigation = page.get_by_role("navigation", name="Main")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(navigation).to_be_hidden()

        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")  # the brand
        page.keyboard.press("Tab")
        expect(menu).to_be_focused()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(navigation.get_by_role("link", name="Catalog")).to_be_visible()
        page.keyboard.press("Tab")
        expect(navigation.get_by_role("link").first).to_be_focused()
        page.keyboard.press("Escape")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(navigation).to_be_hidden()
        expect(menu).to_be_focused()
        page.keyboard.press(" ")
        expect(menu).to_have_attribute("aria-expanded", "true")

        menu.tap()
        expect(navigation).to_be_hidden()
        menu.tap()
        navigation.get_by_role("link", name="Releases").tap()
        expect(page).to_have_url(re.compile(r"/releases/$"))
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_the_month_calendar_is_a_list_of_days_on_a_phone(phone):
    assert CALENDAR_MONTH.persona == DEVELOPER
    with phone.open(CALENDAR_MONTH) as page:
        grid = page.locator(".cal-grid")
        expect(page.locator(".cal-weekdays")).to_be_hidden()
        days = grid.locator(".cal-day")
        boxes = [day.bounding_box() for day in days.all() if day.is_visible()]
        assert len(boxes) >= 5, "the month shows its busy days"
        full = grid.bounding_box()["width"]
        assert all(box["width"] >= full - 4 for box in boxes), "each day takes the whole width"
        tops = [box["y"] for box in boxes]
        assert tops == sorted(tops) and len(set(tops)) == len(tops), "days follow each other"
        release = grid.locator(".cal-release:visible").first
        expect(release.locator(".cal-release-name")).to_be_visible()
        expect(release.locator(".cal-release-name")).to_contain_text("→")
        first_day = days.filter(has=page.locator(".cal-release:visible")).first
        expect(first_day.locator(".cal-date")).to_contain_text(
            re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d")
        )
