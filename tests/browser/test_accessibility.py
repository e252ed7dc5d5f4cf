"""Every main page on a laptop (1366 px), as its persona sees it: it fits the screen, what scrolls
sideways inside it takes the keyboard, and axe-core (tests/browser/axe.py) finds no serious or
critical violation in the light colour scheme nor, on the same page switched over, in the dark
one. tests/browser/test_phone.py sweeps the same pages on a phone."""

import pytest

from tests.browser import axe
from tests.browser.conftest import persona_pages
from tests.browser.layout import page_width, sideways_scroll_boxes
from tests.browser.main_pages import MAIN_PAGES

LAPTOP = {"width": 1366, "height": 800}

pytestmark = [
    pytest.mark.django_db,  # on the demo data that `demo_site` loads once, which tests only read
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture(scope="module")
def laptop(browser, demo_site):
    with persona_pages(browser, demo_site, viewport=LAPTOP) as pages:
        yield pages


# One visit per page: axe is loaded once and run again after the colour scheme changes, which
# restyles the page in place (prefers-color-scheme), as a user's switch does.
@pytest.mark.parametrize("main_page", MAIN_PAGES, ids=str)
def test_a_main_page_fits_a_laptop_and_has_no_serious_violation_in_light_or_dark(
    laptop, axe_source, main_page, record_property
):
    problems = []
    with laptop.open(main_page, color_scheme="light") as page:
        width = page_width(page)
        if width["scroll"] > width["view"]:
            problems.append(
                f"scrolls sideways: {width['scroll']} px in {width['view']}: {width['wide']}"
            )
        unreachable = [
            box for box in sideways_scroll_boxes(page) if box["tabindex"] != "0" or not box["name"]
        ]
        if unreachable:
            problems.append(f"scrolls without keyboard access: {unreachable}")
        light = axe.blocking(axe.violations(page, axe_source))
        page.emulate_media(color_scheme="dark")
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        dark = axe.blocking(axe.violations(page))
    for scheme, serious in (("light", light), ("dark", dark)):
        record_property(f"serious_violations_{scheme}", sum(len(v["nodes"]) for v in serious))
        if serious:
            problems.append(f"{scheme}:\n{axe.described(serious)}")
    assert not problems, f"{main_page.name} at {LAPTOP['width']} px:\n" + "\n".join(problems)
