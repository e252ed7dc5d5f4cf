"""Every main page, as its persona sees it, passes axe-core's checks (tests/browser/axe.py) with
no serious or critical violation, in the light colour scheme and in the dark one."""

import pytest

from tests.browser import axe
from tests.browser.conftest import persona_pages
from tests.browser.main_pages import MAIN_PAGES

pytestmark = [
    pytest.mark.django_db,  # on the demo data that `demo_site` loads once, which tests only read
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]


@pytest.fixture(scope="module")
def laptop(browser, demo_site):
    with persona_pages(browser, demo_site, viewport={"width": 1280, "height": 800}) as pages:
        yield pages


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@pytest.mark.parametrize("main_page", MAIN_PAGES, ids=str)
def test_a_main_page_has_no_serious_accessibility_violation(
    laptop, axe_source, main_page, color_scheme, record_property
):
    with laptop.open(main_page, color_scheme=color_scheme) as page:
        found = axe.violations(page, axe_source)
    serious = axe.blocking(found)
    record_property("serious_violations", sum(len(v["nodes"]) for v in serious))
    others = [v for v in found if v not in serious]
    record_property("other_violations", sum(len(v["nodes"]) for v in others))
    assert not serious, f"{main_page.name} ({color_scheme}):\n{axe.described(serious)}"
