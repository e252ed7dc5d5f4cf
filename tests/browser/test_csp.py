"""Runway's pages run under a Content-Security-Policy that refuses inline script, and every
browser test fails if a page trips it (tests/browser/conftest.py); here, that it is in force,
and that the behaviours moved out of inline handlers still work."""

import pytest
from playwright.sync_api import expect

from apps.catalog.models import Service
from tests.browser.conftest import refused_by_the_csp

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_inline_handler_is_refused_and_noticed(browser, live_server, developer, password):
    context = browser.new_context(base_url=live_server.url)
    refused = refused_by_the_csp(context)
    page = context.new_page()
    page.goto("/accounts/login/")
    ran = page.evaluate(
        """() => {
            const button = document.createElement("button");
            button.setAttribute("onclick", "window.ranInline = true");
            document.body.appendChild(button);
            button.click();
            return window.ranInline === true;
        }"""
    )
    context.close()
    assert ran is False
    assert refused and "script-src" in refused[0]


def test_deleting_a_service_asks_first(page, sign_in, platform_admin, web):
    sign_in(platform_admin)
    page.goto(f"/catalog/services/{web.name}/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    assert asked == [f"Delete {web.name} from the catalog?"]
    assert Service.objects.filter(name=web.name).exists()
