"""axe-core, Deque's accessibility engine, run in a page: vendored under
tests/fixtures/vendor/axe-core (SOURCES.md says which version) and evaluated through the
browser's debugging protocol rather than a script tag, so the page's Content-Security-Policy
stays as it is."""

from pathlib import Path

SOURCE = Path(__file__).parents[1] / "fixtures" / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
# WCAG 2.2 A and AA, and axe's best practices (landmarks, headings, nested controls...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def violations(page, source: str | None = None) -> list[dict]:
    """Every violation axe finds in the page as it is now, with the elements at fault; `source`
    loads axe into the page first (once per page: it takes longer than a run)."""
    if source is not None:
        page.evaluate(source)
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


def blocking(found: list[dict]) -> list[dict]:
    return [violation for violation in found if violation["impact"] in BLOCKING]


def described(found: list[dict]) -> str:
    lines = []
    for violation in found:
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']})")
        lines.extend(
            f"    {node['target']}: {node['summary'].splitlines()[-1].strip()}"
            for node in violation["nodes"][:8]
        )
    return "\n".join(lines)
