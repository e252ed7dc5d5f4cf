"""What the sweeps measure of a page's layout: how wide it is against the screen, and the boxes
that scroll sideways inside it."""


def page_width(page) -> dict:
    """The document's width against the screen's, and the outermost elements that stick out."""
    return page.evaluate(
        """() => {
            const view = document.documentElement.clientWidth;
            const out = (el) => el.getBoundingClientRect().right > view + 1;
            const inScrollBox = (el) => {
                if (["absolute", "fixed"].includes(getComputedStyle(el).position)) return false;
                for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
                    if (getComputedStyle(up).overflowX !== "visible") return true;
                }
                return false;
            };
            const wide = Array.from(document.querySelectorAll("body *"))
                .filter((el) => out(el) && !out(el.parentElement) && !inScrollBox(el))
                .slice(0, 6)
                .map((el) => `${el.tagName.toLowerCase()}.${el.getAttribute("class") || ""}` +
                    ` to ${Math.round(el.getBoundingClientRect().right)} px`);
            return {scroll: document.documentElement.scrollWidth, view, wide};
        }"""
    )


def sideways_scroll_boxes(page) -> list[dict]:
    """Elements in the main content that scroll sideways, with what a keyboard needs of them."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("main *"))
            .filter((el) => el.scrollWidth > el.clientWidth + 1 &&
                ["auto", "scroll"].includes(getComputedStyle(el).overflowX))
            .map((el) => ({
                what: el.tagName.toLowerCase() + "." + String(el.className).trim(),
                tabindex: el.getAttribute("tabindex"),
                name: el.getAttribute("aria-label") || el.getAttribute("aria-labelledby"),
            }))"""
    )
