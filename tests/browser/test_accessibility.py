"""Every main page, as its persona sees it, passes axe-core's checks with no serious or critical
violation, in the light colour scheme and in the dark one. axe-core is vendored under
tests/fixtures/vendor/axe-core (SOURCES.md says which version) and evaluated into the page
through the browser's debugging protocol, so the page's Content-Security-Policy stays as it is."""

import pytest

from tests.browser.conftest import persona_pages
from tests.browser.main_pages import MAIN_PAGES

BLOCKING = {"serious", "critical"}
# WCAG 2.2 A and AA, and axe's best practices (landmarks, headings, nested controls...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

pytestmark = pytest.mark.filterwarnings(
    # WhiteNoise serves static files with a synchronous iterator, which ASGI warns about.
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(scope="module")
def laptop(browser, demo_site):
    with persona_pages(browser, demo_site, viewport={"width": 1280, "height": 800}) as pages:
        yield pages


def axe_violations(page, axe_source: str) -> list[dict]:
    page.evaluate(axe_source)
    return page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
            });
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({
                    target: n.target.join(" "), summary: n.failureSummary,
                })),
            }));
        }""",
        TAGS,
    )


def described(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']})")
        lines.extend(
            f"    {node['target']}: {node['summary'].splitlines()[-1].strip()}"
            for node in violation["nodes"][:8]
        )
    return "\n".join(lines)


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@pytest.mark.parametrize("main_page", MAIN_PAGES, ids=str)
def test_a_main_page_has_no_serious_accessibility_violation(
    laptop, axe_source, main_page, color_scheme, record_property
):
    with laptop.open(main_page, color_scheme=color_scheme) as page:
        violations = axe_violations(page, axe_source)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    record_property("serious_violations", sum(len(v["nodes"]) for v in blocking))
    others = [v for v in violations if v["impact"] not in BLOCKING]
    record_property("other_violations", sum(len(v["nodes"]) for v in others))
    assert not blocking, f"{main_page.name} ({color_scheme}):\n{described(blocking)}"
